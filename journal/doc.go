// Package journal is the switch's write-ahead log on Badger: every request
// and the decision on it, durable before the reply leaves.
//
// Records are numbered 1, 2, 3, ... with no gap, chained by SHA-256 to
// their predecessor, dated in sequence order (a record is dated the newest
// business date committed so far, so a day is a contiguous run) and stored
// in chunks keyed by date and first sequence, one date per chunk. A group
// committer writes each batch in synced Badger transactions (split when
// Badger finds one too big), then syncs a high-water mark file (the last
// acknowledged sequence and hash), then tells the waiters. Open verifies
// the chain from the journal's anchor (or from a snapshot's point) against
// the mark, and replays it.
//
//	j, err := journal.Open(journal.Options{Dir: dir, KeyFingerprint: prot.Fingerprint(),
//		After: snapshotPoint, Replay: authz.ReplayRecord})
//	...
//	j.Append(rec, waiter) // waiter.Committed(nil) once durable
//	...
//	p, err := j.Walk(snapshotPoint, j.Last().Seq, apply) // a newer snapshot, live
//	e, err := j.ExportDay(oldest, file)                   // then, once a snapshot covers it:
//	err = j.DropDay(oldest, e)
//
// Failure rule: when a Badger commit or the mark store fails, the batch's
// waiters get an error wrapping ErrInDoubt (the records may be durable; a
// restart replays them if so), and the journal is failed for good: later
// records get ErrFailed at once, are written nowhere and use no sequence
// number; Err reports it and Options.OnFail hears it once.
//
// Disk rule: below Options.MinFreeMB free the journal pauses (Badger would
// die of SIGBUS on a full disk): it closes Badger, gives up most of its
// reserve file, and refuses records with ErrDiskFull (nothing written, no
// sequence number used) until space is back; then it resumes on its own.
// Paused reports it.
//
// Verify, Replay and Exists read a stopped journal without changing a
// record, also right after a kill -9 (see TrimNote).
package journal
