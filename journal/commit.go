package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// The committer (commitLoop), one goroutine: it gathers a batch, numbers,
// dates and chains it, writes it in synced Badger transactions, then syncs
// the high-water mark over it and tells its waiters (settle). One sync is
// in flight at a time: overlapping the mark's sync of one batch with the
// next batch's Badger sync measured slower on this project's disk (device
// flushes serialize, and smaller batches made more of them), see
// ARCHITECTURE.md, "The commit".

// group is one written batch on its way to its mark.
type group struct {
	batch []pending
	seq   uint64 // the batch's last record
	last  [HashLen]byte
	date  uint32
	txns  int
	began time.Time
	// inDoubt: the Badger write failed (the journal is failed)
	inDoubt error
}

func (j *Journal) commitLoop() {
	defer close(j.done)
	batch := make([]pending, 0, j.opts.MaxBatch)
	for {
		p, ok := <-j.in
		if !ok {
			return
		}
		batch = j.gather(append(batch[:0], p))
		if g, ok := j.commit(batch); ok {
			j.settle(&g)
		}
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

const (
	// chunkRecords bounds the records stored under one key: a commit is a
	// few Badger entries, not one per record (measured: about 3 us of
	// Badger work per entry), and each value stays far below Badger's 1 MB
	// value threshold, so records live in the LSM tree and no value-log GC
	// is needed.
	chunkRecords = 512
	// chunkBytesMax closes a chunk early when its records are large, so a
	// chunk (at most chunkBytesMax + recordBytesMax) always fits in one
	// Badger transaction (15% of a memtable of at least 8 MB: 1.2 MB).
	chunkBytesMax = 256 << 10
)

// commit numbers, dates and chains the batch and writes it in synced
// Badger transactions, and returns it as a group for its mark (false: the
// batch was refused, a failed journal or a disk pause: nothing written, no
// sequence number used, and its waiters told). Once a commit has failed,
// nothing more is written (see fail).
func (j *Journal) commit(batch []pending) (group, bool) {
	if f := j.failure.Load(); f != nil { // sequence numbers may be half used: refuse, do not reuse them
		for _, p := range batch {
			p.w.Committed(f.later)
		}
		return group{}, false
	}
	if err := j.disk.check(); err != nil { // paused: nothing is written, no sequence number used
		for _, p := range batch {
			p.w.Committed(err)
		}
		return group{}, false
	}
	g := group{batch: batch}
	g.seq, g.last, g.date = j.build(batch)
	g.began = time.Now() // a measurement for OnCommit (from the first write), not a decision
	j.writeMu.Lock()     // a day's drop holds it: Badger refuses writes while it drops a prefix
	txns, err := j.write()
	j.writeMu.Unlock()
	g.txns = txns
	if err != nil {
		g.inDoubt = j.fail(err).inDoubt // later batches are refused from now on
		return g, true
	}
	j.seq, j.last, j.keyDate = g.seq, g.last, g.date
	return g, true
}

// settle finishes a written group: it stores and syncs the mark over the
// group's last record, then tells the waiters Committed(nil). A group
// whose write failed, or whose mark store fails, is in doubt: its records
// may be durable (and the journal is failed: the next batch is refused).
func (j *Journal) settle(g *group) {
	inDoubt := g.inDoubt
	if inDoubt == nil {
		if err := j.mark.store(g.seq, g.last); err != nil {
			inDoubt = j.fail(err).inDoubt
		}
	}
	if inDoubt != nil {
		for _, p := range g.batch {
			p.w.Committed(inDoubt)
		}
		return
	}
	j.mu.Lock()
	j.stats.Records += uint64(len(g.batch))
	j.stats.Commits++
	j.stats.Transactions += uint64(g.txns)
	j.stats.LastSeq = g.seq
	j.stats.MaxBatch = max(j.stats.MaxBatch, len(g.batch))
	j.lastPt = Point{Seq: g.seq, Hash: g.last, Date: g.date}
	j.mu.Unlock()
	if f := j.onRecord.Load(); f != nil {
		for _, p := range g.batch {
			(*f)(p.rec)
		}
	}
	for _, p := range g.batch {
		p.w.Committed(nil)
	}
	if j.opts.OnCommit != nil {
		j.opts.OnCommit(Commit{Records: len(g.batch), Transactions: g.txns, Took: time.Since(g.began)})
	}
}

// build encodes the batch into chunks in j.buf (keys in j.keys, ends in
// j.ends): each record gets the next sequence number and the business date
// max(its date, the newest date so far), so dates never go back in
// sequence order; a chunk holds one date only.
func (j *Journal) build(batch []pending) (seq uint64, last [HashLen]byte, date uint32) {
	seq, last, date = j.seq, j.last, j.keyDate
	j.buf, j.keys, j.ends = j.buf[:0], j.keys[:0], j.ends[:0]
	chunkStart, inChunk := 0, 0
	for _, p := range batch {
		d := max(date, p.rec.BusinessDate) // a late record of yesterday counts in today
		if inChunk > 0 && (d != date || inChunk == chunkRecords || len(j.buf)-chunkStart >= chunkBytesMax) {
			j.ends = append(j.ends, len(j.buf))
			inChunk = 0
		}
		seq++
		date = d
		p.rec.Seq, p.rec.BusinessDate = seq, date
		if inChunk == 0 {
			chunkStart = len(j.buf)
			j.keys = appendKey(j.keys, date, seq)
		}
		j.buf, last = j.appendRecord(j.buf, p.rec, last)
		inChunk++
	}
	if inChunk > 0 {
		j.ends = append(j.ends, len(j.buf))
	}
	return seq, last, date
}

// fail makes the journal failed for good: the group that failed hears
// that its records are in doubt, every later record that it failed. The
// first failure (a Badger write, a mark store) is the journal's, and
// OnFail hears it once.
func (j *Journal) fail(cause error) *failure {
	f := &failure{
		inDoubt: fmt.Errorf("%w: %w", ErrInDoubt, cause),
		later:   fmt.Errorf("%w: %w", ErrFailed, cause),
	}
	if !j.failure.CompareAndSwap(nil, f) {
		return j.failure.Load()
	}
	if j.opts.OnFail != nil {
		j.opts.OnFail(f.later)
	}
	return f
}

// appendRecord appends one stored record: its length, its encoding and its
// chain hash, which it sets in r and returns.
func (j *Journal) appendRecord(b []byte, r *Record, prev [HashLen]byte) ([]byte, [HashLen]byte) {
	lenAt := len(b)
	b = append(b, 0, 0, 0) // room for the length: a record is at most recordBytesMax
	start := len(b)
	b = r.AppendEncoding(b)
	r.Hash = j.chain(prev, b[start:])
	b = append(b, r.Hash[:]...)
	n := len(b) - start
	b[lenAt], b[lenAt+1], b[lenAt+2] = byte(n>>16), byte(n>>8), byte(n)
	return b, r.Hash
}

// write stores the batch's chunks in as few synced Badger transactions as
// Badger allows: when one says ErrTxnTooBig, it is committed and the rest
// goes into the next. It returns the number of transactions.
func (j *Journal) write() (int, error) {
	txn := j.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	txns, entries, start := 1, 0, 0
	for i, end := range j.ends {
		k, v := j.keys[i*keyLen:(i+1)*keyLen:(i+1)*keyLen], j.buf[start:end:end]
		start = end
		err := txn.Set(k, v)
		if errors.Is(err, badger.ErrTxnTooBig) && entries > 0 {
			if err := j.commitTxn(txn); err != nil {
				return txns, fmt.Errorf("journal: commit: %w", err)
			}
			txn, txns, entries = j.db.NewTransaction(true), txns+1, 0
			err = txn.Set(k, v)
		}
		if err != nil {
			return txns, fmt.Errorf("journal: %w", err)
		}
		entries++
	}
	if err := j.commitTxn(txn); err != nil {
		return txns, fmt.Errorf("journal: commit: %w", err)
	}
	return txns, nil
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

func keyDate(k []byte) uint32     { return binary.BigEndian.Uint32(k[1:]) }
func keySeq(k []byte) uint64      { return binary.BigEndian.Uint64(k[5:]) }
func dayStart(date uint32) []byte { return appendKey(nil, date, 0) }
