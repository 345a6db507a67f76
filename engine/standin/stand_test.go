package standin

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

const (
	day    = 20261202
	usd    = 840
	limit  = 100_00
	daily  = 250_00
	counts = 3
)

var base = Config{Enabled: true, Currency: usd, MaxAmount: limit, DailyAmount: daily, DailyCount: counts}

var (
	mti0100 = [4]byte{'0', '1', '0', '0'}
	mti0200 = [4]byte{'0', '2', '0', '0'}
)

// pan is a stand-in for card i's keyed hash.
func pan(i int) [32]byte {
	var h [32]byte
	binary.LittleEndian.PutUint64(h[:], uint64(i)*0x9E3779B97F4A7C15+1)
	binary.LittleEndian.PutUint64(h[8:], uint64(i))
	return h
}

func req(card int, amount int64) Request {
	return Request{MTI: mti0200, Amount: amount, Currency: usd, PAN: pan(card), Day: day}
}

func newStand(t testing.TB, cfg Config, neg *Negative) *Stand {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return New(cfg, neg)
}

// want checks a decision's code, approval and reason.
func want(t *testing.T, what string, d Decision, code string, reason Reason) {
	t.Helper()
	if d.Code != code || d.Reason != reason || d.Approved != (code == Approved) {
		t.Fatalf("%s: %+v, want %s %v", what, d, code, reason)
	}
}

func TestPerTransactionLimit(t *testing.T) {
	s := newStand(t, base, nil)
	want(t, "at the limit", s.Authorize(req(1, limit)), Approved, ReasonApproved)
	want(t, "a cent over", s.Authorize(req(2, limit+1)), OverAmount, ReasonAmount)
	want(t, "below zero", s.Authorize(req(3, -1)), InvalidAmount, ReasonInvalidAmount)
	if s.Cards() != 1 {
		t.Fatalf("cards %d: declines must not track a card", s.Cards())
	}
}

func TestZeroMaxAmountApprovesNoAmount(t *testing.T) {
	s := newStand(t, Config{Enabled: true, Currency: usd}, nil)
	want(t, "1 cent", s.Authorize(req(1, 1)), OverAmount, ReasonAmount)
	want(t, "zero", s.Authorize(req(1, 0)), Approved, ReasonApproved)
}

func TestDailyAmount(t *testing.T) {
	s := newStand(t, base, nil)
	want(t, "first", s.Authorize(req(1, 100_00)), Approved, ReasonApproved)
	want(t, "second", s.Authorize(req(1, 100_00)), Approved, ReasonApproved)
	want(t, "over the day", s.Authorize(req(1, 50_01)), OverAmount, ReasonDailyAmount)
	want(t, "to the day's limit", s.Authorize(req(1, 50_00)), Approved, ReasonApproved)
	want(t, "another card", s.Authorize(req(2, 100_00)), Approved, ReasonApproved)
}

func TestDailyAmountDefaultsToMaxAmount(t *testing.T) {
	s := newStand(t, Config{Enabled: true, Currency: usd, MaxAmount: limit}, nil)
	want(t, "first", s.Authorize(req(1, 60_00)), Approved, ReasonApproved)
	want(t, "past one limit's worth", s.Authorize(req(1, 40_01)), OverAmount, ReasonDailyAmount)
}

func TestDailyCount(t *testing.T) {
	s := newStand(t, base, nil)
	for i := 0; i < counts; i++ {
		want(t, "within the count", s.Authorize(req(1, 1)), Approved, ReasonApproved)
	}
	want(t, "one more", s.Authorize(req(1, 1)), OverCount, ReasonCount)
	want(t, "another card", s.Authorize(req(2, 1)), Approved, ReasonApproved)
}

func TestNewDayStartsFromZero(t *testing.T) {
	s := newStand(t, base, nil)
	for i := 0; i < counts; i++ {
		s.Authorize(req(1, 1))
	}
	want(t, "spent", s.Authorize(req(1, 1)), OverCount, ReasonCount)
	next := req(1, 100_00)
	next.Day = day + 1
	for i := 0; i < 2; i++ {
		want(t, "next day", s.Authorize(next), Approved, ReasonApproved)
	}
	want(t, "next day's amount", s.Authorize(Request{MTI: mti0200, Currency: usd, PAN: pan(1), Day: day + 1, Amount: 50_01}), OverAmount, ReasonDailyAmount)
	if s.Cards() != 1 {
		t.Fatalf("cards %d, want 1: the day's usage replaces the old day's", s.Cards())
	}
}

func TestOlderDayCountsInTheCardsDay(t *testing.T) {
	s := newStand(t, base, nil)
	late := req(1, 1)
	s.Authorize(Request{MTI: mti0200, Currency: usd, PAN: pan(1), Day: day + 1, Amount: 1})
	for i := 1; i < counts; i++ {
		want(t, "a request of the day before", s.Authorize(late), Approved, ReasonApproved)
	}
	want(t, "the newer day is spent", s.Authorize(Request{MTI: mti0200, Currency: usd, PAN: pan(1), Day: day + 1}), OverCount, ReasonCount)
}

func TestProcessingCodesAndMTIs(t *testing.T) {
	cashToo := base
	cashToo.Processing = []string{"00", "01"}
	cashToo.MTIs = []string{"0200"}
	cases := []struct {
		name   string
		cfg    Config
		mti    [4]byte
		proc   uint32
		code   string
		reason Reason
	}{
		{"purchase 0200", base, mti0200, 0, Approved, ReasonApproved},
		{"purchase 0100", base, mti0100, 3000, Approved, ReasonApproved}, // 00 3000: purchase from a credit account
		{"cash by default", base, mti0200, 10000, DoNotHonour, ReasonProcessing},
		{"balance by default", base, mti0200, 310000, DoNotHonour, ReasonProcessing},
		{"seven digits", base, mti0200, 1_000_000, DoNotHonour, ReasonProcessing},
		{"an advice", base, [4]byte{'0', '2', '2', '0'}, 0, DoNotHonour, ReasonMTI},
		{"a reversal", base, [4]byte{'0', '4', '0', '0'}, 0, DoNotHonour, ReasonMTI},
		{"a repeat not listed", base, [4]byte{'0', '2', '0', '1'}, 0, DoNotHonour, ReasonMTI},
		{"cash allowed", cashToo, mti0200, 10000, Approved, ReasonApproved},
		{"purchase allowed", cashToo, mti0200, 0, Approved, ReasonApproved},
		{"refund not", cashToo, mti0200, 200000, DoNotHonour, ReasonProcessing},
		{"0100 not listed", cashToo, mti0100, 0, DoNotHonour, ReasonMTI},
		{"decline code 91", Config{Enabled: true, Currency: usd, MaxAmount: limit, DeclineCode: "91"}, mti0200, 10000, Inoperative, ReasonProcessing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStand(t, c.cfg, nil)
			r := req(1, 1)
			r.MTI, r.Proc = c.mti, c.proc
			want(t, "decide", s.Decide(r), c.code, c.reason)
			want(t, "authorize", s.Authorize(r), c.code, c.reason)
		})
	}
}

func TestCurrencyAndDisabled(t *testing.T) {
	s := newStand(t, base, nil)
	r := req(1, 1)
	r.Currency = 978
	want(t, "euros against dollar limits", s.Authorize(r), DoNotHonour, ReasonCurrency)
	off := newStand(t, Config{}, nil)
	want(t, "disabled", off.Authorize(req(1, 1)), Inoperative, ReasonDisabled)
	if off.Cards() != 0 || s.Cards() != 0 {
		t.Fatal("a decline tracked a card")
	}
}

func TestNegativeFile(t *testing.T) {
	neg, err := NewNegative(map[[32]byte]string{pan(1): "41", pan(2): "43", pan(3): "", pan(4): "14"})
	if err != nil {
		t.Fatal(err)
	}
	if neg.Len() != 4 {
		t.Fatalf("len %d", neg.Len())
	}
	s := newStand(t, base, neg)
	for card, code := range map[int]string{1: "41", 2: "43", 3: RestrictedCard, 4: "14"} {
		want(t, "listed", s.Authorize(req(card, 1)), code, ReasonNegative)
	}
	want(t, "not listed", s.Authorize(req(5, 1)), Approved, ReasonApproved)
	expired := req(1, limit+1)
	expired.Expired = true
	want(t, "listed, expired and over the limit", s.Authorize(expired), "41", ReasonNegative)

	s.SetNegative(nil)
	want(t, "after the file is emptied", s.Authorize(req(1, 1)), Approved, ReasonApproved)
	s.SetNegative(neg)
	want(t, "after it is back", s.Authorize(req(1, 1)), "41", ReasonNegative)
}

func TestNegativeFileErrors(t *testing.T) {
	for _, code := range []string{"00", "10", "5", "051", "a1", "\x00\x00"} {
		if _, err := NewNegative(map[[32]byte]string{pan(1): code}); !errors.Is(err, ErrNegative) {
			t.Errorf("code %q: %v", code, err)
		}
	}
	many := map[[32]byte]string{}
	for i := 0; i <= maxNegativeCodes; i++ {
		many[pan(i)] = string([]byte{'A' + byte(i/36), "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i%36]})
	}
	if _, err := NewNegative(many); !errors.Is(err, ErrNegative) {
		t.Errorf("%d distinct codes: %v", len(many), err)
	}
	delete(many, pan(0))
	if _, err := NewNegative(many); err != nil {
		t.Errorf("%d distinct codes: %v", len(many), err)
	}
	var none *Negative
	if _, ok := none.Code(pan(1)); ok || none.Len() != 0 {
		t.Error("a nil file lists a card")
	}
}

func TestExpiredCard(t *testing.T) {
	s := newStand(t, base, nil)
	r := req(1, 1)
	r.Expired = true
	want(t, "expired", s.Authorize(r), Expired, ReasonExpired)
	r.Expired = false
	want(t, "in date", s.Authorize(r), Approved, ReasonApproved)
}

func TestReverseFreesTheLimit(t *testing.T) {
	s := newStand(t, base, nil)
	r := req(1, 100_00)
	s.Authorize(r)
	s.Authorize(r)
	s.Authorize(req(1, 50_00))
	want(t, "count spent", s.Authorize(req(1, 0)), OverCount, ReasonCount)
	if !s.Reverse(r) {
		t.Fatal("reverse of today's approval took nothing back")
	}
	want(t, "over the amount freed", s.Authorize(req(1, 100_01)), OverAmount, ReasonAmount)
	want(t, "the amount freed", s.Authorize(req(1, 100_00)), Approved, ReasonApproved)
	want(t, "count spent again", s.Authorize(req(1, 0)), OverCount, ReasonCount)

	if s.Reverse(req(2, 1)) {
		t.Error("reverse of a card not tracked took something back")
	}
	old := r
	old.Day = day - 1
	if s.Reverse(old) {
		t.Error("reverse of an older day's approval took something back")
	}
	for i := 0; i < 5; i++ {
		s.Reverse(r)
	}
	c := s.cards[s.index[pan(1)]]
	if c.amount != 0 || c.count != 0 {
		t.Fatalf("after more reversals than approvals: amount %d count %d, want 0 and 0", c.amount, c.count)
	}
}

// A partial reversal frees what it reverses and leaves the approval in
// the card's count; a replacement not below the amount frees nothing.
func TestPartialReverseFreesPart(t *testing.T) {
	s := newStand(t, base, nil)
	r := req(1, 100_00)
	s.Authorize(r)
	for _, bad := range []int64{100_00, 200_00, -1} {
		p := r
		p.Remains = bad
		if s.Reverse(p) {
			t.Fatalf("a reversal leaving %d of 100_00 took something back", bad)
		}
	}
	p := r
	p.Remains = 30_00
	if !s.Reverse(p) {
		t.Fatal("a partial reversal took nothing back")
	}
	c := s.cards[s.index[pan(1)]]
	if c.amount != 30_00 || c.count != 1 {
		t.Fatalf("after a partial reversal leaving 30_00: amount %d count %d, want 3000 and 1", c.amount, c.count)
	}
}

func TestDecideChangesNothing(t *testing.T) {
	s := newStand(t, base, nil)
	for i := 0; i < 10; i++ {
		want(t, "decide", s.Decide(req(1, 100_00)), Approved, ReasonApproved)
	}
	if s.Cards() != 0 {
		t.Fatalf("Decide tracked %d cards", s.Cards())
	}
	d := s.Decide(req(1, 100_00))
	s.Apply(req(1, 100_00), d)
	s.Apply(req(1, 100_00), Decision{Code: DoNotHonour, Reason: ReasonMTI})
	s.Apply(req(1, 100_00), d)
	want(t, "after two approvals applied", s.Decide(req(1, 50_01)), OverAmount, ReasonDailyAmount)
	want(t, "the decline applied counts for nothing", s.Decide(req(1, 50_00)), Approved, ReasonApproved)
}

func TestMaxCardsBound(t *testing.T) {
	const n = 100
	cfg := base
	cfg.MaxCards = n
	s := newStand(t, cfg, nil)
	for i := 0; i < n; i++ {
		want(t, "room", s.Authorize(req(i, 1)), Approved, ReasonApproved)
	}
	want(t, "a new card, every card of today", s.Decide(req(n, 1)), Inoperative, ReasonFull)
	want(t, "a new card, every card of today", s.Authorize(req(n, 1)), Inoperative, ReasonFull)
	want(t, "a card tracked", s.Authorize(req(0, 1)), Approved, ReasonApproved)

	// the next two days, n new cards each (2*n in all): each takes the
	// slot of the least recently approved card of an older day
	for i := n; i < 3*n; i++ {
		r := req(i, 1)
		r.Day = day + uint32(i/n)
		want(t, "a new day", s.Authorize(r), Approved, ReasonApproved)
		if s.Cards() > n || len(s.cards) > n || cap(s.cards) > n || len(s.index) > n {
			t.Fatalf("card %d: %d cards, %d slots (cap %d), %d indexed: over %d", i, s.Cards(), len(s.cards), cap(s.cards), len(s.index), n)
		}
		if i == 2*n-2 {
			// card 0, approved last on the first day, goes last
			if _, ok := s.index[pan(0)]; !ok {
				t.Fatal("card 0 went before the cards approved before it")
			}
			if _, ok := s.index[pan(n-1)]; ok {
				t.Fatalf("card %d still tracked", n-1)
			}
		}
	}
	if s.Cards() != n {
		t.Fatalf("%d cards, want %d", s.Cards(), n)
	}
	for i := 2 * n; i < 3*n; i++ {
		if _, ok := s.index[pan(i)]; !ok {
			t.Fatalf("card %d of the last day is not tracked", i)
		}
	}
	r := req(3*n, 1)
	r.Day = day + 2
	want(t, "one more of the last day", s.Authorize(r), Inoperative, ReasonFull)
	checkList(t, s)
}

func TestApplyStaysWithinMaxCards(t *testing.T) {
	const n = 64
	cfg := base
	cfg.MaxCards = n
	s := newStand(t, cfg, nil)
	for i := 0; i < 2*n; i++ {
		s.Apply(req(i, 1), approve)
	}
	if s.Cards() != n || len(s.cards) != n {
		t.Fatalf("%d cards, %d slots after %d applied, want %d", s.Cards(), len(s.cards), 2*n, n)
	}
	for i := n; i < 2*n; i++ {
		if _, ok := s.index[pan(i)]; !ok {
			t.Fatalf("card %d, of the last %d applied, is gone", i, n)
		}
	}
	checkList(t, s)
}

// checkList checks the invariants of the list of cards: every slot on it
// once, in both directions, and indexed by its PAN.
func checkList(t *testing.T, s *Stand) {
	t.Helper()
	seen, prev := 0, int32(-1)
	for i := s.head; i >= 0; i = s.cards[i].next {
		if s.cards[i].prev != prev {
			t.Fatalf("slot %d: prev %d, want %d", i, s.cards[i].prev, prev)
		}
		if s.index[s.cards[i].pan] != i {
			t.Fatalf("slot %d not indexed", i)
		}
		prev = i
		if seen++; seen > len(s.cards) {
			t.Fatal("the list loops")
		}
	}
	if prev != s.tail || seen != len(s.cards) || seen != len(s.index) {
		t.Fatalf("list: %d slots ending at %d; tail %d, %d slots, %d indexed", seen, prev, s.tail, len(s.cards), len(s.index))
	}
}

// TestReplayGivesTheLiveState: the approvals and reversals of a live run,
// applied in order to a new Stand, leave every card as the live run did.
func TestReplayGivesTheLiveState(t *testing.T) {
	cfg := base
	cfg.MaxCards = 50
	live := newStand(t, cfg, nil)
	replay := newStand(t, cfg, nil)
	type event struct {
		r       Request
		reverse bool
	}
	var journal []event
	var approved []Request
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		r := req(rng.IntN(80), rng.Int64N(limit+limit/4))
		r.Day = day + uint32(i/1000)
		if len(approved) > 0 && rng.IntN(10) == 0 {
			j := rng.IntN(len(approved))
			live.Reverse(approved[j])
			journal = append(journal, event{approved[j], true})
			approved = append(approved[:j], approved[j+1:]...)
			continue
		}
		if d := live.Authorize(r); d.Approved {
			journal = append(journal, event{r, false})
			approved = append(approved, r)
		}
	}
	for _, e := range journal {
		if e.reverse {
			replay.Reverse(e.r)
		} else {
			replay.Apply(e.r, approve)
		}
	}
	if live.Cards() != replay.Cards() {
		t.Fatalf("cards: live %d, replay %d", live.Cards(), replay.Cards())
	}
	for p, i := range live.index {
		j, ok := replay.index[p]
		a, b := live.cards[i], replay.cards[j]
		if !ok || a.day != b.day || a.amount != b.amount || a.count != b.count {
			t.Fatalf("card %x: live %+v, replay %+v (tracked: %v)", p[:4], a, b, ok)
		}
	}
}

// TestConcurrentAuthorizeKeepsTheCount: many workers on one card never
// approve more than its daily count and amount, under -race.
func TestConcurrentAuthorizeKeepsTheCount(t *testing.T) {
	cfg := base
	cfg.DailyCount = 7
	cfg.DailyAmount = 1_000_00
	s := newStand(t, cfg, nil)
	var approvals, amount atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				r := req(1, 100_00)
				if i%4 == 0 {
					r = req(2+g, 1) // other cards, on the same lock
				}
				s.Decide(r)
				if d := s.Authorize(r); d.Approved && r.PAN == pan(1) {
					approvals.Add(1)
					amount.Add(r.Amount)
				}
			}
		}()
	}
	wg.Wait()
	if approvals.Load() != int64(cfg.DailyCount) {
		t.Fatalf("%d approvals of one card, want its daily count %d", approvals.Load(), cfg.DailyCount)
	}
	if amount.Load() > cfg.DailyAmount {
		t.Fatalf("approved %d, over the daily amount %d", amount.Load(), cfg.DailyAmount)
	}
	checkList(t, s)
}

// TestAuthorizeIsOneStep: workers released together on a card with one
// approval a day, day after day: each day approves it once. A Decide and
// an Apply under two holds of the lock let a second worker decide between
// them, which this catches within a few hundred days under -race (the
// detector's scheduling widens the window; without it the window is a
// few nanoseconds and the test seldom sees it).
func TestAuthorizeIsOneStep(t *testing.T) {
	const workers, days = 8, 3000
	cfg := base
	cfg.DailyCount = 1
	s := newStand(t, cfg, nil)
	var approvals [days]atomic.Int32
	var arrive [days]sync.WaitGroup // a barrier per day: every worker arrives, then all go
	for d := range arrive {
		arrive[d].Add(workers)
	}
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := 0; d < days; d++ {
				arrive[d].Done()
				arrive[d].Wait()
				r := req(1, 1)
				r.Day = day + uint32(d)
				for i := 0; i < 4; i++ {
					if s.Authorize(r).Approved {
						approvals[d].Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	for d := range approvals {
		if n := approvals[d].Load(); n != 1 {
			t.Fatalf("day %d: %d approvals of a card with one a day", d, n)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := map[string]Config{
		"enabled without currency":    {Enabled: true},
		"currency over 999":           {Currency: 1000},
		"negative max amount":         {Enabled: true, Currency: usd, MaxAmount: -1},
		"max amount over 12 digits":   {Enabled: true, Currency: usd, MaxAmount: 1_000_000_000_000},
		"negative daily amount":       {Enabled: true, Currency: usd, DailyAmount: -1},
		"daily amount over 12 digits": {Enabled: true, Currency: usd, DailyAmount: 1_000_000_000_000},
		"negative daily count":        {Enabled: true, Currency: usd, DailyCount: -1},
		"daily count too high":        {Enabled: true, Currency: usd, DailyCount: maxDailyCount + 1},
		"negative max cards":          {Enabled: true, Currency: usd, MaxCards: -1},
		"max cards too high":          {Enabled: true, Currency: usd, MaxCards: maxCardsLimit + 1},
		"processing of 1 digit":       {Enabled: true, Currency: usd, Processing: []string{"0"}},
		"processing of 6 digits":      {Enabled: true, Currency: usd, Processing: []string{"000000"}},
		"processing not digits":       {Enabled: true, Currency: usd, Processing: []string{"0a"}},
		"an advice MTI":               {Enabled: true, Currency: usd, MTIs: []string{"0220"}},
		"a reversal MTI":              {Enabled: true, Currency: usd, MTIs: []string{"0400"}},
		"a response MTI":              {Enabled: true, Currency: usd, MTIs: []string{"0210"}},
		"a short MTI":                 {Enabled: true, Currency: usd, MTIs: []string{"200"}},
		"decline code 00":             {Enabled: true, Currency: usd, DeclineCode: "00"},
		"decline code 1 char":         {Enabled: true, Currency: usd, DeclineCode: "5"},
		"decline code lowercase":      {Enabled: true, Currency: usd, DeclineCode: "a0"},
		"too many prefixes":           {Enabled: true, Currency: usd, Processing: make([]string, maxListLen+1)},
	}
	for name, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	good := map[string]Config{
		"zero":    {},
		"base":    base,
		"full":    {Enabled: true, Currency: 978, MaxAmount: 999_999_999_999, DailyAmount: 999_999_999_999, DailyCount: maxDailyCount, MaxCards: maxCardsLimit, Processing: []string{"00", "01", "31"}, MTIs: []string{"0100", "0200", "0201", "1200"}, DeclineCode: "91"},
		"A0 code": {Enabled: true, Currency: usd, DeclineCode: "A0"},
	}
	for name, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestIndicator(t *testing.T) {
	seen := map[string]Reason{}
	for r := ReasonNone; r <= reasonEnd; r++ {
		text := Indicator(r)
		if len(text) > IndicatorMax || len(text) <= len(IndicatorPrefix) || text[:len(IndicatorPrefix)] != IndicatorPrefix {
			t.Errorf("reason %d: indicator %q", r, text)
		}
		for i := 0; i < len(text); i++ {
			if text[i] < 0x21 || text[i] > 0x7e {
				t.Errorf("reason %d: indicator %q is not printable ASCII", r, text)
			}
		}
		if r == reasonEnd {
			if text != Indicator(ReasonNone) {
				t.Errorf("an unknown reason: %q", text)
			}
			continue
		}
		if o, dup := seen[text]; dup {
			t.Errorf("reasons %d and %d share %q", o, r, text)
		}
		seen[text] = r
		if text != IndicatorPrefix+r.String() {
			t.Errorf("reason %d: %q is not the prefix and %q", r, text, r.String())
		}
	}
	if Indicator(ReasonApproved) != "STIP:approved" {
		t.Errorf("approved: %q", Indicator(ReasonApproved))
	}
}

func TestAuthorizeDoesNotAllocate(t *testing.T) {
	neg, _ := NewNegative(map[[32]byte]string{pan(9): "43"})
	s := newStand(t, base, neg)
	s.Authorize(req(1, 1))
	r, listed := req(1, 1), req(9, 1)
	if n := testing.AllocsPerRun(1000, func() {
		s.Authorize(r)
		s.Decide(listed)
		s.Reverse(r)
	}); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}

// TestBytesPerCard measures the memory a tracked card takes, the figure
// Config.MaxCards's comment gives.
func TestBytesPerCard(t *testing.T) {
	const n = 1 << 16
	cfg := base
	cfg.MaxCards = n
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := New(cfg, nil)
	for i := 0; i < n; i++ {
		s.Apply(req(i, 1), approve)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes per card", per)
	if per > 150 {
		t.Fatalf("%.0f bytes per card, over the 150 Config.MaxCards's comment allows for", per)
	}
	runtime.KeepAlive(s)
}

func BenchmarkDecideApply(b *testing.B) {
	cfg := base
	cfg.DailyCount = maxDailyCount
	cfg.DailyAmount = maxAmountLimit
	s := newStand(b, cfg, nil)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := req(i&1023, 1)
		s.Apply(r, s.Decide(r))
	}
}

func BenchmarkAuthorize(b *testing.B) {
	cfg := base
	cfg.DailyCount = maxDailyCount
	cfg.DailyAmount = maxAmountLimit
	s := newStand(b, cfg, nil)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Authorize(req(i&1023, 1))
	}
}

// BenchmarkAuthorizeParallel: the workers of the engine on one Stand, one
// mutex between them.
func BenchmarkAuthorizeParallel(b *testing.B) {
	cfg := base
	cfg.DailyCount = maxDailyCount
	cfg.DailyAmount = maxAmountLimit
	s := newStand(b, cfg, nil)
	var seq atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		g := int(seq.Add(1)) << 10
		for i := 0; pb.Next(); i++ {
			s.Authorize(req(g+i&1023, 1)) // 1024 cards per worker
		}
	})
}
