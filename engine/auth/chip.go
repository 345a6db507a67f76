package auth

import "github.com/cardswitch/cardswitch/engine/issuer"

// Chip cards. A card whose profile has EMV settings is a chip card: its
// chip and contactless requests for funds must carry an ARQC (field 55)
// that verifies under the profile's issuer master key, and the card's
// transaction counter (ATC, 9F36) must move forward. The cryptogram is
// verified by the engine (it needs the HSM, which Decide must not wait for
// under a lock); Decide takes its result (Request.ARQC) and checks the ATC
// against the card's state under the account's lock.

// ARQCResult is what the engine found of a request's cryptogram.
type ARQCResult uint8

const (
	// ARQCNone: not checked (not a chip request, or not a chip card).
	ARQCNone ARQCResult = iota
	// ARQCVerified: the ARQC verified under the card's key.
	ARQCVerified
	// ARQCWrong: it did not (the profile's arqc_failure_code, no effect).
	ARQCWrong
	// ARQCFormat: field 55 missing, not BER-TLV, or short of a data object
	// the cryptogram covers, or its IAD names another version (30).
	ARQCFormat
	// ARQCSystem: the HSM failed or timed out (96).
	ARQCSystem
)

// FormatError is the code of a request the switch cannot read (a chip
// request without its field 55, or with a field 55 that does not parse).
const FormatError = "30"

// ChipEntry reports a PAN entry mode (field 22's first two digits) read
// from the chip: 05 contact chip, 07 contactless chip, 95 chip with data
// that may be unreliable. The binary and UnionPay dialects carry the same
// codes (BCD), so one rule serves them all. 91 (contactless magnetic
// stripe) carries no cryptogram.
func ChipEntry(entryMode uint32) bool {
	switch entryMode / 10 {
	case 5, 7, 95:
		return true
	}
	return false
}

// fallbackEntry reports technical fallback: the magnetic stripe read after
// the chip could not be (80).
func fallbackEntry(entryMode uint32) bool { return entryMode/10 == 80 }

// chipKind reports the kinds a card authorizes online with an ARQC:
// purchases, cash, pre-authorizations and balance inquiries. A refund's
// cryptogram is an AAC, a completion's a TC and a reversal carries its
// original's data: none asks the card's issuer to authenticate the card.
func chipKind(k Kind) bool {
	return k == KindPurchase || k == KindCash || k == KindPreauth || k == KindBalance
}

// NeedsARQC reports whether Decide will want r's cryptogram checked for a
// card of profile p: a chip request of a chip kind for a chip card.
func NeedsARQC(r *Request, p *issuer.Profile) bool {
	return p != nil && p.EMV != nil && chipKind(r.Kind()) && ChipEntry(r.EntryMode)
}

// checkChip is the chip card's checks before the account's lock: the
// cryptogram's result, and technical fallback. "" when none applies or all
// pass.
func checkChip(p *issuer.Profile, r *Request, kind Kind) string {
	if p.EMV == nil || !chipKind(kind) {
		return ""
	}
	if fallbackEntry(r.EntryMode) && !p.EMV.Fallback {
		return NotPermittedCH
	}
	if !ChipEntry(r.EntryMode) {
		return ""
	}
	switch {
	case r.ARQC == ARQCFormat:
		return FormatError
	case r.ARQC == ARQCWrong:
		return p.EMV.ARQCFailureCode // journaled as such (flagARQCWrong)
	case r.ARQC != ARQCVerified || r.ARQCFor != p.EMV:
		// not checked, or checked under other settings (a reload between
		// the HSM's answer and this decision): nothing is decided on it
		return System
	}
	return ""
}

// atcEvent is a card's transaction counter to journal, so the replay
// check survives a restart.
type atcEvent struct {
	set  bool
	atc  uint16
	card [32]byte
}

// checkATC compares a verified cryptogram's counter with the last one seen
// for the card (the account's lock held), and records it: at or below the
// last one is a replay, more than atc_max_jump past it a jump; both are
// refused with the profile's arqc_failure_code. The card's state keeps
// the highest counter a verified cryptogram carried, so a jump is recorded
// too: the card did count that far, and a genuine card refused for its
// jump must be taken on its next transaction rather than refused for
// ever. A replay changes nothing.
func checkATC(p *issuer.Profile, r *Request, cs *card) (string, atcEvent) {
	if r.ARQC != ARQCVerified || p.EMV == nil {
		return "", atcEvent{}
	}
	next := uint32(r.ATC) + 1 // the state holds the counter plus one: 0 is none seen
	last := cs.atc
	if last != 0 && next <= last {
		return p.EMV.ARQCFailureCode, atcEvent{}
	}
	cs.atc = next
	ev := atcEvent{set: true, atc: r.ATC, card: r.PANHash}
	if last != 0 && next-last > uint32(p.EMV.ATCMaxJump) {
		return p.EMV.ARQCFailureCode, ev
	}
	return "", ev
}

// replayATC records a journaled counter: the highest one wins, so the
// order of the records does not matter.
func (a *Authorizer) replayATC(o *outcome) {
	if !o.pin.atc.set {
		return
	}
	c := a.snap.Load().byHash[o.pin.atc.card]
	cs, _ := a.cards.get(o.pin.atc.card)
	if c != nil { // the card's account guards its state
		acc, _ := a.accounts.get(c.Account)
		acc.mu.Lock()
		defer acc.mu.Unlock()
	}
	cs.atc = max(cs.atc, uint32(o.pin.atc.atc)+1)
}
