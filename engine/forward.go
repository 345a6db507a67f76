package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/internal/logline"
	"github.com/cardswitch/cardswitch/journal"
)

// The life of a forwarded request (ARCHITECTURE.md, "Forwarding"):
//
//  1. A worker runs forward: pick a connection (all down: 91 at once),
//     build the outbound request in the destination's dialect with the
//     switch's STAN, RRN and field 7, put it in the destination's table
//     (full, or its key in flight: 91 at once) and hand its bytes to the
//     connection's loop. The worker does not wait: the Txn is parked in
//     the table and the worker takes the next request.
//  2. The response is read on the gnet client's loop (upstreamFrame):
//     matched, it is copied into its Txn, which goes to the workers'
//     continuation queue (cont); a late one is logged and counted, and a
//     late approval journaled to be reversed.
//  3. Or the deadline passes first: expire (upstream.Run on a 1 ms ticker,
//     one goroutine for every destination) sends the Txn to cont as a
//     timeout.
//  4. A worker resumes it: the reply in the originator's dialect
//     (Plan.Back: the destination's 39 and 38 and what the mapping brings
//     back, the originator's own fields restored) or the 91 of a timeout,
//     then the journal, whose commit callback delivers the reply to the
//     originator's loop as for every reply.
//
// cont never blocks its senders: every parked Txn is sent to it exactly
// once (taken by its response or expired), so its capacity, the sum of the
// destinations' max_in_flight, is never exceeded.

// forward parks t at its destination (true) or sets its answer (false).
func (s *Server) forward(t *Txn) bool {
	d := s.dests[t.Route.Destination]
	if d == nil {
		t.Fail(ErrIssuerUnavailable) // a route to a destination not configured (the config check refuses it)
		return false
	}
	if d.brk != nil && d.unavailable(s.clock.Now()) { // no connection up, or the circuit open
		if d.stip != nil {
			s.standIn(t, d)
		} else {
			d.m.allDown.Inc()
			t.Fail(ErrIssuerUnavailable)
		}
		return false
	}
	v := &t.View
	// A PIN block goes out only as the HSM's translation from the
	// terminal's PIN key to the destination's ZPK, never as it came.
	var pin []byte
	if v.Has(codec.FieldPINBlock) && planFor(d, t).Assigns(codec.FieldPINBlock) { // a mapping may drop it
		var err error
		if pin, err = s.translatePIN(t, d, t.upPIN[:0]); err != nil {
			s.zoneRefused(d, t, "PIN block not translated: request not forwarded", err)
			t.Fail(err)
			return false
		}
	}
	zak := d.zone.keys.Load().zak
	if d.zone.macAlg != 0 && (zak.Cryptogram == "" || s.hsm == nil) {
		s.zoneRefused(d, t, "request not forwarded", errNoZAK)
		t.Fail(ErrIssuerUnavailable)
		return false
	}
	i, err := d.pool.Pick()
	if err != nil {
		d.m.allDown.Inc()
		t.Fail(ErrIssuerUnavailable)
		return false
	}
	ss := d.conns[i].session()
	if ss == nil {
		d.m.allDown.Inc()
		t.Fail(ErrIssuerUnavailable)
		return false
	}
	// The outbound RRN is the originator's own when the switch gave it
	// one, else a new one: either way its counter is journaled with the
	// final record (RRNSeq), and the outbound STAN derives from it, so
	// neither starts again at a restart.
	s.outboundIDs(t)
	t.dest = d
	var f7, f11 [10]byte
	var f52 [32]byte
	vals := [...]upstream.Value{
		// 7 from the received time: a reversal's 90 makes it again from the record
		{ID: codec.FieldTransmission, Text: upstream.AppendTransmission(f7[:0], t.Received)},
		{ID: codec.FieldSTAN, Text: upstream.AppendSTAN(f11[:0], t.upSTAN)},
		{ID: codec.FieldRRN, Text: t.upRRN[:]},
		{ID: codec.FieldPINBlock, Text: appendUpperHex(f52[:0], pin)},
	}
	given := vals[:0]
	for _, val := range vals {
		if d.dialect.Field(val.ID) != nil && (val.ID != codec.FieldPINBlock || pin != nil) {
			given = append(given, val)
		}
	}
	header := d.header
	if header == nil && t.Link.dialect == d.dialect {
		header = v.Header()
	}
	b := &t.builder
	b.SetBCDPad(0)
	b.Begin(d.dialect, d.framing.Reserve(t.upBuf[:0], d.tpdu), v.MTI(), header)
	err = s.plan(t).Forward(b, v, given)
	if err == nil && d.zone.macAlg != 0 {
		t.upZAK = zak
		err = s.appendZoneMAC(b, d, zak, t.Link.cfg.HSMTimeout)
	}
	clear(f52[:])
	out, ferr := b.Finish()
	if err == nil {
		err = ferr
	}
	if err == nil {
		out, err = d.framing.Seal(out, 0)
	}
	if err == nil {
		t.upBuf = out
		err = d.dialect.Decode(&t.upView, out[d.framing.HeaderLen()+tpduLen(d.framing):])
	}
	var k upstream.Key
	if err == nil {
		err = d.ks.Extract(&t.upView, &k)
	}
	if err != nil {
		// the request cannot be carried in the destination's dialect (a
		// field it cannot hold, a key field missing): nothing was sent
		d.m.refused.Inc()
		if n, ok := d.line(destLineRefused); ok {
			logline.Held(d.log.Warn().Str("mti", v.MTI().String()).Str("error", codec.DescribeError(d.dialect, err)), "suppressed", n).
				Msg("request cannot be forwarded: answered 91")
		}
		t.Fail(ErrIssuerUnavailable)
		return false
	}
	// The record of what will be sent goes to the journal first: nothing
	// leaves before it is durable (sendForwarded, from Committed), so a
	// restart knows every request that may be open upstream.
	t.upKey, t.upConn = k, d.conns[i]
	t.upWire = append([]byte(nil), out...) // the loop writes it later: bytes of its own, not reused with t
	t.upState = journal.UpForwarded
	t.journaling = true
	s.journal.Append(t)
	return true
}

// outboundIDs gives t the RRN and STAN of its outbound leg (forwarded,
// stood in for, or an advice passed on): the originator's RRN when the
// switch gave it one, else a new one; the STAN derives from its counter
// (RRNSeq, journaled with the record), so neither starts again at a
// restart.
func (s *Server) outboundIDs(t *Txn) {
	if t.rrnLen > 0 {
		t.upRRN = t.rrn
	} else {
		t.rrnSeq = s.ids.NextRRN(&t.upRRN, t.Received)
	}
	t.upSTAN = upstream.STAN(t.rrnSeq)
}

// sendForwarded is the commit of t's forwarded record (the journal's
// committer: it must not wait). Durable: t goes into the table, then its
// bytes to the connection's loop; if it cannot (the connection went down
// meanwhile, the table is full or holds the key) it is answered 91 with a
// final record "not sent". Not durable: nothing was sent, and t is
// answered as any refused record (96, or withheld when in doubt).
func (s *Server) sendForwarded(t *Txn, err error) {
	if err != nil {
		t.upState, t.dest = journal.UpNone, nil
		t.Committed(err)
		return
	}
	d, k := t.dest, t.upKey
	t.upState = journal.UpNotSent // until the response or the expiry says otherwise
	ss := t.upConn.session()
	if ss == nil { // down since the worker picked it: another one, if one is up
		if i, err := d.pool.Pick(); err == nil {
			ss = d.conns[i].session()
		}
	}
	if ss == nil {
		d.m.allDown.Inc()
		s.notSent(t)
		return
	}
	wire := t.upWire
	// Put before the write: a response can never come before its request
	// is known.
	if err := d.table.Put(k, t, t.rrnSeq, t.Received.Add(d.cfg.Timeout)); err != nil {
		d.m.refused.Inc()
		if n, ok := d.line(destLineRefused); ok {
			logline.Held(d.log.Warn().Err(err), "suppressed", n).Msg("request not forwarded: answered 91")
		}
		s.notSent(t)
		return
	}
	// t belongs to the table now: only what Cancel gives back is ours
	if err := ss.send(wire); err != nil {
		if _, ok := d.table.Cancel(k); ok { // nothing left: the originator is answered now
			d.m.refused.Inc()
			s.notSent(t)
		}
		return
	}
	d.m.sent.Inc()
}

// notSent hands a forwarded request that never left to the workers, to be
// answered 91 and journaled. cont has room for every request in the
// tables; one that never entered a table may find it full, and the
// committer must not wait on the workers (they may be waiting on the
// journal): then a goroutine of its own waits.
func (s *Server) notSent(t *Txn) {
	select {
	case s.cont <- t:
	default:
		go func() { s.cont <- t }()
	}
}

func tpduLen(f codec.Framing) int {
	if f.TPDU {
		return codec.TPDULen
	}
	return 0
}

// plan is the compiled mapping from t's link to t's destination.
func (s *Server) plan(t *Txn) *upstream.Plan { return planFor(t.dest, t) }

// planFor is the compiled mapping from t's link to d.
func planFor(d *destination, t *Txn) *upstream.Plan {
	i := 2 * t.Link.idx
	if !t.View.Has(codec.FieldRRN) {
		i++
	}
	return d.plans[i]
}

// upstreamFrame handles one frame read from a destination's connection,
// on its loop. It never waits.
func (s *Server) upstreamFrame(ss *outSession, msg []byte) {
	d := ss.oc.d
	v := &ss.view
	if err := d.dialect.Decode(v, msg); err != nil {
		d.m.badFrames.Inc()
		if n, ok := d.line(destLineBad); ok {
			logline.Held(d.log.Warn().Str("error", codec.DescribeError(d.dialect, err)), "suppressed", n).Msg("message from destination does not decode: ignored")
		}
		return
	}
	mti := v.MTI()
	if mti.Class() == '8' {
		if mti.IsRequest() && s.isKeyChange(d, v) { // HSM and journal: the keeper's
			frame := append([]byte(nil), msg...)
			select {
			case ss.kc <- frame:
			default: // two waiting already: refused at once, the loop does not wait
				if buf, err := s.buildNetAnswer(d, mti.Response(), 0, 0, v, "96"); err == nil {
					_ = ss.send(buf)
				}
			}
			return
		}
		if mti.IsRequest() { // the destination's own echo test or sign-on: answered 00
			if buf, err := s.buildNet(d, mti.Response(), 0, 0, v); err == nil {
				_ = ss.send(buf)
			}
			if ss.oc.accepted {
				s.peerNetwork(ss, v) // its sign-on or sign-off on a connection it opened (inbound_dest.go)
			}
			return
		}
		stan, _ := v.STAN()
		var a nmAnswer
		a.stan = stan
		copy(a.code[:], v.AppendText(nil, codec.FieldResponseCode))
		select {
		case ss.nm <- a:
		default:
		}
		return
	}
	if mti.IsRequest() {
		d.m.unknown.Inc()
		return // issuer-initiated requests are not served on these links
	}
	if mti.Function() == '3' && d.saf != nil { // an advice response: to a store-and-forward entry (saf.go)
		d.saf.answer(msg)
		return
	}
	r, err := upstream.TakeResponse(d.table, &d.ks, v, upstream.DefaultApprovals)
	if err != nil {
		r.Match = upstream.Unknown
	}
	switch r.Match {
	case upstream.Matched:
		d.brk.answered(s.clock.Now())
		t := r.Pending
		t.upBuf = append(t.upBuf[:0], msg...)
		t.upState = journal.UpAnswered
		s.cont <- t
	case upstream.Late:
		d.m.late.Inc()
		s.late(d, v, r)
	default:
		d.m.unknown.Inc()
		if n, ok := d.line(destLineUnknown); ok {
			stan, _ := v.STAN()
			logline.Held(d.log.Warn().Str("mti", mti.String()).Uint32("stan", stan), "suppressed", n).
				Msg("response for no request in flight: ignored")
		}
	}
}

// late handles a response whose request expired: logged (the PAN masked)
// and counted; one that approved, or carries no code, is journaled to be
// reversed (the store-and-forward of the next issue sends the reversal).
func (s *Server) late(d *destination, v *codec.View, r upstream.Response[*Txn]) {
	var buf [24]byte
	stan, _ := v.STAN()
	rc := v.AppendText(buf[:0], codec.FieldResponseCode)
	if n, ok := d.line(destLineLate); ok {
		var p [32]byte
		logline.Held(d.log.Warn().Str("mti", v.MTI().String()).Uint32("stan", stan).Str("rc", string(rc)).
			Str("pan", codec.MaskPAN(string(v.PAN(p[:0])))).Uint64("rrn_seq", r.Ref).Str("verdict", r.Verdict.String()), "suppressed", n).
			Msg("late response from destination: the originator was answered 91")
	}
	if !r.Verdict.MustReverse() {
		return
	}
	d.m.lateReverse.Inc()
	rec := s.lateRecord(d, v, r.Ref)
	select {
	case s.lateQ <- rec:
	default:
		if n, ok := d.line(destLineLate); ok {
			logline.Held(d.log.Error().Uint32("stan", stan).Uint64("rrn_seq", r.Ref), "suppressed", n).
				Msg("late approval NOT journaled (queue full): reverse it by hand")
		}
	}
}

// undelivered journals, to be reversed, the approval of forwarded request
// t whose reply could not be written to its originator (its connection
// closed first): a copy of t's answered record, RespCode empty; or of a
// stand-in approval, whose reversal follows its advice (reverseStandIn).
// It never waits (the loops call it): the late approvals' queue takes it.
func (s *Server) undelivered(t *Txn) {
	d := t.dest
	now := s.clock.Now()
	it := &lateItem{rec: t.rec}
	r := &it.rec
	r.Seq, r.Hash = 0, [journal.HashLen]byte{}
	// Received stays the request's: the reversal's 90 names the field 7
	// the request went out with, made from it
	r.BusinessDate, r.Decided = s.day.Date(now), now.UnixNano()
	r.RespCode, r.UpState, r.ApprovalSeq = [2]byte{}, journal.UpUndelivered, 0
	r.Outcome, r.SessionKeys = nil, nil
	r.PANSealed = append([]byte(nil), t.rec.PANSealed...)
	if t.upState == journal.UpStandIn {
		s.reverseStandIn(d, r, &t.rec)
	}
	d.m.undelivered.Inc()
	if n, ok := d.line(destLineLate); ok {
		logline.Held(d.log.Warn().Str("link", t.Link.cfg.Name).Str("pan", r.PANMasked).Uint32("up_stan", r.UpSTAN).Str("up_rrn", r.UpRRN).
			Uint64("rrn_seq", r.RRNSeq), "suppressed", n).Msg("approval not delivered to the originator (connection gone): recorded to be reversed")
	}
	select {
	case s.lateQ <- it:
	default:
		if n, ok := d.line(destLineLate); ok {
			logline.Held(d.log.Error().Uint32("up_stan", r.UpSTAN).Uint64("rrn_seq", r.RRNSeq), "suppressed", n).
				Msg("undelivered approval NOT journaled (queue full): reverse it by hand")
		}
	}
}

// lateItem is a late approval's record and the PAN it is protected with.
type lateItem struct {
	rec journal.Record
	pan []byte
}

func (s *Server) lateRecord(d *destination, v *codec.View, ref uint64) *lateItem {
	now := s.clock.Now()
	it := &lateItem{pan: v.PAN(nil)}
	r := &it.rec
	var buf [64]byte
	*r = journal.Record{BusinessDate: s.day.Date(now), Received: now.UnixNano(), Decided: now.UnixNano(),
		Link: d.cfg.Name, MTI: v.MTI(), Destination: d.cfg.Name, RRNSeq: ref, UpState: journal.UpLateReversal}
	stan, _ := v.STAN()
	r.UpSTAN = stan
	r.UpRRN = string(v.RRN(buf[:0]))
	r.RRN = r.UpRRN
	copy(r.UpCode[:], v.AppendText(buf[:0], codec.FieldResponseCode))
	// RespCode stays empty: the switch answered 91 long ago (its own
	// record says so); UpCode is the host's late approval
	r.Approval = string(v.AppendText(buf[:0], codec.FieldApproval))
	r.ProcCode, _ = v.ProcessingCode()
	r.Amount, _ = v.Amount()
	r.Currency = currency(v)
	r.Transmission, _ = v.Uint(codec.FieldTransmission)
	r.Terminal = string(v.TerminalID(buf[:0]))
	r.Merchant = string(v.MerchantID(buf[:0]))
	clearText(r, false)
	return it
}

// journalLate writes the late approvals, one goroutine for the server:
// the journal may wait, the loops must not. It takes what has gathered,
// up to lateBatch at once, and waits for all of it together: the journal
// commits them in one group, so a host that answers a burst of expired
// requests after an outage is drained at the journal's rate, not at one
// fsync per record.
func (s *Server) journalLate() {
	defer s.outWG.Done()
	rj, _ := s.journal.(JournalStage)
	batch := make([]*lateItem, 0, lateBatch)
	waits := make([]waitErr, lateBatch)
	for i := range waits {
		waits[i] = make(waitErr, 1)
	}
	for {
		batch = batch[:0]
		select {
		case it := <-s.lateQ:
			batch = append(batch, it)
		case <-s.outStop:
			select {
			case it := <-s.lateQ: // what came before the stop is still written
				batch = append(batch, it)
			default:
				return
			}
		}
	gather:
		for len(batch) < lateBatch {
			select {
			case it := <-s.lateQ:
				batch = append(batch, it)
			default:
				break gather
			}
		}
		s.writeLate(rj, batch, waits)
	}
}

// lateBatch bounds the late approvals journalLate appends before it waits.
const lateBatch = 256

func (s *Server) writeLate(rj JournalStage, batch []*lateItem, waits []waitErr) {
	errs := make([]error, len(batch))
	sent := make([]bool, len(batch))
	for i, it := range batch {
		if rj.J == nil {
			errs[i] = errors.New("no journal to record it in")
			continue
		}
		if len(it.pan) > 0 {
			errs[i] = rj.P.Protect(&it.rec, it.pan)
		}
		if errs[i] == nil {
			rj.J.Append(&it.rec, waits[i])
			sent[i] = true
		}
	}
	for i, it := range batch {
		if sent[i] {
			errs[i] = <-waits[i]
		}
		if errs[i] != nil {
			s.log.Error().Err(errs[i]).Str("destination", it.rec.Destination).Uint64("rrn_seq", it.rec.RRNSeq).
				Msg("late approval NOT journaled: reverse it by hand")
		}
	}
}

type waitErr chan error

func (w waitErr) Committed(err error) { w <- err }

// expire runs upstream.Run over every destination's table on a 1 ms
// ticker until the server stops: each expired request goes to the workers
// as a timeout.
func (s *Server) expire() {
	defer s.outWG.Done()
	ticks := make(chan time.Time)
	tables := make([]*upstream.Table[*Txn], 0, len(s.destList))
	for _, d := range s.destList {
		tables = append(tables, d.table)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		upstream.Run(ticks, func(e upstream.Expired[*Txn]) {
			t := e.Pending
			t.upState = journal.UpTimeout
			t.dest.m.timeouts.Inc()
			if t.dest.brk.timeout(s.clock.Now()) {
				t.dest.m.breakerOpened.Inc()
				t.dest.log.Warn().Msg("circuit breaker open: timeouts in a row; live traffic is stood in for (or answered 91) until an echo test is answered")
			}
			t.dest.m.expiryLate.Observe(s.clock.Now().Sub(e.Deadline).Seconds())
			s.cont <- t
		}, tables...)
	}()
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-tk.C:
			ticks <- s.clock.Now()
		case <-s.outStop:
			close(ticks)
			<-done
			return
		}
	}
}

// resume answers a parked Txn on a worker: the destination's answer
// mapped back, or 91 for a timeout; then the journal, as every reply.
func (s *Server) resume(t *Txn) {
	defer func() {
		if p := recover(); p != nil {
			s.panicked(p, "worker (forwarded reply)")
			s.answerAfterPanic(t)
		}
	}()
	if t.upState == journal.UpAnswered {
		s.replyForwarded(t)
	} else { // a timeout, or never sent
		t.Fail(ErrIssuerUnavailable)
		s.respondSigned(t)
	}
	t.journaling = true
	s.journal.Append(t)
}

// replyForwarded builds t's reply from the destination's response in
// t.upBuf: its 39 (and 38 on an approval) are the reply's, with what the
// mapping brings back and the originator's own fields restored.
func (s *Server) replyForwarded(t *Txn) {
	d, l, v := t.dest, t.Link, &t.View
	if err := d.dialect.Decode(&t.upView, t.upBuf); err != nil {
		t.Fail(ErrSystem)
		s.respondSigned(t)
		return
	}
	resp := &t.upView
	if d.zone.macAlg != 0 {
		if err := s.verifyZoneMAC(d, resp, t.upZAK, t.Link.cfg.HSMTimeout); err != nil {
			s.badMAC(t, err)
			return
		}
	}
	var buf [8]byte
	rc := resp.AppendText(buf[:0], codec.FieldResponseCode)
	if len(rc) != 2 {
		t.Fail(ErrSystem) // an answer without a code cannot be passed on
		s.respondSigned(t)
		return
	}
	t.Code = [2]byte{rc[0], rc[1]}
	t.upCode = t.Code
	d.m.answered.WithLabelValues(string(rc)).Inc()
	if a := resp.AppendText(buf[:0], codec.FieldApproval); t.Approved() && len(a) == 6 {
		copy(t.Approval[:], a)
	}
	var tpdu []byte
	var swapped [codec.TPDULen]byte
	if t.hasTPDU {
		codec.ReplyTPDU(&swapped, t.tpdu[:])
		tpdu = swapped[:]
	}
	b := &t.builder
	b.SetBCDPad(l.bcdPad)
	b.Begin(l.dialect, l.framing.Reserve(t.out[:0], tpdu), v.MTI().Response(), v.Header())
	err := s.plan(t).Back(b, resp, v)
	if sign := s.signer(t); err == nil && sign != nil {
		err = s.appendMAC(b, s.macField(t), sign)
	}
	out, ferr := b.Finish()
	if err == nil {
		err = ferr
	}
	if err == nil {
		out, err = l.framing.Seal(out, 0)
	}
	if err != nil {
		// the destination's answer cannot be carried back (a field the
		// originator's dialect cannot hold): 96. If it approved, the effect
		// at the issuer stays: the journal says so (UpCode beside RespCode)
		if n, ok := d.line(destLineUnmapped); ok {
			logline.Held(s.log.Error().Str("link", l.cfg.Name).Str("destination", d.cfg.Name).Str("error", codec.DescribeError(l.dialect, err)), "suppressed", n).
				Msg("destination's answer cannot be mapped back: answered 96")
		}
		t.Approval = [6]byte{}
		t.Fail(ErrSystem)
		s.respondWith(t, nil)
		return
	}
	t.out = out
}

// startForwarding starts the gnet client of the destinations' connections,
// their keepers, the expiry and the late-approval journaling.
func (s *Server) startForwarding() error {
	if len(s.destList) == 0 {
		return nil
	}
	cli, err := gnet.NewClient(&outHandler{s: s}, gnet.WithMulticore(true), gnet.WithNumEventLoop(min(s.cfg.EventLoops, 4)),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLogger(gnetLogger{s.log}))
	if err != nil {
		return err
	}
	if err := cli.Start(); err != nil {
		return err
	}
	s.outClient = cli
	if err := s.listenDestinations(); err != nil { // issuer-initiated links (inbound_dest.go)
		_ = cli.Stop()
		s.outClient = nil
		return err
	}
	s.outWG.Add(2)
	go s.expire()
	go s.journalLate()
	for _, d := range s.destList {
		if d.saf != nil {
			s.outWG.Add(1)
			go d.saf.run()
		}
	}
	for _, d := range s.destList {
		for _, oc := range d.conns {
			if oc.accepted {
				continue // the destination opens it: no keeper dials
			}
			s.outWG.Add(1)
			go s.keep(oc)
		}
	}
	return nil
}

// stopForwarding stops what startForwarding started; requests still in
// flight upstream have been answered (Shutdown waits for them) or are
// given up with the process.
func (s *Server) stopForwarding(_ context.Context) {
	if s.outClient == nil {
		return
	}
	close(s.outStop)
	s.outWG.Wait()
	if err := s.outClient.Stop(); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn().Err(err).Msg("stopping the destinations' client")
	}
}

// WaitDestinations waits until every destination has a connection up (or
// ctx ends): a benchmark's first requests must not meet a connection
// still dialling.
func (s *Server) WaitDestinations(ctx context.Context) error {
	for _, d := range s.destList {
		for {
			if _, err := d.pool.Pick(); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("destination %s: no connection up: %w", d.cfg.Name, ctx.Err())
			case <-time.After(time.Millisecond):
			}
		}
	}
	return nil
}
