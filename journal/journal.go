package journal

import (
	"crypto/sha256"
	"hash"
	"os"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
)

// Waiter hears when its record is durable (nil) or failed.
type Waiter interface {
	Committed(err error)
}

// Journal is an append-only, write-ahead log of records on Badger with
// SyncWrites on, group commit, gap-free sequence numbers and a hash chain.
type Journal struct {
	opts Options
	db   *badger.DB
	mark *hwm // the committer's after Open
	in   chan pending
	// commitTxn commits one Badger transaction: (*badger.Txn).Commit, a
	// seam for the tests of a failed commit.
	commitTxn func(*badger.Txn) error

	// committer state: touched only by the commit goroutine after Open
	seq     uint64
	last    [HashLen]byte
	keyDate uint32 // business date of the newest record; never goes back
	hasher  hash.Hash
	buf     []byte
	keys    []byte
	ends    []int // where each chunk of the batch ends in buf

	struck []string // table files an accepting open struck from Badger's manifest
	loss   *Loss    // what an accepting open set aside; nil: the journal verified whole

	failure  atomic.Pointer[failure]       // set once, by the committer
	onRecord atomic.Pointer[func(*Record)] // SetOnRecord's
	disk     *diskGuard                    // pauses commits on a full disk
	stop     chan struct{}                 // ends the disk watcher
	watched  chan struct{}                 // closed when the watcher has ended
	dbMu     sync.RWMutex                  // db is closed (nil) while paused for disk space: readers hold it shared
	dropMu   sync.Mutex                    // one DropDay at a time
	writeMu  sync.Mutex                    // held by a commit's Badger writes, and by a drop (Badger refuses writes during DropPrefix)

	mu     sync.Mutex // guards stats, lastPt and anchor
	stats  Stats
	lastPt Point // the last acknowledged record
	anchor Point

	closeOnce sync.Once
	done      chan struct{}
}

type pending struct {
	rec *Record
	w   Waiter
}

// failure is what the waiters hear once the journal has failed.
type failure struct {
	inDoubt error // the batch whose commit or mark failed: wraps ErrInDoubt
	later   error // every later record: wraps ErrFailed (Err reports it)
}

// Stats describe the commits so far.
type Stats struct {
	Records, Commits uint64
	LastSeq          uint64
	MaxBatch         int
	Transactions     uint64 // Badger transactions: more than Commits when commits were split
}

// Open opens (or creates) the journal in opts.Dir, verifies it from its
// anchor (or from opts.After) and starts the committer. A journal that
// fails verification is refused with an *IntegrityError unless
// opts.AcceptLoss is set; a missing high-water mark with a *MissingError
// unless opts.RebuildMark; another data key with ErrKeyMismatch unless
// opts.ReplaceKey.
func Open(opts Options) (*Journal, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	releaseForOpen(opts.Dir, uint64(opts.MinFreeMB)<<20) // a restart on a full disk needs room to open Badger
	db, struck, err := openBadger(opts)                  // with AcceptLoss, also when a table file is missing
	if err != nil {
		return nil, err
	}
	j := &Journal{opts: opts, db: db, struck: struck, in: make(chan pending, opts.QueueDepth), done: make(chan struct{}),
		hasher: sha256.New(), commitTxn: (*badger.Txn).Commit, stop: make(chan struct{}), watched: make(chan struct{})}
	j.disk = newDiskGuard(opts, j.suspendDB, j.resumeDB)
	if err := j.start(); err != nil {
		j.closeStores()
		return nil, err
	}
	_ = j.disk.start() // a full disk leaves the journal paused, not refused: it resumes when space is freed
	go j.disk.watch(j.stop, j.watched)
	go j.commitLoop()
	return j, nil
}

// Append queues r for the next commit; w.Committed is called once the record
// is durable (r.Seq, r.Hash and r.BusinessDate are then set) or has failed.
// r must not be changed until then. It blocks only when QueueDepth records
// are waiting. On a failed journal, or for a record above the size bound,
// w.Committed is called at once, before Append returns.
func (j *Journal) Append(r *Record, w Waiter) {
	if j.refuse(r, w) {
		return
	}
	defer func() {
		if recover() != nil { // the channel is closed: Close has run
			w.Committed(ErrClosed)
		}
	}()
	j.in <- pending{r, w}
}

// TryAppend is Append that never blocks: it reports false, and does not
// call w, when QueueDepth records are already waiting or the journal is
// closed. A refused record (failed journal, too large) is reported to w at
// once and counts as taken (true).
func (j *Journal) TryAppend(r *Record, w Waiter) (ok bool) {
	if j.refuse(r, w) {
		return true
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	select {
	case j.in <- pending{r, w}:
		return true
	default:
		return false
	}
}

// refuse tells w at once about a record that will not be written.
func (j *Journal) refuse(r *Record, w Waiter) bool {
	if f := j.failure.Load(); f != nil {
		w.Committed(f.later)
		return true
	}
	if err := j.disk.err(); err != nil {
		w.Committed(err)
		return true
	}
	if r.sizeBound() > recordBytesMax {
		w.Committed(ErrTooLarge)
		return true
	}
	if err := r.CheckClear(); err != nil {
		w.Committed(err)
		return true
	}
	return false
}

// SetOnRecord makes f be called on the committer for every record that
// becomes durable, in sequence order, before its waiter is told: what
// follows the journal live (the store-and-forward queues) sees a record
// before the answer that depends on it leaves. r is borrowed: valid
// during the call only. f must not block, and costs every record one
// call: it must return at once for the records it ignores. nil removes it.
func (j *Journal) SetOnRecord(f func(r *Record)) {
	if f == nil {
		j.onRecord.Store(nil)
		return
	}
	j.onRecord.Store(&f)
}

// Err is nil while the journal is healthy; once a commit or a mark store
// has failed it is an error wrapping ErrFailed and the cause, for good.
func (j *Journal) Err() error {
	if f := j.failure.Load(); f != nil {
		return f.later
	}
	return nil
}

// QueueLen is the number of records waiting for a commit (at most
// Options.QueueDepth), for a metric.
func (j *Journal) QueueLen() int { return len(j.in) }

// LastSeq is the last durable sequence number (for tests and tools).
func (j *Journal) LastSeq() uint64 { return j.Last().Seq }

// Last is the last acknowledged record: durable, and the high-water mark
// holds it.
func (j *Journal) Last() Point {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastPt
}

// Anchor is the point before the first kept record (zero until a day is
// dropped).
func (j *Journal) Anchor() Point {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.anchor
}

// Stats returns commit counters.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stats
}

// Close commits what is queued and closes the journal.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() { close(j.in); close(j.stop) })
	<-j.done
	<-j.watched
	return j.closeStores()
}

func (j *Journal) closeStores() error {
	var err error
	if j.db != nil { // nil: closed while paused for disk space
		err = j.db.Close()
	}
	if j.mark != nil {
		if e := j.mark.close(); err == nil {
			err = e
		}
	}
	return err
}
