package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
)

// IntegrityError says exactly what is wrong with a journal.
type IntegrityError struct {
	Seq    uint64 // the first sequence number affected
	Reason string
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("journal: integrity: at sequence %d: %s", e.Seq, e.Reason)
}

// Result is what a verification found.
type Result struct {
	Records     uint64
	FirstSeq    uint64
	LastSeq     uint64 // the last intact record
	LastHash    [HashLen]byte
	LastKeyDate uint32
	MarkSeq     uint64 // the high-water mark: the last acknowledged record
	Problem     *IntegrityError
}

// verify walks every record in order: decodable, sequence without gaps from
// 1, hash chain intact, key dates never going back, and the high-water mark
// reached with the same hash. fn, if set, sees each intact record; the
// record and its strings are valid only during the call (copy what you keep).
func verify(db *badger.DB, markSeq uint64, markHash [HashLen]byte, fn func(*Record) error) (Result, error) {
	res := Result{MarkSeq: markSeq}
	h := sha256.New()
	var rec Record
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte{'r'}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			var problem string
			err := it.Item().Value(func(v []byte) error {
				var err error
				problem, err = walkChunk(&res, k, v, h, func(r []byte) error {
					if fn == nil {
						return nil
					}
					if err := decodeBorrowed(r, &rec); err != nil {
						return err
					}
					return fn(&rec)
				})
				return err
			})
			if err != nil {
				return err
			}
			if problem != "" {
				res.Problem = &IntegrityError{Seq: res.LastSeq + 1, Reason: problem}
				return nil
			}
		}
		return nil
	})
	if err != nil || res.Problem != nil {
		return res, err
	}
	switch {
	case markSeq > res.LastSeq:
		res.Problem = &IntegrityError{Seq: res.LastSeq + 1, Reason: fmt.Sprintf(
			"%d acknowledged records are missing: the high-water mark is %d, the journal ends at %d",
			markSeq-res.LastSeq, markSeq, res.LastSeq)}
	case markSeq > 0 && markSeq == res.LastSeq && markHash != res.LastHash:
		res.Problem = &IntegrityError{Seq: markSeq, Reason: "the last record's hash differs from the high-water mark"}
	}
	return res, nil
}

// walkChunk checks the records of one stored chunk, in order, against the
// chain so far; it returns what is wrong ("" if nothing) and fn's error.
func walkChunk(res *Result, k, v []byte, h hasher, fn func([]byte) error) (string, error) {
	if len(k) != keyLen {
		return "chunk key does not parse", nil
	}
	date, first := binary.BigEndian.Uint32(k[1:]), binary.BigEndian.Uint64(k[5:])
	if date < res.LastKeyDate {
		return fmt.Sprintf("business date %d after %d", date, res.LastKeyDate), nil
	}
	for i := 0; len(v) > 0; i++ {
		if len(v) < 3 {
			return "chunk ends inside a record length", nil
		}
		n := int(v[0])<<16 | int(v[1])<<8 | int(v[2])
		if n > len(v)-3 {
			return "chunk ends inside a record", nil
		}
		r := v[3 : 3+n]
		v = v[3+n:]
		if i == 0 && (len(r) < 9 || binary.BigEndian.Uint64(r[seqOffset:]) != first) {
			return fmt.Sprintf("chunk keyed %d does not start with that record", first), nil
		}
		if problem := checkRecord(res, r, h); problem != "" {
			return problem, nil
		}
		res.LastKeyDate = date
		if fn != nil {
			if err := fn(r); err != nil {
				return "", err
			}
		}
	}
	return "", nil
}

type hasher interface {
	Reset()
	Write([]byte) (int, error)
	Sum([]byte) []byte
}

// checkRecord checks one stored record (encoding and hash) against the
// chain so far and advances it; it returns what is wrong, or "".
func checkRecord(res *Result, v []byte, h hasher) string {
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

// quarantine moves records after seq out of the journal's range (prefix
// 'q'), keeping them for inspection; a chunk that holds both kept and
// quarantined records is cut after seq. Used when accepting a loss.
func quarantine(db *badger.DB, seq uint64) error {
	type chunk struct{ k, v []byte }
	var moved []chunk
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'r'}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(k) != keyLen || lastSeqIn(v) > seq {
				moved = append(moved, chunk{k, v})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return db.Update(func(txn *badger.Txn) error {
		for _, c := range moved {
			if err := txn.Set(append([]byte{'q'}, c.k...), c.v); err != nil {
				return err
			}
			if err := txn.Delete(c.k); err != nil {
				return err
			}
			if keep := prefixUpTo(c.v, seq); len(c.k) == keyLen && len(keep) > 0 {
				if err := txn.Set(c.k, keep); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// lastSeqIn returns the highest sequence number readable in a chunk, or
// the maximum when the chunk does not parse (so it is quarantined).
func lastSeqIn(v []byte) uint64 {
	var last uint64
	for len(v) > 0 {
		n, r, rest, ok := nextStored(v)
		if !ok {
			return ^uint64(0)
		}
		last, v = binary.BigEndian.Uint64(r[seqOffset:]), rest
		_ = n
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

// Verify opens the journal in dir read-only and checks it whole.
func Verify(dir string) (Result, error) {
	return readOnly(dir, nil)
}

// Replay walks every record of the journal in dir in order, read-only.
func Replay(dir string, fn func(*Record) error) (Result, error) { // fn: the record is valid only during the call
	return readOnly(dir, fn)
}

func readOnly(dir string, fn func(*Record) error) (Result, error) {
	if _, err := os.Stat(filepath.Join(dir, "hwm")); err != nil {
		return Result{}, fmt.Errorf("journal: no journal in %s", dir)
	}
	db, err := badger.Open(badgerOptions(Options{Dir: dir, MemTableMB: 16}).WithReadOnly(true))
	if err != nil {
		if strings.Contains(err.Error(), "directory lock") {
			return Result{}, fmt.Errorf("journal: %s is in use: stop the switch first", dir)
		}
		return Result{}, fmt.Errorf("journal: open: %w", err)
	}
	defer db.Close()
	mark, err := openHWM(filepath.Join(dir, "hwm"))
	if err != nil {
		return Result{}, err
	}
	defer mark.close()
	return verify(db, mark.seq, mark.hash, fn)
}
