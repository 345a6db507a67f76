package journal

import (
	"errors"
	"fmt"
)

// Errors a waiter, Open or a tool may see.
var (
	// ErrClosed is given to records appended after Close.
	ErrClosed = errors.New("journal: closed")
	// ErrInDoubt is given (wrapped, with the cause) to the records of a
	// batch whose Badger commit or high-water mark store failed: they may
	// or may not be durable, and a restart replays them if they are. Their
	// replies must be withheld (no 96 that could contradict a durable 00).
	ErrInDoubt = errors.New("journal: commit in doubt: the records may be durable")
	// ErrFailed is given (wrapped, with the cause) to every record appended
	// once the journal has failed: nothing of it was written and it used no
	// sequence number. Err reports it too.
	ErrFailed = errors.New("journal: failed, nothing more is written until a restart")
	// ErrTooLarge is given to a record whose stored form would exceed the
	// record bound (64 KB); it used no sequence number.
	ErrTooLarge = errors.New("journal: record too large")
	// ErrCardData is given (wrapped, naming the field, never its content)
	// to a record whose clear-text fields hold card data or control bytes
	// (Record.CheckClear); it used no sequence number.
	ErrCardData = errors.New("journal: card data in a clear-text field")
	// ErrKeyMismatch: the data key given to Open is not the key the journal
	// was written with (their fingerprints differ).
	ErrKeyMismatch = errors.New("journal: journal.key is not the key this journal was written with")
	// ErrPointMismatch: a point given to Open (After) or Walk (from) is not
	// a record of this journal with that hash.
	ErrPointMismatch = errors.New("journal: the snapshot does not match the journal")
	// ErrNotCovered: Open was asked to replay from a point before the
	// journal's anchor (records closed and dropped): only a snapshot at or
	// after the anchor can rebuild the state.
	ErrNotCovered = errors.New("journal: no snapshot covers the closed days")
	// ErrBadExport: an export file does not verify.
	ErrBadExport = errors.New("journal: export does not verify")
)

// IntegrityError says exactly what is wrong with a journal.
type IntegrityError struct {
	Seq    uint64 // the first sequence number affected
	Reason string
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("journal: integrity: at sequence %d: %s", e.Seq, e.Reason)
}

// RebuildMarkFlag is the serve flag that sets Options.RebuildMark.
const RebuildMarkFlag = "--rebuild-journal-mark"

// MissingError: the high-water mark file is missing (or holds no readable
// mark) while the journal exists, so the check that no acknowledged record
// was lost cannot be made. Open refuses unless Options.RebuildMark.
type MissingError struct {
	Path       string // the mark file
	Records    uint64 // records the journal holds
	Unreadable bool   // the file is there but neither of its slots reads
}

func (e *MissingError) Error() string {
	what := "is missing"
	if e.Unreadable {
		what = "holds no readable mark"
	}
	return fmt.Sprintf("journal: %s %s but the journal holds %d records: the check that no acknowledged record "+
		"was lost is impossible without it; start with %s to take its last intact record as the acknowledged one",
		e.Path, what, e.Records, RebuildMarkFlag)
}
