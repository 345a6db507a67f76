package journal

import (
	"encoding/binary"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Result is what a verification found.
type Result struct {
	Records     uint64 // records verified (after the start point)
	FirstSeq    uint64 // the first record verified
	LastSeq     uint64 // the last intact record
	LastHash    [HashLen]byte
	LastKeyDate uint32
	MarkSeq     uint64 // the high-water mark: the last acknowledged record
	MarkMissing bool   // there is no readable high-water mark (then Problem says so)
	Anchor      Point  // the point before the first kept record
	Problem     *IntegrityError
	// Notes say what a tool did besides reading (a log tail trimmed after
	// an unclean stop) or found besides records; print them.
	Notes []string
}

// LastPoint is the last intact record.
func (r Result) LastPoint() Point {
	return Point{Seq: r.LastSeq, Hash: r.LastHash, Date: r.LastKeyDate}
}

// verifyAt walks the journal after from (zero: the anchor) to its end,
// against the mark (nil: none); fn sees each record after from, decoded in
// place.
func verifyAt(db *badger.DB, anchor, from Point, mark *markCheck, fn func(*Record) error) (Result, error) {
	var res Result
	err := view(db, func(txn *badger.Txn) error {
		var err error
		res, err = walk(txn, span{anchor: anchor, from: from, mark: mark, fn: decoding(fn)})
		return err
	})
	return res, err
}

// view runs fn in a Badger read transaction. A panic in it, Badger
// reading a damaged table (it trusts the lengths it reads), is the
// journal's integrity problem, returned: never the end of the process.
func view(db *badger.DB, fn func(*badger.Txn) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &IntegrityError{Reason: fmt.Sprintf("reading the journal failed inside Badger (a damaged table?): %v", p)}
		}
	}()
	return db.View(fn)
}

// loadMeta reads the journal's meta.
func loadMeta(db *badger.DB) (meta, error) {
	var m meta
	err := view(db, func(txn *badger.Txn) error {
		var err error
		m, err = readMeta(txn)
		return err
	})
	return m, err
}

// quarantine moves records after seq out of the journal's range (prefix
// 'q'), keeping them for inspection; a chunk that holds both kept and
// quarantined records is cut after seq. Used when accepting a loss. The
// writes go through a write batch (Badger splits it into transactions as
// they fill), so a loss near the start of a long journal is moved too; an
// interrupted move is done again by the next accepting open.
//
// It returns the records moved (those of a chunk that does not parse are
// not counted).
func quarantine(db *badger.DB, seq uint64) (int, error) {
	moved := 0
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	err := view(db, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'r'}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(k) == keyLen && lastSeqIn(v) <= seq {
				continue
			}
			if err := wb.Set(append([]byte{'q'}, k...), v); err != nil {
				return err
			}
			moved += countAfter(v, seq)
			if keep := prefixUpTo(v, seq); len(k) == keyLen && len(keep) > 0 {
				err = wb.Set(k, keep)
			} else {
				err = wb.Delete(k)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("journal: quarantine: %w", err)
	}
	if err := wb.Flush(); err != nil {
		return 0, fmt.Errorf("journal: quarantine: %w", err)
	}
	return moved, nil
}

// countAfter counts the records of a chunk after seq, up to where it
// stops parsing.
func countAfter(v []byte, seq uint64) int {
	n := 0
	for len(v) > 0 {
		_, r, rest, ok := nextStored(v)
		if !ok {
			break
		}
		if binary.BigEndian.Uint64(r[seqOffset:]) > seq {
			n++
		}
		v = rest
	}
	return n
}

// lastSeqIn returns the highest sequence number readable in a chunk, or
// the maximum when the chunk does not parse (so it is quarantined).
func lastSeqIn(v []byte) uint64 {
	var last uint64
	for len(v) > 0 {
		_, r, rest, ok := nextStored(v)
		if !ok {
			return ^uint64(0)
		}
		last, v = binary.BigEndian.Uint64(r[seqOffset:]), rest
	}
	return last
}

// prefixUpTo returns the part of a chunk holding records up to seq.
func prefixUpTo(v []byte, seq uint64) []byte {
	end := 0
	for rest := v; len(rest) > 0; {
		n, r, next, ok := nextStored(rest)
		if !ok || binary.BigEndian.Uint64(r[seqOffset:]) > seq {
			break
		}
		end += 3 + n
		rest = next
	}
	return v[:end]
}
