package saf

import (
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cardswitch/cardswitch/engine/upstream"
)

// Kind is what an entry asks of its destination.
type Kind uint8

const (
	Reversal   Kind = iota + 1 // 0420: undo what a request may have done (timed out, undelivered, late approval)
	Advice                     // 0220: a financial advice (a stand-in approval, a terminal's advice, a completion)
	AuthAdvice                 // 0120: an authorization advice (the stand-in approval of an 0100)
)

var kindMTI = [...]string{Reversal: "0420", Advice: "0220", AuthAdvice: "0120"}

// MTI is the entry's message type on its first send; a repeat is the same
// with its last digit 1 (0421).
func (k Kind) MTI() string {
	if int(k) < len(kindMTI) && kindMTI[k] != "" {
		return kindMTI[k]
	}
	return ""
}

func (k Kind) String() string {
	switch k {
	case Reversal:
		return "reversal"
	case Advice:
		return "advice"
	case AuthAdvice:
		return "auth advice"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Entry is one thing owed to a destination.
type Entry struct {
	// ID is the journal sequence of the entry's record: unique, and
	// increasing in the order entries are added.
	ID   uint64
	Kind Kind
	// Ref is what the entry is about: the RRN counter of the original
	// request (the journal's RRNSeq), which ties the entry to its records.
	Ref uint64
	// Enqueued is when the entry came to be (its record's time): its age
	// counts from it.
	Enqueued time.Time
	// Attempts counts the sends before this one: a send with Attempts > 0
	// is a repeat (0421, 0221).
	Attempts int
}

// Outcome is what an answer did to its entry.
type Outcome uint8

const (
	Ignored   Outcome = iota // the entry was not in flight: a second answer, or one after its timeout
	Delivered                // the destination has it: the entry is gone
	Retry                    // try again after the backoff (or expire, out of tries)
	Rejected                 // the destination refused it for good: gone, for the exceptions list
)

func (o Outcome) String() string {
	return [...]string{"ignored", "delivered", "retry", "rejected"}[o]
}

// Config bounds and tunes a queue. Zero values take the defaults.
type Config struct {
	// Cap is the most entries the queue holds: 1,048,576 by default (about
	// 100 MB of entries and their indexes, the outage of a busy
	// destination).
	Cap int
	// Window is the most entries in flight at once: 32 by default. One at
	// a time would cap delivery at one round trip per entry.
	Window int
	// MaxRetries is how many sends may follow the first; default 10.
	MaxRetries int
	// ExpireAfter is how long an entry may wait, counted from Enqueued;
	// default 72h (a long weekend of the destination down).
	ExpireAfter time.Duration
	// Backoff spaces the tries of one entry; default 1 s doubling to 5 min
	// with up to a quarter off (the jitter is drawn from the entry's ID, so
	// the queue stays a pure function of its inputs).
	Backoff upstream.Backoff
	// Delivered and Retry are response codes: an answer with a code in
	// Delivered removes the entry, one in Retry retries it, any other
	// rejects it. Defaults: delivered 00, 25 (no original: nothing to
	// reverse) and 94 (a duplicate: the destination has it); retry 91, 96
	// and 19 (the destination cannot take it now).
	Delivered, Retry []string
}

func (c *Config) setDefaults() {
	if c.Cap == 0 {
		c.Cap = 1 << 20
	}
	if c.Window == 0 {
		c.Window = 32
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 10
	}
	if c.ExpireAfter == 0 {
		c.ExpireAfter = 72 * time.Hour
	}
	if c.Backoff == (upstream.Backoff{}) {
		c.Backoff = upstream.Backoff{Base: time.Second, Max: 5 * time.Minute, Jitter: 0.25}
	}
	if c.Delivered == nil {
		c.Delivered = []string{"00", "25", "94"}
	}
	if c.Retry == nil {
		c.Retry = []string{"91", "96", "19"}
	}
}

// Validate reports the first problem of a configuration (after defaults).
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.Cap < 1 || c.Cap > 1<<24:
		return fmt.Errorf("saf: cap %d must be 1 to %d", c.Cap, 1<<24)
	case c.Window < 1 || c.Window > 4096:
		return fmt.Errorf("saf: window %d must be 1 to 4096", c.Window)
	case c.MaxRetries < 0 || c.MaxRetries > 1000:
		return fmt.Errorf("saf: max_retries %d must be 0 to 1000", c.MaxRetries)
	case c.ExpireAfter < time.Minute:
		return fmt.Errorf("saf: expire_after %v must be at least 1m", c.ExpireAfter)
	}
	for _, code := range append(slices.Clone(c.Delivered), c.Retry...) {
		if len(code) != 2 {
			return fmt.Errorf("saf: response code %q must be 2 characters", code)
		}
	}
	for _, code := range c.Delivered {
		if slices.Contains(c.Retry, code) {
			return fmt.Errorf("saf: response code %q both delivers and retries", code)
		}
	}
	return c.Backoff.Validate()
}

// Errors of Add.
var (
	ErrFull   = errors.New("saf: queue full")
	ErrOrder  = errors.New("saf: entry ID not above the last one added")
	ErrKind   = errors.New("saf: unknown entry kind")
	ErrAbsent = errors.New("saf: no such entry waiting")
)

type state uint8

const (
	fresh    state = iota // never sent: in q.fresh
	waiting               // failed, due at notBefore: in q.retries
	inFlight              // sent, answer due by deadline: in q.flights
)

type slot struct {
	e  Entry
	st state
	at time.Time // waiting: when it may go again; inFlight: when its answer is overdue
	hi int       // its index in q.retries (waiting) or q.flights (inFlight)
}

// Queue is one destination's store-and-forward queue. Not safe for
// concurrent use: one goroutine of the engine drives it.
type Queue struct {
	cfg     Config
	entries map[uint64]*slot
	order   ring     // every live ID in Add order (lazily cleaned): the oldest first
	fresh   ring     // IDs never sent, in Add order
	retries slotHeap // waiting entries, by when they may go again
	flights slotHeap // entries in flight, by when their answer is overdue
	lastID  uint64
	expired []Entry // out of tries, waiting for Expired to hand them out
}

// NewQueue returns an empty queue; cfg must pass Validate.
func NewQueue(cfg Config) *Queue {
	cfg.setDefaults()
	return &Queue{cfg: cfg, entries: make(map[uint64]*slot)}
}

// Len is the number of entries the queue holds (waiting, in flight, or
// out of tries and not yet handed out by Expired).
func (q *Queue) Len() int { return len(q.entries) + len(q.expired) }

// InFlight is the number of entries sent and not answered.
func (q *Queue) InFlight() int { return q.flights.Len() }

// Oldest is the Enqueued time of the oldest entry, false when empty.
func (q *Queue) Oldest() (time.Time, bool) {
	q.cleanOrder()
	if id, ok := q.order.peek(); ok {
		return q.entries[id].e.Enqueued, true
	}
	return time.Time{}, false
}

// Add puts an entry at the end of the queue.
func (q *Queue) Add(e Entry) error {
	switch {
	case e.Kind.MTI() == "":
		return ErrKind
	case e.ID <= q.lastID:
		return fmt.Errorf("%w: %d after %d", ErrOrder, e.ID, q.lastID)
	case q.Len() >= q.cfg.Cap:
		return fmt.Errorf("%w: %d entries", ErrFull, q.cfg.Cap)
	}
	q.lastID = e.ID
	q.entries[e.ID] = &slot{e: e}
	// order and fresh drop removed IDs lazily; past twice the live
	// entries they are rebuilt, so neither outgrows the queue's bound
	if q.order.len() > 2*len(q.entries)+1024 {
		q.order.keep(func(id uint64) bool { return q.entries[id] != nil })
	}
	if q.fresh.len() > 2*len(q.entries)+1024 {
		q.fresh.keep(func(id uint64) bool { s := q.entries[id]; return s != nil && s.st == fresh })
	}
	q.order.push(e.ID)
	q.fresh.push(e.ID)
	return nil
}

// Next takes the entry to send now and puts it in flight with an answer
// due by now+timeout; false when the window is full or nothing is due. A
// retry that is due goes before the entries never sent (it is older than
// all of them). The caller sends it as a repeat when Attempts > 0.
func (q *Queue) Next(now time.Time, timeout time.Duration) (Entry, bool) {
	if q.flights.Len() >= q.cfg.Window {
		return Entry{}, false
	}
	s := q.dueRetry(now)
	if s == nil {
		s = q.nextFresh()
	}
	if s == nil {
		return Entry{}, false
	}
	e := s.e
	s.e.Attempts++
	s.st, s.at = inFlight, now.Add(timeout)
	heap.Push(&q.flights, s)
	return e, true
}

func (q *Queue) dueRetry(now time.Time) *slot {
	if q.retries.Len() == 0 || q.retries.items[0].at.After(now) {
		return nil
	}
	return heap.Pop(&q.retries).(*slot)
}

func (q *Queue) nextFresh() *slot {
	for {
		id, ok := q.fresh.pop()
		if !ok {
			return nil
		}
		if s := q.entries[id]; s != nil && s.st == fresh {
			return s
		}
	}
}

// Unsent gives back an entry Next handed out that could not be sent (no
// connection): it goes first again, and the try does not count.
func (q *Queue) Unsent(id uint64, now time.Time) { q.Defer(id, now) }

// Defer gives back an entry Next handed out that must wait for another
// (a reversal for the advice it reverses): it goes again at until, and
// the try does not count.
func (q *Queue) Defer(id uint64, until time.Time) {
	s := q.entries[id]
	if s == nil || s.st != inFlight {
		return
	}
	q.land(s)
	s.e.Attempts--
	q.wait(s, until)
}

// land takes s, in flight, off the flights.
func (q *Queue) land(s *slot) {
	heap.Remove(&q.flights, s.hi)
}

// Answer applies the destination's answer (its response code) to entry
// id. Only an entry in flight takes an answer.
func (q *Queue) Answer(id uint64, code string, now time.Time) Outcome {
	s := q.entries[id]
	if s == nil || s.st != inFlight {
		return Ignored
	}
	q.land(s)
	switch {
	case slices.Contains(q.cfg.Delivered, code):
		delete(q.entries, id)
		return Delivered
	case slices.Contains(q.cfg.Retry, code):
		q.failed(s, now)
		return Retry
	}
	delete(q.entries, id)
	return Rejected
}

// Due retries every entry in flight whose answer is overdue at now, and
// returns how many there were. An answer that comes for one later is
// Ignored: the repeat that follows carries the entry.
func (q *Queue) Due(now time.Time) int {
	n := 0
	for q.flights.Len() > 0 && !q.flights.items[0].at.After(now) {
		s := q.flights.items[0]
		q.land(s)
		q.failed(s, now)
		n++
	}
	return n
}

// failed schedules another try of s, or moves it out of tries.
func (q *Queue) failed(s *slot, now time.Time) {
	if s.e.Attempts > q.cfg.MaxRetries {
		delete(q.entries, s.e.ID)
		q.expired = append(q.expired, s.e)
		return
	}
	q.wait(s, now.Add(q.cfg.Backoff.Delay(s.e.Attempts-1, jitter(s.e.ID, s.e.Attempts))))
}

func (q *Queue) wait(s *slot, at time.Time) {
	s.st, s.at = waiting, at
	heap.Push(&q.retries, s)
}

// Expired hands out, and removes, the entries that are final without an
// answer: out of tries, or older than ExpireAfter at now and not in
// flight. The caller journals each as expired (the exceptions list).
func (q *Queue) Expired(now time.Time) []Entry {
	out := q.expired
	q.expired = nil
	for {
		q.cleanOrder()
		id, ok := q.order.peek()
		if !ok {
			break
		}
		s := q.entries[id]
		if now.Sub(s.e.Enqueued) <= q.cfg.ExpireAfter || s.st == inFlight {
			break // the oldest is in time (or awaits its answer): so, near enough, is the rest
		}
		q.order.pop()
		q.drop(s)
		out = append(out, s.e)
	}
	return out
}

// Retry makes a waiting entry due at now (an operator's "retry now"); an
// entry in flight is being tried already (nil: nothing to do).
func (q *Queue) Retry(id uint64, now time.Time) error {
	s := q.entries[id]
	if s == nil {
		return ErrAbsent
	}
	if s.st == inFlight {
		return nil
	}
	if s.st == waiting {
		s.at = now
		heap.Fix(&q.retries, s.hi)
	}
	return nil // a fresh entry goes in its turn
}

// Remove takes an entry out of the queue (an operator's "expire"), in
// flight or not: an answer that comes for it later is Ignored. The caller
// journals it.
func (q *Queue) Remove(id uint64) (Entry, error) {
	s := q.entries[id]
	if s == nil {
		return Entry{}, ErrAbsent
	}
	if s.st == inFlight {
		q.land(s)
		delete(q.entries, id)
		return s.e, nil
	}
	q.drop(s)
	return s.e, nil
}

// drop removes s, not in flight, from the queue (and from q.retries when
// it waits there; q.fresh and q.order let go of its ID lazily).
func (q *Queue) drop(s *slot) {
	if s.st == waiting {
		heap.Remove(&q.retries, s.hi)
	}
	delete(q.entries, s.e.ID)
}

// Entries lists up to max entries in queue order (for the admin API),
// with whether each is in flight.
func (q *Queue) Entries(max int) (out []Entry, sent []bool) {
	for i := q.order.head; i < len(q.order.ids) && len(out) < max; i++ {
		if s := q.entries[q.order.ids[i]]; s != nil {
			out = append(out, s.e)
			sent = append(sent, s.st == inFlight)
		}
	}
	return out, sent
}

// cleanOrder drops the removed IDs at the front of q.order.
func (q *Queue) cleanOrder() {
	for {
		id, ok := q.order.peek()
		if !ok || q.entries[id] != nil {
			return
		}
		q.order.pop()
	}
}

// jitter is a number in [0, 1) drawn from the entry and its try: the same
// inputs, the same schedule.
func jitter(id uint64, attempt int) float64 {
	x := id*0x9E3779B97F4A7C15 + uint64(attempt)
	x ^= x >> 31
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 29
	return float64(x>>11) / (1 << 53)
}

// ring is a FIFO of IDs on a slice, compacted when half of it is spent.
type ring struct {
	ids  []uint64
	head int
}

func (r *ring) push(id uint64) { r.ids = append(r.ids, id) }

func (r *ring) len() int { return len(r.ids) - r.head }

// keep drops the IDs live rejects, in place.
func (r *ring) keep(live func(uint64) bool) {
	n := 0
	for _, id := range r.ids[r.head:] {
		if live(id) {
			r.ids[n] = id
			n++
		}
	}
	r.ids, r.head = r.ids[:n], 0
}

func (r *ring) peek() (uint64, bool) {
	if r.head == len(r.ids) {
		return 0, false
	}
	return r.ids[r.head], true
}

func (r *ring) pop() (uint64, bool) {
	id, ok := r.peek()
	if !ok {
		return 0, false
	}
	r.head++
	if r.head == len(r.ids) {
		r.ids, r.head = r.ids[:0], 0
	} else if r.head >= 1024 && r.head*2 >= len(r.ids) {
		n := copy(r.ids, r.ids[r.head:])
		r.ids, r.head = r.ids[:n], 0
	}
	return id, true
}

// slotHeap orders entries by their time, then ID (older entries first),
// and keeps each one's index so that an answer takes it off in O(log n).
type slotHeap struct{ items []*slot }

func (h *slotHeap) Len() int { return len(h.items) }
func (h *slotHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.e.ID < b.e.ID
}
func (h *slotHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].hi, h.items[j].hi = i, j
}
func (h *slotHeap) Push(x any) {
	s := x.(*slot)
	s.hi = len(h.items)
	h.items = append(h.items, s)
}
func (h *slotHeap) Pop() any {
	s := h.items[len(h.items)-1]
	h.items[len(h.items)-1] = nil
	h.items = h.items[:len(h.items)-1]
	return s
}
