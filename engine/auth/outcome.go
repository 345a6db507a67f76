package auth

import (
	"encoding/binary"
	"errors"

	"github.com/cardswitch/cardswitch/internal/wire"
)

// The outcome of a decision, journaled with it, says what state it changed,
// so a replay rebuilds the same state without the PAN or the issuer's
// answers: the message's key, the original it names, and the effect it
// applied (or that it undid its original).
const outcomeVersion = 1

const (
	flagApplied  = 1 << iota // the effect below took place
	flagUndo                 // it undid its original (a reversal, an approved void)
	flagPINWrong             // a wrong PIN was counted on the card below
	flagPINRight             // a right PIN cleared the card's count
)

func appendRef(b []byte, r Ref) []byte {
	b = binary.AppendUvarint(b, uint64(len(r.Terminal)))
	b = append(b, r.Terminal...)
	b = binary.AppendUvarint(b, uint64(r.STAN))
	return binary.AppendUvarint(b, uint64(r.LocalDate))
}

func encodeOutcome(kind Kind, key txnKey, orig Ref, origClass byte, e *effect, undo bool, date uint32, t *txn, approval [6]byte) []byte {
	flags := byte(0)
	if e != nil {
		flags |= flagApplied
	}
	if undo {
		flags |= flagUndo
	}
	if t != nil && t.pinEvent == pinWrong {
		flags |= flagPINWrong
	}
	if t != nil && t.pinEvent == pinRight {
		flags |= flagPINRight
	}
	b := []byte{outcomeVersion, byte(kind), flags, key.class, origClass}
	b = binary.AppendUvarint(b, uint64(date))
	b = append(b, approval[:]...)
	b = appendRef(b, key.ref)
	b = appendRef(b, orig)
	if flags&(flagPINWrong|flagPINRight) != 0 {
		b = append(b, t.cardHash[:]...)
	}
	if e == nil {
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(e.account)))
	b = append(b, e.account...)
	b = append(b, e.cardHash[:]...)
	for _, v := range []int64{e.debit, e.hold, e.usage, int64(e.count), int64(e.date)} {
		b = binary.AppendVarint(b, v)
	}
	b = appendRef(b, e.holdRef)
	b = binary.AppendUvarint(b, uint64(len(e.merchant)))
	b = append(b, e.merchant...)
	b = binary.AppendUvarint(b, uint64(len(e.terminal)))
	return append(b, e.terminal...)
}

type outcome struct {
	kind      Kind
	flags     byte
	date      uint32
	approval  [6]byte
	pinCard   [32]byte
	key       txnKey
	orig      Ref
	origClass byte
	eff       effect
}

var errOutcome = errors.New("auth: outcome does not parse")

// reader reads an outcome's fields.
type reader struct{ wire.Reader }

func (r *reader) str() string { return string(r.Raw()) }

func (r *reader) ref() Ref {
	return Ref{Terminal: r.str(), STAN: uint32(r.Uvarint()), LocalDate: uint32(r.Uvarint())}
}

func decodeOutcome(b []byte) (outcome, error) {
	var o outcome
	if len(b) < 5 || b[0] != outcomeVersion {
		return o, errOutcome
	}
	o.kind, o.flags, o.key.class, o.origClass = Kind(b[1]), b[2], b[3], b[4]
	r := &reader{wire.Reader{B: b[5:]}}
	o.date = uint32(r.Uvarint())
	copy(o.approval[:], r.Take(6))
	o.key.ref, o.orig = r.ref(), r.ref()
	if o.flags&(flagPINWrong|flagPINRight) != 0 {
		copy(o.pinCard[:], r.Take(32))
	}
	if o.flags&flagApplied != 0 {
		o.eff.account = r.str()
		copy(o.eff.cardHash[:], r.Take(32))
		o.eff.debit, o.eff.hold, o.eff.usage = r.Varint(), r.Varint(), r.Varint()
		o.eff.count, o.eff.date = int(r.Varint()), uint32(r.Varint())
		o.eff.holdRef = r.ref()
		o.eff.merchant, o.eff.terminal = r.str(), r.str()
	}
	if r.Bad {
		return o, errOutcome
	}
	return o, nil
}

// Replay applies one journaled decision to the state, as it was applied
// when it was made. Records without an outcome (network management,
// format errors) change nothing.
func (a *Authorizer) Replay(outcomeBytes []byte, respCode [2]byte) error {
	if len(outcomeBytes) == 0 {
		return nil
	}
	o, err := decodeOutcome(outcomeBytes)
	if err != nil {
		return err
	}
	if o.date > a.day.Load() {
		a.day.Store(o.date) // replay runs alone, before traffic
	}
	a.replayPIN(&o)
	own, orig := a.shard(o.key.ref), a.shard(o.orig)
	lockPair(own, orig)
	defer unlockPair(own, orig)
	if o.kind == KindReversal {
		r := &Request{Original: o.orig, OriginalClass: o.origClass, BusinessDate: o.date}
		own.m[o.key] = &txn{kind: KindReversal, code: respCode, date: o.date}
		if t, okey := a.findOriginal(r, orig); t == nil {
			for _, k := range a.rememberKeys(r, okey) {
				orig.m[k] = &txn{reversed: true, date: o.date}
			}
		} else if !t.reversed {
			t.reversed = true
			a.undoLocked(t)
		}
		return nil
	}
	t := &txn{kind: o.kind, code: respCode, eff: o.eff, delta: o.eff, date: o.date, approval: o.approval}
	if prev, ok := own.m[o.key]; ok && prev.reversed && prev.code == [2]byte{} && live(prev, o.date) {
		prev.code = respCode // the late original that was declined
		return nil
	}
	own.m[o.key] = t
	if o.flags&flagApplied != 0 {
		a.redo(t)
	}
	if o.flags&flagUndo != 0 { // an approved void
		if v := lookup(orig, txnKey{o.orig, '2'}, o.date); v != nil {
			v.voided = true
			a.undoLocked(v)
		}
	}
	return nil
}

// replayPIN counts a journaled wrong PIN, or clears the count on a right one.
func (a *Authorizer) replayPIN(o *outcome) {
	if o.flags&(flagPINWrong|flagPINRight) == 0 {
		return
	}
	f := a.cards.get(o.pinCard).pinFails.on(o.date)
	if o.flags&flagPINWrong != 0 {
		f.count++
	} else {
		f.count = 0
	}
}

// redo applies a replayed effect to account, card and acceptors.
func (a *Authorizer) redo(t *txn) {
	acc := a.accounts.get(t.eff.account)
	acc.mu.Lock()
	a.do(acc, a.cards.get(t.eff.cardHash), &t.eff, 1)
	acc.mu.Unlock()
	for _, x := range []*acceptor{a.merchants.get(t.eff.merchant), a.terminals.get(t.eff.terminal)} {
		x.mu.Lock()
		u := x.usage.on(t.eff.date)
		u.amount += t.eff.usage
		u.count += t.eff.count
		x.mu.Unlock()
	}
	t.applied = true
	if t.kind == KindPreauth {
		t.held = t.eff.hold
	}
	if t.kind == KindCompletion {
		if pre := lookup(a.shard(t.eff.holdRef), txnKey{t.eff.holdRef, '1'}, t.date); pre != nil {
			absorb(pre, t)
		}
	}
}

func (a *Authorizer) undoLocked(t *txn) {
	if !t.applied {
		return
	}
	acc := a.accounts.get(t.eff.account)
	acc.mu.Lock()
	a.undo(acc, a.cards.get(t.eff.cardHash), t)
	acc.mu.Unlock()
}

// Abort undoes a decision whose reply could not go out as decided (the
// HSM failed to MAC it, the journal failed): the effect is taken back, the
// transaction is remembered as answered 96, and the outcome to journal
// instead is returned.
func (a *Authorizer) Abort(outcomeBytes []byte) []byte {
	o, err := decodeOutcome(outcomeBytes)
	if err != nil || o.flags&flagApplied == 0 {
		return outcomeBytes
	}
	own, orig := a.shard(o.key.ref), a.shard(o.orig)
	lockPair(own, orig)
	defer unlockPair(own, orig)
	if t := own.m[o.key]; t != nil {
		a.undoLocked(t)
		t.code, t.approval = [2]byte{'9', '6'}, [6]byte{}
	}
	return encodeOutcome(o.kind, o.key, o.orig, o.origClass, nil, false, o.date, nil, [6]byte{})
}
