// Package upstream is the pure core of forwarding requests to issuer hosts
// and card networks: matching responses to requests, their deadlines,
// choosing a connection, redialling, and mapping fields between the
// originator's dialect and the destination's. It does no I/O, starts no
// goroutine of its own and imports nothing of the engine (internal/deptest
// holds it to that): the engine's outbound links do the sockets and feed it
// events, as etcd-io/raft leaves its network and disk to its user. It is
// what jPOS builds from QMUX (matching), MUXPool (choosing) and
// ChannelAdaptor (reconnecting), on the switch's event-loop design: no
// goroutine blocks per request and no worker waits on an upstream.
//
// # The parts
//
//   - KeySpec and Key (key.go): the match key, by default the MTI's class
//     (0200 and 0210 alike, 0400, 0401 and 0410 alike), 11, 41 and 7, like
//     QMUX's configurable key. A Key is a fixed 64-byte array with its
//     length, filled from a codec.View without allocating; each field is its
//     text form after its length, so BCD pad nibbles and field boundaries
//     cannot make two requests one key.
//   - Table (table.go): one destination's requests in flight, bounded by
//     Config.Cap (Put beyond it: ErrFull, which the caller answers 91). A key
//     already in flight is refused (ErrDuplicate): two requests whose
//     responses cannot be told apart are never sent, so a reply is never
//     handed to the wrong originator. Take gives each request to its
//     response once; a response after the deadline is Late (once, with the
//     Ref given to Put), one for no request Unknown. Keys are found through
//     index.go, an open-addressing array that never grows, so the table
//     allocates nothing after it is made.
//   - Wheel (wheel.go): the deadlines, a timing wheel of 1 ms slots; Table
//     puts each request on it. Expire(now), called every tick by one
//     goroutine (Run) or the caller's own tick, takes what is due off the
//     table in deadline order and remembers it for its late response
//     (late.go, a ring bounded by Config.LateKeep). A deadline fires at the
//     first tick at or past it: never early, less than a tick late when
//     ticks come on time, caught up in order when they do not.
//   - TakeResponse and Verdict (response.go): a response's key and what it
//     decided, so that a late approval is known to need a reversal.
//   - Breaker (breaker.go): a destination's circuit breaker, opened by
//     Failures timeouts in a row within Window, half-open after Cooldown to let one
//     echo test probe the host before live traffic returns (stand-in takes
//     the traffic while it is not closed: issue 14).
//   - Pool, Strategy and Pick (pool.go): a destination's connections with
//     an up/down state each, chosen primary-secondary or round robin; with
//     every connection down, Pick says ErrAllDown at once and the caller
//     answers 91 without waiting for a timeout. Backoff (backoff.go):
//     exponential redial delays with jitter, capped, the random number
//     given by the caller.
//   - Mapping and Plan (mapping.go): what crosses between dialects, as
//     data: fields copied, dropped, set, renamed; the ones the switch
//     assigns on the outbound leg (STAN, RRN, transmission time, the
//     translated PIN block; numbers.go) and the originator's ones restored
//     on the reply byte for byte. PIN blocks and MACs are never copied
//     across links.
//
// # How the engine uses it
//
// The life of a forwarded 0200, as the engine wires it (engine/forward.go;
// the PIN translation and the outbound MAC are not built yet):
//
//  1. The inbound link's loop decodes and routes the request (action
//     upstream, destination D) and hands it to a worker, as today.
//  2. The worker translates the PIN block with the HSM and builds the
//     outbound request: Begin in D's dialect, Plan.Forward with the switch's
//     STAN (STAN of D's journaled counter), RRN and field 7, the MAC by D's
//     key. It hands the record of what will be sent to the journal and is
//     free: nothing leaves before the record is durable.
//  3. The journal's commit callback (Txn.Committed, as for a reply today)
//     then, never waiting: Pool.Pick (ErrAllDown: answer 91 now), the key
//     of the outbound request (Extract from its view), Table.Put with the
//     Txn as the pending value and its journal sequence as Ref, deadline =
//     received + D's timeout (ErrFull, ErrDuplicate: answer 91 now), and
//     the bytes handed to the chosen connection's loop with AsyncWrite. Put
//     comes before the write, so a response can never beat its request
//     into the table. Once bytes may have left, a failure is a timeout,
//     never "not sent": only a write refused before sending may Cancel.
//  4. The outbound link's loop reads the response, decodes it and calls
//     TakeResponse. Matched: the Txn comes back; Plan.Back builds the reply
//     in the originator's dialect, which is journaled and written by the
//     originator's loop as every reply is. Late: the originator was
//     answered 91 already; the response is logged and counted and, when
//     its Verdict must be reversed, the reversal recorded durably (the
//     store-and-forward of the next issue sends it). Unknown: logged and
//     counted.
//  5. Run, one goroutine on a 1 ms ticker for every destination, expires
//     what is due: each Expired's Txn is answered 91 (or stood in for)
//     through a worker or its loop, journaled as a timeout. Ten thousand
//     requests in flight are ten thousand table slots, not goroutines or
//     timers.
//
// Connections: the outbound link sets Pool.SetUp when a connection is up
// and signed on, and down on a close or missed echoes; it redials after
// Backoff.Delay(attempt, rand), attempt reset once signed on.
//
// # Use
//
//	ks := upstream.DefaultKeySpec()                 // checked against D's dialect: ks.Check(d)
//	tbl, _ := upstream.NewTable[*Txn](upstream.Config{Cap: 4096}, clk.Now())
//	var k upstream.Key
//	_ = ks.Extract(&out, &k)                       // the outbound request, decoded
//	if err := tbl.Put(k, t, seq, clk.Now().Add(timeout)); err != nil { /* 91 */ }
//	...
//	r, err := upstream.TakeResponse(tbl, &ks, &resp, upstream.DefaultApprovals)
//	switch r.Match { case upstream.Matched: /* reply to r.Pending */ case upstream.Late: /* reverse if r.Verdict.MustReverse() */ }
package upstream
