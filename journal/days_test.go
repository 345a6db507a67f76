package journal

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

const day1, day2, day3 = 20261121, 20261122, 20261123

// threeDays is a journal of three business days (10, 15 and 5 records).
func threeDays(t *testing.T) (string, *Journal, []*Record) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	recs := commitDays(t, j, []uint32{day1}, 10)
	recs = append(recs, commitDays(t, j, []uint32{day2}, 15)...)
	recs = append(recs, commitDays(t, j, []uint32{day3}, 5)...)
	return dir, j, recs
}

func TestDays(t *testing.T) {
	_, j, recs := threeDays(t)
	defer j.Close()
	days, err := j.Days()
	if err != nil {
		t.Fatal(err)
	}
	want := []Day{
		{Date: day1, FirstSeq: 1, LastSeq: 10, Records: 10, LastHash: recs[9].Hash},
		{Date: day2, FirstSeq: 11, LastSeq: 25, Records: 15, LastHash: recs[24].Hash},
		{Date: day3, FirstSeq: 26, LastSeq: 30, Records: 5, LastHash: recs[29].Hash},
	}
	if len(days) != 3 || days[0] != want[0] || days[1] != want[1] || days[2] != want[2] {
		t.Fatalf("days %+v", days)
	}
}

// TestExportVerifyDrop: a closed day exports, its export verifies (and a
// flipped byte anywhere in it does not), the day drops; the other days are
// untouched, the chain verifies from the new anchor, and a restart and
// more records follow.
func TestExportVerifyDrop(t *testing.T) {
	dir, j, recs := threeDays(t)
	var buf bytes.Buffer
	e, err := j.ExportDay(day1, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if e.Date != day1 || e.FirstSeq != 1 || e.LastSeq != 10 || e.Records != 10 || e.LastHash != recs[9].Hash || e.PrevHash != ([HashLen]byte{}) {
		t.Fatalf("export %+v", e)
	}
	got, err := VerifyExport(bytes.NewReader(buf.Bytes()))
	if err != nil || got != e {
		t.Fatalf("verify export: %v\n%+v\n%+v", err, got, e)
	}
	for i := range buf.Len() {
		b := bytes.Clone(buf.Bytes())
		b[i] ^= 0x04
		if _, err := VerifyExport(bytes.NewReader(b)); !errors.Is(err, ErrBadExport) {
			t.Fatalf("a flipped bit at byte %d of %d: %v", i, buf.Len(), err)
		}
	}
	if _, err := VerifyExport(bytes.NewReader(append(bytes.Clone(buf.Bytes()), 0))); !errors.Is(err, ErrBadExport) {
		t.Fatalf("a byte after the end: %v", err)
	}
	checkForgedExports(t, buf.Bytes())
	j.Close()
	keys, before := keysOf(t, dir)
	n1 := 0 // day 1's chunks: as many as its commits
	for n1 < len(keys) && keyDate(keys[n1]) == day1 {
		n1++
	}
	j = open(t, dir, nil)
	if err := j.DropDay(day1, e); err != nil {
		t.Fatal(err)
	}
	if a := j.Anchor(); a != pointOf(recs[9]) {
		t.Fatalf("anchor %v", a)
	}
	if days, _ := j.Days(); len(days) != 2 || days[0].Date != day2 {
		t.Fatalf("days after the drop: %+v", days)
	}
	j.Close()
	_, after := keysOf(t, dir)
	if len(after) != len(before)-n1 {
		t.Fatalf("%d chunks before (%d of day 1), %d after", len(before), n1, len(after))
	}
	for i := range after { // the other days' chunks, byte for byte
		if !bytes.Equal(after[i], before[i+n1]) {
			t.Fatalf("chunk %d changed", i)
		}
	}
	checkDropped(t, dir, recs, 11)
	j = open(t, dir, nil)
	commitOne(t, j, dated(99, day3))
	j.Close()
	if res, err := Verify(dir); err != nil || res.Problem != nil || res.LastSeq != 31 {
		t.Fatalf("after a restart: %v %+v", err, res)
	}
}

// checkForgedExports: an export changed with its checksum recomputed (so
// only the other checks can catch it) does not verify either.
func checkForgedExports(t *testing.T, good []byte) {
	t.Helper()
	n := len(good)
	for name, at := range map[string]int{
		"header date":      5 + 3,
		"first sequence":   9 + 7,
		"previous hash":    17,
		"a record's field": exportHeadLen + 3 + 30,
		"trailer count":    n - 32 - 32 - 1,
		"trailer hash":     n - 32 - 1,
	} {
		b := bytes.Clone(good)
		b[at] ^= 1
		sum := sha256.Sum256(b[:n-32])
		copy(b[n-32:], sum[:])
		if _, err := VerifyExport(bytes.NewReader(b)); !errors.Is(err, ErrBadExport) {
			t.Errorf("forged %s: %v", name, err)
		}
	}
}

// checkDropped checks that the journal verifies from first (the anchor is
// the record before it) and replays exactly recs[first-1:].
func checkDropped(t *testing.T, dir string, recs []*Record, first uint64) {
	t.Helper()
	next := first
	res, err := Replay(dir, func(r *Record) error {
		if r.Seq != next || r.Hash != recs[next-1].Hash {
			t.Errorf("replayed %d (hash %x), want %d", r.Seq, r.Hash[:4], next)
		}
		next++
		return nil
	})
	if err != nil || res.Problem != nil || res.FirstSeq != first || res.Anchor != pointOf(recs[first-2]) || next != uint64(len(recs))+1 || len(res.Notes) != 0 {
		t.Fatalf("replay: %v %+v, next %d", err, res, next)
	}
}

// TestDropRefused: only the oldest day drops, only a closed one, only with
// its own export; an export of a day that is not closed is refused too.
func TestDropRefused(t *testing.T) {
	_, j, _ := threeDays(t)
	defer j.Close()
	var buf bytes.Buffer
	if _, err := j.ExportDay(day3, &buf); err == nil || !strings.Contains(err.Error(), "not closed") {
		t.Fatalf("export of the current day: %v", err)
	}
	e1, err := j.ExportDay(day1, &buf)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := j.ExportDay(day2, &buf)
	if err != nil || e2.PrevHash != e1.LastHash {
		t.Fatalf("export day 2: %v %+v", err, e2)
	}
	if err := j.DropDay(day2, e2); err == nil || !strings.Contains(err.Error(), "not the oldest") {
		t.Fatalf("drop day 2 first: %v", err)
	}
	if err := j.DropDay(day3, Export{Date: day3}); err == nil || !strings.Contains(err.Error(), "not closed") {
		t.Fatalf("drop the current day: %v", err)
	}
	if err := j.DropDay(day1, e2); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("drop with another day's export: %v", err)
	}
	forged := e1
	forged.LastHash[0] ^= 1
	if err := j.DropDay(day1, forged); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("drop with an export of another last hash: %v", err)
	}
	if err := j.DropDay(day1, e1); err != nil {
		t.Fatal(err)
	}
	if err := j.DropDay(day2, e2); err != nil { // now the oldest
		t.Fatal(err)
	}
	if err := j.DropDay(day3, Export{Date: day3}); err == nil {
		t.Fatal("the current day dropped")
	}
	// a point before the anchor is gone
	if _, err := j.Walk(Point{}, 30, nil); err != nil {
		t.Fatalf("walk from the anchor: %v", err)
	}
	if _, err := j.Walk(Point{Seq: 3}, 30, nil); !errors.Is(err, ErrPointMismatch) {
		t.Fatalf("walk from a dropped record: %v", err)
	}
}

// TestInterruptedDrop: the anchor moved but the day's range is still
// there (a crash between the two): the tools skip it and say so, the next
// start finishes the drop.
func TestInterruptedDrop(t *testing.T) {
	dir, j, recs := threeDays(t)
	j.Close()
	tamper(t, dir, func(txn *badger.Txn) error { // the drop's first step only
		m, err := readMeta(txn)
		if err != nil {
			return err
		}
		m.anchor = pointOf(recs[9])
		return m.set(txn)
	})
	res, err := Verify(dir)
	if err != nil || res.Problem != nil || res.FirstSeq != 11 || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "still stored") {
		t.Fatalf("verify: %v %+v", err, res)
	}
	open(t, dir, nil).Close()
	if keys, _ := keysOf(t, dir); keyDate(keys[0]) != day2 {
		t.Fatalf("day 1 still there: %x", keys[0])
	}
	checkDropped(t, dir, recs, 11)
	// a snapshot's point before the anchor no longer matches
	if _, err := Open(Options{Dir: dir, After: pointOf(recs[4])}); !errors.Is(err, ErrPointMismatch) {
		t.Fatalf("open after a dropped point: %v", err)
	}
	j = open(t, dir, func(o *Options) { o.After = pointOf(recs[9]) }) // the anchor itself is fine
	j.Close()
}

// Once a day is dropped, a replay must start from a snapshot at or after
// the anchor: from the beginning it would build a state without the day.
func TestReplayFromBeforeTheAnchorRefused(t *testing.T) {
	dir, j, recs := threeDays(t)
	var buf bytes.Buffer
	e, err := j.ExportDay(day1, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.DropDay(day1, e); err != nil {
		t.Fatal(err)
	}
	j.Close()
	replayed := 0
	count := func(*Record) error { replayed++; return nil }
	if _, err := Open(Options{Dir: dir, Replay: count}); !errors.Is(err, ErrNotCovered) {
		t.Fatalf("replay from the start after a drop: %v", err)
	}
	at := Point{Seq: recs[9].Seq, Hash: recs[9].Hash, Date: day1} // a snapshot taken at the end of day 1
	j, err = Open(Options{Dir: dir, Replay: count, After: at})
	if err != nil {
		t.Fatalf("replay from the anchor: %v", err)
	}
	defer j.Close()
	if replayed != 20 {
		t.Fatalf("replayed %d records after the anchor, want 20", replayed)
	}
}

// Commits go on while a day is dropped: they wait for the drop (Badger
// refuses writes while it drops a prefix), none fails, and the dropped
// day's tables are gone.
func TestDropDayWhileCommitting(t *testing.T) {
	_, j, _ := threeDays(t)
	defer j.Close()
	var buf bytes.Buffer
	e, err := j.ExportDay(day1, &buf)
	if err != nil {
		t.Fatal(err)
	}
	commitDays(t, j, []uint32{day3}, 20000) // a memtable the drop must flush: it takes a while
	const writers = 8
	stop, done := make(chan struct{}), make(chan error, writers)
	for g := 0; g < writers; g++ {
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				w := newWaiter()
				j.Append(dated(100000+i, day3), w)
				if <-w.done; w.err != nil {
					done <- w.err
					return
				}
			}
		}()
	}
	if err := j.DropDay(day1, e); err != nil {
		t.Fatal(err)
	}
	close(stop)
	for g := 0; g < writers; g++ {
		if err := <-done; err != nil {
			t.Fatalf("a commit during the drop: %v", err)
		}
	}
	// the day's space is given back: not even a deleted version of its
	// keys is left (deletes alone would leave them, with tombstones)
	day := appendKey(nil, day1, 0)[:5]
	_ = j.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true, Prefix: day})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			t.Fatalf("day %d still holds key %x (deleted: %v)", day1, it.Item().Key(), it.Item().IsDeletedOrExpired())
		}
		return nil
	})
}
