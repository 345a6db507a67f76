package journal

import (
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// dated is testRecord(i) on a business date.
func dated(i int, date uint32) *Record {
	r := testRecord(i)
	r.BusinessDate = date
	return r
}

// commitOne appends r and waits for its commit.
func commitOne(t testing.TB, j *Journal, r *Record) {
	t.Helper()
	w := newWaiter()
	j.Append(r, w)
	if err := w.wait(t); err != nil {
		t.Fatal(err)
	}
}

// commitDays commits n records on each date, one commit per date (the
// records of a date are appended together), and returns them in order.
func commitDays(t testing.TB, j *Journal, dates []uint32, n int) []*Record {
	t.Helper()
	var all []*Record
	for _, d := range dates {
		ws := make([]*waiter, n)
		for i := range ws {
			r := dated(len(all), d)
			all = append(all, r)
			ws[i] = newWaiter()
			j.Append(r, ws[i])
		}
		for _, w := range ws {
			if err := w.wait(t); err != nil {
				t.Fatal(err)
			}
		}
	}
	return all
}

// gate holds the committer inside its next Badger commit until opened, so
// that the records appended meanwhile form one batch: deterministic
// batches without timing.
type gate struct {
	entered chan struct{} // a commit is waiting
	open    chan struct{}
}

// hold makes j's commits wait at the gate (set before the records it holds
// are appended: the Append's channel send orders the write before the
// committer's read).
func hold(j *Journal) *gate {
	g := &gate{entered: make(chan struct{}, 1), open: make(chan struct{})}
	j.commitTxn = func(txn *badger.Txn) error {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-g.open
		return txn.Commit()
	}
	return g
}

// queued waits until n records wait in j's queue.
func queued(t testing.TB, j *Journal, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(j.in) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d records queued, want %d", len(j.in), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// oneBatch commits recs as one batch: a first record is held at the gate
// while the others queue, then the gate opens. It returns the waiters of
// recs (the first record's excluded).
func oneBatch(t testing.TB, j *Journal, first *Record, recs []*Record) []*waiter {
	t.Helper()
	g := hold(j)
	w0 := newWaiter()
	j.Append(first, w0)
	<-g.entered
	ws := make([]*waiter, len(recs))
	for i, r := range recs {
		ws[i] = newWaiter()
		j.Append(r, ws[i])
	}
	queued(t, j, len(recs))
	close(g.open)
	if err := w0.wait(t); err != nil {
		t.Fatal(err)
	}
	return ws
}

// keysOf lists the chunk keys of a closed journal.
func keysOf(t *testing.T, dir string) (keys, vals [][]byte) {
	t.Helper()
	db, err := badger.Open(badgerOptions(dir, 16).WithReadOnly(true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(txn *badger.Txn) error { keys, vals = chunks(t, txn); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys, vals
}
