package upstream

import (
	"fmt"
	"time"
)

// BreakerState is a destination's circuit: closed (traffic flows), open
// (the destination is treated as unavailable: stand-in or 91 at once) or
// half-open (still unavailable to live traffic while one echo test probes
// it).
type BreakerState uint8

const (
	Closed BreakerState = iota
	Open
	HalfOpen
)

func (s BreakerState) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

// BreakerConfig: Failures timeouts in a row (no answer in time between
// them) within Window open the circuit; it
// stays open Cooldown before it half-opens to probe. Zero values take the
// defaults: 5 timeouts in 10 s, 30 s.
type BreakerConfig struct {
	Failures int
	Window   time.Duration
	Cooldown time.Duration
}

func (c *BreakerConfig) setDefaults() {
	if c.Failures == 0 {
		c.Failures = 5
	}
	if c.Window == 0 {
		c.Window = 10 * time.Second
	}
	if c.Cooldown == 0 {
		c.Cooldown = 30 * time.Second
	}
}

// Validate checks the configuration (after defaults).
func (c BreakerConfig) Validate() error {
	c.setDefaults()
	switch {
	case c.Failures < 1 || c.Failures > 1024:
		return fmt.Errorf("upstream: breaker failures %d must be 1 to 1024", c.Failures)
	case c.Window < time.Millisecond || c.Window > time.Hour:
		return fmt.Errorf("upstream: breaker window %v must be 1ms to 1h", c.Window)
	case c.Cooldown < time.Millisecond || c.Cooldown > time.Hour:
		return fmt.Errorf("upstream: breaker cooldown %v must be 1ms to 1h", c.Cooldown)
	}
	return nil
}

// Breaker is a destination's circuit breaker: a pure state machine fed
// with the destination's timeouts and answers and the probe's outcome.
// Its memory is the last Failures timeout times (a ring): bounded. Not
// safe for concurrent use.
type Breaker struct {
	cfg     BreakerConfig
	state   BreakerState
	times   []time.Time // ring of the last timeouts, at most cfg.Failures
	next    int
	since   time.Time // when the state was entered
	probing bool      // half-open: the probe is out
	opened  int       // how many times it opened (a metric)
}

// NewBreaker returns a closed breaker; cfg must pass Validate.
func NewBreaker(cfg BreakerConfig) *Breaker {
	cfg.setDefaults()
	return &Breaker{cfg: cfg, times: make([]time.Time, 0, cfg.Failures)}
}

// State is the circuit's state at now: an open circuit whose cooldown has
// passed is half-open.
func (b *Breaker) State(now time.Time) BreakerState {
	if b.state == Open && now.Sub(b.since) >= b.cfg.Cooldown {
		b.state, b.since, b.probing = HalfOpen, now, false
	}
	return b.state
}

// Allow reports whether live traffic may go to the destination at now.
func (b *Breaker) Allow(now time.Time) bool { return b.State(now) == Closed }

// Opened is how many times the circuit has opened.
func (b *Breaker) Opened() int { return b.opened }

// Timeout records a request the destination did not answer in time; the
// Failures-th within Window opens the circuit.
func (b *Breaker) Timeout(now time.Time) {
	if b.State(now) != Closed {
		return
	}
	if len(b.times) < cap(b.times) {
		b.times = append(b.times, now)
	} else {
		b.times[b.next] = now
	}
	b.next = (b.next + 1) % cap(b.times)
	if len(b.times) == b.cfg.Failures && now.Sub(b.times[b.next%len(b.times)]) <= b.cfg.Window {
		b.open(now) // the oldest of the last Failures timeouts is within Window
	}
}

// Answered records an answer in time: the destination is alive, so the
// count of timeouts starts again.
func (b *Breaker) Answered(now time.Time) {
	if b.State(now) == Closed {
		b.times, b.next = b.times[:0], 0
	}
}

// Probe reports whether the caller should send the half-open probe (an
// echo test) now; true once per half-open period.
func (b *Breaker) Probe(now time.Time) bool {
	if b.State(now) != HalfOpen || b.probing {
		return false
	}
	b.probing = true
	return true
}

// ProbeResult closes the circuit when the probe was answered, or opens it
// for another cooldown.
func (b *Breaker) ProbeResult(ok bool, now time.Time) {
	if b.State(now) != HalfOpen || !b.probing {
		return
	}
	if ok {
		b.state, b.since = Closed, now
		b.times, b.next = b.times[:0], 0
		return
	}
	b.open(now)
}

func (b *Breaker) open(now time.Time) {
	b.state, b.since, b.probing = Open, now, false
	b.times, b.next = b.times[:0], 0
	b.opened++
}
