package auth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
)

// fuzzIssuer: one card on one small account; a per-transaction maximum and
// daily amount and count limits that the operations reach often.
const fuzzIssuer = `
keys: {pvk: U1D3923B426280093FEABD1824D622FEB, pvki: 1}
profiles:
  - {name: standard, per_txn_max: 8000, daily_amount: 25000, daily_count: 6}
pin_tries: 3
completion_tolerance_percent: 15
accounts: [{id: ACC-1, currency: "840", balance: 20000}]
cards: [{pan: "4111110000000013", expiry: "2812", status: active, account: ACC-1}]
merchants: [{id: M1, name: SHOP, mcc: "5411", status: active}]
terminals: [{id: T1, merchant: M1, status: active}]
`

const (
	fzBalance  = 20000
	fzPerTxn   = 8000
	fzDaily    = 25000
	fzDailyCnt = 6
)

// mkey is the model's name of a message: its Ref and MTI class.
type mkey struct {
	ref   Ref
	class byte
}

// mtxn is the model's view of one transaction.
type mtxn struct {
	kind      Kind
	amount    int64
	date      uint32
	applied   bool  // its effect is in force
	reversed  bool  // a reversal named it: another one does nothing
	debit     int64 // its effect, as the spec says it
	hold      int64
	usage     int64
	count     int
	held      int64 // a pre-authorization's completable hold
	pre       *mtxn // a completion's pre-authorization
	completed bool  // a pre-authorization a completion absorbed
}

// sent is a message the fuzz sent first time, to repeat or duplicate.
type sent struct {
	r    Request
	code string
}

// model predicts every answer and the account and card state.
type model struct {
	t           testing.TB
	a           *Authorizer
	delta, held int64
	date        uint32
	usage       int64
	count       int
	txns        map[mkey]*mtxn
	placeholder map[mkey]bool
	log         []sent
	order       []mkey // originals in the order sent, for the final sweep
	stan        uint32
	trace       []traced
}

// traced is one request and its answer, formatted only on a failure.
type traced struct {
	r    Request
	code string
}

func (x traced) String() string {
	r := x.r
	return fmt.Sprintf("%s %06d stan=%d ldate=%d amt=%d orig=%d/%c date=%d -> %s",
		r.MTI, r.Proc, r.STAN, r.LocalDate, r.Amount, r.Original.STAN, r.OriginalClass|'0', r.BusinessDate, x.code)
}

// fuzzData is parsed once: issuer data is read-only once parsed, and
// parsing per input would be most of an execution.
var fuzzData = sync.OnceValues(func() (*issuer.Data, error) { return issuer.Parse([]byte(fuzzIssuer)) })

func newModel(t testing.TB) *model {
	d, err := fuzzData()
	if err != nil {
		t.Fatal(err)
	}
	// Declines are kept as long as approvals: the model remembers every
	// answer, for repeats and duplicates, over its few business dates.
	a := newAuth(t, d, Limits{DeclineWindow: defaultRetention})
	return &model{t: t, a: a, date: 20260115, txns: map[mkey]*mtxn{}, placeholder: map[mkey]bool{}}
}

func (m *model) available() int64 { return fzBalance + m.delta - m.held }

func (m *model) request(mti string, tt uint32, amount int64) *Request {
	m.stan++
	pan := []byte("4111110000000013")
	r := &Request{Proc: tt * 10000, PAN: pan, PANHash: sha256PAN(pan), Amount: amount, Terminal: "T1",
		Merchant: "M1", EntryMode: 50, STAN: m.stan, LocalDate: m.date % 10000, BusinessDate: m.date, Today: 2601,
		Received: dayStart(m.date) + int64(m.stan)}
	r.MTI, _ = codec.ParseMTI(mti)
	return r
}

func (m *model) failf(format string, args ...any) {
	m.t.Helper()
	lines := make([]string, len(m.trace))
	for i, x := range m.trace {
		lines[i] = x.String()
	}
	m.t.Fatalf("%s\ntrace:\n  %s", fmt.Sprintf(format, args...), strings.Join(lines, "\n  "))
}

// send decides r, checks the code against want (any of them) and the state.
func (m *model) send(r *Request, want ...string) string {
	m.t.Helper()
	d := m.a.Decide(r, func(*issuer.Card) (bool, error) { return true, nil }, testApproval)
	m.trace = append(m.trace, traced{*r, d.Code})
	ok := false
	for _, w := range want {
		ok = ok || d.Code == w
	}
	if !ok {
		m.failf("%s: got %s, want %v", r.Kind(), d.Code, want)
	}
	if !r.MTI.IsRepeat() && d.Code != Duplicate {
		m.log = append(m.log, sent{*r, d.Code})
	}
	return d.Code
}

// check compares the authorizer's state with the model's.
func (m *model) check(approvedDebit bool) {
	m.t.Helper()
	avail, held, delta := accountState(m.a, "ACC-1")
	switch {
	case held < 0:
		m.failf("held %d < 0", held)
	case approvedDebit && avail < 0:
		m.failf("an approved debit left available %d < 0", avail)
	case held != m.held || delta != m.delta:
		m.failf("account held %d delta %d, model %d %d", held, delta, m.held, m.delta)
	}
	u, _, _ := cardState(m.a, sha256PAN([]byte("4111110000000013")), m.date)
	if u.amount != m.usage || int(u.count) != m.count {
		m.failf("card usage %d/%d, model %d/%d", u.amount, u.count, m.usage, m.count)
	}
}

// late reports (and forgets) a reversal that came before r.
func (m *model) late(r *Request) bool {
	k := mkey{r.Ref(), r.MTI.Class()}
	if m.placeholder[k] {
		delete(m.placeholder, k)
		m.txns[k] = &mtxn{kind: r.Kind(), reversed: true}
		return true
	}
	return false
}

func (m *model) apply(k mkey, t *mtxn) {
	m.delta -= t.debit
	m.held += t.hold
	m.usage += t.usage
	m.count += t.count
	t.applied, t.date = true, m.date
	m.txns[k] = t
	m.order = append(m.order, k)
}

func (m *model) undo(t *mtxn) {
	if !t.applied {
		return
	}
	t.applied = false
	m.delta += t.debit
	m.held -= t.hold
	if t.date == m.date {
		m.usage -= t.usage
		m.count -= t.count
	}
}

// debit sends a purchase (0200/00), cash (0200/01) or pre-authorization (0100/00).
func (m *model) debit(mti string, tt uint32, amount int64) {
	r := m.request(mti, tt, amount)
	k := mkey{r.Ref(), r.MTI.Class()}
	want := Approved
	switch {
	case m.late(r):
		want = DoNotHonour
	case amount > fzPerTxn || m.usage+amount > fzDaily:
		want = OverAmount
	case m.count+1 > fzDailyCnt:
		want = OverCount
	case amount > m.available():
		want = NoFunds
	}
	m.send(r, want)
	if want == Approved {
		t := &mtxn{kind: r.Kind(), amount: amount, usage: amount, count: 1}
		if r.Kind() == KindPreauth {
			t.hold, t.held = amount, amount
		} else {
			t.debit = amount
		}
		m.apply(k, t)
	} else if m.txns[k] == nil {
		m.txns[k] = &mtxn{kind: r.Kind()}
	}
	m.check(want == Approved)
}

func (m *model) refund(amount int64) {
	r := m.request("0200", 20, amount)
	k := mkey{r.Ref(), '2'}
	if m.late(r) {
		m.send(r, DoNotHonour)
	} else {
		m.send(r, Approved)
		m.apply(k, &mtxn{kind: KindRefund, amount: amount, debit: -amount})
	}
	m.check(false)
}

// complete sends a completion of the pre-authorization pre, for pct
// percent of its amount.
func (m *model) complete(preKey mkey, pct int64) {
	pre := m.txns[preKey]
	amount := pre.amount * pct / 100
	if amount <= 0 {
		amount = 1
	}
	held := pre.held
	r := m.request("0220", 0, amount)
	r.Original, r.OriginalClass, r.HasOriginal = preKey.ref, '1', true
	k := mkey{r.Ref(), '2'}
	want := Approved
	switch {
	case m.late(r):
		want = DoNotHonour
	case pre.kind != KindPreauth:
		want = OriginalMissing
	case pre.completed:
		want = InvalidTxn
	case !pre.applied || pre.held <= 0:
		want = OriginalMissing
	case amount*100 > pre.held*115:
		want = InvalidAmount
	case amount-pre.held > 0 && (amount > fzPerTxn || m.usage+amount-pre.held > fzDaily):
		want = OverAmount
	case amount-pre.held > 0 && amount-pre.held > m.available(): // funds only for what exceeds the hold
		want = NoFunds
	}
	m.send(r, want)
	if want == Approved {
		t := &mtxn{kind: KindCompletion, amount: amount, debit: amount, hold: -pre.held, usage: amount - pre.held, pre: pre}
		m.apply(k, t)
		// the completion absorbs its pre-authorization: undoing it undoes
		// both (the pre-authorization's usage only if it counted today)
		t.hold += pre.hold
		if pre.date == m.date {
			t.usage, t.count = t.usage+pre.usage, t.count+pre.count
		}
		pre.held, pre.applied, pre.completed = 0, false, true
	} else if m.txns[k] == nil {
		m.txns[k] = &mtxn{kind: KindCompletion}
	}
	m.check(want == Approved && amount > held) // below its hold, a completion needs no funds
}

func (m *model) void(origKey mkey) {
	r := m.request("0200", 2, 0)
	r.Original, r.OriginalClass, r.HasOriginal = origKey.ref, '2', true
	o := m.txns[mkey{origKey.ref, '2'}]
	want := []string{Approved}
	switch {
	case m.late(r):
		want = []string{DoNotHonour}
	case o == nil:
		want = []string{OriginalMissing}
	case !o.applied, o.kind != KindPurchase && o.kind != KindCompletion, o.date != m.date:
		want = []string{InvalidTxn} // found, but it cannot be voided
	}
	m.send(r, want...)
	if want[0] == Approved {
		m.undo(o)
	}
	m.txns[mkey{r.Ref(), '2'}] = &mtxn{kind: KindVoid}
	m.check(false)
}

// reverse sends a reversal of the original named by k (seen or not).
func (m *model) reverse(k mkey, advice bool) {
	mti := "0400"
	if advice {
		mti = "0420"
	}
	o := m.txns[k]
	r := m.request(mti, 0, 0)
	r.Original, r.OriginalClass, r.HasOriginal = k.ref, k.class, true
	m.send(r, Approved)
	m.txns[mkey{r.Ref(), '4'}] = &mtxn{kind: KindReversal}
	switch {
	case o == nil && !m.placeholder[k]:
		m.placeholder[k] = true
	case o != nil && !o.reversed:
		o.reversed = true
		m.undo(o)
	}
	m.check(false)
}

// again resends an earlier message: as a repeat (the stored answer, no
// effect) or as a duplicate (94, no effect).
func (m *model) again(i int, repeat bool) {
	if len(m.log) == 0 {
		return
	}
	s := m.log[i%len(m.log)]
	r := s.r
	want := Duplicate
	if repeat {
		r.MTI[3] = '1'
		want = s.code
	}
	before := [3]int64{m.delta, m.held, m.usage}
	m.send(&r, want)
	if before != [3]int64{m.delta, m.held, m.usage} {
		m.failf("model moved on a repeat")
	}
	m.check(false)
}

// keys lists the originals of a kind, for ops that name one.
func (m *model) pick(b byte, kinds ...Kind) (mkey, bool) {
	var ks []mkey
	for _, k := range m.order {
		for _, kind := range kinds {
			if m.txns[k].kind == kind {
				ks = append(ks, k)
			}
		}
	}
	if len(ks) == 0 {
		return mkey{}, false
	}
	return ks[int(b)%len(ks)], true
}

// step runs one operation read from three bytes.
func (m *model) step(op, x, y byte) {
	amount := 1 + (int64(x)<<8|int64(y))%9000
	switch op % 12 {
	case 0:
		m.debit("0200", 0, amount)
	case 1:
		m.debit("0200", 1, amount)
	case 2:
		m.debit("0100", 0, amount)
	case 3:
		if k, ok := m.pick(x, KindPreauth); ok {
			m.complete(k, 50+int64(y)%80) // 50% to 129%
		}
	case 4:
		if k, ok := m.pick(x, KindPurchase, KindCompletion, KindCash, KindRefund); ok {
			m.void(k)
		}
	case 5:
		m.refund(1 + amount%3000)
	case 6, 7:
		if k, ok := m.pick(x, KindPurchase, KindCash, KindPreauth, KindCompletion, KindRefund, KindVoid); ok {
			m.reverse(k, y%2 == 1)
		}
	case 8:
		m.again(int(x), true)
	case 9:
		m.again(int(x), false)
	case 10: // a reversal before its original: the next STAN
		class := byte('2')
		if y%2 == 1 {
			class = '1'
		}
		m.reverse(mkey{Ref{"T1", m.stan + 1, m.date % 10000}, class}, false)
	case 11:
		// A new business date, up to five of them: all within the
		// retention, so the model keeps every transaction.
		if x%4 == 0 && m.date < 20260120 {
			m.date++
			m.usage, m.count = 0, 0
		} else {
			m.debit("0200", 0, 1+amount%500)
		}
	}
}

// sweep reverses every original, latest first (a completion before its
// pre-authorization), twice: the account must be back where it began.
func (m *model) sweep() {
	for pass := 0; pass < 2; pass++ {
		for i := len(m.order) - 1; i >= 0; i-- {
			m.reverse(m.order[i], pass == 1)
		}
	}
	avail, held, _ := accountState(m.a, "ACC-1")
	if avail != fzBalance || held != 0 || m.available() != fzBalance {
		m.failf("after reversing everything: available %d held %d (model %d), want %d and 0", avail, held, m.available(), fzBalance)
	}
}

func runOps(t testing.TB, ops []byte) {
	m := newModel(t)
	if len(ops) > 3*150 {
		ops = ops[:3*150] // a bound on one input: 150 operations (and 2 x as many reversals in the sweep)
	}
	for i := 0; i+2 < len(ops); i += 3 {
		m.step(ops[i], ops[i+1], ops[i+2])
	}
	m.sweep()
}

func FuzzLifeCycle(f *testing.F) {
	f.Add([]byte{0, 1, 2, 2, 3, 4, 3, 0, 60, 6, 0, 1, 8, 0, 0, 9, 0, 0})
	f.Add([]byte{2, 10, 10, 3, 0, 100, 3, 0, 10, 7, 1, 1, 7, 0, 0, 5, 20, 20})
	f.Add([]byte{0, 0, 50, 4, 0, 0, 4, 0, 0, 6, 0, 0, 11, 0, 0, 0, 0, 80, 4, 0, 0})
	f.Add([]byte{10, 0, 0, 0, 1, 1, 10, 0, 1, 2, 1, 1, 8, 1, 0, 9, 1, 0})
	f.Add([]byte{0, 30, 0, 0, 30, 0, 1, 30, 0, 2, 30, 0, 0, 30, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, ops []byte) { runOps(t, ops) })
}

// TestLifeCycleProperty runs the fuzz target's model over seeded random
// operation sequences, so plain `go test` covers far more than the seeds.
func TestLifeCycleProperty(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 30
	}
	for seed := 1; seed <= n; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 0))
		ops := make([]byte, 3*200)
		for i := range ops {
			ops[i] = byte(rng.Uint32())
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runOps(t, ops) })
		if t.Failed() {
			return
		}
	}
}
