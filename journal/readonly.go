package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
)

// TrimNote is the note a tool prints when it had to open Badger for
// writing to trim its memtable log after an unclean stop.
const TrimNote = "trimmed Badger's unfinished log tail after an unclean stop; no record changed"

// ReserveNote is the note a tool prints when it deleted the journal's
// reserve file to find room on a full disk.
const ReserveNote = "deleted the journal's reserve file: the disk is nearly full (the switch re-creates it once space is back)"

// errNoJournal: the directory holds no journal.
var errNoJournal = errors.New("journal: no journal")

// Verify opens the journal in dir for reading and checks it from its
// anchor: the records, the chain and the high-water mark. It works right
// after a kill -9 (see openReadOnly) and never changes a record.
func Verify(dir string) (Result, error) {
	return readOnly(dir, nil)
}

// Replay walks every kept record of the journal in dir in order, as
// Verify does; fn's record is valid only during the call.
func Replay(dir string, fn func(*Record) error) (Result, error) {
	return readOnly(dir, fn)
}

func readOnly(dir string, fn func(*Record) error) (Result, error) {
	db, notes, err := openReadOnly(dir)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	m, err := loadMeta(db)
	if err != nil {
		return Result{}, err
	}
	path := filepath.Join(dir, hwmName)
	mark, err := openHWM(path, os.O_RDONLY)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return Result{}, err
	}
	if mark != nil {
		defer mark.close()
	}
	var check *markCheck
	if mark != nil && mark.valid {
		check = &markCheck{seq: mark.seq, hash: mark.hash}
	}
	res, err := verifyAt(db, m.anchor, Point{}, check, fn)
	if err != nil {
		return res, err
	}
	if !m.present && check == nil && res.LastSeq == 0 {
		return res, fmt.Errorf("%w in %s", errNoJournal, dir)
	}
	res.Notes = notes
	if check == nil {
		res.MarkMissing = true
		if res.Problem == nil {
			miss := &MissingError{Path: path, Records: res.LastSeq - m.anchor.Seq, Unreadable: mark != nil}
			res.Problem = &IntegrityError{Seq: res.LastSeq, Reason: strings.TrimPrefix(miss.Error(), "journal: ")}
		}
	}
	if left, err := leftover(db, m.anchor); err != nil {
		return res, err
	} else if left {
		res.Notes = append(res.Notes, fmt.Sprintf("records of day %d, dropped up to %d, are still stored: the next start removes them",
			m.anchor.Date, m.anchor.Seq))
	}
	return res, nil
}

// openReadOnly opens Badger read-only. Right after a kill -9 Badger refuses
// that ("Log truncate required"): its memtable log has a preallocated tail
// past the last entry, which only a writer may trim. It then opens for
// writing with compactions off (no compactor, none on close, and a level-0
// stall no flush can reach, since nothing would ever drain level 0): Badger
// trims the tail and moves the log's entries into a level-0 table, as any
// start would; no record changes. The returned notes say so.
func openReadOnly(dir string) (*badger.DB, []string, error) {
	if _, err := os.Stat(filepath.Join(dir, "badger")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w in %s", errNoJournal, dir)
		}
		return nil, nil, err
	}
	// On a full disk the reserve makes room first (the switch re-creates
	// it): the writer below writes a memtable log and tables, and even
	// reading Badger's sparse memtable log faults (SIGBUS) on a tmpfs that
	// cannot back a page.
	var notes []string
	if releaseForOpen(dir, uint64(toolMemTableMB+16)<<20) { // a flush of the log a switch left, and a margin
		notes = append(notes, ReserveNote)
	}
	opts := badgerOptions(dir, toolMemTableMB)
	if name, err := damagedTable(opts); err != nil {
		return nil, nil, fmt.Errorf("journal: open: table %s is damaged (%v): the journal lost records; "+
			"serve --accept-journal-loss starts on the records that verify", name, err)
	}
	db, err := badger.Open(opts.WithReadOnly(true))
	if err != nil && strings.Contains(err.Error(), badger.ErrTruncateNeeded.Error()) {
		db, err = badger.Open(opts.WithNumCompactors(0).WithCompactL0OnClose(false).WithNumLevelZeroTablesStall(1 << 30))
		if err == nil {
			return db, append(notes, TrimNote), nil
		}
	}
	if err != nil && strings.Contains(err.Error(), errTableMissing) {
		return nil, nil, fmt.Errorf("journal: open: %w: Badger lost a table file, and the records it held; "+
			"serve --accept-journal-loss starts on the records that verify", err)
	}
	if err != nil {
		if strings.Contains(err.Error(), "directory lock") {
			return nil, nil, fmt.Errorf("journal: %s is in use: stop the switch first", dir)
		}
		return nil, nil, fmt.Errorf("journal: open: %w", err)
	}
	return db, notes, nil
}

// leftover reports chunks of days already dropped (an interrupted drop).
func leftover(db *badger.DB, anchor Point) (bool, error) {
	if anchor.Seq == 0 {
		return false, nil
	}
	found := false
	err := view(db, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'r'}})
		defer it.Close()
		it.Rewind()
		found = it.Valid() && keyDate(it.Item().Key()) <= anchor.Date
		return nil
	})
	return found, err
}

// Exists reports whether dir holds a journal: a high-water mark, or Badger
// files holding records or meta. A new switch may create keys only where
// none exists.
func Exists(dir string) (bool, error) {
	if _, err := os.Stat(filepath.Join(dir, hwmName)); err == nil {
		return true, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	db, _, err := openReadOnly(dir)
	if err != nil {
		if errors.Is(err, errNoJournal) {
			return false, nil
		}
		return false, err
	}
	defer db.Close()
	found := false
	err = view(db, func(txn *badger.Txn) error {
		for _, prefix := range []byte{'m', 'r', 'q'} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefix}})
			it.Rewind()
			found = found || it.Valid()
			it.Close()
		}
		return nil
	})
	return found, err
}
