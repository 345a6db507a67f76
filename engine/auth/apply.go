package auth

import (
	"github.com/cardswitch/cardswitch/engine/issuer"
)

// apply decides under the account's lock (so limits and funds are checked
// and taken atomically) and, on approval, applies the effect.
func (a *Authorizer) apply(s *snapshot, r *Request, kind Kind, c *issuer.Card, verify PINVerifier, t, original *txn) Decision {
	acc := a.accounts.get(c.Account)
	acc.mu.Lock()
	defer acc.mu.Unlock()
	cs := a.cards.get(r.PANHash)
	code, ev := a.checkPIN(s, r, c, cs, verify)
	t.pinEvent, t.cardHash = ev, r.PANHash
	if code != "" {
		return Decision{Code: code}
	}
	balance := s.data.Account(c.Account).Balance + acc.delta
	available := balance - acc.held
	e := effect{account: c.Account, cardHash: r.PANHash, merchant: r.Merchant, terminal: r.Terminal, date: r.BusinessDate}
	switch kind {
	case KindBalance:
		return Decision{Code: Approved, Approved: true, Balance: available}
	case KindRefund:
		e.debit = -r.Amount
	case KindCompletion:
		if code := completion(s, r, original, &e); code != "" {
			return Decision{Code: code}
		}
		if original.eff.cardHash != r.PANHash {
			return Decision{Code: OriginalMissing} // not this card's pre-authorization
		}
	case KindVoid:
		return a.void(r, acc, original)
	case KindPreauth:
		e.hold, e.usage, e.count = r.Amount, r.Amount, 1
		t.held = r.Amount
	default: // purchase, cash
		e.debit, e.usage, e.count = r.Amount, r.Amount, 1
	}
	if code := a.checkLimits(s, r, c, cs, &e); code != "" {
		return Decision{Code: code}
	}
	if need := e.debit + e.hold; need > 0 && need > available { // a completion needs only what exceeds its hold
		return Decision{Code: NoFunds}
	}
	if code := a.takeAcceptors(s, r, &e); code != "" {
		return Decision{Code: code}
	}
	a.do(acc, cs, &e, 1)
	t.eff, t.delta, t.applied = e, e, true
	if kind == KindCompletion {
		absorb(original, t)
	}
	return Decision{Code: Approved, Approved: true}
}

// absorb makes a completion own its pre-authorization: the pre-auth can be
// neither completed nor undone any more, and undoing the completion undoes
// both (the debit, the hold's usage; the hold stays released). t.eff holds
// the delta the completion applied, and becomes the combined effect.
func absorb(pre, t *txn) {
	combined := t.eff
	combined.hold = t.eff.hold + pre.eff.hold // the hold was placed, then released: 0
	combined.usage = t.eff.usage + pre.eff.usage
	combined.count = t.eff.count + pre.eff.count
	t.eff = combined
	pre.held, pre.applied, pre.completed = 0, false, true
}

// completion takes a pre-authorization's hold: at most the held amount
// plus the tolerance, releasing the hold.
func completion(s *snapshot, r *Request, pre *txn, e *effect) string {
	switch {
	case pre == nil || pre.kind != KindPreauth:
		return OriginalMissing
	case pre.completed:
		return InvalidTxn // completed already
	case !pre.applied || pre.held <= 0:
		return OriginalMissing // reversed: nothing is held any more
	case r.Amount*100 > pre.held*int64(100+s.data.Tolerance()):
		return InvalidAmount
	}
	e.hold, e.debit = -pre.held, r.Amount
	e.usage, e.count = r.Amount-pre.held, 0 // the hold counted already
	e.holdRef = r.Original
	return ""
}

// void undoes a purchase or completion of the same card, the same
// business day: 25 when there is no such original, 12 when it cannot be
// voided (another kind, another card or day, voided or reversed already).
func (a *Authorizer) void(r *Request, acc *account, orig *txn) Decision {
	switch {
	case orig == nil || orig.code == [2]byte{}:
		return Decision{Code: OriginalMissing}
	case !orig.applied || (orig.kind != KindPurchase && orig.kind != KindCompletion),
		orig.date != r.BusinessDate || orig.eff.cardHash != r.PANHash:
		return Decision{Code: InvalidTxn}
	}
	a.undo(acc, a.cards.get(orig.eff.cardHash), orig)
	orig.voided = true
	return Decision{Code: Approved, Approved: true}
}

// undo takes back an applied effect, once (account lock held).
func (a *Authorizer) undo(acc *account, cs *card, t *txn) {
	if !t.applied {
		return
	}
	a.do(acc, cs, &t.eff, -1)
	a.undoAcceptors(&t.eff)
	t.applied = false
}

// checkPIN verifies a PIN block, counting wrong PINs per card per day; it
// reports the event to journal (pinWrong, pinRight).
func (a *Authorizer) checkPIN(s *snapshot, r *Request, c *issuer.Card, cs *card, verify PINVerifier) (string, byte) {
	if !r.HasPIN {
		return "", 0
	}
	fails := cs.pinFails.on(r.BusinessDate)
	if fails.count >= s.data.PINTries {
		return PINTriesOver, 0
	}
	right, err := verify(c)
	switch {
	case err != nil:
		return System, 0
	case !right:
		fails.count++
		if fails.count >= s.data.PINTries {
			return PINTriesOver, pinWrong
		}
		return WrongPIN, pinWrong
	}
	fails.count = 0
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
	u := cs.usage.on(r.BusinessDate)
	if over(p.DailyAmount, u.amount+e.usage) {
		return OverAmount
	}
	if p.DailyCount > 0 && u.count+e.count > p.DailyCount {
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
// limits, in that order (the lock order).
func (a *Authorizer) takeAcceptors(s *snapshot, r *Request, e *effect) string {
	if e.usage == 0 && e.count == 0 {
		return ""
	}
	lim := s.data.Acceptor
	m, t := a.merchants.get(r.Merchant), a.terminals.get(r.Terminal)
	m.mu.Lock()
	defer m.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	mu, tu := m.usage.on(e.date), t.usage.on(e.date)
	switch {
	case e.usage <= 0 && e.count <= 0: // a completion below its hold gives usage back: no limit to check
	case over(lim.MerchantDailyAmount, mu.amount+e.usage), over(lim.TerminalDailyAmount, tu.amount+e.usage):
		return OverAmount
	case lim.MerchantDailyCount > 0 && mu.count+e.count > lim.MerchantDailyCount,
		lim.TerminalDailyCount > 0 && tu.count+e.count > lim.TerminalDailyCount:
		return OverCount
	}
	mu.amount, mu.count = mu.amount+e.usage, mu.count+e.count
	tu.amount, tu.count = tu.amount+e.usage, tu.count+e.count
	return ""
}

// do applies an effect (sign 1) or undoes it (sign -1) on the account and
// card; the account lock is held. Acceptor usage is taken by takeAcceptors
// and given back by undoAcceptors.
func (a *Authorizer) do(acc *account, cs *card, e *effect, sign int64) {
	acc.delta -= sign * e.debit
	acc.held += sign * e.hold
	u := &cs.usage
	if sign > 0 {
		u = u.on(e.date)
	}
	if u.date == e.date { // an undo on a later day leaves that day's usage alone
		u.amount += sign * e.usage
		u.count += int(sign) * e.count
	}
}

func (a *Authorizer) undoAcceptors(e *effect) {
	for _, x := range []*acceptor{a.merchants.get(e.merchant), a.terminals.get(e.terminal)} {
		x.mu.Lock()
		if u := &x.usage; u.date == e.date {
			u.amount -= e.usage
			u.count -= e.count
		}
		x.mu.Unlock()
	}
}
