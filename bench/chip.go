package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/chipcard"
)

// Chip purchases. A chip card's requests carry field 55 with an ARQC over
// the card's transaction counter (ATC, 9F36), and the switch refuses an
// ATC at or below the highest it has verified for the card (a replay) or
// more than the profile's atc_max_jump (default 100) past it. So the
// generator gives each chip card one request in flight at a time (two in
// flight could be decided out of order, the later ATC first), numbers them
// 1, 2, 3 ... with no gap but a lost request's, and keeps where each card
// stopped across runs, as it does the terminals' STANs. The ATC is two
// bytes: a card that has counted to 65535 can transact no more.

// ChipCard is a chip card the generator plays: its card data and what its
// chip holds (version, PSN, the issuer master key it was personalised from).
type ChipCard struct {
	Card Card
	Chip chipcard.Card
}

// ATCSource hands out chip cards' ATCs, like STANSource the terminals'
// STANs: Reserve returns got (0 <= got <= n) consecutive ATCs from first
// on, 0 when the card has reached 65535; Release hands back the unused
// end of the card's last reservation. card is a hash of the PAN (ATCKey):
// a ledger keeps no PAN.
type ATCSource interface {
	ReserveATC(card string, n int) (first uint16, got int, err error)
	ReleaseATC(card string, first uint16, got, used int) error
}

// atcMax is the last ATC: 9F36 is two bytes.
const atcMax = 0xFFFF

// atcBlock is how many ATCs a card reserves at once. A process that dies
// leaves its block's unused end unsent, so the card's next ATC jumps that
// far: it must stay under atc_max_jump (100 by default), or the switch
// would refuse the card's first request of the next run.
const atcBlock = 32

// ATCKey is the ledger's name for a card: "atc:" and 16 hex digits of its
// PAN's SHA-256, which no terminal ID (8 characters) can be.
func ATCKey(pan string) string {
	h := sha256.Sum256([]byte(pan))
	return "atc:" + hex.EncodeToString(h[:8])
}

// reserveATC is the ATC rules on the shared book: a card never seen starts
// at 1; none past 65535.
func (b stanBook) reserveATC(card string, n int, now time.Time) (uint16, int) {
	e := b[card]
	if e == nil {
		e = &stanEntry{Next: 1}
		b[card] = e
	}
	e.Day = now.UTC().Format("20060102") // for trim: the cards used most recently stay
	if e.Next < 1 {
		e.Next = 1
	}
	if e.Next > atcMax {
		return 0, 0
	}
	got := min(max(n, 1), atcMax+1-int(e.Next))
	first := e.Next
	e.Next += uint32(got)
	return uint16(first), got
}

func (b stanBook) releaseATC(card string, first uint16, got, used int) {
	e := b[card]
	if e == nil || e.Next != uint32(first)+uint32(got) || used >= got || used < 0 {
		return
	}
	e.Next = uint32(first) + uint32(used)
}

// ReserveATC implements ATCSource.
func (m *MemorySTANs) ReserveATC(card string, n int) (uint16, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.book == nil {
		m.book = stanBook{}
	}
	first, got := m.book.reserveATC(card, n, nowOf(m.Now))
	return first, got, nil
}

// ReleaseATC implements ATCSource.
func (m *MemorySTANs) ReleaseATC(card string, first uint16, got, used int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.book.releaseATC(card, first, got, used)
	return nil
}

// ReserveATC implements ATCSource: the cards' counters are in the same
// file as the terminals' STANs, under ATCKey names.
func (l *Ledger) ReserveATC(card string, n int) (first uint16, got int, err error) {
	err = l.update(func(b stanBook) { first, got = b.reserveATC(card, n, nowOf(l.Now)) })
	return first, got, err
}

// ReleaseATC implements ATCSource.
func (l *Ledger) ReleaseATC(card string, first uint16, got, used int) error {
	return l.update(func(b stanBook) { b.releaseATC(card, first, got, used) })
}

// chipPool is one chip card in a run: its block of ATCs and whether a
// request of it is in flight.
type chipPool struct {
	card ChipCard
	key  string
	src  ATCSource

	mu        sync.Mutex
	busySince time.Time // mu guards the rest: zero when no request is in flight
	first     uint16
	got, used int
	done      bool // the card has reached ATC 65535
}

// take returns the card's next ATC and marks it in flight, unless a
// request of it is in flight (and not yet past timeout: one never answered
// must not hold the card for ever) or its ATCs are spent.
func (p *chipPool) take(now time.Time, timeout time.Duration) (uint16, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done || !p.busySince.IsZero() && now.Sub(p.busySince) <= timeout {
		return 0, false, nil
	}
	if p.used == p.got {
		first, got, err := p.src.ReserveATC(p.key, atcBlock)
		if err != nil {
			return 0, false, err
		}
		if got == 0 {
			p.done = true
			return 0, false, nil
		}
		p.first, p.got, p.used = first, got, 0
	}
	atc := p.first + uint16(p.used)
	p.used++
	p.busySince = now
	return atc, true, nil
}

// answered frees the card for its next request.
func (p *chipPool) answered() {
	p.mu.Lock()
	p.busySince = time.Time{}
	p.mu.Unlock()
}

// release hands the unused end of the block back.
func (p *chipPool) release() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got == 0 {
		return nil
	}
	return p.src.ReleaseATC(p.key, p.first, p.got, p.used)
}

// chipCards are the run's chip cards, taken in turn.
type chipCards struct {
	pools []*chipPool
	mu    sync.Mutex
	next  int // mu guards next
}

func newChipCards(cards []ChipCard, src ATCSource) *chipCards {
	cc := &chipCards{}
	for _, c := range cards {
		cc.pools = append(cc.pools, &chipPool{card: c, key: ATCKey(c.Card.PAN), src: src})
	}
	return cc
}

// take returns a chip card that has no request in flight, and its ATC;
// nil when every one is busy or spent.
func (cc *chipCards) take(now time.Time, timeout time.Duration) (*chipPool, uint16, error) {
	cc.mu.Lock()
	start := cc.next
	cc.next++
	cc.mu.Unlock()
	for i := range cc.pools {
		p := cc.pools[(start+i)%len(cc.pools)]
		atc, ok, err := p.take(now, timeout)
		if err != nil || ok {
			return p, atc, err
		}
	}
	return nil, 0, nil
}

// warnings name the cards whose ATCs are spent.
func (cc *chipCards) warnings() []string {
	var out []string
	for _, p := range cc.pools {
		p.mu.Lock()
		if p.done {
			out = append(out, fmt.Sprintf("chip card %s has used all %d ATCs: the switch refuses it from now on "+
				"(a real card would be reissued; for the demo, start the switch on a fresh data directory)", codec.MaskPAN(p.card.Card.PAN), atcMax))
		}
		p.mu.Unlock()
	}
	return out
}
