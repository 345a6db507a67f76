package auth

import (
	"github.com/cardswitch/cardswitch/engine/issuer"
)

// pinEvent is what a decision did to the card's own checks, to journal
// so that they survive a restart: a PIN check (PIN tries) and a chip
// card's transaction counter.
type pinEvent struct {
	kind byte // 0 (none), pinWrong (counted) or pinRight (the count cleared)
	card [32]byte
	atc  atcEvent
	// arqcWrong: declined for a chip cryptogram that did not verify
	// (journaled for people: it changes no state)
	arqcWrong bool
}

const (
	pinWrong = 1
	pinRight = 2
)

// apply decides under the account's lock (so limits and funds are checked
// and taken atomically) and, on approval, applies the effect: t becomes
// the index entry, delta receives what was applied (reported true).
func (a *Authorizer) apply(s *snapshot, r *Request, kind Kind, c *issuer.Card, verify PINVerifier, t, original *txn, delta *effect) (Decision, bool, pinEvent) {
	acc, accRef := a.accounts.get(c.Account)
	acc.mu.Lock()
	defer acc.mu.Unlock()
	// The newest date again, under the lock: a decision that moved a card
	// of this account to a newer date rolled the date forward first, so no
	// card counter is newer than the date this one counts in.
	date := max(t.eff.date, a.day.Load())
	t.eff.date = date
	cs, csRef := a.cards.get(r.PANHash)
	atcCode, atc := checkATC(s.data.Profile(c.ProfileName()), r, cs)
	if atcCode != "" { // a replayed or jumping counter: no PIN try, no effect
		return Decision{Code: atcCode}, false, pinEvent{atc: atc}
	}
	code, ev := a.checkPIN(s, r, c, cs, verify, date)
	pin := pinEvent{kind: ev, card: r.PANHash, atc: atc}
	if code != "" {
		return Decision{Code: code}, false, pin
	}
	available := s.data.Account(c.Account).Balance + acc.delta - acc.held
	e := effect{acc: accRef, card: csRef, date: date}
	switch kind {
	case KindBalance:
		return Decision{Code: Approved, Approved: true, Balance: available}, false, pin
	case KindRefund:
		e.debit = -r.Amount
	case KindCompletion:
		if code := completion(s, r, original, &e); code != "" {
			return Decision{Code: code}, false, pin
		}
		if original.eff.card != csRef || original.eff.acc != accRef {
			return Decision{Code: OriginalMissing}, false, pin // not this card's pre-authorization
		}
	case KindVoid:
		return a.void(e, original), false, pin
	case KindPreauth:
		e.hold, e.usage, e.count = r.Amount, r.Amount, 1
	default: // purchase, cash
		e.debit, e.usage, e.count = r.Amount, r.Amount, 1
	}
	if code := a.checkLimits(s, r, c, cs, &e); code != "" {
		return Decision{Code: code}, false, pin
	}
	if need := e.debit + e.hold; need > 0 && need > available { // a completion needs only what exceeds its hold
		return Decision{Code: NoFunds}, false, pin
	}
	_, e.merchant = a.merchants.get(r.Merchant)
	_, e.terminal = a.terminals.get(r.Terminal)
	if code := a.takeAcceptors(s, &e); code != "" {
		return Decision{Code: code}, false, pin
	}
	a.do(&e, 1)
	*delta = e
	t.eff = e
	t.set(txnApplied)
	if kind == KindCompletion {
		absorb(original, t)
	}
	a.batchCount(t, countTxn, 1)
	return Decision{Code: Approved, Approved: true}, true, pin
}

// absorb makes a completion own its pre-authorization: the pre-auth can be
// neither completed nor undone any more, and undoing the completion undoes
// both (the debit, the hold's usage if it counted on the completion's
// date; the hold stays released). t.eff holds the delta the completion
// applied, and becomes the combined effect.
func absorb(pre, t *txn) {
	t.eff.hold += pre.eff.hold // the hold was placed, then released: 0
	if pre.eff.date == t.eff.date {
		t.eff.usage += pre.eff.usage
		t.eff.count += pre.eff.count
	}
	pre.clear(txnApplied)
	pre.set(txnCompleted)
}

// completion takes a pre-authorization's hold: at most the held amount
// plus the tolerance, releasing the hold.
func completion(s *snapshot, r *Request, pre *txn, e *effect) string {
	switch {
	case pre == nil || pre.kind != KindPreauth:
		return OriginalMissing
	case pre.has(txnCompleted):
		return InvalidTxn // completed already
	case pre.held() <= 0:
		return OriginalMissing // reversed: nothing is held any more
	case r.Amount*100 > pre.held()*int64(100+s.data.Tolerance()):
		return InvalidAmount
	}
	held := pre.held()
	e.hold, e.debit = -held, r.Amount
	e.usage, e.count = r.Amount-held, 0 // the hold counted already
	return ""
}

// void undoes a purchase or completion of the same card (and account:
// v names them), the same business day: 25 when there is no such
// original, 12 when it cannot be voided (another kind, another card or
// day, voided or reversed already).
func (a *Authorizer) void(v effect, orig *txn) Decision {
	switch {
	case orig == nil || orig.code == [2]byte{}:
		return Decision{Code: OriginalMissing}
	case !orig.has(txnApplied) || (orig.kind != KindPurchase && orig.kind != KindCompletion),
		orig.eff.date != v.date || orig.eff.card != v.card || orig.eff.acc != v.acc:
		return Decision{Code: InvalidTxn}
	}
	a.undo(orig)
	orig.set(txnVoided)
	a.batchCount(orig, countVoid, 1)
	return Decision{Code: Approved, Approved: true}
}

// undo takes back an applied effect, once (its account's lock held).
func (a *Authorizer) undo(t *txn) {
	if !t.has(txnApplied) {
		return
	}
	a.do(&t.eff, -1)
	a.undoAcceptors(&t.eff)
	t.clear(txnApplied)
}

// undoLocked is undo, taking the account's lock.
func (a *Authorizer) undoLocked(t *txn) {
	if !t.has(txnApplied) {
		return
	}
	acc := a.accounts.at(t.eff.acc)
	acc.mu.Lock()
	defer acc.mu.Unlock()
	a.undo(t)
}

// checkPIN verifies a PIN block, counting wrong PINs per card per day; it
// reports the event to journal (pinWrong, pinRight).
func (a *Authorizer) checkPIN(s *snapshot, r *Request, c *issuer.Card, cs *card, verify PINVerifier, date uint32) (string, byte) {
	if !r.HasPIN {
		return "", 0
	}
	if fails, _ := cs.pinFails.on(date); int(fails.count) >= s.data.PINTries {
		return PINTriesOver, 0
	}
	right, err := verify(c)
	switch {
	case err != nil:
		return System, 0
	case !right:
		cs.pinFails.add(date, 1, 0, 1)
		if int(cs.pinFails.count) >= s.data.PINTries {
			return PINTriesOver, pinWrong
		}
		return WrongPIN, pinWrong
	}
	cs.pinFails.clearOn(date)
	return "", pinRight
}

// checkLimits: per transaction, by entry mode, and the card's daily
// amount and count (account lock held).
func (a *Authorizer) checkLimits(s *snapshot, r *Request, c *issuer.Card, cs *card, e *effect) string {
	if e.usage <= 0 && e.count == 0 {
		return ""
	}
	p := s.data.Profile(c.ProfileName())
	if over(p.PerTxnMax, r.Amount) || over(entryLimit(p, r.classify()), r.Amount) {
		return OverAmount
	}
	u, _ := cs.usage.on(e.date)
	if over(p.DailyAmount, u.amount+e.usage) {
		return OverAmount
	}
	if p.DailyCount > 0 && int(u.count+e.count) > p.DailyCount {
		return OverCount
	}
	return ""
}

func over(limit, v int64) bool { return limit > 0 && v > limit }

func entryLimit(p *issuer.Profile, c entryClass) int64 {
	l := p.EntryLimits
	return [...]int64{entryChipPIN: l.ChipPIN, entryMagstripe: l.Magstripe, entryEcommerce: l.Ecommerce,
		entryQR: l.QR, entryContactlessNoCVM: l.ContactlessNoCVM}[c]
}

// takeAcceptors checks and takes the merchant's and terminal's daily
// limits, locking them in that order (the lock order). A counter already
// on a newer date (a decision racing the date change) is left alone,
// unchecked, as a replay leaves it.
func (a *Authorizer) takeAcceptors(s *snapshot, e *effect) string {
	if e.usage == 0 && e.count == 0 {
		return ""
	}
	lim := s.data.Acceptor
	m, t := a.merchants.at(e.merchant), a.terminals.at(e.terminal)
	m.mu.Lock()
	defer m.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	mu, mok := m.usage.on(e.date)
	tu, tok := t.usage.on(e.date)
	switch {
	case e.usage <= 0 && e.count <= 0: // a completion below its hold gives usage back: no limit to check
	case mok && over(lim.MerchantDailyAmount, mu.amount+e.usage), tok && over(lim.TerminalDailyAmount, tu.amount+e.usage):
		return OverAmount
	case mok && lim.MerchantDailyCount > 0 && int(mu.count+e.count) > lim.MerchantDailyCount,
		tok && lim.TerminalDailyCount > 0 && int(tu.count+e.count) > lim.TerminalDailyCount:
		return OverCount
	}
	m.usage.add(e.date, 1, e.usage, e.count)
	t.usage.add(e.date, 1, e.usage, e.count)
	return ""
}

// do applies an effect (sign 1) or undoes it (sign -1) on the account and
// card; the account lock is held. Acceptor usage is taken by takeAcceptors
// and given back by undoAcceptors.
func (a *Authorizer) do(e *effect, sign int64) {
	acc := a.accounts.at(e.acc)
	acc.delta -= sign * e.debit
	acc.held += sign * e.hold
	a.cards.at(e.card).usage.add(e.date, sign, e.usage, e.count)
}

func (a *Authorizer) undoAcceptors(e *effect) {
	addAcceptor(a.merchants.at(e.merchant), -1, e)
	addAcceptor(a.terminals.at(e.terminal), -1, e)
}

// redoLocked applies an entry's effect again (a replay; an abort of what
// undid it), taking the account's lock.
func (a *Authorizer) redoLocked(t *txn) {
	func() {
		acc := a.accounts.at(t.eff.acc)
		acc.mu.Lock()
		defer acc.mu.Unlock()
		a.do(&t.eff, 1)
	}()
	addAcceptor(a.merchants.at(t.eff.merchant), 1, &t.eff)
	addAcceptor(a.terminals.at(t.eff.terminal), 1, &t.eff)
	t.set(txnApplied)
}

// addAcceptor counts (sign 1) or gives back (sign -1) an effect's usage.
func addAcceptor(x *acceptor, sign int64, e *effect) {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.usage.add(e.date, sign, e.usage, e.count)
}
