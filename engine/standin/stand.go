package standin

import (
	"math"
	"sync"
	"sync/atomic"
)

// Request is what stand-in reads of a request the switch would have
// forwarded to the destination.
type Request struct {
	MTI      [4]byte // as codec.MTI: "0200"
	Proc     uint32  // processing code, six digits as a number (field 3)
	Amount   int64   // minor units (field 4)
	Currency uint16  // ISO 4217 numeric (field 49)
	// PAN is the keyed hash (HMAC) of the card number, as the on-us
	// authorizer keys its card state (engine/auth): stand-in never sees
	// the PAN.
	PAN [32]byte
	Day uint32 // the switch's business day, YYYYMMDD: the daily limits count per Day
	// Expired says the card's expiry date (field 14) has passed, as the
	// caller reads it against its clock: stand-in keeps none.
	Expired bool
	// Remains is, for Reverse, what a partial reversal leaves of the
	// approval (its field 95): the approval still counts, for Remains.
	// 0: reversed whole.
	Remains int64
}

// card is one card's stand-in usage on its business day, and its place
// in the list of cards by last approval. 56 bytes, no pointer.
type card struct {
	pan        [32]byte
	amount     int64
	day        uint32
	count      int32
	prev, next int32 // indexes in Stand.cards; none: -1
}

// Stand is one destination's stand-in: its rules and, per card, the
// business day's approved amount and count. Safe for concurrent use: one
// mutex guards the usage (a Decide or Authorize holds it for a map look-up
// and a few stores: BenchmarkDecideApply); the rules and the negative file
// are read without it.
type Stand struct {
	cfg  Config
	proc [100]bool // allowed processing-code prefixes
	mtis [][4]byte
	// decisions for the rules whose code is configured
	declineMTI, declineProc, declineCurrency Decision

	neg atomic.Pointer[Negative]

	mu sync.Mutex
	// mu guards index, cards, head and tail: the cards tracked, at most
	// cfg.MaxCards, in a list from the most recently approved (head) to
	// the least (tail).
	index      map[[32]byte]int32
	cards      []card
	head, tail int32
}

// New returns a Stand with no usage, deciding by cfg (which must pass
// Validate) and the negative file neg (nil: none).
func New(cfg Config, neg *Negative) *Stand {
	cfg.setDefaults()
	s := &Stand{cfg: cfg, index: map[[32]byte]int32{}, head: -1, tail: -1}
	for _, p := range cfg.Processing {
		if len(p) == 2 && isDigit(p[0]) && isDigit(p[1]) {
			s.proc[int(p[0]-'0')*10+int(p[1]-'0')] = true
		}
	}
	for _, m := range cfg.MTIs {
		if b, ok := requestMTI(m); ok {
			s.mtis = append(s.mtis, b)
		}
	}
	s.declineMTI = Decision{Code: cfg.DeclineCode, Reason: ReasonMTI}
	s.declineProc = Decision{Code: cfg.DeclineCode, Reason: ReasonProcessing}
	s.declineCurrency = Decision{Code: cfg.DeclineCode, Reason: ReasonCurrency}
	s.neg.Store(neg)
	return s
}

// SetNegative swaps in a new negative file (nil: none), for the requests
// decided after it.
func (s *Stand) SetNegative(n *Negative) { s.neg.Store(n) }

// Decide is what stand-in would answer r now. It changes nothing: an
// approval counts only once Apply records it. Checks go in this order:
// enabled, MTI, processing code, currency, the negative file, expiry,
// the amount (negative: 13; over MaxAmount: 61), then the card's day
// (room to track it: 91, daily amount: 61, daily count: 65).
func (s *Stand) Decide(r Request) Decision {
	if d, done := s.rules(&r); done {
		return d
	}
	s.mu.Lock()
	d, _ := s.limitsLocked(&r)
	s.mu.Unlock()
	return d
}

// Authorize decides r as Decide does and, when it approves, records the
// approval as Apply does, in one step: two requests of one card decided
// at once cannot both take its last approval. The engine calls Authorize
// on the live path; it journals the decision before the reply leaves (a
// crash before the record is durable leaves an approval counted that was
// never given, which is the safe way to be wrong until a restart replays
// the journal).
func (s *Stand) Authorize(r Request) Decision {
	if d, done := s.rules(&r); done {
		return d
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, i := s.limitsLocked(&r)
	if d.Approved {
		s.applyLocked(&r, i)
	}
	return d
}

// Apply records d, the decision of r, when it approves (a decline has no
// effect to record). It checks no rule and no limit: the replay calls it
// for every journaled stand-in approval, in journal order, so the usage
// is what the journal says (a limit lowered since then takes effect on
// the requests that follow). An approval of a business day older than the
// card's counts in the card's day: usage only rolls forward. Memory stays
// within MaxCards: a new card at the bound takes the place of the least
// recently approved one, even of today (the replay of a journal written
// under a larger MaxCards loses that card's usage rather than grow).
func (s *Stand) Apply(r Request, d Decision) {
	if !d.Approved || r.Amount < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[r.PAN]
	if !ok {
		i = -1
	}
	s.applyLocked(&r, i)
}

// Reverse takes back an approval of r (the stand-in approval's request:
// its card, amount and business day), and reports whether it did: the
// card's day is still r.Day. A reversal of an approval of an earlier
// day, or of a card no longer tracked, frees nothing (nothing of that day
// is counted any more). Neither the amount nor the count goes below zero.
// A partial reversal (Remains above 0, below Amount) frees the amount
// reversed, and the approval still counts in the card's count. The
// engine calls Reverse once per stand-in approval reversed; the replay
// counts the approvals the journal leaves standing instead.
func (s *Stand) Reverse(r Request) bool {
	if r.Amount < 0 || r.Remains < 0 || r.Remains >= max(r.Amount, 1) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[r.PAN]
	if !ok || s.cards[i].day != r.Day {
		return false
	}
	c := &s.cards[i]
	c.amount = max(c.amount-(r.Amount-r.Remains), 0)
	if r.Remains == 0 {
		c.count = max(c.count-1, 0)
	}
	return true
}

// Cards is the number of cards whose usage is tracked (at most MaxCards).
func (s *Stand) Cards() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.index)
}

// rules decides what needs no usage: done is false when r passes them.
func (s *Stand) rules(r *Request) (d Decision, done bool) {
	switch {
	case !s.cfg.Enabled:
		return disabled, true
	case !s.mtiAllowed(r.MTI):
		return s.declineMTI, true
	case r.Proc > 999_999 || !s.proc[r.Proc/10_000]:
		return s.declineProc, true
	case r.Currency != s.cfg.Currency:
		return s.declineCurrency, true
	}
	if code, ok := s.neg.Load().Code(r.PAN); ok {
		return Decision{Code: code, Reason: ReasonNegative}, true
	}
	switch {
	case r.Expired:
		return expired, true
	case r.Amount < 0:
		return badAmount, true
	case r.Amount > s.cfg.MaxAmount:
		return overAmount, true
	}
	return Decision{}, false
}

func (s *Stand) mtiAllowed(m [4]byte) bool {
	for _, a := range s.mtis {
		if a == m {
			return true
		}
	}
	return false
}

// limitsLocked decides r, which passed the rules, by its card's usage;
// i is the card's index, -1 when it is not tracked.
func (s *Stand) limitsLocked(r *Request) (d Decision, i int32) {
	var amount int64
	var count int32
	i, ok := s.index[r.PAN]
	switch {
	case ok:
		if c := &s.cards[i]; c.day >= r.Day { // of an older day, the usage counts for nothing
			amount, count = c.amount, c.count
		}
	case len(s.index) >= s.cfg.MaxCards && s.cards[s.tail].day >= r.Day:
		return full, -1 // the least recently approved card is of today: no room
	default:
		i = -1
	}
	switch {
	case r.Amount > s.cfg.DailyAmount-amount:
		return overDaily, i
	case int(count) >= s.cfg.DailyCount:
		return overCount, i
	}
	return approve, i
}

// applyLocked counts r's approval for card i (-1: a card not tracked,
// which is added).
func (s *Stand) applyLocked(r *Request, i int32) {
	if i < 0 {
		i = s.addLocked(r.PAN)
	}
	c := &s.cards[i]
	if r.Day > c.day {
		c.day, c.amount, c.count = r.Day, 0, 0
	}
	c.amount = min(c.amount+r.Amount, math.MaxInt64/2) // bounded well before it could wrap
	if c.count < math.MaxInt32 {
		c.count++
	}
	s.unlinkLocked(i)
	s.pushFrontLocked(i)
}

// addLocked tracks a new card and returns its index: a new slot below
// MaxCards, else the least recently approved card's.
func (s *Stand) addLocked(pan [32]byte) int32 {
	if len(s.cards) < s.cfg.MaxCards {
		if len(s.cards) == cap(s.cards) {
			// grow by doubling, never past MaxCards
			grown := make([]card, len(s.cards), min(max(2*cap(s.cards), 64), s.cfg.MaxCards))
			copy(grown, s.cards)
			s.cards = grown
		}
		i := int32(len(s.cards))
		s.cards = append(s.cards, card{pan: pan, prev: -1, next: -1})
		s.pushFrontLocked(i)
		s.index[pan] = i
		return i
	}
	i := s.tail
	delete(s.index, s.cards[i].pan)
	s.cards[i].pan, s.cards[i].day, s.cards[i].amount, s.cards[i].count = pan, 0, 0, 0
	s.index[pan] = i
	return i // applyLocked moves it to the front
}

func (s *Stand) unlinkLocked(i int32) {
	c := &s.cards[i]
	if c.prev >= 0 {
		s.cards[c.prev].next = c.next
	} else if s.head == i {
		s.head = c.next
	}
	if c.next >= 0 {
		s.cards[c.next].prev = c.prev
	} else if s.tail == i {
		s.tail = c.prev
	}
	c.prev, c.next = -1, -1
}

func (s *Stand) pushFrontLocked(i int32) {
	c := &s.cards[i]
	c.prev, c.next = -1, s.head
	if s.head >= 0 {
		s.cards[s.head].prev = i
	}
	s.head = i
	if s.tail < 0 {
		s.tail = i
	}
}
