package auth

import (
	"sync/atomic"
	"unsafe"

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

// PINVerifier checks the request's PIN block against the card's PVV:
// nil (right), ErrWrongPIN-like (wrong: ok=false), or a system failure.
type PINVerifier func(c *issuer.Card) (right bool, err error)

// Decision is the outcome of one request.
type Decision struct {
	Code     string
	Approved bool
	Approval [6]byte // the approval code (field 38): the one given, or a repeat's original
	Balance  int64   // available funds, for a balance inquiry
	Outcome  []byte  // the effect, for the journal and replay
	repeat   bool    // the stored answer of an earlier message
}

// Repeat reports a repeat answered with its original's stored answer.
func (d Decision) Repeat() bool { return d.repeat }

// Authorizer decides on-us requests. Safe for concurrent use.
type Authorizer struct {
	snap      atomic.Pointer[snapshot]
	hashPAN   func([]byte) [32]byte
	accounts  *shardMap[string, account]
	cards     *shardMap[[32]byte, card]
	merchants *shardMap[string, acceptor]
	terminals *shardMap[string, acceptor]
	txns      [shardCount]txnShard
	day       atomic.Uint32 // the newest business date seen
}

// snapshot is one version of the issuer data with its card index.
type snapshot struct {
	data   *issuer.Data
	byHash map[[32]byte]*issuer.Card
}

// New builds an authorizer over issuer data; hashPAN is the journal's
// keyed PAN hash, so state keyed by it can be rebuilt from the journal.
func New(data *issuer.Data, hashPAN func([]byte) [32]byte) *Authorizer {
	a := &Authorizer{hashPAN: hashPAN,
		accounts:  newShardMap[string, account](hashString),
		cards:     newShardMap[[32]byte, card](hashPAN32),
		merchants: newShardMap[string, acceptor](hashString),
		terminals: newShardMap[string, acceptor](hashString),
	}
	for i := range a.txns {
		a.txns[i].m = map[txnKey]*txn{}
	}
	a.Reload(data)
	return a
}

func hashPAN32(h [32]byte) uint64 { return hashPAN(h) }

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

// Decide authorizes one request. verify is called only for a request with
// a PIN block, after the card checks.
// approval is the code to give if the request is approved (a repeat gets
// its original's instead).
func (a *Authorizer) Decide(r *Request, verify PINVerifier, approval [6]byte) Decision {
	kind := r.Kind()
	if kind == KindUnknown {
		return Decision{Code: InvalidTxn}
	}
	a.rollover(r.BusinessDate)
	own, orig := a.shard(r.Ref()), a.shard(r.Original)
	if !refersBack(kind) {
		orig = own
	}
	lockPair(own, orig) // transaction shards before any account: one lock order
	defer unlockPair(own, orig)
	if kind == KindReversal {
		return a.reverse(r, own, orig)
	}
	key := txnKey{r.Ref(), r.MTI.Class()}
	if prev, ok := own.m[key]; ok && live(prev, r.BusinessDate) {
		return a.again(r, key, prev)
	}
	var original *txn
	switch kind {
	case KindCompletion:
		original = lookup(orig, txnKey{r.Original, '1'}, r.BusinessDate)
	case KindVoid:
		original = lookup(orig, txnKey{r.Original, '2'}, r.BusinessDate)
	}
	d, t := a.decideNew(r, kind, verify, original)
	if d.Approved {
		t.approval, d.Approval = approval, approval
	}
	own.m[key] = t
	var eff *effect
	if t.applied {
		eff = &t.delta
	}
	d.Outcome = encodeOutcome(kind, key, r.Original, r.OriginalClass, eff, kind == KindVoid && d.Approved, r.BusinessDate, t, t.approval)
	return d
}

// lookup finds a transaction still in the index on business date today.
func lookup(sh *txnShard, k txnKey, today uint32) *txn {
	if t, ok := sh.m[k]; ok && live(t, today) {
		return t
	}
	return nil
}

// refersBack reports kinds that name an original transaction.
func refersBack(k Kind) bool { return k == KindCompletion || k == KindVoid || k == KindReversal }

// lockPair locks one or two shards in address order; unlockPair undoes it.
// (A returned unlock closure would cost an allocation per decision.)
func lockPair(x, y *txnShard) {
	if x == y {
		x.mu.Lock()
		return
	}
	if uintptrOf(x) > uintptrOf(y) {
		x, y = y, x
	}
	x.mu.Lock()
	y.mu.Lock()
}

func unlockPair(x, y *txnShard) {
	x.mu.Unlock()
	if x != y {
		y.mu.Unlock()
	}
}

// again answers a request whose Ref was seen: a repeat gets the stored
// answer and has no second effect; the same message again without the
// repeat flag is a duplicate (94); an original arriving after its own
// reversal is declined.
func (a *Authorizer) again(r *Request, key txnKey, prev *txn) Decision {
	switch {
	case prev.code == [2]byte{} && prev.reversed: // only the reversal was seen
		prev.code, prev.kind = [2]byte{'0', '5'}, r.Kind()
		return Decision{Code: DoNotHonour, Outcome: encodeOutcome(prev.kind, key, r.Original, r.OriginalClass, nil, false, r.BusinessDate, nil, [6]byte{})}
	case r.MTI.IsRepeat():
		return Decision{Code: string(prev.code[:]), Approved: prev.code == [2]byte{'0', '0'}, Approval: prev.approval, repeat: true}
	}
	return Decision{Code: Duplicate}
}

func (a *Authorizer) shard(r Ref) *txnShard { return &a.txns[hashRef(r)&(shardCount-1)] }

// decideNew runs the checks and, on approval, applies the effect.
func (a *Authorizer) decideNew(r *Request, kind Kind, verify PINVerifier, original *txn) (Decision, *txn) {
	s := a.snap.Load()
	t := &txn{kind: kind, date: r.BusinessDate}
	c, code := a.checkCard(s, r)
	if code == "" {
		code = a.checkAcceptor(s, r, c)
	}
	if code == "" && needsAmount(kind) && r.Amount <= 0 {
		code = InvalidAmount
	}
	var d Decision
	if code == "" {
		d = a.apply(s, r, kind, c, verify, t, original)
	} else {
		d = Decision{Code: code}
	}
	copy(t.code[:], d.Code)
	return d, t
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
	if !ok || t.Status != "active" || t.Merchant != m.ID {
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

func atou(s string) uint32 {
	var n uint32
	for i := 0; i < len(s); i++ {
		n = n*10 + uint32(s[i]-'0')
	}
	return n
}

func uintptrOf(s *txnShard) uintptr { return uintptr(unsafe.Pointer(s)) }

// rollover starts a new business date: transactions past the retention
// are dropped from the index in the background. Daily usage starts again
// by itself (counters are dated); holds and movements carry over.
func (a *Authorizer) rollover(date uint32) {
	prev := a.day.Load()
	if date <= prev || !a.day.CompareAndSwap(prev, date) {
		return
	}
	if prev != 0 {
		go a.purge(date)
	}
}

// purge drops, one shard at a time, the transactions no longer live on
// business date today (lookups ignore them already: it only frees memory).
func (a *Authorizer) purge(today uint32) {
	for i := range a.txns {
		sh := &a.txns[i]
		sh.mu.Lock()
		for k, t := range sh.m {
			if !live(t, today) {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}
