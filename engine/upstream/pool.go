package upstream

import (
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
)

// Strategy chooses among a destination's connections that are up.
type Strategy uint8

const (
	// PrimarySecondary sends to the most preferred endpoint with a
	// connection up (the primary while it has one, then the secondary),
	// round robin among that endpoint's connections: jPOS MUXPool's
	// PRIMARY_SECONDARY.
	PrimarySecondary Strategy = iota
	// RoundRobin spreads requests over every connection up, whatever its
	// endpoint: MUXPool's ROUND_ROBIN.
	RoundRobin
)

// ParseStrategy reads a configured strategy.
func ParseStrategy(s string) (Strategy, error) {
	switch s {
	case "primary-secondary", "":
		return PrimarySecondary, nil
	case "round-robin":
		return RoundRobin, nil
	}
	return 0, fmt.Errorf("upstream: strategy %q: want primary-secondary or round-robin", s)
}

func (s Strategy) String() string {
	if s == RoundRobin {
		return "round-robin"
	}
	return "primary-secondary"
}

// ErrAllDown: no connection of the destination is up. The caller answers
// 91 at once rather than wait for the timeout of a request it cannot send.
var ErrAllDown = errors.New("upstream: every connection of the destination is down")

// ConnsMax bounds a destination's connections: their states fit one
// atomic word, read in one load per pick. Sixty-four sockets to one host
// is far past what a network asks for (a few per endpoint).
const ConnsMax = 64

// Pool is a destination's outbound connections and which of them are up.
// The outbound links set the states (up once connected and signed on, down
// on a close or missed echoes); any goroutine picks. Picking allocates
// nothing and never waits.
type Pool struct {
	strategy Strategy
	tiers    []uint8 // per connection: its endpoint's rank (0 primary, 1 secondary, ...)
	up       atomic.Uint64
	next     atomic.Uint32 // round-robin cursor
}

// NewPool makes a pool of len(tiers) connections, all down; tiers[i] is
// connection i's endpoint rank.
func NewPool(s Strategy, tiers []uint8) (*Pool, error) {
	if len(tiers) == 0 || len(tiers) > ConnsMax {
		return nil, fmt.Errorf("upstream: %d connections: want 1 to %d", len(tiers), ConnsMax)
	}
	return &Pool{strategy: s, tiers: append([]uint8(nil), tiers...)}, nil
}

// Len returns the number of connections.
func (p *Pool) Len() int { return len(p.tiers) }

// SetUp marks connection i up or down (an i out of range changes nothing).
func (p *Pool) SetUp(i int, up bool) {
	if i < 0 || i >= len(p.tiers) {
		return
	}
	bit := uint64(1) << uint(i)
	for {
		old := p.up.Load()
		nw := old &^ bit
		if up {
			nw = old | bit
		}
		if old == nw || p.up.CompareAndSwap(old, nw) {
			return
		}
	}
}

// Up reports whether connection i is up.
func (p *Pool) Up(i int) bool {
	return i >= 0 && i < len(p.tiers) && p.up.Load()&(1<<uint(i)) != 0
}

// AnyUp reports whether a connection is up, without turning the cursor:
// a check before a Pick must not take a round robin's turn.
func (p *Pool) AnyUp() bool { return p.up.Load() != 0 } // SetUp sets no bit past Len

// Pick chooses the connection for the next request, or ErrAllDown.
func (p *Pool) Pick() (int, error) {
	i := Pick(p.strategy, p.tiers, p.up.Load(), p.next.Add(1)-1)
	if i < 0 {
		return 0, ErrAllDown
	}
	return i, nil
}

// Pick is the pure decision: the connection strategy s picks among those
// whose bit is set in up, the cursor-th (modulo their number) of the ones
// eligible, so that consecutive cursors share the requests evenly among
// them, a connection that is down leaving its share to all the others; -1
// when none is up.
func Pick(s Strategy, tiers []uint8, up uint64, cursor uint32) int {
	n := len(tiers)
	if n > ConnsMax {
		n = ConnsMax
	}
	up &= 1<<uint(n) - 1 // n == 64 wraps to all ones
	if up == 0 {
		return -1
	}
	eligible := up
	if s == PrimarySecondary { // only the best rank with a connection up
		best := 256
		for i := 0; i < n; i++ {
			if up&(1<<uint(i)) != 0 && int(tiers[i]) < best {
				best = int(tiers[i])
			}
		}
		eligible = 0
		for i := 0; i < n; i++ {
			if up&(1<<uint(i)) != 0 && int(tiers[i]) == best {
				eligible |= 1 << uint(i)
			}
		}
	}
	k := int(cursor % uint32(bits.OnesCount64(eligible)))
	for ; k > 0; k-- {
		eligible &= eligible - 1 // drop the lowest
	}
	return bits.TrailingZeros64(eligible)
}
