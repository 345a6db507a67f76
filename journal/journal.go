package journal

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Options configure a journal. Zero values take the defaults.
type Options struct {
	Dir string
	// Window is how long a commit may wait for more records once it has
	// some; 0 commits at once (records that arrive during a commit form the
	// next batch anyway). Bounded to 10ms.
	Window time.Duration
	// MaxBatch bounds the records of one commit; default 4096.
	MaxBatch int
	// QueueDepth bounds records waiting for a commit; Append blocks beyond
	// it (back-pressure on the workers); default 65536.
	QueueDepth int
	// AcceptLoss opens a journal that fails verification, continuing after
	// its last intact record. Use only when told to by a person.
	AcceptLoss bool
	// MemTableMB sizes Badger's memtable; default 64.
	MemTableMB int
	// Replay, if set, sees every intact record in order while Open
	// verifies the journal: one pass rebuilds the switch's state. The
	// record is valid only during the call.
	Replay func(*Record) error
}

func (o *Options) setDefaults() {
	if o.MaxBatch == 0 {
		o.MaxBatch = 4096
	}
	if o.QueueDepth == 0 {
		o.QueueDepth = 65536
	}
	if o.MemTableMB == 0 {
		o.MemTableMB = 64
	}
	o.Window = min(max(o.Window, 0), 10*time.Millisecond)
}

// Waiter hears when its record is durable (nil) or failed.
type Waiter interface {
	Committed(err error)
}

// ErrClosed is given to records appended after Close.
var ErrClosed = errors.New("journal: closed")

// Journal is an append-only, write-ahead log of records on Badger with
// SyncWrites on, group commit, gap-free sequence numbers and a hash chain.
type Journal struct {
	opts Options
	db   *badger.DB
	mark *hwm
	in   chan pending

	// committer state: touched only by the commit goroutine after Open
	seq     uint64
	last    [HashLen]byte
	keyDate uint32 // business date of the newest key range; never goes back
	hasher  hash.Hash
	buf     []byte
	keys    []byte
	vals    [][]byte

	failed    error // committer only: after a write or sync failure nothing more is accepted
	closeOnce sync.Once
	done      chan struct{}
	stats     Stats
	statsMu   sync.Mutex // guards stats
}

type pending struct {
	rec *Record
	w   Waiter
}

// Stats describe the commits so far.
type Stats struct {
	Records, Commits uint64
	LastSeq          uint64
	MaxBatch         int
}

// Open opens (or creates) the journal in opts.Dir, verifies it whole and
// starts the committer. A journal that fails verification is refused with
// an *IntegrityError unless opts.AcceptLoss is set.
func Open(opts Options) (*Journal, error) {
	opts.setDefaults()
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	db, err := badger.Open(badgerOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("journal: open badger: %w", err)
	}
	mark, err := openHWM(filepath.Join(opts.Dir, "hwm"))
	if err != nil {
		db.Close()
		return nil, err
	}
	j := &Journal{opts: opts, db: db, mark: mark, in: make(chan pending, opts.QueueDepth), done: make(chan struct{})}
	res, err := verify(db, mark.seq, mark.hash, opts.Replay)
	if err != nil {
		j.closeStores()
		return nil, err
	}
	if res.Problem != nil && !opts.AcceptLoss {
		j.closeStores()
		return nil, res.Problem
	}
	j.seq, j.last, j.keyDate, j.hasher = res.LastSeq, res.LastHash, res.LastKeyDate, sha256.New()
	if res.Problem != nil {
		if err := quarantine(db, res.LastSeq); err != nil {
			j.closeStores()
			return nil, err
		}
	}
	if res.Problem != nil || mark.seq != res.LastSeq {
		if err := mark.store(res.LastSeq, res.LastHash); err != nil {
			j.closeStores()
			return nil, err
		}
	}
	j.stats.LastSeq = j.seq
	go j.commitLoop()
	return j, nil
}

// badgerOptions tune Badger for an append-only log fsynced per commit:
// records stay in the LSM tree (a high value threshold), a large memtable
// and generous level-0 limits avoid write stalls, and no value-log GC is
// needed because nothing is ever overwritten.
func badgerOptions(o Options) badger.Options {
	return badger.DefaultOptions(filepath.Join(o.Dir, "badger")).
		WithSyncWrites(true).
		WithLogger(nil).
		WithDetectConflicts(false).
		WithNumVersionsToKeep(1).
		WithValueThreshold(1 << 20).
		WithMemTableSize(int64(o.MemTableMB) << 20).
		WithNumMemtables(4).
		WithNumLevelZeroTables(8).
		WithNumLevelZeroTablesStall(32).
		WithBaseTableSize(8 << 20).
		WithNumCompactors(2).
		WithBlockCacheSize(32 << 20).
		WithCompactL0OnClose(false).
		WithCompression(options.None) // records are small and unique: compression costs CPU for nothing
}

// Append queues r for the next commit; w.Committed is called once the record
// is durable (r.Seq and r.Hash are then set) or has failed. r must not be
// changed until then. It blocks only when QueueDepth records are waiting.
func (j *Journal) Append(r *Record, w Waiter) {
	defer func() {
		if recover() != nil { // the channel is closed: Close has run
			w.Committed(ErrClosed)
		}
	}()
	j.in <- pending{r, w}
}

// TryAppend is Append that never blocks: it reports false, and does not
// call w, when QueueDepth records are already waiting.
func (j *Journal) TryAppend(r *Record, w Waiter) (ok bool) {
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

// LastSeq is the last durable sequence number (for tests and tools).
func (j *Journal) LastSeq() uint64 {
	j.statsMu.Lock()
	defer j.statsMu.Unlock()
	return j.stats.LastSeq
}

// Stats returns commit counters.
func (j *Journal) Stats() Stats {
	j.statsMu.Lock()
	defer j.statsMu.Unlock()
	return j.stats
}

// Close commits what is queued and closes the journal.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() { close(j.in) })
	<-j.done
	return j.closeStores()
}

func (j *Journal) closeStores() error {
	err := j.db.Close()
	if e := j.mark.close(); err == nil {
		err = e
	}
	return err
}

func (j *Journal) commitLoop() {
	defer close(j.done)
	batch := make([]pending, 0, j.opts.MaxBatch)
	for {
		p, ok := <-j.in
		if !ok {
			return
		}
		batch = append(batch[:0], p)
		batch = j.gather(batch)
		j.commit(batch)
		clear(batch)
	}
}

// gather adds what is already queued, then (with a window) waits up to the
// window for more, up to MaxBatch.
func (j *Journal) gather(batch []pending) []pending {
	for len(batch) < j.opts.MaxBatch {
		select {
		case p, ok := <-j.in:
			if !ok {
				return batch
			}
			batch = append(batch, p)
			continue
		default:
		}
		break
	}
	if j.opts.Window <= 0 || len(batch) >= j.opts.MaxBatch {
		return batch
	}
	timer := time.NewTimer(j.opts.Window)
	defer timer.Stop()
	for len(batch) < j.opts.MaxBatch {
		select {
		case p, ok := <-j.in:
			if !ok {
				return batch
			}
			batch = append(batch, p)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// chunkRecords bounds the records stored under one key: a commit is a few
// Badger entries, not one per record (measured: about 3 us of Badger work
// per entry), and each value stays far below Badger's 1 MB value threshold,
// so records live in the LSM tree and no value-log GC is needed.
const chunkRecords = 512

// commit numbers and chains the batch, writes it in one synced Badger
// transaction, moves the high-water mark, then tells the waiters.
func (j *Journal) commit(batch []pending) {
	if j.failed != nil { // sequence numbers may be half used: refuse, do not reuse them
		for _, p := range batch {
			p.w.Committed(j.failed)
		}
		return
	}
	seq, last, keyDate := j.seq, j.last, j.keyDate
	j.buf, j.keys, j.vals = j.buf[:0], j.keys[:0], j.vals[:0]
	chunkStart, inChunk := 0, 0
	for _, p := range batch {
		seq++
		p.rec.Seq = seq
		keyDate = max(keyDate, p.rec.BusinessDate) // a late record of yesterday stays in today's range
		if inChunk == 0 {
			chunkStart = len(j.buf)
			j.keys = appendKey(j.keys, keyDate, seq)
		}
		j.buf, last = j.appendRecord(j.buf, p.rec, last)
		if inChunk++; inChunk == chunkRecords {
			j.vals = append(j.vals, j.buf[chunkStart:len(j.buf):len(j.buf)])
			inChunk = 0
		}
	}
	if inChunk > 0 {
		j.vals = append(j.vals, j.buf[chunkStart:len(j.buf):len(j.buf)])
	}
	err := j.write()
	if err == nil {
		err = j.mark.store(seq, last)
	}
	if err != nil {
		j.failed = fmt.Errorf("journal: failed, restart the switch: %w", err)
	}
	if err == nil {
		j.seq, j.last, j.keyDate = seq, last, keyDate
		j.statsMu.Lock()
		j.stats.Records += uint64(len(batch))
		j.stats.Commits++
		j.stats.LastSeq = seq
		j.stats.MaxBatch = max(j.stats.MaxBatch, len(batch))
		j.statsMu.Unlock()
	}
	for _, p := range batch {
		p.w.Committed(err)
	}
}

// appendRecord appends one stored record: its length, its encoding and its
// chain hash, which it sets in r and returns.
func (j *Journal) appendRecord(b []byte, r *Record, prev [HashLen]byte) ([]byte, [HashLen]byte) {
	lenAt := len(b)
	b = append(b, 0, 0, 0) // room for the length: a record is far below 2 MB
	start := len(b)
	b = r.AppendEncoding(b)
	r.Hash = j.chain(prev, b[start:])
	b = append(b, r.Hash[:]...)
	n := len(b) - start
	b[lenAt], b[lenAt+1], b[lenAt+2] = byte(n>>16), byte(n>>8), byte(n)
	return b, r.Hash
}

func (j *Journal) write() error {
	txn := j.db.NewTransaction(true)
	defer txn.Discard()
	for i, v := range j.vals {
		if err := txn.Set(j.keys[i*keyLen:(i+1)*keyLen:(i+1)*keyLen], v); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("journal: commit: %w", err)
	}
	return nil
}

func (j *Journal) chain(prev [HashLen]byte, enc []byte) [HashLen]byte {
	return chainWith(j.hasher, prev, enc)
}

// chainWith is the record's hash: SHA-256 over the previous hash and the
// record's encoding.
func chainWith(h hash.Hash, prev [HashLen]byte, enc []byte) [HashLen]byte {
	h.Reset()
	h.Write(prev[:])
	h.Write(enc)
	var out [HashLen]byte
	h.Sum(out[:0])
	return out
}

// keyLen is 'r', the business date (4 bytes) and the first sequence of
// the chunk (8 bytes).
const keyLen = 13

// appendKey orders chunks by business date, then sequence: one key range
// per day, so a closed day can be exported and dropped whole.
func appendKey(b []byte, date uint32, seq uint64) []byte {
	b = append(b, 'r')
	b = binary.BigEndian.AppendUint32(b, date)
	return binary.BigEndian.AppendUint64(b, seq)
}

// ErrInDoubt: placeholder until the journal branch lands.
var ErrInDoubt = errors.New("journal: commit in doubt")
