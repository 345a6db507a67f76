package journal

import (
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// gatedMark holds the committer inside the mark's next sync until opened, and
// records whether a sync has returned; armed, its next sync fails (once).
type gatedMark struct {
	markFile
	entered chan struct{} // a sync is waiting
	open    chan struct{}
	synced  atomic.Int32 // syncs returned
	armed   atomic.Bool
}

func gateMark(j *Journal) *gatedMark {
	g := &gatedMark{markFile: j.mark.f, entered: make(chan struct{}, 1), open: make(chan struct{})}
	j.mark.f = g // the committer is idle: the waits for the records before ordered its last store before this
	return g
}

func (g *gatedMark) Sync() error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.open
	if g.armed.CompareAndSwap(true, false) {
		return errDisk
	}
	err := g.markFile.Sync()
	g.synced.Add(1)
	return err
}

// markWaiter notes, when it hears Committed, how many mark syncs had
// returned.
type markWaiter struct {
	*waiter
	mark     *gatedMark
	atCommit int32
}

func (w *markWaiter) Committed(err error) { w.atCommit = w.mark.synced.Load(); w.waiter.Committed(err) }

func notDone(t *testing.T, w *waiter, what string) {
	t.Helper()
	select {
	case <-w.done:
		t.Fatalf("%s heard Committed(%v) while the mark over it was not synced", what, w.err)
	default:
	}
}

// syncedAtCommit records, at the committer's next Badger commit (the
// commitTxn seam), how many of the mark's syncs had returned.
func syncedAtCommit(j *Journal, g *gatedMark) <-chan int32 {
	ch := make(chan int32, 1)
	j.commitTxn = func(txn *badger.Txn) error {
		select {
		case ch <- g.synced.Load():
		default:
		}
		return txn.Commit()
	}
	return ch
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("never happened: %s", what)
	}
}

// A waiter hears Committed(nil) only after the mark over its record is
// synced, and the next group is not written before that mark has synced:
// one sync in flight at a time, records before their mark.
func TestCommittedAfterMarkSynced(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	appendN(t, j, 10, 0)
	g := gateMark(j)
	w1 := &markWaiter{waiter: newWaiter(), mark: g}
	r1 := testRecord(10)
	j.Append(r1, w1)
	waitFor(t, g.entered, "the mark's sync of the first group")
	notDone(t, w1.waiter, "the first group")
	commitAt := syncedAtCommit(j, g)
	w2 := &markWaiter{waiter: newWaiter(), mark: g}
	r2 := testRecord(11)
	j.Append(r2, w2)
	notDone(t, w1.waiter, "the first group")
	notDone(t, w2.waiter, "the second group")
	close(g.open)
	if err := w1.wait(t); err != nil || w1.atCommit < 1 {
		t.Fatalf("first: %v after %d mark syncs", err, w1.atCommit)
	}
	if err := w2.wait(t); err != nil || w2.atCommit < 2 {
		t.Fatalf("second: %v after %d mark syncs, want its own", err, w2.atCommit)
	}
	select {
	case n := <-commitAt:
		if n < 1 {
			t.Fatalf("the second group was written with %d mark syncs returned: two syncs in flight", n)
		}
	default:
		t.Fatal("the second group's Badger commit was not seen")
	}
	if r1.Seq != 11 || r2.Seq != 12 || j.Last().Seq != 12 || j.Last().Hash != r2.Hash {
		t.Fatalf("seqs %d %d, last %v", r1.Seq, r2.Seq, j.Last())
	}
	j.Close()
	if res, err := Verify(dir); err != nil || res.Problem != nil || res.LastSeq != 12 || res.MarkSeq != 12 {
		t.Fatalf("verify: %v %+v", err, res)
	}
}
