// Package peers holds the baselines the load generator measures the switch
// against. Each is a bench.Target that listens on a loopback address with
// the switch's framing, so the same traffic can be replayed against all of
// them and only the server changes.
//
// Echo is the ceiling of the machine. Per message it cuts one frame with
// codec.Framing and writes it straight back, byte for byte: no decoding, no
// routing, no allocation. It runs on the standard library's net package, one
// goroutine per connection, a 64 KiB buffered reader, and a 64 KiB buffered
// writer flushed only when no complete frame is left in the read buffer, so
// a pipelining client gets its replies in as few write calls as possible.
// Nothing that does work per message can beat it: the gap between echo and
// the switch is what the switch's work costs, and echo's own numbers are the
// price of the kernel's loopback and the load generator.
//
// Moov is a peer: the switch as a Go team would build it from off-the-shelf
// parts, moov-io/iso8583-connection's server side over moov-io/iso8583
// messages with the same dialect (codec.Lookup(dialect).Spec). Per message
// it reads the length header, unpacks an iso8583.Message (a map of field
// interfaces, allocated per message), approves it in the
// connection's InboundMessageHandler (one goroutine per message, as
// iso8583-connection runs it): response MTI with the function digit plus
// one, fields 2, 3, 4, 7, 11, 12, 13, 37, 41, 42 and 49 echoed when present,
// 38 = "123456", 39 = "00", then packs the reply and sends it, header and
// message in one Write through the connection's write loop. It does no
// routing, HSM, limits or journal, so it is a fair peer for the switch's
// decode, approve and encode path (the "engine" target with authorization
// stubbed) and a generous one for the full switch. It uses none of the
// switch's codec for messages: only codec.Lookup for the moov spec and the
// framing's length header. Framings: binary2, ascii4, bcd2; not +tpdu, and
// not dialects with a message header (cup-pos), which moov's MessageSpec
// does not carry.
//
// Both are bounded: a length header announcing more than the link maximum
// (codec.DefaultMaxFrame, 8 KiB, the switch's own default, always under
// 64 KiB) or that is not valid in its encoding closes the connection before
// any of the frame is buffered; the moov peer holds at most inFlightMax
// unanswered requests per connection (it stops reading until replies
// drain); both accept at most connsMax connections at once. The stop
// function Start returns (also run when Start's context ends) closes the
// listener and every connection and waits for the peer's goroutines.
//
//	t := peers.Echo("binary2")
//	addr, stop, err := t.Start(ctx)
//	if err != nil { ... }
//	defer stop()
//	rep, err := bench.Run(ctx, bench.Options{Addr: addr, Framing: "binary2", ...})
package peers
