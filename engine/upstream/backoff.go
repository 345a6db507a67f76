package upstream

import (
	"fmt"
	"time"
)

// Backoff is how long an outbound connection waits before its next dial:
// exponential from Base, capped at Max, with jitter so that the switch's
// connections (and other switches') do not all redial a recovered host in
// the same millisecond.
type Backoff struct {
	Base   time.Duration // the wait after the first failure
	Max    time.Duration // the longest wait
	Jitter float64       // 0 to 1: the share of each wait taken off at random
}

// DefaultBackoff: 250 ms doubling to 30 s, up to half of each wait off.
var DefaultBackoff = Backoff{Base: 250 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.5}

// Validate checks the policy.
func (b Backoff) Validate() error {
	switch {
	case b.Base <= 0 || b.Max < b.Base:
		return fmt.Errorf("upstream: backoff %v to %v: want 0 < base <= max", b.Base, b.Max)
	case b.Jitter < 0 || b.Jitter > 1:
		return fmt.Errorf("upstream: backoff jitter %v: want 0 to 1", b.Jitter)
	}
	return nil
}

// Delay is the wait before dial attempt number attempt (0 after the first
// failure; the caller resets it once a connection is up and signed on),
// given r, a random number in [0, 1) that the caller draws: the policy
// stays a pure function. The result lies in (d(1-Jitter), d], where
// d = min(Max, Base x 2^attempt).
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	d := b.Max
	if attempt < 0 {
		attempt = 0
	}
	if attempt < 62 && b.Base <= b.Max>>uint(attempt) { // Base<<attempt <= Max, without overflow
		d = b.Base << uint(attempt)
	}
	if r < 0 || r >= 1 {
		r = 0
	}
	return d - time.Duration(float64(d)*b.Jitter*r)
}
