package journal

import (
	"sync"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// TestOnCommitOncePerCommit: OnCommit sees each durable commit once, with
// its batch size and transactions (a held committer gathers 300 records
// into one commit), and nothing for a commit that failed.
func TestOnCommitOncePerCommit(t *testing.T) {
	var mu sync.Mutex
	var seen []Commit
	j := open(t, t.TempDir(), func(o *Options) {
		o.OnCommit = func(c Commit) { mu.Lock(); seen = append(seen, c); mu.Unlock() }
	})
	recs := make([]*Record, 300)
	for i := range recs {
		recs[i] = testRecord(i + 1)
	}
	for _, w := range oneBatch(t, j, testRecord(0), recs) {
		if err := w.wait(t); err != nil {
			t.Fatal(err)
		}
	}
	if n := j.QueueLen(); n != 0 {
		t.Errorf("queue length %d after every commit", n)
	}
	j.commitTxn = func(*badger.Txn) error { return errDisk }
	failed := newWaiter()
	j.Append(testRecord(301), failed)
	_ = failed.wait(t)
	st := j.Stats()
	j.Close() // the committer has returned: every call was made
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || uint64(len(seen)) != st.Commits {
		t.Fatalf("OnCommit %d times for %d commits: %+v", len(seen), st.Commits, seen)
	}
	if seen[0].Records != 1 || seen[1].Records != 300 || seen[1].Transactions != 1 {
		t.Errorf("commits %+v, want 1 then 300 records", seen)
	}
	for _, c := range seen {
		if c.Took <= 0 {
			t.Errorf("commit %+v without its time", c)
		}
	}
}

// TestSetOnRecordBeforeTheWaiter: the function SetOnRecord installs sees
// every durable record, in sequence order, before its waiter is told
// (when a waiter hears, its record was seen), and nothing of a commit
// that failed.
func TestSetOnRecordBeforeTheWaiter(t *testing.T) {
	j := open(t, t.TempDir(), nil)
	var mu sync.Mutex
	var seen []uint64
	j.SetOnRecord(func(r *Record) { mu.Lock(); seen = append(seen, r.Seq); mu.Unlock() })
	recs := make([]*Record, 50)
	for i := range recs {
		recs[i] = testRecord(i + 1)
	}
	for i, w := range oneBatch(t, j, testRecord(0), recs) {
		if err := w.wait(t); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		ok := len(seen) >= i+2 && seen[i+1] == recs[i].Seq
		mu.Unlock()
		if !ok {
			t.Fatalf("record %d's waiter heard before the record was seen (%v)", recs[i].Seq, seen)
		}
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] != seen[i-1]+1 {
			t.Fatalf("seen out of order: %v", seen)
		}
	}
	j.commitTxn = func(*badger.Txn) error { return errDisk }
	failed := newWaiter()
	j.Append(testRecord(99), failed)
	_ = failed.wait(t)
	j.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 51 {
		t.Fatalf("seen %d records, want the 51 durable ones", len(seen))
	}
}
