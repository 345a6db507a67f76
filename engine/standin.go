package engine

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/standin"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/internal/logline"
	"github.com/cardswitch/cardswitch/journal"
)

// Stand-in (ARCHITECTURE.md, "Stand-in"): when a destination is
// unavailable (no connection up, signed off, or its circuit breaker open
// after timeouts), the switch may authorize in its place by the
// destination's stand-in rules (engine/standin decides). The decision is
// journaled (UpState stand-in, the destination, an outbound STAN and RRN
// of its own) before the reply leaves, the reply carries the stand-in
// indicator in field 44 where the originator's dialect has it, and an
// approval owes the destination an advice (0220 or 0120) that
// store-and-forward sends once it is back (SAFOwed). The per-card usage
// is derived from the journal: a restart applies the day's stand-in
// approvals again (RestoreStandIn).

// StandInConfig is a destination's stand-in processing.
type StandInConfig struct {
	standin.Config
	// Negative is the negative file: PAN keyed hashes (the journal's
	// Protector.HashPAN) and the code each gets ("" = 62). The caller
	// loads and hashes it; the PANs are not kept.
	Negative map[[32]byte]string
}

// standInIndicatorField carries the stand-in indicator in the reply and
// the advice: ISO 8583:1987's additional response data (44, ans..25).
const standInIndicatorField = 44

// destBreaker is a destination's circuit breaker (upstream.Breaker, not
// safe for concurrent use) behind a mutex, with flags that keep the hot
// path off it: while the circuit is closed and no timeout is counted, a
// forward or an answer reads one atomic.
type destBreaker struct {
	mu        sync.Mutex
	b         *upstream.Breaker
	notClosed atomic.Bool // open or half-open: live traffic does not go
	counting  atomic.Bool // timeouts counted since the last answer
}

func newDestBreaker(cfg upstream.BreakerConfig) *destBreaker {
	return &destBreaker{b: upstream.NewBreaker(cfg)}
}

// allow reports whether live traffic may go to the destination.
func (db *destBreaker) allow(now time.Time) bool {
	if db == nil || !db.notClosed.Load() {
		return true
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	ok := db.b.Allow(now)
	db.notClosed.Store(!ok)
	return ok
}

// timeout counts a forwarded request the destination did not answer in
// time; it reports whether that opened the circuit.
func (db *destBreaker) timeout(now time.Time) (opened bool) {
	if db == nil {
		return false
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	before := db.b.Opened()
	db.b.Timeout(now)
	db.counting.Store(true)
	db.notClosed.Store(db.b.State(now) != upstream.Closed)
	return db.b.Opened() > before
}

// answered counts an answer in time: the timeouts in a row start again.
func (db *destBreaker) answered(now time.Time) {
	if db == nil || !db.counting.Load() {
		return
	}
	db.mu.Lock()
	db.b.Answered(now)
	db.counting.Store(false)
	db.mu.Unlock()
}

// probe reports whether the caller should send the half-open probe (an
// echo test) now.
func (db *destBreaker) probe(now time.Time) bool {
	if db == nil || !db.notClosed.Load() {
		return false
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.b.Probe(now)
}

// probed closes the circuit (the echo answered 00) or opens it again.
func (db *destBreaker) probed(ok bool, now time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.b.ProbeResult(ok, now)
	db.notClosed.Store(db.b.State(now) != upstream.Closed)
}

// state is the circuit's state, for the admin API and the metrics.
func (db *destBreaker) state(now time.Time) upstream.BreakerState {
	if db == nil {
		return upstream.Closed
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.b.State(now)
}

// unavailable reports whether d cannot take live traffic now: no
// connection up (or signed on where required), or its circuit open.
func (d *destination) unavailable(now time.Time) bool {
	return !d.brk.allow(now) || !d.pool.AnyUp() // not Pick: forward's Pick takes the round robin's turn
}

// standIn decides t in d's place (stand-in) and sets its answer; the
// caller journals and replies as for an on-us decision.
func (s *Server) standIn(t *Txn, d *destination) {
	v := &t.View
	now := s.clock.Now()
	rj, _ := s.journal.(JournalStage)
	pan := t.PAN()
	if rj.P == nil || len(pan) == 0 {
		t.Fail(ErrIssuerUnavailable) // no keyed hash to count the card by (or no card): no stand-in
		return
	}
	if t.panHashBy != rj.P {
		t.panHash, t.panHashBy = rj.P.HashPAN(pan), rj.P
	}
	if v.MTI().IsRepeat() && s.standInRepeat(t, d) {
		return
	}
	r := standInRequest(v, t.panHash, t.BusinessDate, now)
	var dec standin.Decision
	if v.Has(codec.FieldPINBlock) {
		// the issuer's PIN keys are not the switch's: a PIN cannot be
		// verified in its place
		dec = standin.Decision{Code: d.cfg.StandIn.declineCode(), Reason: standin.ReasonProcessing}
	} else {
		dec = d.stip.Authorize(r)
	}
	t.SetCode(dec.Code)
	if dec.Approved {
		NewApprovalCode(t)
	}
	// an outbound STAN and RRN of its own, as a forwarded request's: the
	// advice goes with them, and they tie the records together (RRNSeq)
	s.outboundIDs(t)
	t.dest, t.upState = d, journal.UpStandIn
	if t.Link.dialect.Field(standInIndicatorField) != nil {
		t.addReplyField(standInIndicatorField, []byte(standin.Indicator(dec.Reason)), true)
	}
	d.m.standIn.WithLabelValues(dec.Code).Inc()
	if n, ok := d.line(destLineStandIn); ok {
		logline.Held(d.log.Info().Str("mti", v.MTI().String()).Str("pan", codec.MaskPAN(string(pan))).Str("rc", dec.Code).
			Str("reason", dec.Reason.String()), "suppressed", n).Msg("stand-in: the destination is unavailable, the switch decided in its place")
	}
}

// standInRepeat answers t, a repeat (0101, 0201) of a request stand-in
// approved, as its original was: the same code, approval code, outbound
// STAN and RRN and counter, so that its record is the same entry
// (SAFFollowsUp) and counts once in the card's usage. False when the
// original is not in the index (decided anew, as the request it repeats).
func (s *Server) standInRepeat(t *Txn, d *destination) bool {
	if d.saf == nil {
		return false
	}
	v := &t.View
	var tb [16]byte
	stan, _ := v.STAN()
	k := newOrigKey(string(v.TerminalID(tb[:0])), v.MTI().Class(), stan, RequestDate(v)%10000)
	ref, found := d.saf.originals.find(k)
	if !found || ref.kind != refStandIn || ref.rrnSeq == 0 {
		return false
	}
	t.SetCode(string(ref.code[:]))
	t.Approval = ref.approval
	t.rrnSeq, t.upSTAN, t.upRRN = ref.rrnSeq, ref.upSTAN, ref.upRRN
	t.dest, t.upState = d, journal.UpStandIn
	if t.Link.dialect.Field(standInIndicatorField) != nil {
		t.addReplyField(standInIndicatorField, []byte(standin.Indicator(standin.ReasonApproved)), true)
	}
	d.m.standIn.WithLabelValues(string(ref.code[:])).Inc()
	return true
}

// declineCode is the code stand-in answers what it does not cover.
func (c StandInConfig) declineCode() string {
	if c.DeclineCode == "" {
		return standin.DoNotHonour
	}
	return c.DeclineCode
}

// standInRequest is what stand-in reads of request v.
func standInRequest(v *codec.View, hash [32]byte, day uint32, now time.Time) standin.Request {
	r := standin.Request{MTI: [4]byte(v.MTI().Original()), PAN: hash, Day: day, Currency: currency(v)} // a repeat not found is decided as what it repeats
	r.Proc, _ = v.ProcessingCode()
	r.Amount, _ = v.Amount()
	var buf [48]byte
	exp := v.AppendText(buf[:0], codec.FieldExpiry)
	if len(exp) != 4 { // a swipe carries it in track 2: PAN, separator, YYMM
		t2 := v.AppendText(buf[:0], codec.FieldTrack2)
		if i := bytes.IndexAny(t2, "=D"); i >= 0 && len(t2) >= i+5 {
			exp = t2[i+1 : i+5]
		}
	}
	if len(exp) == 4 && allDigits(string(exp)) {
		yymm := int(exp[0]-'0')*1000 + int(exp[1]-'0')*100 + int(exp[2]-'0')*10 + int(exp[3]-'0')
		nowYYMM := (now.Year()%100)*100 + int(now.Month())
		r.Expired = yymm < nowYYMM // valid through the end of its month
	} else {
		r.Expired = true // no expiry to check: not approved in the issuer's place
	}
	return r
}

// RestoreStandIn applies, before the server serves, the stand-in
// approvals of the current business day the replay kept, less what
// reversals took back (a card's daily limits count them): the state is
// the journal's. They go into the index of originals as well, for their
// repeats and reversals. Records of a
// destination without stand-in are ignored.
func (s *Server) RestoreStandIn(recs []journal.Record) int {
	n := 0
	for i := range recs {
		r := &recs[i]
		d := s.dests[r.Destination]
		if d == nil || d.stip == nil || r.UpState != journal.UpStandIn || !standInApproved(r.RespCode) {
			continue
		}
		d.stip.Apply(standin.Request{MTI: r.MTI, Proc: r.ProcCode, Amount: r.Amount, Currency: r.Currency, PAN: r.PANHash, Day: r.BusinessDate},
			standin.Decision{Code: standin.Approved, Approved: true, Reason: standin.ReasonApproved})
		if d.saf != nil {
			d.saf.originals.addAdvice(r) // its repeats and reversals find it after the restart too
		}
		n++
	}
	return n
}

func (c StandInConfig) validate(key func(string) string) error {
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("%s: %v", key("stand_in"), err)
	}
	return nil
}
