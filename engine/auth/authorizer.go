package auth

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/cardswitch/cardswitch/engine/issuer"
)

// Response codes this package answers.
const (
	Approved        = "00"
	DoNotHonour     = "05"
	InvalidTxn      = "12"
	InvalidAmount   = "13"
	InvalidCard     = "14"
	OriginalMissing = "25"
	LostCard        = "41"
	StolenCard      = "43"
	NoFunds         = "51"
	Expired         = "54"
	WrongPIN        = "55"
	NotPermittedCH  = "57"
	NotPermittedTrm = "58"
	OverAmount      = "61"
	OverCount       = "65"
	PINTriesOver    = "75"
	Duplicate       = "94"
	System          = "96"
)

// codeText is a stored response code as a string, without an allocation
// for the codes this package answers.
func codeText(c [2]byte) string {
	if s, ok := codeTexts[c]; ok {
		return s
	}
	return string(c[:])
}

var codeTexts = func() map[[2]byte]string {
	m := map[[2]byte]string{}
	for _, c := range []string{Approved, DoNotHonour, InvalidTxn, InvalidAmount, InvalidCard, OriginalMissing,
		LostCard, StolenCard, NoFunds, Expired, WrongPIN, NotPermittedCH, NotPermittedTrm, OverAmount,
		OverCount, PINTriesOver, Duplicate, System} {
		m[[2]byte{c[0], c[1]}] = c
	}
	return m
}()

// PINVerifier checks the request's PIN block against the card's PVV:
// nil (right), ErrWrongPIN-like (wrong: ok=false), or a system failure.
type PINVerifier func(c *issuer.Card) (right bool, err error)

// Decision is the outcome of one request.
type Decision struct {
	Code     string
	Approved bool
	Approval [6]byte // the approval code (field 38): the one allocated, or a repeat's original
	Balance  int64   // available funds, for a balance inquiry
	Date     uint32  // the business date the decision counted in (YYYYMMDD)
	Outcome  []byte  // the effect, for the journal and replay
	repeat   bool    // the stored answer of an earlier message
}

// Repeat reports a repeat answered with its original's stored answer.
func (d Decision) Repeat() bool { return d.repeat }

// Authorizer decides on-us requests. Safe for concurrent use.
type Authorizer struct {
	snap           atomic.Pointer[snapshot]
	hashPAN        func([]byte) [32]byte
	lim            Limits
	retainSec      int64 // lim.Retention in seconds
	declineSec     int64 // lim.DeclineWindow in seconds
	purgeEvery     int64 // seconds of request time between purges
	accounts       *store[string, account]
	cards          *store[[32]byte, card]
	merchants      *store[string, acceptor]
	terminals      *store[string, acceptor]
	index          index
	day            atomic.Uint32  // the newest business date seen
	now            atomic.Int64   // the newest request time seen, unix seconds
	nextPurge      atomic.Int64   // the request time the next purge waits for (0: none yet)
	purging        atomic.Bool    // a background purge runs
	purgeTo        atomic.Int64   // the latest request time a purge was asked for
	bg             sync.WaitGroup // background purges
	replayed       int64          // records replayed since the last purge of a replay (Replay runs alone)
	batches        atomic.Int64   // terminals with an open settlement batch (Limits.MaxBatches)
	batchesRefused atomic.Uint64  // requests refused at that cap
}

// snapshot is one version of the issuer data with its card index.
type snapshot struct {
	data   *issuer.Data
	byHash map[[32]byte]*issuer.Card
}

// New builds an authorizer over issuer data; hashPAN is the journal's
// keyed PAN hash, so state keyed by it can be rebuilt from the journal.
// Zero fields of lim take their defaults (Limits.WithDefaults).
func New(data *issuer.Data, hashPAN func([]byte) [32]byte, lim Limits) (*Authorizer, error) {
	lim = lim.WithDefaults()
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	a := &Authorizer{hashPAN: hashPAN, lim: lim}
	a.retainSec, a.declineSec = int64(lim.Retention.Seconds()), int64(lim.DeclineWindow.Seconds())
	a.purgeEvery = max(a.declineSec/4, 1)
	a.reset()
	a.Reload(data)
	return a, nil
}

// reset empties the state.
func (a *Authorizer) reset() {
	a.accounts = newStore(hashString, func(id string, v *account) { v.id = id })
	a.cards = newStore(hashPAN, func(h [32]byte, v *card) { v.hash = h })
	a.merchants = newStore(hashString, func(id string, v *acceptor) { v.id = id })
	a.terminals = newStore(hashString, func(id string, v *acceptor) { v.id = id })
	for i := range a.index.shards {
		a.index.shards[i] = txnShard{}
	}
	a.batches.Store(0)
	a.index.count.Store(0)
	a.index.placeholders.Store(0)
	a.day.Store(0)
	a.now.Store(0)
	a.nextPurge.Store(0)
}

// Limits are the limits in force, defaults filled in.
func (a *Authorizer) Limits() Limits { return a.lim }

// Reload swaps in new issuer data; usage, holds and movements carry over.
func (a *Authorizer) Reload(data *issuer.Data) {
	s := &snapshot{data: data, byHash: map[[32]byte]*issuer.Card{}}
	for i := range data.Cards {
		c := &data.Cards[i]
		s.byHash[a.hashPAN([]byte(c.PAN))] = c
	}
	a.snap.Store(s)
}

// HashPAN is the keyed PAN hash the authorizer keys card state by.
func (a *Authorizer) HashPAN(pan []byte) [32]byte { return a.hashPAN(pan) }

// Data is the issuer data in force.
func (a *Authorizer) Data() *issuer.Data { return a.snap.Load().data }

// when is the business date and request time a decision counts in.
type when struct {
	date uint32
	now  int64
}

// Decide authorizes one request. verify is called only for a request with
// a PIN block, after the card checks. approval allocates the approval code
// (field 38): it is called once, only when the decision approves a request
// that carries one (not a balance inquiry or a reversal; a repeat gets its
// original's); nil gives none.
func (a *Authorizer) Decide(r *Request, verify PINVerifier, approval func() [6]byte) Decision {
	kind := r.Kind()
	key, ok := keyOf(r.Ref(), r.MTI.Class())
	if kind == KindUnknown || !ok {
		// Nothing to index and nothing changes: no outcome. A terminal ID
		// the index cannot key is in no issuer data.
		code := InvalidTxn
		if kind != KindUnknown {
			code = NotPermittedTrm
		}
		return Decision{Code: code, Date: max(r.BusinessDate, a.day.Load())}
	}
	if kind == KindReversal && !a.linkTakes(r) {
		// A reversal naming a terminal bound to other links undoes
		// nothing: the original it names is another link's (or nobody's).
		// Declined without an entry or an effect, so the same reversal
		// from the terminal's own link is decided afresh.
		return Decision{Code: NotPermittedTrm, Date: max(r.BusinessDate, a.day.Load())}
	}
	w := a.advance(r.BusinessDate, r.Received)
	okey, okOrig := key, true
	if refersBack(kind) {
		okey, okOrig = keyOf(r.Original, 0)
	}
	own, orig := &a.index.shards[shardOf(key)], &a.index.shards[shardOf(okey)]
	lockPair(own, orig) // transaction shards before any account: one lock order
	defer unlockPair(own, orig)
	if kind == KindReversal {
		return a.reverse(r, w, key, okey, okOrig, own, orig)
	}
	prev := own.get(key)
	if prev != nil && a.live(prev, w.now) {
		return a.again(r, w, key, prev)
	}
	if prev == nil && (!a.index.room(&a.lim, 1, 0) || !a.batchRoom(r, kind)) {
		return a.refuse(kind, w, key, okey)
	}
	var original *txn
	if okOrig && kind == KindCompletion {
		original = a.lookup(orig, okey.withClass('1'), w.now)
	} else if okOrig && kind == KindVoid {
		original = a.lookup(orig, okey.withClass('2'), w.now)
	}
	t := txn{kind: kind, at: clampTime(w.now)}
	t.eff.date = w.date
	var delta effect
	d, applied, pin := a.decideNew(r, kind, verify, &t, original, &delta)
	if d.Approved && approval != nil && kind != KindBalance {
		t.approval = approval()
		d.Approval = t.approval
	}
	d.Date = t.eff.date
	a.index.put(own, key, t)
	o := outcomeOf(kind, key, okey, r.OriginalClass, t.eff.date, w.now)
	o.approval, o.pin = t.approval, pin
	if applied {
		o.flags |= flagApplied
		o.eff = delta
	}
	if kind == KindVoid && d.Approved {
		o.flags |= flagUndo
	}
	d.Outcome = o.encode(a)
	return d
}

// advance rolls the newest business date and request time forward and
// returns the ones a request counts in: its own, or the newest seen if
// later (counters and liveness roll forward only). Each purgeEvery of
// request time it starts a purge of the index in the background.
func (a *Authorizer) advance(date uint32, received int64) when {
	w := when{date: storeMax32(&a.day, date), now: storeMax64(&a.now, received)}
	if next := a.nextPurge.Load(); w.now >= next && a.nextPurge.CompareAndSwap(next, w.now+a.purgeEvery) && next != 0 {
		a.startPurge(w.now)
	}
	return w
}

// startPurge purges in the background as of request time now: one
// purge runs at a time, and it goes round again while a later time was
// asked for meanwhile.
func (a *Authorizer) startPurge(now int64) {
	storeMax64(&a.purgeTo, now)
	if !a.purging.CompareAndSwap(false, true) {
		return // the running one will see purgeTo
	}
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		for {
			to := a.purgeTo.Load()
			a.purge(to - purgeSlack)
			a.purging.Store(false)
			if a.purgeTo.Load() == to || !a.purging.CompareAndSwap(false, true) {
				return // nothing later asked for, or its asker runs it
			}
		}
	}()
}

// purgeSlack: a purge drops only entries dead this long before the
// newest request time, so a decision still in flight with an older time
// (microseconds), or a journal record a little out of time order in a
// replay, finds what it would have found without the purge.
const purgeSlack = 60

// maxStore raises an atomic to x if x is higher, and returns the value
// it holds then (counters and clocks that only roll forward).
func maxStore[T uint32 | int64](v interface {
	Load() T
	CompareAndSwap(old, new T) bool
}, x T) T {
	for {
		cur := v.Load()
		if x <= cur {
			return cur
		}
		if v.CompareAndSwap(cur, x) {
			return x
		}
	}
}

func storeMax32(v *atomic.Uint32, x uint32) uint32 { return maxStore[uint32](v, x) }
func storeMax64(v *atomic.Int64, x int64) int64    { return maxStore[int64](v, x) }

// clampTime is a request time as an entry keeps it (unix seconds, 32 bits).
func clampTime(now int64) uint32 { return uint32(min(max(now, 0), math.MaxUint32)) }

// refersBack reports kinds that name an original transaction.
func refersBack(k Kind) bool { return k == KindCompletion || k == KindVoid || k == KindReversal }

// again answers a request whose key was seen: a repeat gets the stored
// answer and has no second effect; the same message again without the
// repeat flag is a duplicate (94); an original arriving after its own
// reversal is declined.
func (a *Authorizer) again(r *Request, w when, key txnKey, prev *txn) Decision {
	switch {
	case prev.waiting(): // only the reversal was seen
		prev.code, prev.kind = [2]byte{'0', '5'}, r.Kind() // it keeps the reversal's time: a marker, kept the retention
		o := outcomeOf(prev.kind, key, key, r.OriginalClass, w.date, w.now)
		return Decision{Code: DoNotHonour, Date: w.date, Outcome: o.encode(a)}
	case r.MTI.IsRepeat():
		return Decision{Code: codeText(prev.code), Approved: prev.code == [2]byte{'0', '0'}, Approval: prev.approval, Date: w.date, repeat: true}
	}
	return Decision{Code: Duplicate, Date: w.date}
}

// refuse answers 96 at a cap of the index: no effect, no entry, and a
// purge starts. The outcome says so, with the date and time, so a replay
// rolls as far.
func (a *Authorizer) refuse(kind Kind, w when, key, okey txnKey) Decision {
	a.startPurge(w.now) // at once, not at the next quarter of the window: dead entries may hold the room
	o := outcomeOf(kind, key, okey, 0, w.date, w.now)
	o.flags |= flagNoEntry
	return Decision{Code: System, Date: w.date, Outcome: o.encode(a)}
}

// decideNew runs the checks and, on approval, applies the effect (t
// becomes the index entry, delta receives what was applied: reported
// true); it also returns the PIN event to journal.
func (a *Authorizer) decideNew(r *Request, kind Kind, verify PINVerifier, t, original *txn, delta *effect) (Decision, bool, pinEvent) {
	s := a.snap.Load()
	c, code := a.checkCard(s, r)
	if code == "" {
		code = a.checkAcceptor(s, r, c)
	}
	if code == "" && needsAmount(kind) && r.Amount <= 0 {
		code = InvalidAmount
	}
	chipWrong := false
	if code == "" {
		code = checkChip(s.data.Profile(c.ProfileName()), r, kind)
		chipWrong = code != "" && r.ARQC == ARQCWrong
	}
	if code != "" {
		copy(t.code[:], code)
		return Decision{Code: code}, false, pinEvent{arqcWrong: chipWrong}
	}
	d, applied, pin := a.apply(s, r, kind, c, verify, t, original, delta)
	copy(t.code[:], d.Code)
	return d, applied, pin
}

func needsAmount(k Kind) bool {
	return k == KindPurchase || k == KindCash || k == KindPreauth || k == KindCompletion || k == KindRefund
}

// checkCard: number, card, status, expiry.
func (a *Authorizer) checkCard(s *snapshot, r *Request) (*issuer.Card, string) {
	// Every card of the issuer data passed issuer.ValidPAN when the file
	// was read, so a number that is not the card's own is unknown here.
	c, ok := s.byHash[r.PANHash]
	if !ok || c.PAN != string(r.PAN) {
		return nil, InvalidCard
	}
	switch c.Status {
	case "blocked":
		return c, DoNotHonour
	case "lost":
		return c, LostCard
	case "stolen":
		return c, StolenCard
	}
	exp := atou(c.Expiry)
	if exp < r.Today || (r.Expiry != 0 && r.Expiry != exp) {
		return c, Expired
	}
	return c, ""
}

// checkAcceptor: merchant and terminal active, MCC allowed for the card.
func (a *Authorizer) checkAcceptor(s *snapshot, r *Request, c *issuer.Card) string {
	m, ok := s.data.Merchant([]byte(r.Merchant))
	if !ok || m.Status != "active" {
		return NotPermittedTrm
	}
	t, ok := s.data.Terminal([]byte(r.Terminal))
	if !ok || t.Status != "active" || t.Merchant != m.ID || !t.TakesRequestsAt(r.Link) {
		return NotPermittedTrm
	}
	mcc := r.MCC
	if mcc == "" {
		mcc = m.MCC
	}
	for _, b := range s.data.Profile(c.ProfileName()).BlockedMCCs {
		if b == mcc {
			return NotPermittedCH
		}
	}
	return ""
}

// linkTakes reports whether the request's link may carry its terminal's
// reversals: any link for a terminal the issuer data does not know or
// that names no link (an unknown terminal has nothing to reverse, and a
// terminal made inactive since its purchase must still be able to release
// it), only its own links for one that names them.
func (a *Authorizer) linkTakes(r *Request) bool {
	t, ok := a.snap.Load().data.Terminal([]byte(r.Terminal))
	return !ok || t.TakesRequestsAt(r.Link)
}

func atou(s string) uint32 {
	var n uint32
	for i := 0; i < len(s); i++ {
		n = n*10 + uint32(s[i]-'0')
	}
	return n
}
