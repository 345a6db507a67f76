package journal

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/internal/testdisk"
)

// traffic appends records until stopped and counts what their waiters hear.
type traffic struct {
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	ok     []*Record
	full   int // refused with ErrDiskFull
	others []error
}

func runTraffic(t *testing.T, j *Journal) *traffic {
	tr := &traffic{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for i := 0; ; i++ {
			select {
			case <-tr.stop:
				return
			default:
			}
			recs, ws := make([]*Record, 32), make([]*waiter, 32)
			for k := range recs {
				recs[k], ws[k] = testRecord(i*32+k), newWaiter()
				j.Append(recs[k], ws[k])
			}
			for k, w := range ws {
				err := w.wait(t)
				tr.mu.Lock()
				switch {
				case err == nil:
					tr.ok = append(tr.ok, recs[k])
				case errors.Is(err, ErrDiskFull):
					tr.full++
				default:
					tr.others = append(tr.others, err)
				}
				tr.mu.Unlock()
			}
		}
	}()
	return tr
}

func (tr *traffic) counts() (ok, full int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.ok), tr.full
}

func (tr *traffic) end(t *testing.T) {
	t.Helper()
	close(tr.stop)
	<-tr.done
	if len(tr.others) > 0 {
		t.Fatalf("%d records failed otherwise than ErrDiskFull, first: %v", len(tr.others), tr.others[0])
	}
	for i, r := range tr.ok { // durable records are numbered without a gap: a refused one used no number
		if i > 0 && r.Seq != tr.ok[i-1].Seq+1 {
			t.Fatalf("record %d has sequence %d after %d", i, r.Seq, tr.ok[i-1].Seq)
		}
	}
}

// diskOptions: the smallest memtable, so a 96 MB disk holds a journal, its
// reserve and the free space the guard keeps.
func diskOptions(o *Options) { o.MemTableMB, o.MinFreeMB, o.ReserveMB = 8, 24, 16 }

// TestDiskFull fills the disk under a journal while records are appended:
// commits pause (ErrDiskFull, nothing written, no sequence number used)
// instead of Badger dying of SIGBUS, the reserve is given up, the journal
// resumes once space is freed, and a stop, Verify and a restart work on the
// full disk.
func TestDiskFull(t *testing.T) {
	root := testdisk.Tmpfs(t, 96)
	dir := filepath.Join(root, "journal")
	j := open(t, dir, diskOptions)
	if fi, err := os.Stat(filepath.Join(dir, reserveName)); err != nil || fi.Size() != 16<<20 {
		t.Fatalf("reserve file: %v %v", fi, err)
	}
	tr := runTraffic(t, j)
	for ok, _ := tr.counts(); ok < 2000; ok, _ = tr.counts() {
		<-time.After(time.Millisecond)
	}
	// the disk fills while records are committed: first to below the free
	// space the guard keeps, then (once paused) to the last block
	filler := testdisk.Fill(t, root, "filler", 8<<20)
	for _, full := tr.counts(); full == 0; _, full = tr.counts() {
		<-time.After(time.Millisecond)
	}
	if !errors.Is(j.Paused(), ErrDiskFull) || j.Err() != nil {
		t.Fatalf("paused %v, failed %v: want paused, not failed", j.Paused(), j.Err())
	}
	if fi, err := os.Stat(filepath.Join(dir, reserveName)); err != nil || fi.Size() != openReserve {
		t.Fatalf("the reserve is kept on a full disk: %v %v", fi, err)
	}
	testdisk.Fill(t, root, "filler2", 0)
	for _, full := tr.counts(); full < 1000; _, full = tr.counts() {
		<-time.After(time.Millisecond)
	}
	tr.end(t)
	last := j.LastSeq()
	if ok, _ := tr.counts(); uint64(ok) != last {
		t.Fatalf("%d records acknowledged, journal at %d", ok, last)
	}
	if err := j.disk.check(); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("check on a full disk: %v", err)
	}

	// space is freed: the journal resumes on its own and keeps its reserve again
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := j.disk.check(); err != nil || j.Paused() != nil {
		t.Fatalf("after freeing space: check %v, paused %v", err, j.Paused())
	}
	if fi, err := os.Stat(filepath.Join(dir, reserveName)); err != nil || fi.Size() != 16<<20 {
		t.Fatalf("reserve not re-created: %v %v", fi, err)
	}
	r := testRecord(1 << 20)
	commitOne(t, j, r)
	if r.Seq != last+1 {
		t.Fatalf("after the pause the next record is %d, want %d", r.Seq, last+1)
	}
	last++

	// full again, then stopped, verified and restarted on the full disk
	testdisk.Fill(t, root, "filler", 0)
	w := newWaiter()
	j.Append(testRecord(1<<21), w)
	if err := w.wait(t); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("append on a full disk: %v", err)
	}
	testdisk.Fill(t, root, "filler3", 0) // the released reserve too: all but its part for a restart
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(dir)
	if err != nil || res.Problem != nil || res.LastSeq != last {
		t.Fatalf("verify on a full disk: %+v %v, want last %d", res, err, last)
	}
	j = open(t, dir, diskOptions)
	defer j.Close()
	if !errors.Is(j.Paused(), ErrDiskFull) || j.LastSeq() != last {
		t.Fatalf("restart on a full disk: paused %v, last %d (want %d)", j.Paused(), j.LastSeq(), last)
	}
}

// fullKillEnv names the journal directory of the writer that fills its
// disk and kills itself.
const fullKillEnv = "JOURNAL_TEST_FULL_KILL_DIR"

// TestFullDiskKilledWriter is the child of TestVerifyAfterAKillOnAFullDisk:
// it commits records, fills the disk to its last block and dies by
// SIGKILL, its Badger open (not paused: the disk filled between commits).
func TestFullDiskKilledWriter(t *testing.T) {
	dir := os.Getenv(fullKillEnv)
	if dir == "" {
		return // run only as TestVerifyAfterAKillOnAFullDisk's child
	}
	j := open(t, dir, diskOptions)
	appendN(t, j, 300, 0)
	testdisk.Fill(t, filepath.Dir(dir), "filler", 0)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// Verify after a kill -9 must open Badger for writing (its log tail is
// trimmed, its memtable flushed): on a full disk the reserve gives the room,
// and Verify says it took it.
func TestVerifyAfterAKillOnAFullDisk(t *testing.T) {
	root := testdisk.Tmpfs(t, 96)
	dir := filepath.Join(root, "journal")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullDiskKilledWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), fullKillEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}
	if free, _ := freeBytes(root); free > 1<<20 {
		t.Fatalf("the disk is not full: %d bytes free", free)
	}
	res, err := Verify(dir)
	if err != nil || res.Problem != nil || res.LastSeq != 300 {
		t.Fatalf("verify after a kill on a full disk: %+v %v", res, err)
	}
	if len(res.Notes) != 2 || res.Notes[0] != ReserveNote || res.Notes[1] != TrimNote {
		t.Fatalf("notes: %q", res.Notes)
	}
}
