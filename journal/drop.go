package journal

import (
	"bytes"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// DropDay removes the oldest kept business day from the journal, once it
// is exported (e, from ExportDay or VerifyExport, must describe exactly
// that day) and closed (older than the newest acknowledged date). Old days
// should be dropped only once a snapshot covers them. The anchor moves to
// the day's last record first, synced; then the day's key range is
// deleted. A drop interrupted between the two is finished by the next
// Open, and the tools skip what it left.
func (j *Journal) DropDay(date uint32, e Export) error {
	j.dropMu.Lock()
	defer j.dropMu.Unlock()
	if err := j.Err(); err != nil {
		return err
	}
	days, err := j.Days()
	if err != nil {
		return err
	}
	switch newest := j.Last().Date; {
	case len(days) == 0:
		return fmt.Errorf("journal: no day to drop")
	case date >= newest:
		return fmt.Errorf("journal: day %d is not closed: the newest day is %d", date, newest)
	case days[0].Date != date:
		return fmt.Errorf("journal: day %d is not the oldest kept day (%d): days are dropped oldest first", date, days[0].Date)
	}
	d, anchor := days[0], j.Anchor()
	if e.Date != d.Date || e.FirstSeq != d.FirstSeq || e.LastSeq != d.LastSeq || e.Records != d.Records ||
		e.LastHash != d.LastHash || e.PrevHash != anchor.Hash {
		return fmt.Errorf("journal: the export (day %d, %d to %d) does not match the journal's day %d (%d to %d)",
			e.Date, e.FirstSeq, e.LastSeq, d.Date, d.FirstSeq, d.LastSeq)
	}
	return j.withDB(func(db *badger.DB) error {
		m, err := loadMeta(db)
		if err != nil {
			return err
		}
		m.anchor = Point{Seq: d.LastSeq, Hash: d.LastHash, Date: d.Date}
		if err := storeMeta(db, m); err != nil {
			return err
		}
		j.mu.Lock()
		j.anchor = m.anchor
		j.mu.Unlock()
		j.writeMu.Lock() // commits wait (they would fail with ErrBlockedWrites)
		defer j.writeMu.Unlock()
		return dropRange(db, m.anchor)
	})
}

// dropRange drops the key ranges of the days up to the anchor's, whole
// (a chunk never holds two dates, so no other day is touched), with
// Badger's DropPrefix: it gives the disk space back at once, where deletes
// would not (keys only grow, so compactions never come back to an old
// day's tables, and Badger drops a prefix only while it still sees keys
// under it). DropPrefix holds writes while it flushes the memtable (about
// what one memtable flush costs, once per closed day): the caller holds
// writeMu, so commits wait instead of failing.
func dropRange(db *badger.DB, anchor Point) error {
	if anchor.Seq == 0 {
		return nil
	}
	dates, err := datesUpTo(db, anchor)
	if err == nil && len(dates) > 0 {
		err = db.DropPrefix(dates...)
	}
	if err != nil {
		return fmt.Errorf("journal: dropping the days up to %d: %w", anchor.Date, err)
	}
	return nil
}

// datesUpTo lists the key prefixes ('r' and the date) of the days whose
// chunks all lie at or before the anchor.
func datesUpTo(db *badger.DB, anchor Point) ([][]byte, error) {
	var dates [][]byte
	err := view(db, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'r'}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != keyLen || keyDate(k) > anchor.Date || keySeq(k) > anchor.Seq {
				if n := len(dates); n > 0 && len(k) == keyLen && bytes.Equal(dates[n-1], k[:5]) {
					dates = dates[:n-1] // a day that goes on past the anchor is not closed
				}
				return nil
			}
			if n := len(dates); n == 0 || !bytes.Equal(dates[n-1], k[:5]) {
				dates = append(dates, append([]byte(nil), k[:5]...))
			}
		}
		return nil
	})
	return dates, err
}
