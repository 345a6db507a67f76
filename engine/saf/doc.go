// Package saf is the pure core of store-and-forward: what the switch owes a
// destination (the reversal of a request that timed out or whose answer
// could not be delivered, the reversal of a late approval, the advice of a
// stand-in approval, a terminal's advice the switch accepted) and the
// state of each entry until the destination has it. It does no I/O, keeps
// no clock and starts no goroutine (internal/deptest holds it to that):
// the engine journals every entry before the answer that depends on it
// leaves, feeds a Queue from the journal at a restart and from its
// pipeline after, asks Queue.Next what to send, and reports each answer or
// timeout back, as jPOS-EE's SAF and etcd-io/raft leave the network and
// the disk to their user.
//
// # One destination's queue
//
//	q := saf.NewQueue(saf.Config{Window: 32, MaxRetries: 10, ExpireAfter: 24 * time.Hour})
//	q.Add(saf.Entry{ID: rec.Seq, Kind: saf.Reversal, Ref: rec.RRNSeq, Enqueued: received})
//	for {
//		e, ok := q.Next(now, timeout) // the entry to send now, if any, put in flight
//		if !ok {
//			break
//		}
//		send(e, e.Attempts > 0) // a repeat (0421) after the first try
//	}
//	q.Answer(id, "00", now) // Delivered: journal it, the entry is gone
//	q.Due(now)              // entries whose answer did not come: retried
//	q.Expired(now)          // entries out of tries or time: final, for the exceptions list
//
// Entries go out in the order they were added (their IDs, the journal
// sequence of their records, increase with it), up to Config.Window in
// flight at once. An entry that failed waits for its backoff
// (Config.Backoff, an upstream.Backoff doubling from its Base to its Max) and then
// goes before every entry not yet tried. An entry is removed only by its
// answer (delivered or rejected) or by expiry; an answer for an entry that
// is not in flight is Ignored, so a response that comes twice, or after the
// entry's timeout made it a retry, changes nothing: exactly once in effect,
// as long as the destination treats a repeat (xxx1) of an entry it has as
// a duplicate, which is what repeats are for.
//
// A queue holds at most Config.Cap entries (Add beyond: ErrFull): the
// caller must not take on work that would need an entry it cannot hold (the
// engine stops forwarding to that destination until the queue drains).
package saf
