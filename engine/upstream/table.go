package upstream

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Errors of Table.Put. The caller answers the originator at once: ErrFull
// and ErrDuplicate with 91 (the issuer cannot be reached now), before any
// byte has left for the host.
var (
	// ErrFull: the destination has its cap of requests in flight.
	ErrFull = errors.New("upstream: requests in flight at the destination's cap")
	// ErrDuplicate: a request with the same match key is in flight; sending
	// it would make its response ambiguous (a mismatched reply).
	ErrDuplicate = errors.New("upstream: a request with the same match key is in flight")
)

// Match is what a response found in the table.
type Match uint8

const (
	// Unknown: no request in flight and none recently expired has the key
	// (a reply to a request the switch never sent, or a second copy).
	Unknown Match = iota
	// Matched: the response answers a request in flight; Pending is it.
	Matched
	// Late: the request expired before the response came (its originator
	// got 91); Ref and Deadline say which one. An approval here must be
	// reversed.
	Late
)

func (m Match) String() string {
	switch m {
	case Matched:
		return "matched"
	case Late:
		return "late"
	}
	return "unknown"
}

// Taken is the result of Table.Take.
type Taken[P any] struct {
	Match    Match
	Pending  P         // Matched: the request's pending value
	Ref      uint64    // Matched and Late: the reference given to Put
	Deadline time.Time // Matched and Late: the request's deadline
}

// Expired is a request whose deadline passed before its response came.
type Expired[P any] struct {
	Key      Key
	Pending  P
	Ref      uint64
	Deadline time.Time
}

// Config bounds a Table.
type Config struct {
	// Cap is the most requests in flight at once (the destination's
	// max_in_flight): past it Put refuses, so a host that stops answering
	// holds a known amount of memory and its requests fail fast. Each place
	// costs about 300 bytes, made at NewTable (the slot, its index cells,
	// its wheel node and, at the default LateKeep, its late-set place):
	// 10,000 in flight hold 3 MB.
	Cap int
	// LateKeep is how many expired keys are remembered to recognise late
	// responses (default: Cap).
	LateKeep int
	// Tick is the wheel's resolution (default 1 ms): expiries fire less than
	// a tick after their deadline when the table is advanced every tick.
	Tick time.Duration
	// Slots is the wheel's size (default 4096: a 4 s span at 1 ms, so a
	// 30 s timeout is visited 8 times on its way, a few ns each).
	Slots int
}

// Defaults fills the zero fields.
func (c Config) Defaults() Config {
	if c.LateKeep == 0 {
		c.LateKeep = c.Cap
	}
	if c.Tick == 0 {
		c.Tick = time.Millisecond
	}
	if c.Slots == 0 {
		c.Slots = 4096
	}
	return c
}

// Validate checks a config after Defaults.
func (c Config) Validate() error {
	switch {
	case c.Cap < 1 || c.Cap > 1<<20:
		return fmt.Errorf("upstream: cap %d: must be 1 to %d", c.Cap, 1<<20)
	case c.LateKeep < 0 || c.LateKeep > 1<<20:
		return fmt.Errorf("upstream: late_keep %d: must be 0 to %d", c.LateKeep, 1<<20)
	case c.Tick <= 0:
		return fmt.Errorf("upstream: tick %v: must be positive", c.Tick)
	case c.Slots < 1 || c.Slots > 1<<20:
		return fmt.Errorf("upstream: slots %d: must be 1 to %d", c.Slots, 1<<20)
	}
	return nil
}

// Table is one destination's requests in flight: bounded, keyed by the
// match key, each with its deadline on a timing wheel. Put runs where the
// request is sent, Take where responses are read, Expire on the tick: any
// goroutines, one mutex, every operation O(1) and allocation-free (all the
// memory is made by NewTable). Every request put leaves exactly once: taken by its
// response, cancelled, or expired.
type Table[P any] struct {
	mu      sync.Mutex
	live    index // mu guards the rest: key -> slot
	n       int   // requests in flight
	slots   []slot[P]
	free    []int32 // unused slots
	wheel   *Wheel
	late    *lateSet
	fired   []int32      // Expire's scratch
	expired []Expired[P] // Expire's result, reused
}

type slot[P any] struct {
	key      Key
	hash     uint32
	pending  P
	ref      uint64
	deadline time.Time
}

// NewTable makes a table with its wheel starting at start (the caller's
// clock now).
func NewTable[P any](c Config, start time.Time) (*Table[P], error) {
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t := &Table[P]{
		slots: make([]slot[P], c.Cap),
		free:  make([]int32, c.Cap),
		wheel: NewWheel(c.Cap, c.Slots, c.Tick, start),
		late:  newLateSet(c.LateKeep),
	}
	t.live = newIndex(c.Cap, func(i int32) *Key { return &t.slots[i].key })
	for i := range t.free {
		t.free[i] = int32(c.Cap - 1 - i)
	}
	return t, nil
}

// Len returns the number of requests in flight.
func (t *Table[P]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// Put records a request about to be sent, with the caller's reference (a
// journal sequence, say, to tie a late response to its record) and its
// deadline. Call it before the bytes leave, so that a response can never
// come before its request is known. ErrDuplicate and ErrFull leave the
// table as it was.
func (t *Table[P]) Put(k Key, p P, ref uint64, deadline time.Time) error {
	h := hashKey(&k)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.live.get(&k, h); dup {
		return ErrDuplicate
	}
	if len(t.free) == 0 {
		return ErrFull
	}
	i := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	t.slots[i] = slot[P]{key: k, hash: h, pending: p, ref: ref, deadline: deadline}
	t.live.put(&k, h, i)
	t.n++
	t.wheel.Add(i, deadline)
	// a key in flight again: its response is this request's, not a late one
	t.late.take(&k, h)
	return nil
}

// Take is the response with key k arriving: the request it answers, once
// (Matched), or what is known of it if it expired first (Late, once), or
// Unknown.
func (t *Table[P]) Take(k Key) Taken[P] {
	h := hashKey(&k)
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := t.live.get(&k, h); ok {
		s := t.remove(i)
		return Taken[P]{Match: Matched, Pending: s.pending, Ref: s.ref, Deadline: s.deadline}
	}
	if ts, ok := t.late.take(&k, h); ok {
		return Taken[P]{Match: Late, Ref: ts.ref, Deadline: ts.deadline}
	}
	return Taken[P]{}
}

// Cancel withdraws a request whose bytes never left (the write was refused
// before anything was sent): it is neither answered nor late. Once bytes
// may have left, a failure is a timeout: let it expire instead.
func (t *Table[P]) Cancel(k Key) (P, bool) {
	h := hashKey(&k)
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.live.get(&k, h)
	if !ok {
		var zero P
		return zero, false
	}
	return t.remove(i).pending, true
}

// remove frees slot i and returns what it held.
func (t *Table[P]) remove(i int32) slot[P] {
	s := t.slots[i]
	t.live.del(&s.key, s.hash)
	t.slots[i] = slot[P]{} // drop the reference to the pending value
	t.n--
	t.wheel.Remove(i)
	t.free = append(t.free, i)
	return s
}

// Expire moves the table to now: every request whose deadline is at or
// before now leaves the table, is remembered as expired for its late
// response, and is returned, in deadline order. The slice is reused by the
// next call: one goroutine expires a table. The caller answers each
// originator 91 (or stands in), outside the table's lock.
func (t *Table[P]) Expire(now time.Time) []Expired[P] {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.expired)
	t.expired = t.expired[:0]
	t.fired = t.wheel.Advance(now, t.fired[:0])
	for _, i := range t.fired {
		// Advance took i off the wheel; remove's Remove is then a no-op
		s := t.remove(i)
		t.late.add(&s.key, s.hash, s.ref, s.deadline)
		t.expired = append(t.expired, Expired[P]{Key: s.key, Pending: s.pending, Ref: s.ref, Deadline: s.deadline})
	}
	return t.expired
}
