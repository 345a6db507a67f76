package engine

import (
	"time"

	"github.com/cardswitch/cardswitch/codec"
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

// TryAppend implements Journal (the loop: never waits).
func (s JournalStage) TryAppend(t *Txn) bool {
	if err := s.fill(t); err != nil {
		return false
	}
	return s.J.TryAppend(&t.rec, t)
}

// fill builds t's record from the request, the decision and the reply.
func (s JournalStage) fill(t *Txn) error {
	v := &t.View
	r := &t.rec
	*r = journal.Record{
		BusinessDate: BusinessDate(t.Received),
		Received:     t.Received.UnixNano(),
		Decided:      t.Link.srv.clock.Now().UnixNano(),
		Link:         t.Link.cfg.Name,
		Conn:         t.conn.id,
		MTI:          v.MTI(),
		RespCode:     t.Code,
		Route:        t.Route.Rule,
		Outcome:      t.Outcome,
	}
	r.ProcCode, _ = v.ProcessingCode()
	r.STAN, _ = v.STAN()
	r.LocalDate, _ = v.LocalDate()
	r.LocalTime, _ = v.LocalTime()
	mcc, _ := v.MCC()
	r.MCC = uint16(mcc)
	em, _ := v.EntryMode()
	r.EntryMode = uint16(em)
	r.Amount, _ = v.Amount()
	if c, err := v.Uint(codec.FieldCurrency); err == nil {
		r.Currency = uint16(c)
	}
	var buf [64]byte
	r.RRN = string(t.rrn[:t.rrnLen])
	if t.rrnLen == 0 {
		r.RRN = string(v.RRN(buf[:0]))
	}
	r.Terminal = string(v.TerminalID(buf[:0]))
	r.Merchant = string(v.MerchantID(buf[:0]))
	if t.Approved() && t.Approval != [6]byte{} {
		r.Approval = string(t.Approval[:])
	}
	if v.Has(codec.FieldOriginal) {
		r.Original = string(v.AppendText(buf[:0], codec.FieldOriginal))
	}
	if pan := t.PAN(); len(pan) > 0 {
		return s.P.Protect(r, pan)
	}
	return nil
}

// BusinessDate is the business day of a moment as YYYYMMDD, in the
// moment's time zone (the switch's local time).
func BusinessDate(tm time.Time) uint32 {
	y, m, d := tm.Date()
	return uint32(y*10000 + int(m)*100 + d)
}
