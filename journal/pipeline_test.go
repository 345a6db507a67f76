package journal

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

func pipelined(o *Options) { o.Pipeline = true }

// gatedMark holds the marker inside the mark's next sync until opened, and
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
	j.mark.f = g // the marker is idle: the waits for the records before ordered its last store before this
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

// written waits for the committer's Badger commit of the next group (the
// commitTxn seam counts them) and makes the one after fail, if fail.
func written(j *Journal, fail bool) <-chan struct{} {
	ch := make(chan struct{}, 1)
	j.commitTxn = func(txn *badger.Txn) error {
		err := txn.Commit()
		if fail {
			err = errDisk
		}
		select {
		case ch <- struct{}{}:
		default:
		}
		return err
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
// synced, and meanwhile the next group is written and synced in Badger
// (the pipeline) but not acknowledged either.
func TestCommittedAfterMarkSynced(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, pipelined)
	appendN(t, j, 10, 0)
	g := gateMark(j)
	w1 := &markWaiter{waiter: newWaiter(), mark: g}
	r1 := testRecord(10)
	j.Append(r1, w1)
	waitFor(t, g.entered, "the mark's sync of the first group")
	notDone(t, w1.waiter, "the first group")
	wrote := written(j, false)
	w2 := &markWaiter{waiter: newWaiter(), mark: g}
	r2 := testRecord(11)
	j.Append(r2, w2)
	waitFor(t, wrote, "the second group written while the first's mark syncs")
	notDone(t, w1.waiter, "the first group")
	notDone(t, w2.waiter, "the second group")
	close(g.open)
	if err := w1.wait(t); err != nil || w1.atCommit < 1 {
		t.Fatalf("first: %v after %d mark syncs", err, w1.atCommit)
	}
	if err := w2.wait(t); err != nil || w2.atCommit < 2 {
		t.Fatalf("second: %v after %d mark syncs, want its own", err, w2.atCommit)
	}
	if r1.Seq != 11 || r2.Seq != 12 || j.Last().Seq != 12 || j.Last().Hash != r2.Hash {
		t.Fatalf("seqs %d %d, last %v", r1.Seq, r2.Seq, j.Last())
	}
	j.Close()
	if res, err := Verify(dir); err != nil || res.Problem != nil || res.LastSeq != 12 || res.MarkSeq != 12 {
		t.Fatalf("verify: %v %+v", err, res)
	}
}

// A mark store that fails with the next group already written in Badger:
// both groups are in doubt (the second's records are durable, and no mark
// covers them), even though the mark's next sync would succeed; the
// journal failed once; a restart finds both groups and moves the mark.
func TestMarkFailsWithNextGroupWritten(t *testing.T) {
	dir := t.TempDir()
	var fails atomic.Int32
	j := open(t, dir, func(o *Options) { o.Pipeline = true; o.OnFail = func(error) { fails.Add(1) } })
	appendN(t, j, 10, 0)
	g := gateMark(j)
	g.armed.Store(true)
	w1 := newWaiter()
	j.Append(testRecord(10), w1)
	waitFor(t, g.entered, "the mark's sync of the first group")
	wrote := written(j, false)
	w2 := newWaiter()
	r2 := testRecord(11)
	j.Append(r2, w2)
	waitFor(t, wrote, "the second group written while the first's mark syncs")
	close(g.open)
	checkFailed(t, j, []*waiter{w1, w2}, &fails)
	j.Close()
	res, err := Verify(dir)
	// the failed store wrote its slot (the sync failed): 10 or 11, never over the second group
	if err != nil || res.Problem != nil || res.LastSeq != 12 || res.MarkSeq > 11 {
		t.Fatalf("verify: %v %+v", err, res)
	}
	j = open(t, dir, nil)
	if last := j.Last(); last.Seq != 12 || last.Hash != r2.Hash {
		t.Fatalf("after restart: %v", last)
	}
	j.Close()
}

// A Badger write that fails while the group before waits for its mark:
// that group is durable and marked, and hears nil; the failed one is in
// doubt, the journal failed; a restart continues after the first group.
func TestBadgerFailsWhileMarking(t *testing.T) {
	dir := t.TempDir()
	var fails atomic.Int32
	j := open(t, dir, func(o *Options) { o.Pipeline = true; o.OnFail = func(error) { fails.Add(1) } })
	appendN(t, j, 10, 0)
	g := gateMark(j)
	w1 := newWaiter()
	r1 := testRecord(10)
	j.Append(r1, w1)
	waitFor(t, g.entered, "the mark's sync of the first group")
	wrote := written(j, true)
	w2 := newWaiter()
	j.Append(testRecord(11), w2)
	waitFor(t, wrote, "the second group's Badger commit")
	for j.Err() == nil { // the committer fails the journal right after the commit returns
		time.Sleep(time.Millisecond)
	}
	notDone(t, w1, "the first group")
	close(g.open)
	if err := w1.wait(t); err != nil {
		t.Fatalf("the group before the failed write: %v", err)
	}
	checkFailed(t, j, []*waiter{w2}, &fails)
	if last := j.Last(); last.Seq != 11 || last.Hash != r1.Hash {
		t.Fatalf("last %v", last)
	}
	j.Close()
	res, err := Verify(dir)
	if err != nil || res.Problem != nil || res.MarkSeq != 11 || res.LastSeq < 11 {
		t.Fatalf("verify: %v %+v", err, res)
	}
	if !errors.Is(j.Err(), errDisk) {
		t.Fatalf("err %v", j.Err())
	}
}

// Without Pipeline, the same ordering: a waiter hears Committed only once
// the mark over its record is synced; the next record waits its turn.
func TestCommittedAfterMarkSyncedSerial(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	appendN(t, j, 10, 0)
	g := gateMark(j)
	w1 := &markWaiter{waiter: newWaiter(), mark: g}
	j.Append(testRecord(10), w1)
	waitFor(t, g.entered, "the mark's sync of the first group")
	w2 := &markWaiter{waiter: newWaiter(), mark: g}
	j.Append(testRecord(11), w2)
	notDone(t, w1.waiter, "the first group")
	notDone(t, w2.waiter, "the second group")
	close(g.open)
	if err := w1.wait(t); err != nil || w1.atCommit < 1 {
		t.Fatalf("first: %v after %d mark syncs", err, w1.atCommit)
	}
	if err := w2.wait(t); err != nil || w2.atCommit < 2 {
		t.Fatalf("second: %v after %d mark syncs", err, w2.atCommit)
	}
	j.Close()
	if res, err := Verify(dir); err != nil || res.Problem != nil || res.LastSeq != 12 || res.MarkSeq != 12 {
		t.Fatalf("verify: %v %+v", err, res)
	}
}
