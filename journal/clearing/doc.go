// Package clearing is the back office of a closed business day: it reads
// the day's journal records, decides what is financially effective, and
// writes the clearing file, the merchants' statements and the
// reconciliation with a counterpart's file, whose exceptions it keeps.
//
// Decisions are pure and apart from I/O: KindOf and Approved read a
// record, the Fold nets reversals and voids, classify compares two
// sides, the layouts append bytes. The I/O is a Source of records
// (ReadDay: a stopped journal; a test's generator), an io.Writer, and
// two files: sort runs (removed when done) and the resolutions store.
//
//	src := func(fn func(*journal.Record) error) error {
//		_, err := clearing.ReadDay(jdir, 20261201, fn)
//		return err
//	}
//	sum, err := clearing.Export(src, file, clearing.ExportOptions{Date: 20261201, Format: clearing.Fixed,
//		TempDir: sortDir, Statements: stDir, Fees: fees})
//	...
//	resolved, err := clearing.Resolutions(clearingDir, 20261201)
//	rs, err := clearing.Reconcile(src, counterpart, clearing.ReconOptions{Date: 20261201, Key: clearing.ByRRN,
//		TempDir: sortDir, Resolved: resolved}, writeRow)
//
// Memory does not grow with the day: every join (a reversal with its
// original, a record with its counterpart, the lines of one merchant) is
// an external merge sort with a bounded buffer (SortBufferBytes), in a
// directory on disk. The journal's own order does not serve: a reversal
// may come hours after its original, and the clearing file is ordered by
// merchant. The output of a day is the same bytes on every run.
package clearing
