package auth

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/cardswitch/cardswitch/internal/wire"
)

// The outcome of a decision, journaled with it, says what state it changed,
// so a replay rebuilds the same state without the PAN or the issuer's
// answers: the message's key, the original it names, the business date and
// request time it counted in, and the effect it applied (or that it undid
// its original's). Version 2 adds the request time (liveness), the class of
// the original a reversal found, and what a reversal did; version 1
// outcomes are still read.
const (
	outcomeV1      = 1
	outcomeVersion = 2
)

const (
	flagApplied    = 1 << iota // the effect below took place
	flagUndo                   // it undid its original's effect (an approved void; a reversal)
	flagPINWrong               // a wrong PIN was counted on the card below
	flagPINRight               // a right PIN cleared the card's count
	flagNoEntry                // answered 96 with no effect and no entry (a full index, an abort)
	flagRemembered             // a reversal remembered its unknown original (placeholders)
	flagATC                    // a chip card's transaction counter was recorded (the card, unless a PIN flag named it, and the ATC follow)
	flagARQCWrong              // declined for a chip cryptogram that did not verify (nothing follows)
)

// outcome is an outcome decoded, or one to encode.
type outcome struct {
	kind      Kind
	flags     byte
	origClass byte // the original's class as the request named it (field 90), 0 if not
	found     byte // the class of the original a reversal marked reversed, 0 if none
	date      uint32
	at        int64 // request time, unix seconds
	approval  [6]byte
	key       txnKey // the message's own (with its class)
	orig      txnKey // the original's Ref (class 0)
	keyOK     bool   // decoded refs that fit a key (see keyOf)
	origOK    bool
	pin       pinEvent
	eff       effect    // the effect (decoded: its amounts and date only)
	ids       effectIDs // decoded: the IDs of the effect's state
}

// effectIDs name the state an effect changed (decoded, pointing into the
// outcome's bytes).
type effectIDs struct {
	account, merchant, terminal []byte
	card                        [32]byte
}

func outcomeOf(kind Kind, key, orig txnKey, origClass byte, date uint32, now int64) outcome {
	return outcome{kind: kind, key: key, orig: orig.withClass(0), origClass: origClass, date: date, at: now}
}

func appendKeyRef(b []byte, k txnKey) []byte {
	var term [8]byte
	t := appendTerminal(term[:0], k.term)
	b = binary.AppendUvarint(b, uint64(len(t)))
	b = append(b, t...)
	b = binary.AppendUvarint(b, uint64(k.stan))
	return binary.AppendUvarint(b, uint64(k.ldate))
}

func appendID(b []byte, id string) []byte {
	b = binary.AppendUvarint(b, uint64(len(id)))
	return append(b, id...)
}

// encode is the outcome's version 2 form: one allocation, sized up front.
// The effect's state is named by key, read from a.
func (o *outcome) encode(a *Authorizer) []byte {
	pinFlags := [3]byte{0, flagPINWrong, flagPINRight}[o.pin.kind]
	flags := o.flags | pinFlags
	if o.pin.arqcWrong {
		flags |= flagARQCWrong
	}
	b := make([]byte, 0, 192)
	b = append(b, outcomeVersion, byte(o.kind), flags, o.key.class, o.origClass, o.found)
	b = binary.AppendUvarint(b, uint64(o.date))
	b = binary.AppendVarint(b, o.at)
	b = append(b, o.approval[:]...)
	b = appendKeyRef(b, o.key)
	b = appendKeyRef(b, o.orig)
	if pinFlags != 0 {
		b = append(b, o.pin.card[:]...)
	}
	if o.pin.atc.set {
		b[2] |= flagATC
		if pinFlags == 0 { // else the PIN event named the card (the request's, both)
			b = append(b, o.pin.atc.card[:]...)
		}
		b = binary.BigEndian.AppendUint16(b, o.pin.atc.atc)
	}
	if flags&flagApplied == 0 {
		return b
	}
	e := &o.eff
	b = appendID(b, a.accounts.at(e.acc).id)
	b = append(b, a.cards.at(e.card).hash[:]...)
	for _, v := range [...]int64{e.debit, e.hold, e.usage, int64(e.count), int64(e.date)} {
		b = binary.AppendVarint(b, v)
	}
	b = appendID(b, acceptorID(a.merchants.at(e.merchant)))
	return appendID(b, acceptorID(a.terminals.at(e.terminal)))
}

func acceptorID(x *acceptor) string {
	if x == nil {
		return ""
	}
	return x.id
}

var errOutcome = errors.New("auth: outcome does not parse")

// reader reads an outcome's fields.
type reader struct{ wire.Reader }

// ref reads a Ref as a key (class 0); ok is false when it fits none.
func (r *reader) ref() (txnKey, bool) {
	term, stan, ldate := r.Raw(), r.Uvarint(), r.Uvarint()
	if len(term) > 8 || ldate > 9999 || stan > 1<<32-1 {
		return txnKey{}, false
	}
	var b [8]byte
	copy(b[:], term)
	for _, c := range term {
		if c == 0 {
			return txnKey{}, false
		}
	}
	return txnKey{term: binary.LittleEndian.Uint64(b[:]), stan: uint32(stan), ldate: uint16(ldate)}, true
}

func decodeOutcome(b []byte) (outcome, error) {
	var o outcome
	switch {
	case len(b) >= 5 && b[0] == outcomeV1:
		return decodeV1(b)
	case len(b) < 6 || b[0] != outcomeVersion:
		return o, errOutcome
	}
	o.kind, o.flags, o.key.class, o.origClass, o.found = Kind(b[1]), b[2], b[3], b[4], b[5]
	r := &reader{wire.Reader{B: b[6:]}}
	o.date, o.at = uint32(r.Uvarint()), r.Varint()
	copy(o.approval[:], r.Take(6))
	o.readRefs(r)
	o.readPIN(r)
	o.readATC(r)
	if o.flags&flagApplied != 0 {
		o.ids.account = r.Raw()
		copy(o.ids.card[:], r.Take(32))
		o.readAmounts(r)
		o.ids.merchant, o.ids.terminal = r.Raw(), r.Raw()
	}
	if r.Bad || len(r.B) != 0 || o.kind > KindReversal {
		return o, errOutcome
	}
	return o, nil
}

func (o *outcome) readRefs(r *reader) {
	class := o.key.class
	o.key, o.keyOK = r.ref()
	o.key.class = class
	o.orig, o.origOK = r.ref()
}

func (o *outcome) readPIN(r *reader) {
	switch {
	case o.flags&flagPINWrong != 0:
		o.pin.kind = pinWrong
	case o.flags&flagPINRight != 0:
		o.pin.kind = pinRight
	default:
		return
	}
	copy(o.pin.card[:], r.Take(32))
}

// readATC reads the transaction counter a chip decision recorded: its
// card (the PIN event's, or following when there is none) and the ATC.
func (o *outcome) readATC(r *reader) {
	if o.flags&flagATC == 0 {
		return
	}
	o.pin.atc.set = true
	o.pin.atc.card = o.pin.card
	if o.pin.kind == 0 {
		copy(o.pin.atc.card[:], r.Take(32))
	}
	if b := r.Take(2); b != nil {
		o.pin.atc.atc = binary.BigEndian.Uint16(b)
	}
}

func (o *outcome) readAmounts(r *reader) {
	e := &o.eff
	e.debit, e.hold, e.usage = r.Varint(), r.Varint(), r.Varint()
	e.count, e.date = int32(r.Varint()), uint32(r.Varint())
}

// decodeV1 reads a version 1 outcome: no request time (the start of its
// business date stands in), no class found, and the holdRef of an effect
// (the completion's original, which the header names already).
func decodeV1(b []byte) (outcome, error) {
	var o outcome
	o.kind, o.flags, o.key.class, o.origClass = Kind(b[1]), b[2]&(flagApplied|flagUndo|flagPINWrong|flagPINRight), b[3], b[4]
	r := &reader{wire.Reader{B: b[5:]}}
	o.date = uint32(r.Uvarint())
	o.at = dayStart(o.date)
	copy(o.approval[:], r.Take(6))
	o.readRefs(r)
	o.readPIN(r)
	if o.flags&flagApplied != 0 {
		o.ids.account = r.Raw()
		copy(o.ids.card[:], r.Take(32))
		o.readAmounts(r)
		r.ref() // holdRef
		o.ids.merchant, o.ids.terminal = r.Raw(), r.Raw()
	}
	if r.Bad || len(r.B) != 0 || o.kind > KindReversal {
		return o, errOutcome
	}
	return o, nil
}

// dayStart is the start of a business date (YYYYMMDD) in unix seconds, UTC.
func dayStart(d uint32) int64 {
	y, m, day := int(d/10000), time.Month(d/100%100), int(d%100)
	return time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Unix()
}
