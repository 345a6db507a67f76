package engine

import (
	"errors"
	"sync"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/router"
)

// Txn is one request on its way through the switch: the frame it came in,
// its decoded view, the routing decision, the outcome and the reply. Txns are
// pooled; a stage must not keep one after it hands it on.
type Txn struct {
	// Request
	Link     *Link
	View     codec.View // the decoded request; points into frame
	Received time.Time
	// BusinessDate is the day (YYYYMMDD) the request belongs to: the day it
	// was received, or a later one when the authorizer counted it there (a
	// late decision across a date change). The journal may move it later
	// still, never earlier (journal.Record.BusinessDate).
	BusinessDate uint32
	Route        router.Decision

	// Outcome, set by the stages
	Code     [2]byte // response code (field 39)
	Approval [6]byte // authorization code (field 38) when Code is 00
	Err      error   // a failure kind (see codes.go) behind Code, for logs and metrics
	// Outcome is the authorizer's details for the journal (holds, limit
	// usage), opaque to the engine. It must stay valid until the Txn ends.
	Outcome []byte

	conn    *connState
	frame   []byte // copy of the request message (gnet's buffer dies with the callback)
	tpdu    [codec.TPDULen]byte
	hasTPDU bool
	out     []byte // the framed reply
	signOn  bool   // a UnionPay sign-on: the workers issue its keys
	cutover bool   // an 0800 cutover (code 201) on a link that accepts them: a worker journals it
	settle  bool   // a settlement (05xx, UnionPay's 0320 batch upload): the workers answer it (settle.go)
	// clearBad: a clear-text field (37, 41, 42, 43) failed its content
	// check (codec.CheckClearText): the reply echoes none of them and the
	// journal keeps none of them in clear
	clearBad bool
	// journaling is set when the worker hands t to the journal: a panic
	// after that point must not hand it twice
	journaling bool
	extras     []extraField // fields the reply adds (sign-on keys in 62, a balance in 54)
	rrn        [12]byte
	rrnLen     int    // a retrieval reference number the switch generated (0: none)
	rrnSeq     uint64 // its IDs counter, journaled
	apprSeq    uint64 // the IDs counter of t.Approval when the switch gave it, journaled
	// sessionKeys are the keys a sign-on issued (encodeSession): journaled
	// with the sign-on and installed only once the record is durable.
	sessionKeys []byte
	rec         journal.Record // the journal record, owned by the journal until Committed
	// panHash is the PAN's keyed hash as panHashBy made it for the
	// authorizer (AuthStage.P), kept so that the journal stage does not
	// hash the PAN again; panHashBy nil: not made
	panHash   [32]byte
	panHashBy *journal.Protector

	// The upstream leg of a forwarded request (forward.go)
	dest    *destination
	upState journal.UpState // set by the loop (answered) or the expiry (timeout) before the continuation
	upSTAN  uint32
	upRRN   [12]byte
	upCode  [2]byte
	follows uint64 // the RRNSeq whose entry this one's follows (journal.Record.Follows)
	upConn  *outConn
	upKey   upstream.Key
	upWire  []byte     // the outbound request, for the connection's loop
	upBuf   []byte     // the outbound request being built, then the destination's response
	upView  codec.View // the outbound request decoded (its key), then the response
	upPIN   [16]byte   // the PIN block translated to the destination's ZPK (cleared with the Txn)
	upZAK   hsm.KeyRef // the zone MAC key the outbound request was MACed with
	builder codec.Builder
	scratch [64]byte
	// routeScratch holds the routing facts: processing code, terminal, merchant
	routeScratch [36]byte
}

type extraField struct {
	id  int
	val []byte // in the field's text form (hex for binary fields)
	// declines: the field goes on a decline too (an ARPC), never on a 96
	declines bool
}

// AddReplyField adds a field to the reply (text form: digits or
// characters; raw bytes for a binary field). It goes only on an approval.
func (t *Txn) AddReplyField(id int, val []byte) { t.addReplyField(id, val, false) }

func (t *Txn) addReplyField(id int, val []byte, declines bool) {
	t.extras = append(t.extras, extraField{id, val, declines})
}

func (t *Txn) replyField(id int) ([]byte, bool) {
	for _, e := range t.extras {
		if e.id == id {
			return e.val, true
		}
	}
	return nil, false
}

// replyFieldFor is replyField for the code t answers: a field added for
// approvals only is there on 00, one that declines carry on any code but 96.
func (t *Txn) replyFieldFor(id int) ([]byte, bool) {
	for _, e := range t.extras {
		if e.id == id && (t.Approved() || e.declines && t.Code != [2]byte{'9', '6'}) {
			return e.val, true
		}
	}
	return nil, false
}

// VerifyARQC checks a chip card's cryptogram with the HSM, bounded by the
// link's hsm_timeout, and returns the ARPC c.ARPC asks for.
func (t *Txn) VerifyARQC(imk hsm.KeyRef, c hsm.ARQCCheck) ([]byte, error) {
	s := t.Link.srv
	if s.hsm == nil {
		return nil, ErrSystem
	}
	ctx, cancel := s.hsmCall(t)
	defer cancel()
	return s.hsm.VerifyARQC(ctx, imk, c)
}

// VerifyPIN checks the request's PIN block against a PVV with the HSM
// (see Server.VerifyPIN).
func (t *Txn) VerifyPIN(pvk hsm.KeyRef, pvki int, pvv string) error {
	if t.Link.srv.hsm == nil {
		return ErrSystem
	}
	return t.Link.srv.VerifyPIN(t, pvk, pvki, pvv)
}

// Approved reports response code 00.
func (t *Txn) Approved() bool { return t.Code == [2]byte{'0', '0'} }

// SetCode sets the response code from a 2-character string.
func (t *Txn) SetCode(code string) {
	if len(code) == 2 {
		t.Code = [2]byte{code[0], code[1]}
	}
}

// Fail sets the failure kind and the link's code for it.
func (t *Txn) Fail(err error) {
	t.Err = err
	t.SetCode(t.Link.codes.Code(err))
}

// Committed is the journal's answer for t. Durable (nil): a sign-on's keys
// are installed and the reply goes back. Refused (the journal had failed
// before: nothing was written): the decision is taken back and answered 96.
// In doubt (journal.ErrInDoubt: the write or the mark failed, the record may
// be durable): the reply is withheld, so that no 96 contradicts a record
// that a restart replays as 00; the terminal times out and reverses, as
// after a crash, and the effect stays, as a replay would rebuild it. Call it
// exactly once.
func (t *Txn) Committed(err error) {
	s := t.Link.srv
	if t.upState == journal.UpForwarded { // the record before the send
		s.sendForwarded(t, err)
		return
	}
	handed := false // t went back to its connection
	defer func() {
		// This runs on the journal's committer: a panic here would end the
		// process. The reply is dropped (the terminal times out, as when
		// in doubt) and the request accounted for.
		if p := recover(); p != nil {
			s.panicked(p, "commit callback")
			if !handed {
				t.out = t.out[:0]
				t.conn.deliver(t, s)
			}
		}
	}()
	switch {
	case err == nil:
		if t.sessionKeys != nil {
			s.installSession(t)
		}
	case errors.Is(err, journal.ErrInDoubt):
		t.Link.metrics.withheld.Inc()
		s.journalFailed(err)
		t.out = t.out[:0]
	default: // refused: nothing was written
		t.Link.metrics.journalErr.Inc()
		switch {
		case errors.Is(err, journal.ErrFailed):
			s.journalFailed(err) // the journal is out of service; a record too large, say, leaves it working
		case errors.Is(err, journal.ErrDiskFull):
			s.journalPaused(err) // out of service until space is freed: the journal resumes on its own
		default:
			s.notJournaled(t, err)
		}
		s.takeBack(t)
		t.rrnLen = 0 // an RRN goes out only on a journaled reply
		s.respond(t)
	}
	handed = true
	t.conn.deliver(t, s)
}

// PAN appends the card number of the request into the Txn's scratch space.
// The slice is valid until the Txn is released.
func (t *Txn) PAN() []byte { return t.View.PAN(t.scratch[:0]) }

var txnPool = sync.Pool{New: func() any {
	return &Txn{frame: make([]byte, 0, 512), out: make([]byte, 0, 512)}
}}

func getTxn(l *Link, cs *connState, now time.Time) *Txn {
	t := txnPool.Get().(*Txn)
	t.Link, t.conn, t.Received = l, cs, now
	t.BusinessDate = l.srv.day.Date(now)
	return t
}

// release returns t to the pool. Buffers larger than a frame are dropped so
// one huge message does not pin memory.
func (t *Txn) release() {
	frame, out, up := t.frame[:0], t.out[:0], t.upBuf[:0]
	if cap(frame) > 16<<10 {
		frame = make([]byte, 0, 512)
	}
	if cap(out) > 16<<10 {
		out = make([]byte, 0, 512)
	}
	if cap(up) > 16<<10 {
		up = nil
	}
	*t = Txn{frame: frame, out: out, upBuf: up, builder: t.builder}
	txnPool.Put(t)
}
