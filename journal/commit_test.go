package journal

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// TestBusinessDateMonotonic: the committer dates each record max(its date,
// the newest date so far), and a chunk holds one date: a batch over two
// dates is two chunks, and a late record of the older date lands in the
// newer day, dated so.
func TestBusinessDateMonotonic(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	const d1, d2 = 20261121, 20261122
	b, c, late := dated(2, d1), dated(3, d2), dated(4, d1)
	ws := oneBatch(t, j, dated(1, d1), []*Record{b, c, late})
	for _, w := range ws {
		if err := w.wait(t); err != nil {
			t.Fatal(err)
		}
	}
	if st := j.Stats(); st.Commits != 2 || st.MaxBatch != 3 {
		t.Fatalf("not the batches the test means: %+v", st)
	}
	if b.BusinessDate != d1 || c.BusinessDate != d2 || late.BusinessDate != d2 {
		t.Fatalf("dates %d %d %d", b.BusinessDate, c.BusinessDate, late.BusinessDate)
	}
	if last := j.Last(); last.Seq != 4 || last.Date != d2 || last.Hash != late.Hash {
		t.Fatalf("last %v", last)
	}
	j.Close()
	keys, _ := keysOf(t, dir)
	want := []string{string(appendKey(nil, d1, 1)), string(appendKey(nil, d1, 2)), string(appendKey(nil, d2, 3))}
	if len(keys) != len(want) {
		t.Fatalf("%d chunks, want %d: %x", len(keys), len(want), keys)
	}
	for i, k := range keys {
		if string(k) != want[i] {
			t.Fatalf("chunk %d keyed %x, want %x", i, k, want[i])
		}
	}
	var got []uint32
	if _, err := Replay(dir, func(r *Record) error { got = append(got, r.BusinessDate); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0] != d1 || got[1] != d1 || got[2] != d2 || got[3] != d2 {
		t.Fatalf("replayed dates %v", got)
	}
}

// TestRecordDateOutsideItsRange: a version 2 record stored in another
// date's key range is refused.
func TestRecordDateOutsideItsRange(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	commitDays(t, j, []uint32{20261121, 20261122}, 3)
	j.Close()
	tamper(t, dir, func(txn *badger.Txn) error { // move day 2's last chunk to day 3's range
		keys, vals := chunks(t, txn)
		last := len(keys) - 1 // the last chunk of all (a day may take several commits, so several chunks)
		if err := txn.Delete(keys[last]); err != nil {
			return err
		}
		return txn.Set(appendKey(nil, 20261123, keySeq(keys[last])), vals[last])
	})
	res, err := Verify(dir)
	if err != nil || res.Problem == nil || !strings.Contains(res.Problem.Reason, "record dated 20261122 in the key range of 20261123") {
		t.Fatalf("verify: %v %+v", err, res.Problem)
	}
}

// TestBigBatchIsSplit: a batch larger than one Badger transaction (a small
// memtable) commits in several, every record durable, the chain intact.
func TestBigBatchIsSplit(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, func(o *Options) { o.MemTableMB = memTableMBMin; o.MaxBatch = MaxBatchLimit })
	recs := make([]*Record, MaxBatchLimit)
	for i := range recs {
		recs[i] = testRecord(i + 1)
	}
	ws := oneBatch(t, j, testRecord(0), recs)
	for _, w := range ws {
		if err := w.wait(t); err != nil {
			t.Fatal(err)
		}
	}
	st := j.Stats()
	if st.MaxBatch != MaxBatchLimit || st.Transactions <= st.Commits || j.Err() != nil {
		t.Fatalf("stats %+v, err %v", st, j.Err())
	}
	t.Logf("a batch of %d records committed in %d transactions", MaxBatchLimit, st.Transactions-1)
	j.Close()
	res, err := Verify(dir)
	if err != nil || res.Problem != nil || res.LastSeq != MaxBatchLimit+1 || res.MarkSeq != res.LastSeq {
		t.Fatalf("verify: %v %+v", err, res)
	}
}

func TestValidate(t *testing.T) {
	for _, o := range []Options{
		{Dir: "x", MaxBatch: MaxBatchLimit + 1},
		{Dir: "x", MaxBatch: 65536},
		{Dir: "x", MaxBatch: -1},
		{Dir: "x", MemTableMB: 4},
		{Dir: "x", Window: -1},
		{Dir: "x", QueueDepth: 1 << 21},
		{Dir: "x", MinFreeMB: -1},
		{Dir: "x", MemTableMB: 64, MinFreeMB: 70}, // less than a memtable and a margin
		{Dir: "x", MinFreeMB: MinFreeMBLeast - 1}, // the same at the default memtable (64)
		{Dir: "x", ReserveMB: -1},
		{Dir: "x", ReserveMB: ReserveMBMax + 1},
		{},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v validates", o)
		}
	}
	if err := (Options{Dir: "x", MaxBatch: MaxBatchLimit, MemTableMB: memTableMBMin, MinFreeMB: memTableMBMin + 8, ReserveMB: 1}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Options{Dir: "x", MinFreeMB: MinFreeMBLeast, ReserveMB: ReserveMBMax}).Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: t.TempDir(), MaxBatch: 65536}); err == nil || !strings.Contains(err.Error(), "max batch 65536") {
		t.Fatalf("open: %v", err)
	}
}

// failingMark is a mark file whose writes fail once armed.
type failingMark struct {
	markFile
	armed atomic.Bool
}

var errDisk = errors.New("disk on fire")

func (f *failingMark) WriteAt(b []byte, off int64) (int, error) {
	if f.armed.Load() {
		return 0, errDisk
	}
	return f.markFile.WriteAt(b, off)
}

// checkFailed checks the failure rule after a failed batch: its waiters
// are in doubt, the journal says it failed (OnFail once, Err), and a later
// record is refused at once, written nowhere.
func checkFailed(t *testing.T, j *Journal, batch []*waiter, fails *atomic.Int32) {
	t.Helper()
	for _, w := range batch {
		if err := w.wait(t); !errors.Is(err, ErrInDoubt) || !errors.Is(err, errDisk) || errors.Is(err, ErrFailed) {
			t.Fatalf("waiter of the failed batch: %v", err)
		}
	}
	if err := j.Err(); !errors.Is(err, ErrFailed) || !errors.Is(err, errDisk) {
		t.Fatalf("Err: %v", err)
	}
	w := newWaiter()
	j.Append(testRecord(99), w)
	select {
	case <-w.done:
	default:
		t.Fatal("a record appended to a failed journal was not refused at once")
	}
	if !errors.Is(w.err, ErrFailed) || errors.Is(w.err, ErrInDoubt) {
		t.Fatalf("later append: %v", w.err)
	}
	if w := newWaiter(); !j.TryAppend(testRecord(98), w) || !errors.Is(w.wait(t), ErrFailed) {
		t.Fatalf("later try-append: %v", w.err)
	}
	if fails.Load() != 1 {
		t.Fatalf("OnFail called %d times", fails.Load())
	}
}

// TestBadgerCommitFails: a Badger commit error puts the batch in doubt and
// fails the journal; nothing more is written and no sequence number is
// used: after a restart the journal continues after the last durable
// record.
func TestBadgerCommitFails(t *testing.T) {
	dir := t.TempDir()
	var fails atomic.Int32
	j := open(t, dir, func(o *Options) { o.OnFail = func(error) { fails.Add(1) } })
	appendN(t, j, 10, 0)
	j.commitTxn = func(txn *badger.Txn) error { return errDisk } // before the append that reaches it
	batch := []*waiter{newWaiter()}
	j.Append(testRecord(10), batch[0])
	checkFailed(t, j, batch, &fails)
	j.Close()
	res, err := Verify(dir)
	if err != nil || res.Problem != nil || res.LastSeq != 10 {
		t.Fatalf("verify: %v %+v", err, res)
	}
	j = open(t, dir, nil)
	r := testRecord(11)
	commitOne(t, j, r)
	if r.Seq != 11 {
		t.Fatalf("the next record after a restart has seq %d, want 11", r.Seq)
	}
	j.Close()
}

// TestMarkStoreFails: Badger committed but the mark did not move: the
// batch is in doubt (its records are durable), the journal failed; a
// restart finds the records and moves the mark to them.
func TestMarkStoreFails(t *testing.T) {
	dir := t.TempDir()
	var fails atomic.Int32
	j := open(t, dir, func(o *Options) { o.OnFail = func(error) { fails.Add(1) } })
	appendN(t, j, 10, 0)
	fm := &failingMark{markFile: j.mark.f}
	j.mark.f = fm // the committer is idle: appendN's waits ordered its last commit before this
	fm.armed.Store(true)
	batch := []*waiter{newWaiter()}
	in := testRecord(10)
	j.Append(in, batch[0])
	checkFailed(t, j, batch, &fails)
	j.Close()
	res, err := Verify(dir)
	if err != nil || res.Problem != nil || res.LastSeq != 11 || res.MarkSeq != 10 {
		t.Fatalf("verify: %v %+v", err, res)
	}
	j = open(t, dir, nil)
	if last := j.Last(); last.Seq != 11 || last.Hash != in.Hash {
		t.Fatalf("after restart: %v", last)
	}
	j.Close()
	if res, _ := Verify(dir); res.MarkSeq != 11 {
		t.Fatalf("the mark did not move to the durable records: %+v", res)
	}
}

// TestTooLargeRecord: a record above the bound is refused at once and uses
// no sequence number.
func TestTooLargeRecord(t *testing.T) {
	j := open(t, t.TempDir(), nil)
	defer j.Close()
	r := testRecord(1)
	r.Outcome = make([]byte, recordBytesMax)
	w := newWaiter()
	j.Append(r, w)
	if err := w.wait(t); !errors.Is(err, ErrTooLarge) || j.Err() != nil {
		t.Fatalf("%v / %v", err, j.Err())
	}
	ok := testRecord(2)
	commitOne(t, j, ok)
	if ok.Seq != 1 {
		t.Fatalf("seq %d", ok.Seq)
	}
}
