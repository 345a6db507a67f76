package engine

import (
	"strings"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/pan"
	"github.com/cardswitch/cardswitch/journal"
)

// JournalStage records each request and the switch's decision in the
// write-ahead journal; the reply leaves only once the record is durable.
// The record holds no PIN block, track data or CVV, and the PAN only as a
// keyed hash, a masked form and a ciphertext (journal.Protector).
type JournalStage struct {
	J *journal.Journal
	P *journal.Protector
}

// Append implements Journal (workers: may wait when the journal is saturated).
func (s JournalStage) Append(t *Txn) {
	if err := s.fill(t); err != nil {
		t.Committed(err)
		return
	}
	s.J.Append(&t.rec, t)
}

// Err reports the journal's failure (nil while it works): the server is
// then out of service.
func (s JournalStage) Err() error { return s.J.Err() }

// Paused reports the journal's pause for disk space (nil while it
// commits): the server is out of service meanwhile.
func (s JournalStage) Paused() error { return s.J.Paused() }

// TryAppend implements Journal (the loop: never waits).
func (s JournalStage) TryAppend(t *Txn) bool {
	if err := s.fill(t); err != nil {
		return false
	}
	return s.J.TryAppend(&t.rec, t)
}

// fill builds t's record from the request, the decision and the reply:
// what replay needs (the outcome, the session keys, the identifiers given
// out) and what clearing needs (amounts, codes, references, acceptor).
func (s JournalStage) fill(t *Txn) error {
	v := &t.View
	r := &t.rec
	*r = journal.Record{
		BusinessDate: t.BusinessDate,
		Received:     t.Received.UnixNano(),
		Decided:      t.Link.srv.clock.Now().UnixNano(),
		Link:         t.Link.cfg.Name,
		Conn:         t.conn.id,
		MTI:          v.MTI(),
		RespCode:     t.Code,
		Route:        t.Route.Rule,
		Outcome:      t.Outcome,
		RRNSeq:       t.rrnSeq,
		SessionKeys:  t.sessionKeys,
	}
	r.ProcCode, _ = v.ProcessingCode()
	r.STAN, _ = v.STAN()
	r.LocalDate, _ = v.LocalDate()
	r.LocalTime, _ = v.LocalTime()
	r.Transmission, _ = v.Uint(codec.FieldTransmission)
	mcc, _ := v.MCC()
	r.MCC = uint16(mcc)
	em, _ := v.EntryMode()
	r.EntryMode = uint16(em)
	r.Amount, _ = v.Amount()
	if v.MTI().Class() == '4' {
		r.Replacement, _ = replacementOf(v) // checked when read (link.go)
	}
	r.Currency = currency(v)
	var buf [64]byte
	r.RRN = string(t.rrn[:t.rrnLen])
	if t.rrnLen == 0 {
		r.RRN = string(v.RRN(buf[:0]))
	}
	r.Terminal = string(v.TerminalID(buf[:0]))
	r.Merchant = string(v.MerchantID(buf[:0]))
	r.Acquirer = string(v.AppendText(buf[:0], codec.FieldAcquirer))
	if d := t.dest; d != nil {
		r.Destination, r.UpSTAN, r.UpRRN, r.UpState = d.cfg.Name, t.upSTAN, string(t.upRRN[:]), t.upState
		r.UpCode, r.Follows = t.upCode, t.follows
	}
	clearText(r, t.clearBad)
	if t.Approved() && t.Approval != [6]byte{} {
		r.Approval = string(t.Approval[:])
		r.ApprovalSeq = t.apprSeq
	}
	if o, ok := OriginalOf(v, RequestDate(v)); ok && v.MTI().Class() != '8' {
		r.Original = string(o.appendText(buf[:0]))
	}
	if pan := t.PAN(); len(pan) > 0 {
		if t.panHashBy == s.P { // the authorizer's hash, made by this Protector (never another's, nor unkeyed)
			return s.P.ProtectHashed(r, pan, t.panHash)
		}
		return s.P.Protect(r, pan)
	}
	return nil
}

// clearText masks what the record would keep in clear of a request's own
// text, by the rule in ARCHITECTURE.md ("Card data in clear fields"): a
// request whose clear-text fields failed their content check (bad: answered
// 30, maybe a misaligned track) keeps none of its 37, 41 and 42, each
// replaced by as many '*'; a Luhn-valid run of 13 to 19 digits that passed
// (a numeric merchant ID, a long acquirer ID) keeps its other characters,
// digits masked. The journal refuses a record that still holds card data
// (journal.ErrCardData).
func clearText(r *journal.Record, bad bool) {
	if bad {
		r.Terminal = strings.Repeat("*", len(r.Terminal))
		r.Merchant = strings.Repeat("*", len(r.Merchant))
		if r.RRNSeq == 0 { // not the switch's own
			r.RRN = strings.Repeat("*", len(r.RRN))
		}
	}
	for _, f := range [...]*string{&r.Terminal, &r.Merchant, &r.Acquirer} {
		if pan.LuhnRun([]byte(*f)) {
			*f = pan.MaskDigits(*f)
		}
	}
}

// currency is field 49 as a number: digits in every dialect ("an 3" in the
// 1987 ones, "n 3" elsewhere), 0 when absent or not three digits.
func currency(v *codec.View) uint16 {
	var buf [8]byte
	d := v.AppendText(buf[:0], codec.FieldCurrency)
	if len(d) != 3 {
		return 0
	}
	n := uint16(0)
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint16(c-'0')
	}
	return n
}
