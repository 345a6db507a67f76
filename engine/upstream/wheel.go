package upstream

import "time"

// Wheel is a timing wheel: deadlines for a fixed number of handles
// (0..capacity-1), kept in slots of one tick each, so that adding,
// removing and firing are O(1) and no goroutine or runtime timer exists
// per deadline (Varghese and Lauck's scheme 4, with rounds: a deadline
// further out than the wheel's span waits in its slot for its lap, as in
// Netty's HashedWheelTimer). The wheel does nothing by itself: Advance,
// called by whoever drives it (one goroutine, a loop's tick), fires what is
// due. It is not safe for concurrent use; its owner (Table) locks.
//
// A deadline fires at the first Advance whose time is at or past it (never
// before), so one that Advance is called for every tick fires less than a
// tick late. Handles fire in the order of their deadline ticks, and in the
// order they were added within one tick.
type Wheel struct {
	tick   time.Duration
	origin time.Time // tick 0
	now    int64     // the last tick Advance processed
	mask   uint64    // slots - 1: the slot count is a power of two
	head   []int32   // per slot: first handle, or none
	tail   []int32   // per slot: last handle, or none
	node   []wheelNode
	n      int // handles on the wheel
}

type wheelNode struct {
	at         int64 // the deadline's tick
	prev, next int32
	on         bool
}

const none = -1

// NewWheel makes a wheel for handles 0..capacity-1 with slots ticks of
// tick each (rounded up to a power of two), starting at start. A span
// (slots x tick) as long as the longest timeout visits each deadline once;
// a shorter one visits it once a lap, which costs a little per tick,
// nothing more.
func NewWheel(capacity, slots int, tick time.Duration, start time.Time) *Wheel {
	n := 1
	for n < slots {
		n <<= 1
	}
	w := &Wheel{tick: tick, origin: start, mask: uint64(n - 1), head: make([]int32, n), tail: make([]int32, n), node: make([]wheelNode, capacity)}
	for i := range w.head {
		w.head[i], w.tail[i] = none, none
	}
	return w
}

// Len returns the number of handles waiting.
func (w *Wheel) Len() int { return w.n }

// Add puts handle h on the wheel to fire at deadline; a deadline already
// due fires at the next tick. Adding a handle that is on the wheel, or out
// of range, reports false and changes nothing.
func (w *Wheel) Add(h int32, deadline time.Time) bool {
	if h < 0 || int(h) >= len(w.node) || w.node[h].on {
		return false
	}
	at := w.ceilTick(deadline)
	if at <= w.now {
		at = w.now + 1
	}
	s := w.slot(at)
	nd := &w.node[h]
	*nd = wheelNode{at: at, prev: w.tail[s], next: none, on: true}
	if w.tail[s] == none {
		w.head[s] = h
	} else {
		w.node[w.tail[s]].next = h
	}
	w.tail[s] = h
	w.n++
	return true
}

// Remove takes handle h off the wheel; it reports whether h was on it.
func (w *Wheel) Remove(h int32) bool {
	if h < 0 || int(h) >= len(w.node) || !w.node[h].on {
		return false
	}
	w.unlink(h)
	return true
}

func (w *Wheel) unlink(h int32) {
	nd := &w.node[h]
	s := w.slot(nd.at)
	if nd.prev == none {
		w.head[s] = nd.next
	} else {
		w.node[nd.prev].next = nd.next
	}
	if nd.next == none {
		w.tail[s] = nd.prev
	} else {
		w.node[nd.next].prev = nd.prev
	}
	*nd = wheelNode{}
	w.n--
}

// Advance moves the wheel to now and appends to fired, in order, every
// handle whose deadline is at or before now; they are off the wheel when it
// returns. It walks every tick since the last call, up to now, and stops
// early once the wheel is empty, so a call after a long pause costs at
// most the ticks until the last deadline passed, plus a look at each
// waiting handle a lap (a driver stalled for a minute with 10,000 in
// flight catches up in about a millisecond: BenchmarkExpireCatchUpMinute). Time comes
// from the caller's clock; the real one is monotonic, so a wall-clock step
// moves no deadline.
func (w *Wheel) Advance(now time.Time, fired []int32) []int32 {
	target := w.floorTick(now)
	for w.now < target {
		if w.n == 0 {
			w.now = target
			break
		}
		w.now++
		s := w.slot(w.now)
		for h := w.head[s]; h != none; {
			next := w.node[h].next
			if w.node[h].at <= w.now {
				w.unlink(h)
				fired = append(fired, h)
			}
			h = next
		}
	}
	return fired
}

func (w *Wheel) slot(at int64) int { return int(uint64(at) & w.mask) }

func (w *Wheel) floorTick(t time.Time) int64 {
	d := t.Sub(w.origin)
	if d < 0 {
		return -1
	}
	return int64(d / w.tick)
}

func (w *Wheel) ceilTick(t time.Time) int64 {
	d := t.Sub(w.origin)
	if d <= 0 {
		return 0
	}
	return int64((d + w.tick - 1) / w.tick)
}
