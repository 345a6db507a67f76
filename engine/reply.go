package engine

import (
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/router"
)

// respondSigned is respond with the reply's MAC on links that use MACs
// (workers only: it may call the HSM).
func (s *Server) respondSigned(t *Txn) { s.respondWith(t, s.signer(t)) }

// respond builds t's framed reply into t.out from the request, t.Code and
// t.Approval: the echoed fields, a retrieval reference number when the
// request had none, 38 on approval and 39 always. It never calls the HSM,
// so replies made on the loop carry no MAC.
func (s *Server) respond(t *Txn) { s.respondWith(t, nil) }

func (s *Server) respondWith(t *Txn, sign func([]byte) ([]byte, error)) {
	l, v := t.Link, &t.View
	var tpdu []byte
	var swapped [codec.TPDULen]byte
	if t.hasTPDU {
		codec.ReplyTPDU(&swapped, t.tpdu[:])
		tpdu = swapped[:]
	}
	if t.Code == [2]byte{} {
		t.Fail(ErrSystem) // every path must set a code: a missing one is a bug
	}
	frame := l.framing.Reserve(t.out[:0], tpdu)
	b := &t.builder
	b.SetBCDPad(l.bcdPad)
	b.Begin(l.dialect, frame, v.MTI().Response(), v.Header())
	macID := 0
	if sign != nil {
		macID = s.macField(t)
	}
	for id := 2; id <= codec.MaxField; id++ {
		switch {
		case id == macID:
			if err := s.appendMAC(b, id, sign); err != nil {
				// the HSM failed: answer 96, without a MAC (the bitmap already
				// announced one, so the reply is built again)
				s.log.Error().Err(err).Str("link", l.cfg.Name).Msg("reply MAC failed: answering 96")
				s.takeBack(t)
				s.respondWith(t, nil)
				return
			}
		case len(t.extras) > 0 && hasExtra(t, id):
			// what a stage adds (a balance, sign-on keys) goes only on an
			// approval: a 96 must not carry a balance; an ARPC goes on a
			// decline too, never on a 96
			v, _ := t.replyFieldFor(id)
			b.Binary(id, v)
		case id == codec.FieldRRN && !v.Has(id) && t.rrnLen > 0:
			b.Binary(id, t.rrn[:t.rrnLen])
		case id == codec.FieldApproval:
			if t.Approved() && t.Approval != [6]byte{} {
				b.Binary(id, t.Approval[:])
			}
		case id == codec.FieldResponseCode:
			b.Binary(id, t.Code[:])
		case l.echo[id] && !(t.clearBad && codec.ClearText(id)):
			b.Copy(v, id)
		}
	}
	out, err := b.Finish()
	if err == nil {
		out, err = l.framing.Seal(out, 0)
	}
	if err != nil {
		// A reply we cannot build is a bug in the echo set or a stage: the
		// decision is taken back and answered 96 without what the stage
		// added; if even that cannot be built, nothing is sent.
		s.log.Error().Err(err).Str("link", l.cfg.Name).Str("mti", v.MTI().String()).Msg("reply could not be built")
		t.out = t.out[:0]
		if t.Code != [2]byte{'9', '6'} || len(t.extras) > 0 {
			s.takeBack(t)
			s.respondWith(t, nil)
		}
		return
	}
	t.out = out
}

func hasExtra(t *Txn, id int) bool { _, ok := t.replyFieldFor(id); return ok }

// abort answers 96 instead of a decision that cannot be delivered, taking
// the authorizer's effect back first: whatever the decision changed (an
// approval's effect, a void's or a reversal's undo, a counted wrong PIN).
func (s *Server) abort(t *Txn) {
	if a, ok := s.auth.(Aborter); ok && len(t.Outcome) > 0 && t.Route.Action == router.Local {
		a.Abort(t)
	}
	t.Fail(ErrSystem)
	t.Approval = [6]byte{}
}

// takeBack is abort for a reply to be built again as a 96: nothing the
// stages added (a balance, sign-on keys) stays in it, and the sign-on's
// keys are not installed.
func (s *Server) takeBack(t *Txn) {
	s.abort(t)
	t.extras = t.extras[:0]
	t.sessionKeys = nil
}

// macField is where the reply's MAC goes: 128 when the reply has secondary
// fields (the MAC must cover them), else 64.
func (s *Server) macField(t *Txn) int {
	if t.Link.dialect.Field(128) == nil {
		return 64
	}
	for id := 65; id < 128; id++ {
		if t.Link.echo[id] && t.View.Has(id) {
			return 128
		}
	}
	return 64
}

// appendMAC computes the MAC of the reply so far and appends it as field id.
func (s *Server) appendMAC(b *codec.Builder, id int, sign func([]byte) ([]byte, error)) error {
	in, err := b.MACInput(id)
	if err != nil {
		return err
	}
	mac, err := sign(in)
	if err != nil {
		return err
	}
	if len(mac) > 8 {
		mac = mac[:8]
	}
	b.Binary(id, mac)
	return nil
}

// assignRRN gives a request without a retrieval reference number a new one
// (workers only: the reply that carries it is journaled before it leaves,
// so the journal holds every counter given out).
func (s *Server) assignRRN(t *Txn) {
	v := &t.View
	if v.Has(codec.FieldRRN) || v.MTI().Class() == '8' || t.settle || t.Link.dialect.Field(codec.FieldRRN) == nil {
		return
	}
	t.rrnSeq = s.ids.NextRRN(&t.rrn, t.Received)
	t.rrnLen = len(t.rrn)
}

// NewApprovalCode writes a fresh authorization code into t.Approval.
func NewApprovalCode(t *Txn) {
	t.apprSeq = t.Link.srv.ids.NextApproval(&t.Approval)
}
