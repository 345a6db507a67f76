package sim

import (
	"sync"
	"time"
)

// scheduler holds the replies that wait for their delay: a min-heap of due
// times and one goroutine that hands each reply to its connection when it
// is due. Ten thousand replies in flight are ten thousand heap entries and
// one timer, not a goroutine or a runtime timer each, and replies due at
// the same moment reach their connections in one pass.
type scheduler struct {
	mu    sync.Mutex
	items []item // mu guards items: a binary min-heap on due
	wake  chan struct{}
	done  chan struct{}
	slots chan struct{} // one per item: bounds the heap (Config.MaxInFlight)
}

// item is one reply waiting for its time.
type item struct {
	due    time.Time
	c      *conn
	frame  []byte
	copies uint8        // 2 for the twice fault
	code   int16        // codeIndex, counted when delivered
	entry  *ledgerEntry // the ledger entry the answer is booked in when delivered; nil: none
}

func newScheduler(maxItems int) *scheduler {
	return &scheduler{
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		slots: make(chan struct{}, maxItems),
	}
}

// acquire takes an in-flight slot, waiting while the heap is full (the
// connection's reader stops reading: back-pressure on that peer). It fails
// when the connection or the scheduler ends first.
func (s *scheduler) acquire(connDone <-chan struct{}) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	case <-connDone:
	case <-s.done:
	}
	return false
}

// push adds an item whose slot the caller holds.
func (s *scheduler) push(it item) {
	s.mu.Lock()
	s.items = append(s.items, it)
	i := len(s.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s.items[i].due.Before(s.items[p].due) {
			break
		}
		s.items[i], s.items[p] = s.items[p], s.items[i]
		i = p
	}
	first := i == 0
	s.mu.Unlock()
	if first { // a new earliest deadline: the loop must set its timer again
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// popLocked removes and returns the earliest item.
func (s *scheduler) popLocked() item {
	h := s.items
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = item{} // let the frame and the connection go
	h = h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l].due.Before(h[m].due) {
			m = l
		}
		if r < n && h[r].due.Before(h[m].due) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	s.items = h
	return top
}

// run delivers items as they fall due, until stop.
func (s *scheduler) run(deliver func(item)) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var due []item
	for {
		s.mu.Lock()
		now := time.Now()
		for len(s.items) > 0 && !s.items[0].due.After(now) {
			due = append(due, s.popLocked())
		}
		wait := time.Duration(-1)
		if len(s.items) > 0 {
			wait = s.items[0].due.Sub(now)
		}
		s.mu.Unlock()
		for i := range due {
			<-s.slots // first: a peer that has its reply sees it out of InFlight
			deliver(due[i])
			due[i] = item{}
		}
		if len(due) > 0 {
			due = due[:0]
			continue // delivering took time: look again before sleeping
		}
		if wait >= 0 {
			timer.Reset(wait)
		}
		select {
		case <-timer.C:
		case <-s.wake:
			timer.Stop()
		case <-s.done:
			timer.Stop()
			return
		}
	}
}

// stop ends run; the items left are dropped (their connections are closed
// by then).
func (s *scheduler) stop() {
	close(s.done)
	s.mu.Lock()
	for range s.items {
		<-s.slots
	}
	clear(s.items)
	s.items = nil
	s.mu.Unlock()
}

// len is the number of replies waiting.
func (s *scheduler) len() int { return len(s.slots) }
