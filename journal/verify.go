package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

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
// reached with the same hash. fn, if set, sees each intact record.
func verify(db *badger.DB, markSeq uint64, markHash [HashLen]byte, fn func(*Record) error) (Result, error) {
	res := Result{MarkSeq: markSeq}
	h := sha256.New()
	var rec Record
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: []byte{'r'}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			var problem string
			err := item.Value(func(v []byte) error {
				problem = checkRecord(&res, k, v, h)
				if problem == "" && fn != nil {
					if err := Decode(v, &rec); err != nil {
						problem = err.Error()
						return nil
					}
					return fn(&rec)
				}
				return nil
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

// checkRecord checks one stored record against the chain so far and
// advances it; it returns what is wrong, or "".
func checkRecord(res *Result, k, v []byte, h interface {
	Reset()
	Write([]byte) (int, error)
	Sum([]byte) []byte
}) string {
	if len(k) != keyLen || len(v) < 1+8+HashLen || v[0] != Version {
		return "record does not parse (key or header)"
	}
	seq := binary.BigEndian.Uint64(v[seqOffset:])
	keySeq := binary.BigEndian.Uint64(k[5:])
	date := binary.BigEndian.Uint32(k[1:])
	switch {
	case seq != keySeq:
		return fmt.Sprintf("record says sequence %d under key %d", seq, keySeq)
	case seq != res.LastSeq+1:
		return fmt.Sprintf("sequence gap: %d follows %d", seq, res.LastSeq)
	case date < res.LastKeyDate:
		return fmt.Sprintf("business date %d after %d", date, res.LastKeyDate)
	}
	body := v[:len(v)-HashLen]
	h.Reset()
	h.Write(res.LastHash[:])
	h.Write(body)
	var sum [HashLen]byte
	h.Sum(sum[:0])
	if !bytes.Equal(sum[:], v[len(v)-HashLen:]) {
		return "hash chain broken: the record or its predecessor was altered"
	}
	if res.Records == 0 {
		res.FirstSeq = seq
	}
	res.Records++
	res.LastSeq, res.LastHash, res.LastKeyDate = seq, sum, date
	return ""
}

// quarantine moves records after seq out of the journal's range (prefix
// 'q'), keeping them for inspection; used when accepting a loss.
func quarantine(db *badger.DB, seq uint64) error {
	var keys [][]byte
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'r'}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if k := it.Item().KeyCopy(nil); binary.BigEndian.Uint64(k[5:]) > seq || len(k) != keyLen {
				keys = append(keys, k)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return db.Update(func(txn *badger.Txn) error {
		for _, k := range keys {
			item, err := txn.Get(k)
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := txn.Set(append([]byte{'q'}, k...), v); err != nil {
				return err
			}
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Verify opens the journal in dir read-only and checks it whole.
func Verify(dir string) (Result, error) {
	return readOnly(dir, nil)
}

// Replay walks every record of the journal in dir in order, read-only.
func Replay(dir string, fn func(*Record) error) (Result, error) {
	return readOnly(dir, fn)
}

func readOnly(dir string, fn func(*Record) error) (Result, error) {
	db, err := badger.Open(badgerOptions(Options{Dir: dir, MemTableMB: 16}).WithReadOnly(true))
	if err != nil {
		return Result{}, fmt.Errorf("journal: open: %w", err)
	}
	defer db.Close()
	mark, err := openHWM(dir + "/hwm")
	if err != nil {
		return Result{}, err
	}
	defer mark.close()
	return verify(db, mark.seq, mark.hash, fn)
}
