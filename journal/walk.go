package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	badger "github.com/dgraph-io/badger/v4"
)

// span is what one walk reads and checks.
type span struct {
	anchor Point                     // the point before the first kept record
	from   Point                     // the walk starts after this record: the anchor or a snapshot's point
	to     uint64                    // the last record to read; 0: to the end
	mark   *markCheck                // the high-water mark to compare when passed; nil: none
	fn     func(stored []byte) error // each record after from, in its stored form, valid during the call
}

type markCheck struct {
	seq  uint64
	hash [HashLen]byte
}

// walk reads the records after s.from in order and checks each: it parses,
// its sequence follows without a gap, its hash chains to the previous one,
// its date is its key range's (dates never go back), and when it is the
// high-water mark's record, it has the mark's hash. What is wrong with the
// journal is res.Problem; err is a failure to read, fn's error, or a from
// point that is not in the journal (ErrPointMismatch).
func walk(txn *badger.Txn, s span) (Result, error) {
	if s.from == (Point{}) {
		s.from = s.anchor
	}
	res := Result{Anchor: s.anchor, LastSeq: s.from.Seq, LastHash: s.from.Hash, LastKeyDate: s.from.Date}
	if err := checkFrom(s); err != nil {
		return res, err
	}
	if s.mark != nil {
		res.MarkSeq = s.mark.seq
		if res.Problem = markBeforeWalk(s); res.Problem != nil {
			return res, nil
		}
	}
	start, err := startKey(txn, s)
	if err != nil {
		return res, err
	}
	w := chunkWalker{res: &res, s: &s, h: sha256.New(), found: s.from.Seq == s.anchor.Seq}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'r'}})
	defer it.Close()
	for it.Seek(start); it.Valid() && !w.done; it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error {
			var err error
			res.Problem, err = w.chunk(item.Key(), v)
			return err
		})
		if err != nil || res.Problem != nil {
			return res, err
		}
	}
	if !w.found {
		return res, pointMismatch(s.from, fmt.Sprintf("the journal ends at %d", res.LastSeq))
	}
	if s.mark != nil && s.to == 0 && s.mark.seq > res.LastSeq {
		res.Problem = &IntegrityError{Seq: res.LastSeq + 1, Reason: fmt.Sprintf(
			"%d acknowledged records are missing: the high-water mark is %d, the journal ends at %d",
			s.mark.seq-res.LastSeq, s.mark.seq, res.LastSeq)}
	}
	return res, nil
}

func pointMismatch(p Point, why string) error {
	return fmt.Errorf("%w: the snapshot is at %v: %s", ErrPointMismatch, p, why)
}

// checkFrom refuses a start point before the anchor, or at the anchor with
// another hash.
func checkFrom(s span) error {
	switch {
	case s.from.Seq < s.anchor.Seq:
		return pointMismatch(s.from, fmt.Sprintf("the journal starts after %d (older days were dropped)", s.anchor.Seq))
	case s.from.Seq == s.anchor.Seq && s.from != s.anchor:
		return pointMismatch(s.from, fmt.Sprintf("the journal's anchor there is %v", s.anchor))
	}
	return nil
}

// markBeforeWalk checks a mark at or before the start point: before the
// anchor it is wrong, at the start it must have the start's hash, and in
// between it cannot be checked (a snapshot covers it).
func markBeforeWalk(s span) *IntegrityError {
	switch {
	case s.mark.seq < s.anchor.Seq:
		return &IntegrityError{Seq: s.mark.seq, Reason: fmt.Sprintf(
			"the high-water mark %d is before the journal's anchor %d", s.mark.seq, s.anchor.Seq)}
	case s.mark.seq == s.from.Seq && s.mark.hash != s.from.Hash:
		return &IntegrityError{Seq: s.mark.seq, Reason: "the high-water mark's hash differs from its record's"}
	}
	return nil
}

// startKey is where the walk seeks: after the anchor's day when it starts
// at the anchor (a day is dropped whole, and an interrupted drop may have
// left part of it), else the chunk that holds the start point's record.
func startKey(txn *badger.Txn, s span) ([]byte, error) {
	if s.from.Seq == s.anchor.Seq {
		if s.anchor.Seq == 0 {
			return []byte{'r'}, nil
		}
		return dayStart(s.anchor.Date + 1), nil
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'r'}, Reverse: true})
	defer it.Close()
	it.Seek(appendKey(nil, s.from.Date, s.from.Seq))
	if !it.Valid() || keyDate(it.Item().Key()) != s.from.Date {
		return nil, pointMismatch(s.from, fmt.Sprintf("no chunk of date %d holds it", s.from.Date))
	}
	return it.Item().KeyCopy(nil), nil
}

// chunkWalker checks the records of successive chunks against the chain.
type chunkWalker struct {
	res   *Result
	s     *span
	h     hash.Hash
	found bool // the start point's record was seen (or the walk starts at the anchor)
	done  bool // the record s.to was read
}

// chunk checks one stored chunk, in order; it returns what is wrong, or
// nil, and an error that stops the walk.
func (w *chunkWalker) chunk(k, v []byte) (*IntegrityError, error) {
	next := w.res.LastSeq + 1
	if len(k) != keyLen {
		return &IntegrityError{Seq: next, Reason: "chunk key does not parse"}, nil
	}
	date, first := keyDate(k), keySeq(k)
	if date < w.res.LastKeyDate {
		return &IntegrityError{Seq: next, Reason: fmt.Sprintf("business date %d after %d", date, w.res.LastKeyDate)}, nil
	}
	for i := 0; len(v) > 0 && !w.done; i++ {
		_, r, rest, ok := nextStored(v)
		if !ok {
			return &IntegrityError{Seq: w.res.LastSeq + 1, Reason: "chunk ends inside a record"}, nil
		}
		v = rest
		seq := seqOf(r)
		if i == 0 && seq != first {
			return &IntegrityError{Seq: w.res.LastSeq + 1, Reason: fmt.Sprintf("chunk keyed %d does not start with that record", first)}, nil
		}
		if seq <= w.s.from.Seq {
			if err := w.atFrom(r, seq, date); err != nil {
				return nil, err
			}
			continue
		}
		if !w.found {
			return nil, pointMismatch(w.s.from, fmt.Sprintf("no record there (the next is %d)", seq))
		}
		if p := w.record(r, date); p != nil {
			return p, nil
		}
		if w.s.fn != nil {
			if err := w.s.fn(r); err != nil {
				return nil, err
			}
		}
		w.done = w.s.to != 0 && seq >= w.s.to
	}
	return nil, nil
}

// atFrom checks the start point's record: the same hash, the same date.
func (w *chunkWalker) atFrom(r []byte, seq uint64, date uint32) error {
	if seq != w.s.from.Seq {
		return nil // before the start point, in its chunk
	}
	if !bytes.Equal(r[len(r)-HashLen:], w.s.from.Hash[:]) || date != w.s.from.Date {
		return pointMismatch(w.s.from, "the journal's record there has another hash or date")
	}
	w.found = true
	w.done = w.s.to != 0 && w.s.to <= seq
	return nil
}

// record checks one record after the start point and advances the chain.
func (w *chunkWalker) record(r []byte, date uint32) *IntegrityError {
	res := w.res
	if problem := checkRecord(res, r, w.h); problem != "" {
		return &IntegrityError{Seq: res.LastSeq + 1, Reason: problem}
	}
	own, ok := storedDate(r)
	if !ok || own > date || (r[0] >= 2 && own != date) {
		return &IntegrityError{Seq: res.LastSeq, Reason: fmt.Sprintf("record dated %d in the key range of %d", own, date)}
	}
	res.LastKeyDate = date
	if m := w.s.mark; m != nil && m.seq == res.LastSeq && m.hash != res.LastHash {
		return &IntegrityError{Seq: m.seq, Reason: "the record at the high-water mark differs from the mark's hash"}
	}
	return nil
}

// checkRecord checks one stored record (encoding and hash) against the
// chain so far and advances it; it returns what is wrong, or "".
func checkRecord(res *Result, v []byte, h hash.Hash) string {
	if len(v) < 1+8+HashLen || v[0] < 1 || v[0] > Version {
		return "record does not parse (length or version)"
	}
	seq := binary.BigEndian.Uint64(v[seqOffset:])
	if seq != res.LastSeq+1 {
		return fmt.Sprintf("sequence gap: %d follows %d", seq, res.LastSeq)
	}
	h.Reset()
	h.Write(res.LastHash[:])
	h.Write(v[:len(v)-HashLen])
	var sum [HashLen]byte
	h.Sum(sum[:0])
	if !bytes.Equal(sum[:], v[len(v)-HashLen:]) {
		return "hash chain broken: the record or its predecessor was altered"
	}
	if res.Records == 0 {
		res.FirstSeq = seq
	}
	res.Records++
	res.LastSeq, res.LastHash = seq, sum
	return ""
}

// nextStored splits the first stored record (3-byte length, record) off v.
func nextStored(v []byte) (n int, rec, rest []byte, ok bool) {
	if len(v) < 3 {
		return 0, nil, nil, false
	}
	n = int(v[0])<<16 | int(v[1])<<8 | int(v[2])
	if n > len(v)-3 || n < 1+8+HashLen {
		return 0, nil, nil, false
	}
	return n, v[3 : 3+n], v[3+n:], true
}

// decoding adapts a record callback to the walk's stored form, decoding
// in place (the record is valid during the call).
func decoding(fn func(*Record) error) func([]byte) error {
	if fn == nil {
		return nil
	}
	var rec Record
	return func(r []byte) error {
		if err := decodeBorrowed(r, &rec); err != nil {
			return err
		}
		return fn(&rec)
	}
}
