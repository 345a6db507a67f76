package clearing

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// SortBufferBytes is the default bound of a sorter's memory (an export
// or a reconciliation runs two at once): items are
// gathered up to it, sorted and written to a run file; the runs are then
// merged. 32 MB sorts a 10 million record day (about 2 GB of items) in
// some 64 runs, each read through a 64 KB buffer at the merge.
const SortBufferBytes = 32 << 20

// itemBytesMax bounds one item: a clearing line holds a few short fields
// and at most a sealed PAN, far below it; a larger item is a bug.
const itemBytesMax = 64 << 10

// mergeFanInMax bounds the run files open at once: beyond it the sorter
// merges runs into longer runs first (a second pass over the data), so
// file descriptors stay bounded whatever the day's size.
const mergeFanInMax = 128

// sorter is an external merge sort of items (a key and a payload), in
// bounded memory: it gathers items in one arena, with an index entry
// each, up to its buffer size (both counted),
// sorts them by key then payload (so the order is total and the output
// the same on every run) and writes them to a run file in dir; Sorted
// merges the runs. A day that fits in the buffer is never written.
type sorter struct {
	dir   string
	limit int
	arena []byte  // items: key then payload
	offs  []entry // each item in arena, in the order being sorted
	runs  []string
	err   error
	// hashed orders items by a hash of the key first, then the key: equal
	// keys still come together, in the same order on every run (FNV-1a, no
	// seed), and most comparisons end at the hash. For a sort whose
	// consumer needs groups, not an order (the fold, reconciliation).
	hashed bool

	spare    buffer       // the other buffer, while one is being spilled
	inflight chan spilled // the spill in flight, nil when none
}

type buffer struct {
	arena []byte
	offs  []entry
}

// entry is one gathered item: where it is in the arena, and the first
// bytes of its key as a number, so that most comparisons of a sort read
// neither the arena nor a length.
type entry struct {
	prefix     uint64
	off        uint32
	klen, plen uint32
}

// entryBytes is an entry's size, counted against the buffer.
const entryBytes = 24

func (s *sorter) prefix(k []byte) uint64 {
	if s.hashed {
		h := uint64(14695981039346656037)
		for _, c := range k {
			h = (h ^ uint64(c)) * 1099511628211
		}
		return h
	}
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

func newSorter(dir string, limit int) *sorter {
	if limit <= 0 {
		limit = SortBufferBytes
	}
	return &sorter{dir: dir, limit: limit}
}

// add copies an item in.
func (s *sorter) add(key, payload []byte) error {
	if s.err != nil {
		return s.err
	}
	if len(key)+len(payload) >= itemBytesMax {
		return fmt.Errorf("clearing: sort item of %d bytes over the bound %d", len(key)+len(payload), itemBytesMax)
	}
	if len(s.arena)+len(key)+len(payload)+entryBytes*(len(s.offs)+1) > s.limit/2 && len(s.offs) > 0 {
		if s.err = s.spill(); s.err != nil {
			return s.err
		}
	}
	if s.arena == nil {
		s.arena = make([]byte, 0, s.limit/4) // grown at most once: no copy per doubling from small
	}
	s.offs = append(s.offs, entry{prefix: s.prefix(key), off: uint32(len(s.arena)), klen: uint32(len(key)), plen: uint32(len(payload))})
	s.arena = append(s.arena, key...)
	s.arena = append(s.arena, payload...)
	return nil
}

// at is an entry's key and payload.
func (s *sorter) at(e entry) (key, payload []byte) {
	k := s.arena[e.off : e.off+e.klen]
	return k, s.arena[e.off+e.klen : e.off+e.klen+e.plen]
}

func compareItems(ka, pa, kb, pb []byte) int {
	if c := bytes.Compare(ka, kb); c != 0 {
		return c
	}
	return bytes.Compare(pa, pb)
}

func (s *sorter) sortBuffer() { sortEntries(s.arena, s.offs) }

func sortEntries(arena []byte, offs []entry) {
	at := func(e entry) ([]byte, []byte) {
		return arena[e.off : e.off+e.klen], arena[e.off+e.klen : e.off+e.klen+e.plen]
	}
	slices.SortFunc(offs, func(a, b entry) int {
		if a.prefix != b.prefix {
			if a.prefix < b.prefix {
				return -1
			}
			return 1
		}
		ka, pa := at(a)
		kb, pb := at(b)
		return compareItems(ka, pa, kb, pb)
	})
}

// spill hands the full buffer to a goroutine that sorts it and writes it
// as a run, and goes on with the other buffer: reading and decoding the
// next records overlaps sorting and writing the last ones (two cores).
// At most one spill is in flight; each buffer holds half the sorter's
// bound, so both together stay within it.
func (s *sorter) spill() error {
	if err := s.wait(); err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, "clearing-run-*")
	if err != nil {
		return fmt.Errorf("clearing: sort run: %w", err)
	}
	arena, offs := s.arena, s.offs
	s.arena, s.offs = s.spare.arena[:0], s.spare.offs[:0]
	s.inflight = make(chan spilled, 1)
	go func(done chan<- spilled) {
		done <- spilled{name: f.Name(), arena: arena, offs: offs, err: writeRun(f, arena, offs)}
	}(s.inflight)
	return nil
}

// spilled is a finished spill: its buffers, free again, and its error.
type spilled struct {
	name  string // the run file, written and closed
	arena []byte
	offs  []entry
	err   error
}

// wait waits for the spill in flight, if any, and keeps its buffers.
func (s *sorter) wait() error {
	if s.inflight == nil {
		return nil
	}
	r := <-s.inflight
	s.inflight = nil
	s.runs = append(s.runs, r.name) // only here: a merge never sees a run still being written
	s.spare.arena, s.spare.offs = r.arena, r.offs
	return r.err
}

// writeRun sorts a buffer and writes it to f, closed after.
func writeRun(f *os.File, arena []byte, offs []entry) error {
	sortEntries(arena, offs)
	w := bufio.NewWriterSize(f, 1<<16)
	var hdr [2 * binary.MaxVarintLen64]byte
	var err error
	for _, e := range offs {
		h := binary.AppendUvarint(hdr[:0], uint64(e.klen))
		h = binary.AppendUvarint(h, uint64(e.plen))
		w.Write(h)
		if _, err = w.Write(arena[e.off : e.off+e.klen+e.plen]); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("clearing: sort run: %w", err)
	}
	return nil
}

// close removes the run files.
func (s *sorter) close() {
	s.wait()
	for _, r := range s.runs {
		os.Remove(r)
	}
	s.runs = nil
}

// sorted calls fn with every item in order; key and payload are valid
// during the call only. The sorter is spent afterwards (close it).
func (s *sorter) sorted(fn func(key, payload []byte) error) error {
	if s.err != nil {
		return s.err
	}
	if len(s.runs) == 0 && s.inflight == nil { // never spilled: sort in memory
		s.sortBuffer()
		for _, e := range s.offs {
			k, p := s.at(e)
			if err := fn(k, p); err != nil {
				return err
			}
		}
		return nil
	}
	if len(s.offs) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	if err := s.wait(); err != nil {
		return err
	}
	s.arena, s.offs, s.spare = nil, nil, buffer{} // the merge needs only its read buffers
	for len(s.runs) > mergeFanInMax {
		if err := s.mergeRuns(); err != nil {
			return err
		}
	}
	return s.merge(s.runs, fn)
}

// mergeRuns merges the first mergeFanInMax runs into one.
func (s *sorter) mergeRuns() error {
	f, err := os.CreateTemp(s.dir, "clearing-run-*")
	if err != nil {
		return fmt.Errorf("clearing: sort run: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	var hdr []byte
	err = s.merge(s.runs[:mergeFanInMax], func(k, p []byte) error {
		hdr = binary.AppendUvarint(hdr[:0], uint64(len(k)))
		hdr = binary.AppendUvarint(hdr, uint64(len(p)))
		w.Write(hdr)
		w.Write(k)
		_, err := w.Write(p)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	for _, r := range s.runs[:mergeFanInMax] {
		os.Remove(r)
	}
	s.runs = append(s.runs[mergeFanInMax:], f.Name())
	if err != nil {
		return fmt.Errorf("clearing: merging sort runs: %w", err)
	}
	return nil
}

// runReader reads the items of one run file.
type runReader struct {
	f      *os.File
	r      *bufio.Reader
	key    []byte
	pay    []byte
	buf    []byte
	source int
	prefix uint64
	s      *sorter
}

var errRunCorrupt = errors.New("clearing: sort run corrupt")

func (rr *runReader) next() (bool, error) {
	kl, err := binary.ReadUvarint(rr.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	pl, err := binary.ReadUvarint(rr.r)
	if err != nil || kl+pl >= itemBytesMax {
		return false, errRunCorrupt
	}
	n := int(kl + pl)
	if cap(rr.buf) < n {
		rr.buf = make([]byte, n)
	}
	rr.buf = rr.buf[:n]
	if _, err := io.ReadFull(rr.r, rr.buf); err != nil {
		return false, errRunCorrupt
	}
	rr.key, rr.pay = rr.buf[:kl], rr.buf[kl:]
	rr.prefix = rr.s.prefix(rr.key)
	return true, nil
}

type runHeap []*runReader

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	if h[i].prefix != h[j].prefix {
		return h[i].prefix < h[j].prefix
	}
	c := compareItems(h[i].key, h[i].pay, h[j].key, h[j].pay)
	return c < 0 || c == 0 && h[i].source < h[j].source
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// merge calls fn with the items of the sorted runs in order.
func (s *sorter) merge(runs []string, fn func(key, payload []byte) error) error {
	var h runHeap
	defer func() {
		for _, rr := range h {
			rr.f.Close()
		}
	}()
	for i, name := range runs {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		rr := &runReader{f: f, r: bufio.NewReaderSize(f, 1<<16), source: i, s: s}
		ok, err := rr.next()
		if err != nil {
			f.Close()
			return err
		}
		if !ok {
			f.Close()
			continue
		}
		h = append(h, rr)
	}
	heap.Init(&h)
	for len(h) > 0 {
		top := h[0]
		if err := fn(top.key, top.pay); err != nil {
			return err
		}
		ok, err := top.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			top.f.Close()
			heap.Pop(&h)
		}
	}
	return nil
}
