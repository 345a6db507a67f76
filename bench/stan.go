package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// stanMax is the last STAN: six digits, 000000 unused.
const stanMax = 999999

// STANSource hands out STANs per terminal. The switch knows a request by
// its terminal, STAN, date (MMDD of field 7, UTC) and MTI class, and
// answers the same key again 94 (duplicate) for up to the retention: a
// generator that starts each run at 000001 sees its second run answered
// 94. A source remembers, like a terminal's counter, where the terminal's
// last run stopped.
type STANSource interface {
	// Reserve returns got (1 <= got <= n) consecutive STANs from first
	// on, never past 999999; exhausted reports that the terminal has now
	// been given more than 999,999 STANs on the day (UTC), so some repeat
	// a key the switch has seen today.
	Reserve(terminal string, n int) (first uint32, got int, exhausted bool, err error)
	// Release hands back the unused end of the terminal's last
	// reservation (first, got): used of them were sent. A no-op when the
	// terminal has reserved again since (another process).
	Release(terminal string, first uint32, got, used int) error
}

// stanEntry is one terminal's counter.
type stanEntry struct {
	Next uint32 `json:"next"`
	Day  string `json:"day"`        // YYYYMMDD, UTC
	Used int    `json:"used_today"` // STANs given out on Day
}

// stanBook is the counters by terminal, with the rules both sources share.
type stanBook map[string]*stanEntry

func (b stanBook) reserve(term string, n int, now time.Time, rng func() uint32) (uint32, int, bool) {
	e := b[term]
	if e == nil {
		// A terminal never seen starts at a random point, so two
		// machines (or a lost ledger) rarely start on the same STANs.
		e = &stanEntry{Next: 1 + rng()%stanMax}
		b[term] = e
	}
	if e.Next < 1 || e.Next > stanMax {
		e.Next = 1
	}
	if day := now.UTC().Format("20060102"); e.Day != day {
		e.Day, e.Used = day, 0
	}
	got := min(max(n, 1), stanMax+1-int(e.Next))
	first := e.Next
	e.Next += uint32(got)
	if e.Next > stanMax {
		e.Next = 1
	}
	e.Used += got
	return first, got, e.Used > stanMax
}

func (b stanBook) release(term string, first uint32, got, used int) {
	e := b[term]
	end := first + uint32(got)
	if end > stanMax {
		end = 1
	}
	if e == nil || e.Next != end || used >= got || used < 0 {
		return
	}
	e.Next = first + uint32(used)
	e.Used = max(e.Used-(got-used), 0)
}

// MemorySTANs is a source for one process: each terminal starts at a
// random STAN. For tests and for when no ledger can be kept.
type MemorySTANs struct {
	Now func() time.Time // nil: time.Now

	mu   sync.Mutex
	book stanBook   // mu guards book
	rng  *rand.Rand // mu guards rng
}

// Reserve implements STANSource.
func (m *MemorySTANs) Reserve(term string, n int) (uint32, int, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.book == nil {
		m.book, m.rng = stanBook{}, rand.New(rand.NewSource(time.Now().UnixNano()))
	}
	first, got, ex := m.book.reserve(term, n, nowOf(m.Now), func() uint32 { return uint32(m.rng.Int31()) })
	return first, got, ex, nil
}

// Release implements STANSource.
func (m *MemorySTANs) Release(term string, first uint32, got, used int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.book.release(term, first, got, used)
	return nil
}

func nowOf(f func() time.Time) time.Time {
	if f == nil {
		return time.Now()
	}
	return f()
}

// ledgerTerminalsMax bounds the ledger: past it, the terminals whose
// counter is oldest are dropped (they start again at a random STAN).
// Issuer data of a test network holds far fewer terminals.
const ledgerTerminalsMax = 10_000

// Ledger is a STANSource kept in a JSON file, shared by every process
// on the machine (bench and send): each reservation locks the file
// (flock on a .lock beside it; no lock off Unix), reads it, and replaces
// it atomically.
type Ledger struct {
	Path string
	Now  func() time.Time // nil: time.Now

	start func() uint32 // a new terminal's first STAN, before % stanMax (nil: random)
}

// Reserve implements STANSource.
func (l *Ledger) Reserve(term string, n int) (first uint32, got int, exhausted bool, err error) {
	err = l.update(func(b stanBook) {
		start := l.start
		if start == nil {
			start = func() uint32 { return uint32(rand.New(rand.NewSource(time.Now().UnixNano())).Int31()) }
		}
		first, got, exhausted = b.reserve(term, n, nowOf(l.Now), start)
	})
	return first, got, exhausted, err
}

// Release implements STANSource.
func (l *Ledger) Release(term string, first uint32, got, used int) error {
	return l.update(func(b stanBook) { b.release(term, first, got, used) })
}

func (l *Ledger) update(fn func(stanBook)) error {
	if err := os.MkdirAll(filepath.Dir(l.Path), 0o700); err != nil {
		return fmt.Errorf("bench: STAN ledger: %w", err)
	}
	lock, err := os.OpenFile(l.Path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("bench: STAN ledger: %w", err)
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil { // released by Close
		return fmt.Errorf("bench: STAN ledger: lock %s: %w", lock.Name(), err)
	}
	book := stanBook{}
	raw, err := os.ReadFile(l.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bench: STAN ledger: %w", err)
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &book); err != nil {
			return fmt.Errorf("bench: STAN ledger %s: %v (delete it to start the terminals' counters afresh)", l.Path, err)
		}
	}
	fn(book)
	trim(book)
	out, _ := json.MarshalIndent(book, "", " ")
	tmp, err := os.CreateTemp(filepath.Dir(l.Path), filepath.Base(l.Path)+".*")
	if err != nil {
		return fmt.Errorf("bench: STAN ledger: %w", err)
	}
	_, err = tmp.Write(out)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), l.Path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("bench: STAN ledger: %w", err)
	}
	return nil
}

// trim keeps the ledgerTerminalsMax terminals used most recently.
func trim(b stanBook) {
	if len(b) <= ledgerTerminalsMax {
		return
	}
	terms := make([]string, 0, len(b))
	for t := range b {
		terms = append(terms, t)
	}
	sort.Slice(terms, func(i, j int) bool { return b[terms[i]].Day > b[terms[j]].Day })
	for _, t := range terms[ledgerTerminalsMax:] {
		delete(b, t)
	}
}

// stanPool is one terminal's STANs in this run: blocks reserved from the
// source, handed to the terminal's connections in chunks.
type stanPool struct {
	term string
	src  STANSource

	mu        sync.Mutex
	first     uint32 // mu guards first, got, used, exhausted: the current block
	got, used int
	exhausted bool
}

// stanBlock is how many STANs a pool reserves at once: a ledger update
// (a lock and a file replaced, some 100 us) per 65,536 requests of a
// terminal, under 10 a second at the echo baseline's rate. The unused end
// goes back at the end of the run.
const stanBlock = 1 << 16

// stanChunk is how many a connection takes from its pool at once; at
// most this many per connection go unused at the end of a run.
const stanChunk = 32

// take returns up to n consecutive STANs of the terminal.
func (p *stanPool) take(n int) (uint32, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used == p.got {
		first, got, ex, err := p.src.Reserve(p.term, stanBlock)
		if err != nil {
			return 0, 0, err
		}
		p.first, p.got, p.used = first, got, 0
		p.exhausted = p.exhausted || ex
	}
	k := min(n, p.got-p.used)
	first := p.first + uint32(p.used)
	p.used += k
	return first, k, nil
}

// release hands the unused end of the current block back.
func (p *stanPool) release() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got == 0 {
		return nil
	}
	return p.src.Release(p.term, p.first, p.got, p.used)
}
