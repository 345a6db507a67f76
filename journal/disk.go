package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// ErrDiskFull is given (wrapped, with the free space) to the records
// refused while the journal is paused for want of disk space: nothing of
// them was written and they used no sequence number. The journal resumes on
// its own once space is freed; Paused reports it meanwhile.
var ErrDiskFull = errors.New("journal: paused: disk full")

// reserveName is the reserve file in the journal directory: space held
// back (allocated, not sparse) and given up when the disk fills, so that
// Badger's last flush, a restart and `journal verify` find room.
const reserveName = "reserve"

// diskCheckEvery is how often a paused journal looks for freed space
// without traffic (a commit looks at every batch anyway): statfs is cheap.
const diskCheckEvery = time.Second

// diskGuard keeps the journal off a full disk. Badger maps its memtable log
// and its tables into memory over sparse files: a write into a page the
// filesystem cannot back kills the process with SIGBUS, it cannot be
// caught. So before each commit the guard reads the free space (statfs);
// below minFree it pauses the journal: it deletes the reserve file and
// closes Badger (its last memtable flush uses that room; closed, Badger has
// no flush or compaction left to fault, whatever else fills the disk, and a
// kill leaves it clean for Verify), and records are refused with
// ErrDiskFull. It resumes when free space is back to minFree plus the
// reserve: the reserve is re-created, Badger reopened. The gap between the
// two thresholds keeps it from flapping.
type diskGuard struct {
	dir     string
	minFree uint64 // bytes: below, commits are paused
	reserve int64  // bytes of the reserve file; 0: none
	// suspend closes the store when commits pause; resume reopens it.
	// Both run under mu, on the committer or the watcher.
	suspend func()
	resume  func() error

	mu     sync.Mutex
	have   bool                  // the reserve file is there, whole (guarded by mu)
	paused atomic.Pointer[error] // nil while commits are admitted
	free   atomic.Uint64         // last statfs reading, bytes available
}

func newDiskGuard(o Options, suspend func(), resume func() error) *diskGuard {
	return &diskGuard{dir: o.Dir, minFree: uint64(o.MinFreeMB) << 20, reserve: int64(o.ReserveMB) << 20,
		suspend: suspend, resume: resume}
}

// start makes the reserve (a new journal has none, a restart on a full
// disk released it) and takes the first reading.
func (g *diskGuard) start() error {
	g.mu.Lock()
	g.have = g.ensureReserve() == nil
	g.mu.Unlock()
	return g.check()
}

// check reads the free space, pauses or resumes, and returns the error a
// record gets now (nil: admit).
func (g *diskGuard) check() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	free, err := freeBytes(g.dir)
	if err != nil {
		// statfs failing is no proof of a full disk: admit, and Badger
		// reports a real write error through the in-doubt rule
		return nil
	}
	g.free.Store(free)
	if g.paused.Load() == nil {
		if free < g.minFree {
			g.releaseReserve()
			e := fmt.Errorf("%w: %d MiB free in %s, commits resume at %d MiB", ErrDiskFull, free>>20, g.dir, g.resumeAt()>>20)
			g.paused.Store(&e) // before suspend: a reader that finds the store closed says why
			g.suspend()
			g.reread()
			return e
		}
		if !g.have && free >= g.resumeAt() {
			g.have = g.ensureReserve() == nil
			g.reread()
		}
		return nil
	}
	if free < g.resumeAt() {
		return *g.paused.Load()
	}
	if g.have = g.ensureReserve() == nil; !g.have {
		return *g.paused.Load()
	}
	if err := g.resume(); err != nil {
		e := fmt.Errorf("%w: reopening the journal: %w", ErrDiskFull, err)
		g.paused.Store(&e)
		return e
	}
	g.paused.Store(nil)
	g.reread()
	return nil
}

// reread takes a new reading after the reserve changed.
func (g *diskGuard) reread() {
	if f, err := freeBytes(g.dir); err == nil {
		g.free.Store(f)
	}
}

// resumeAt is the free space at which a paused journal resumes.
func (g *diskGuard) resumeAt() uint64 {
	if g.have {
		return g.minFree
	}
	return g.minFree + uint64(g.reserve)
}

// err is the pause, or nil.
func (g *diskGuard) err() error {
	if e := g.paused.Load(); e != nil {
		return *e
	}
	return nil
}

func (g *diskGuard) reservePath() string { return filepath.Join(g.dir, reserveName) }

// ensureReserve makes the reserve file hold its full size in allocated
// blocks (a partial one, from a fill that failed, is completed or removed).
func (g *diskGuard) ensureReserve() error {
	if g.reserve == 0 {
		return nil
	}
	p := g.reservePath()
	if fi, err := os.Stat(p); err == nil && fi.Size() == g.reserve {
		return nil
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	err = allocate(f, g.reserve)
	if e := f.Close(); err == nil {
		err = e
	}
	if err != nil {
		_ = os.Remove(p)
	}
	return err
}

// openReserve is the part of the reserve kept when commits pause, for a
// restart on a disk that filled up after that: opening Badger writes its
// lock file and manifest before anything can be checked. Open and Verify
// delete it when they find the disk full.
const openReserve = 4 << 20

// releaseReserve gives up the reserve but its openReserve part: the
// blocks cut off are free at once.
func (g *diskGuard) releaseReserve() {
	g.have = false
	if g.reserve <= openReserve {
		return
	}
	_ = os.Truncate(g.reservePath(), openReserve)
}

// watch looks for freed space every diskCheckEvery while the journal is
// paused, so that it resumes (and /readyz says so) without traffic.
func (g *diskGuard) watch(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(diskCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			g.retry()
		}
	}
}

// retry is check for a paused journal only: the watcher never pauses one
// (a commit may be writing).
func (g *diskGuard) retry() {
	g.mu.Lock()
	paused := g.paused.Load() != nil
	g.mu.Unlock()
	if paused {
		_ = g.check() // only the committer and retry call check; a paused journal commits nothing meanwhile
	}
}

// releaseForOpen gives up the reserve of the journal in dir when the disk
// has less than need bytes free: opening Badger writes (a new memtable log,
// tables from the logs it replays), and a restart on a full disk must not
// need a person to free space. The running journal re-creates the reserve
// once space is back. It reports whether it released one.
func releaseForOpen(dir string, need uint64) bool {
	free, err := freeBytes(dir)
	if err != nil || free >= need {
		return false
	}
	return os.Remove(filepath.Join(dir, reserveName)) == nil
}

// Paused is nil while the journal admits commits; while it is paused for
// want of disk space it is an error wrapping ErrDiskFull that says how much
// is free. Unlike Err it clears on its own.
func (j *Journal) Paused() error { return j.disk.err() }

// FreeBytes is the free space in the journal's directory at the last
// check (each commit, and each second while paused), for a metric.
func (j *Journal) FreeBytes() uint64 { return j.disk.free.Load() }

// suspendDB closes Badger while commits are paused (see diskGuard).
func (j *Journal) suspendDB() {
	j.dbMu.Lock()
	defer j.dbMu.Unlock()
	if j.db != nil {
		_ = j.db.Close() // an error leaves nothing to undo: the next open replays Badger's log
		j.db = nil
	}
}

// resumeDB reopens Badger once space is back; the committer's state is
// unchanged, since nothing was written while paused.
func (j *Journal) resumeDB() error {
	j.dbMu.Lock()
	defer j.dbMu.Unlock()
	if j.db != nil {
		return nil
	}
	db, err := badger.Open(badgerOptions(j.opts.Dir, j.opts.MemTableMB))
	if err != nil {
		return err
	}
	j.db = db
	return nil
}

// withDB runs fn on the open store; while paused for disk space the store
// is closed and the pause's error is returned.
func (j *Journal) withDB(fn func(*badger.DB) error) error {
	j.dbMu.RLock()
	defer j.dbMu.RUnlock()
	if j.db == nil {
		if err := j.Paused(); err != nil {
			return err
		}
		return ErrClosed
	}
	return fn(j.db)
}

// view is db.View through withDB.
func (j *Journal) view(fn func(*badger.Txn) error) error {
	return j.withDB(func(db *badger.DB) error { return view(db, fn) })
}
