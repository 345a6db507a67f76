package journal

import (
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Walk reads the acknowledged records from.Seq+1 .. to (at most Last) of
// the live journal, concurrently with commits, with the chain verified
// from from (zero: the anchor): a from point that is not a record of the
// journal with that hash and date is an error wrapping ErrPointMismatch, a
// broken chain an *IntegrityError. fn's record is valid only during the
// call. It returns the last record read (from itself when none).
func (j *Journal) Walk(from Point, to uint64, fn func(*Record) error) (Point, error) {
	to = min(to, j.Last().Seq) // records after Last may still be in doubt
	if to == 0 {
		return from, nil
	}
	var res Result
	err := j.view(func(txn *badger.Txn) error {
		m, err := readMeta(txn)
		if err != nil {
			return err
		}
		res, err = walk(txn, span{anchor: m.anchor, from: from, to: max(to, from.Seq), fn: decoding(fn)})
		return err
	})
	switch {
	case err != nil:
		return res.LastPoint(), err
	case res.Problem != nil:
		return res.LastPoint(), res.Problem
	case res.LastSeq < to:
		return res.LastPoint(), &IntegrityError{Seq: res.LastSeq + 1, Reason: fmt.Sprintf(
			"the journal ends at %d, before the acknowledged %d", res.LastSeq, to)}
	}
	return res.LastPoint(), nil
}

// Day is one business date's run of kept records: since records are dated
// in sequence order, a day is a contiguous run of sequence numbers.
type Day struct {
	Date              uint32
	FirstSeq, LastSeq uint64
	Records           uint64
	LastHash          [HashLen]byte
}

// Days lists the kept business days, oldest first, up to the last
// acknowledged record. It reads keys, and one chunk a day.
func (j *Journal) Days() ([]Day, error) {
	upTo := j.Last().Seq
	var days []Day
	err := j.view(func(txn *badger.Txn) error {
		m, err := readMeta(txn)
		if err != nil {
			return err
		}
		days, err = readDays(txn, m.anchor, upTo)
		return err
	})
	return days, err
}

func readDays(txn *badger.Txn, anchor Point, upTo uint64) ([]Day, error) {
	var days []Day
	var lastKeys [][]byte // each day's last chunk
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'r'}})
	start := []byte{'r'}
	if anchor.Seq > 0 {
		start = dayStart(anchor.Date + 1)
	}
	for it.Seek(start); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) != keyLen || keySeq(k) > upTo {
			break
		}
		if len(days) == 0 || days[len(days)-1].Date != keyDate(k) {
			days = append(days, Day{Date: keyDate(k), FirstSeq: keySeq(k)})
			lastKeys = append(lastKeys, nil)
		}
		lastKeys[len(lastKeys)-1] = it.Item().KeyCopy(lastKeys[len(lastKeys)-1])
	}
	it.Close()
	for i := range days {
		item, err := txn.Get(lastKeys[i])
		if err != nil {
			return nil, err
		}
		d := &days[i]
		err = item.Value(func(v []byte) error {
			for len(v) > 0 {
				_, r, rest, ok := nextStored(v)
				if !ok || seqOf(r) > upTo {
					break
				}
				d.LastSeq = seqOf(r)
				copy(d.LastHash[:], r[len(r)-HashLen:])
				v = rest
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		d.Records = d.LastSeq - d.FirstSeq + 1
	}
	return days, nil
}
