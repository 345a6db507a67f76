package engine

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/saf"
	"github.com/cardswitch/cardswitch/engine/standin"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/internal/logline"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/journal/clearing"
)

// Store-and-forward (ARCHITECTURE.md, "Store-and-forward"): what the
// switch owes a destination is decided from journal records alone
// (SAFOwed), so the queue is the journal itself. A record that owes
// something (a timeout, a response with a bad MAC, a late approval, a
// request open at a restart: a reversal; a stand-in approval: an advice)
// is seen by ObserveRecord on the journal's committer before its waiter
// hears of it, so the entry exists before the 91 that depends on it
// leaves. One goroutine per destination (safRunner.run) drives its
// saf.Queue: it sends entries in order when a connection is up, takes
// their answers (read on the loop, matched by STAN and RRN), retries,
// expires, and journals each entry's end (delivered, rejected, expired),
// which is what a replay closes it by. A restart rebuilds the pending
// entries from the journal (and the snapshots) and sends each as a
// repeat: it may have gone out before the crash.

// SAFConfig tunes a destination's store-and-forward queue. Zero values take
// the defaults of saf.Config, and Timeout the destination's own.
type SAFConfig struct {
	// Disabled turns store-and-forward off for the destination: what it is
	// owed is still journaled (and listed by the journal tools), not sent.
	Disabled bool
	// Cap is the most entries held: default 262,144. An entry keeps its
	// record (about 600 bytes with its strings), so a full queue is about
	// 150 MB: hours of a busy destination's timeouts, or a day of its
	// stand-in advices. Beyond it an entry is counted (full) and left in
	// the journal: the next start queues it.
	Cap         int
	Window      int           // entries in flight at once; default 32
	MaxRetries  int           // sends after the first; default 10
	ExpireAfter time.Duration // how long an entry may wait; default 72h
	// Timeout is how long an entry's answer may take before it is retried;
	// default the destination's timeout.
	Timeout time.Duration
	// RetryBase and RetryMax space the tries of one entry; defaults 1s and 5m.
	RetryBase, RetryMax time.Duration
	// Delivered and Retry are the response codes that deliver an entry and
	// that retry it; any other rejects it. Defaults: 00 25 94; 91 96 19.
	Delivered, Retry []string
}

func (c SAFConfig) queueConfig() saf.Config {
	if c.Cap == 0 {
		c.Cap = 1 << 18
	}
	q := saf.Config{Cap: c.Cap, Window: c.Window, MaxRetries: c.MaxRetries, ExpireAfter: c.ExpireAfter,
		Delivered: c.Delivered, Retry: c.Retry}
	if c.RetryBase != 0 || c.RetryMax != 0 {
		q.Backoff = upstream.Backoff{Base: c.RetryBase, Max: c.RetryMax, Jitter: 0.25}
		if q.Backoff.Base == 0 {
			q.Backoff.Base = time.Second
		}
		if q.Backoff.Max == 0 {
			q.Backoff.Max = max(5*time.Minute, q.Backoff.Base)
		}
	}
	return q
}

func (c SAFConfig) validate(key func(string) string) error {
	if err := c.queueConfig().Validate(); err != nil {
		return fmt.Errorf("%s: %v", key("saf"), err)
	}
	if c.Timeout != 0 && (c.Timeout < 10*time.Millisecond || c.Timeout > 2*time.Minute) {
		return fmt.Errorf("%s: %v must be 10ms to 2m", key("saf.timeout"), c.Timeout)
	}
	return nil
}

// SAFOwed reports what record r owes its destination (r.Destination), if
// anything: the entry it starts. A pure function of the record, used live
// (ObserveRecord) and by the replay alike.
func SAFOwed(r *journal.Record) (saf.Kind, bool) {
	switch r.UpState {
	case journal.UpTimeout, journal.UpBadMAC, journal.UpLateReversal, journal.UpOpenAtRestart, journal.UpUndelivered:
		return saf.Reversal, r.Destination != "" && r.RRNSeq != 0
	case journal.UpStandIn:
		if !standInApproved(r.RespCode) || r.Destination == "" || r.RRNSeq == 0 {
			return 0, false
		}
		if r.MTI[1] == '1' {
			return saf.AuthAdvice, true
		}
		return saf.Advice, true
	case journal.UpAdviceAccepted:
		if r.Destination == "" || r.RRNSeq == 0 {
			return 0, false
		}
		switch r.MTI[1] {
		case '1':
			return saf.AuthAdvice, true
		case '2':
			return saf.Advice, true
		case '4':
			return saf.Reversal, true
		}
	}
	return 0, false
}

// acceptAdvice takes an originator's advice (0120, 0220, 0420), or a
// reversal (0400) that cannot go online, for d's card: answered 00 once
// journaled (the record owes d the advice, SAFOwed), and passed on by
// store-and-forward, in order, with repeats, until d has it. It gets an
// outbound STAN and RRN of its own, as a forwarded request does.
//
// A reversal of a request the switch forwarded takes that request's
// RRN counter, outbound STAN and RRN (the index of the requests forwarded
// lately knows them): it is the same reversal as the one the switch owes
// when that request timed out, and store-and-forward keeps one entry per
// counter, so the destination gets one reversal, not two; a terminal's
// repeat (0421) is the same entry too. A reversal of an advice the switch
// owes (a stand-in approval, an advice it accepted) follows that advice
// (reverseAdvice). A repeat of an accepted advice (0121, 0221) is the
// same entry as the advice. When the switch gave the originator's reply
// an RRN of its own (its counter is journaled with this record), or the
// original is not in the index, the reversal gets new ones.
func (s *Server) acceptAdvice(t *Txn, d *destination) {
	t.dest, t.upState = d, journal.UpAdviceAccepted
	t.SetCode("00")
	v := &t.View
	// what the originator advises goes on with it: its 39 (a reversal's
	// reason, the code an advice reports: journaled as UpCode) and its 38
	var buf [8]byte
	if rc := v.AppendText(buf[:0], codec.FieldResponseCode); len(rc) == 2 {
		t.upCode = [2]byte{rc[0], rc[1]}
	}
	if a := v.AppendText(buf[:0], codec.FieldApproval); len(a) == 6 {
		copy(t.Approval[:], a)
	}
	var tb [16]byte
	term := string(v.TerminalID(tb[:0]))
	mti := v.MTI()
	o, named := OriginalOf(v, RequestDate(v))
	named = named && mti.Class() == '4'
	if named {
		for _, c := range []byte{o.Class(), '2', '1'} {
			if s.reverseAdvice(t, d, newOrigKey(term, c, o.STAN, o.Date%10000)) {
				return
			}
		}
	}
	if mti.IsRepeat() && mti.Class() != '4' {
		stan, _ := v.STAN()
		k := newOrigKey(term, mti.Class(), stan, RequestDate(v)%10000)
		if ref, found := d.saf.originals.find(k); found && ref.kind == refAdvice && ref.rrnSeq != 0 {
			t.rrnSeq, t.upSTAN, t.upRRN = ref.rrnSeq, ref.upSTAN, ref.upRRN
			if t.rrnLen > 0 {
				// the repeat is answered with its advice's RRN: the one the
				// switch drew for it now was never given out, so its counter
				// need not be journaled
				t.rrn, t.rrnLen = ref.upRRN, len(ref.upRRN)
			}
			return
		}
	}
	if named && t.rrnLen == 0 {
		for _, c := range []byte{o.Class(), '2', '1'} {
			if ref, found := d.saf.originals.find(newOrigKey(term, c, o.STAN, o.Date%10000)); found && ref.kind == refForwarded && ref.rrnSeq != 0 {
				t.rrnSeq, t.upSTAN, t.upRRN = ref.rrnSeq, ref.upSTAN, ref.upRRN
				return
			}
		}
	}
	s.outboundIDs(t)
}

// reverseStandIn makes r, a copy of stand-in approval a's record, the
// switch's own reversal of it (its reply could not be delivered): it
// follows the approval's advice, and frees the approval's stand-in
// usage, once for all its reversals (the terminal's may come too).
func (s *Server) reverseStandIn(d *destination, r, a *journal.Record) {
	k := newOrigKey(a.Terminal, a.MTI[1], a.STAN, clearing.RequestDate(a)%10000)
	ref, first, found := d.saf.originals.claimReversal(k)
	if !found || ref.rrnSeq != a.RRNSeq {
		first = true // not in the index (a newer request took its place): nothing else freed it
	}
	r.Follows = a.RRNSeq
	if first && d.stip != nil {
		d.stip.Reverse(standin.Request{PAN: a.PANHash, Amount: a.Amount, Day: a.BusinessDate})
	}
}

// storedAndForwarded reports whether t, for d's card, goes to d by
// store-and-forward rather than online: an advice (0120, 0220, 0420)
// always; a reversal request (0400) when d cannot take it now (it must
// reach d all the same: the acquirer has its 0410 and d the 0420 once
// back), or when it reverses an advice d has not had first (a stand-in
// approval, an accepted advice).
func storedAndForwarded(t *Txn, d *destination, now time.Time) bool {
	mti := t.View.MTI()
	if mti.IsAdvice() {
		return strings.IndexByte("124", mti.Class()) >= 0
	}
	if mti.Class() != '4' {
		return false
	}
	if d.unavailable(now) {
		return true
	}
	o, ok := OriginalOf(&t.View, RequestDate(&t.View))
	if !ok {
		return false
	}
	var tb [16]byte
	term := string(t.View.TerminalID(tb[:0]))
	for _, c := range []byte{o.Class(), '2', '1'} {
		if ref, found := d.saf.originals.find(newOrigKey(term, c, o.STAN, o.Date%10000)); found {
			return ref.kind != refForwarded
		}
	}
	return false
}

// reverseAdvice takes t, a reversal, as the reversal of the advice at k
// when the index holds one (false: it does not). The reversal follows
// the advice (journal.Record.Follows: its entry waits until the
// destination has the advice, and every reversal of the advice is one
// entry, SAFRef), with the advice's outbound STAN and RRN, and its own
// RRN counter. The first reversal of a stand-in approval frees the
// card's stand-in usage (partly, for a partial one).
func (s *Server) reverseAdvice(t *Txn, d *destination, k origKey) bool {
	ref, first, found := d.saf.originals.claimReversal(k)
	if !found {
		return false
	}
	s.outboundIDs(t)
	t.upSTAN, t.upRRN, t.follows = ref.upSTAN, ref.upRRN, ref.rrnSeq
	if first && ref.kind == refStandIn && d.stip != nil {
		if rj, _ := s.journal.(JournalStage); rj.P != nil {
			if pan := t.PAN(); len(pan) > 0 {
				amount, _ := t.View.Amount()
				remains, _ := replacementOf(&t.View)
				d.stip.Reverse(standin.Request{PAN: rj.P.HashPAN(pan), Amount: amount, Remains: remains, Day: ref.day})
			}
		}
	}
	return true
}

// SAFFollowsUp reports a record that owes what an entry of the same
// request (RRNSeq) may have delivered already: a late approval after its
// timeout's reversal, an originator's reversal of a request whose
// timeout was reversed, a repeat of an advice or of a stand-in request,
// the switch's reversal of a stand-in approval after the terminal's.
// After a delivery (other than 25: no original yet) it adds nothing,
// live and at a replay alike.
func SAFFollowsUp(r *journal.Record) bool {
	switch r.UpState {
	case journal.UpLateReversal:
		return true
	case journal.UpAdviceAccepted:
		return r.MTI[1] == '4' || r.MTI[3] == '1' // a reversal, or a repeat of an advice
	case journal.UpStandIn:
		return r.MTI[3] == '1' // a repeat answered as its original was
	case journal.UpUndelivered:
		return r.Follows != 0 // the reversal of a stand-in approval, which the terminal's may have delivered
	}
	return false
}

// safFollowBit marks an entry reference (SAFRef) that is a reversal of
// an advice rather than an RRN counter value (which never comes near it).
const safFollowBit = 1 << 63

// SAFRef is the entry record r is of, for the queue's one entry per
// reference: the request's RRN counter (RRNSeq), which its timeout's and
// its originator's reversals share; or, for a reversal of an advice
// (Follows), the advice it reverses, which every reversal of it shares
// whatever counter each took (the switch's own of an undelivered stand-in
// approval, the terminal's, and their repeats). Final SAF records copy
// their entry's record, so they name the same reference.
func SAFRef(r *journal.Record) uint64 {
	if r.Follows != 0 {
		return r.Follows | safFollowBit
	}
	return r.RRNSeq
}

// SAFFollowed reports the advice's counter a reference of a reversal of
// an advice names (SAFRef), false for a request's counter.
func SAFFollowed(ref uint64) (uint64, bool) {
	return ref &^ safFollowBit, ref&safFollowBit != 0
}

// standInApproved: the codes of an approval a stand-in decision gives.
func standInApproved(rc [2]byte) bool { return rc == [2]byte{'0', '0'} }

// safQueued is an entry's record and kind, as the runner keeps it.
type safQueued struct {
	rec      journal.Record // a copy: strings are immutable, PANSealed copied
	kind     saf.Kind
	restored bool // found pending at the start
}

// safKey matches an answer to the entry in flight: the STAN and RRN the
// entry went out with (the original request's, the same on every repeat).
type safKey struct {
	stan uint32
	rrn  [12]byte
}

func safKeyOf(stan uint32, rrn []byte) safKey {
	k := safKey{stan: stan}
	copy(k.rrn[:], rrn)
	return k
}

type setField struct {
	id int
	v  string
}

// safAnswer is a response to an entry, read on the loop.
type safAnswer struct {
	frame []byte // the decoded message's bytes (a copy)
}

// safInboxMax bounds the records waiting for the runner (it takes them
// every tick, a few ms): beyond, a record is dropped from memory only
// (it is journaled: the next start has it) and counted.
const safInboxMax = 1 << 16

// safRunner is one destination's store-and-forward.
type safRunner struct {
	s       *Server
	d       *destination
	cfg     SAFConfig
	timeout time.Duration

	mu    sync.Mutex
	inbox []safQueued // from the committer, in journal order
	wake  chan struct{}

	answers   chan safAnswer // from the loop; full: the answer is dropped and the entry retried
	originals forwardedIndex // the requests forwarded lately, for the originators' reversals
	ctl       chan safCtl    // the admin API's requests

	// owned by run
	q         *saf.Queue
	entries   map[uint64]*safQueued // by entry ID (its record's Seq)
	byRef     map[uint64]uint64     // RRNSeq -> entry ID, live entries
	flight    map[safKey]uint64     // in flight: key -> entry ID
	recent    saf.Recent            // RRNSeq of entries delivered lately
	excepts   []SAFEntry            // the last safExceptionsMax exceptions (rejected, expired), newest last
	view      codec.View
	builder   codec.Builder
	setFields []setField // the mapping's constants the destination's dialect has, by field number below 64

	m safMetrics
}

type safMetrics struct {
	added, deduped, sent, repeats, delivered, rejected, expired, retried, full, dropped, ignored prometheus.Counter
	depth, oldest, inFlight                                                                      prometheus.Gauge
}

// safExceptionsMax bounds the exceptions the admin API lists (the journal
// holds every one: 'cardswitch journal dump' shows them).
const safExceptionsMax = 1000

func newSAFRunner(s *Server, d *destination) *safRunner {
	cfg := d.cfg.SAF
	r := &safRunner{s: s, d: d, cfg: cfg, timeout: cfg.Timeout,
		wake: make(chan struct{}, 1), ctl: make(chan safCtl),
		q: saf.NewQueue(cfg.queueConfig()), entries: map[uint64]*safQueued{}, byRef: map[uint64]uint64{},
		flight: map[safKey]uint64{}}
	if r.timeout == 0 {
		r.timeout = d.cfg.Timeout
	}
	w := cfg.Window
	if w == 0 {
		w = 32
	}
	for id, v := range d.cfg.Mapping.Out.Set {
		if id < codec.FieldMAC && d.dialect.Field(id) != nil {
			r.setFields = append(r.setFields, setField{id, v})
		}
	}
	slices.SortFunc(r.setFields, func(a, b setField) int { return cmp.Compare(a.id, b.id) })
	r.answers = make(chan safAnswer, 2*w) // at most Window in flight: each answered once, twice for a host that repeats
	r.m = s.um.forSAF(d.cfg.Name)
	return r
}

// ObserveRecord follows the journal (journal.SetOnRecord): on the
// committer, for every durable record in order, before its waiter hears.
// A record that owes its destination something becomes an entry of that
// destination's queue. It never waits.
func (s *Server) ObserveRecord(r *journal.Record) {
	if r.UpState == journal.UpNone || r.UpState == journal.UpForwarded || r.UpState.SettlesSAF() {
		return // the hot path: most records owe nothing
	}
	if r.UpState == journal.UpAnswered || r.UpState == journal.UpTimeout {
		if d := s.dests[r.Destination]; d != nil && d.saf != nil {
			d.saf.originals.add(r) // what an originator's later reversal names (safmsg.go)
		}
		if r.UpState == journal.UpAnswered {
			return
		}
	}
	kind, ok := SAFOwed(r)
	if !ok {
		return
	}
	d := s.dests[r.Destination]
	if d == nil || d.saf == nil {
		return
	}
	if kind != saf.Reversal && r.UpState != journal.UpLateReversal {
		d.saf.originals.addAdvice(r) // its repeats and reversals find it
	}
	d.saf.push(r, kind)
}

func (sr *safRunner) push(r *journal.Record, kind saf.Kind) {
	q := safQueued{rec: *r, kind: kind}
	q.rec.PANSealed = append([]byte(nil), r.PANSealed...)
	q.rec.Outcome, q.rec.SessionKeys = nil, nil
	sr.mu.Lock()
	if len(sr.inbox) >= safInboxMax {
		sr.mu.Unlock()
		sr.m.dropped.Inc()
		return
	}
	sr.inbox = append(sr.inbox, q)
	sr.mu.Unlock()
	select {
	case sr.wake <- struct{}{}:
	default:
	}
}

// RestoreSAF gives the server, before it serves, the entries a replay
// found pending (records that owe something and have no final SAF record)
// and those this start itself owes (fresh: the reversals of requests it
// found open), each in journal order. A pending entry goes as a repeat:
// it may have gone out before the stop; a fresh one goes first as itself.
// Records of a destination no longer configured, or with store-and-forward
// disabled, are returned (the caller logs them: they stay in the journal,
// and the next start finds them again).
func (s *Server) RestoreSAF(pending, fresh []journal.Record) (left []journal.Record) {
	all := make([]safQueued, 0, len(pending)+len(fresh))
	for i := range pending {
		all = append(all, safQueued{rec: pending[i], restored: true})
	}
	for i := range fresh {
		all = append(all, safQueued{rec: fresh[i]})
	}
	slices.SortFunc(all, func(a, b safQueued) int { return cmp.Compare(a.rec.Seq, b.rec.Seq) })
	for _, q := range all {
		kind, ok := SAFOwed(&q.rec)
		d := s.dests[q.rec.Destination]
		if !ok || d == nil || d.saf == nil {
			left = append(left, q.rec)
			continue
		}
		q.kind, q.rec.Outcome, q.rec.SessionKeys = kind, nil, nil
		if q.rec.UpState == journal.UpAdviceAccepted && kind != saf.Reversal {
			d.saf.originals.addAdvice(&q.rec) // its repeats are the same entry after the restart too
		}
		d.saf.mu.Lock()
		d.saf.inbox = append(d.saf.inbox, q)
		d.saf.mu.Unlock()
	}
	return left
}

// answer hands a response to an entry (an xx30 or xx31, decoded on the
// loop) to the runner; it never waits.
func (sr *safRunner) answer(msg []byte) {
	select {
	case sr.answers <- safAnswer{frame: append([]byte(nil), msg...)}:
	default:
		sr.m.ignored.Inc() // the entry's timeout retries it: exactly once in effect all the same
	}
}

// safTick is how often the runner looks at its queue without a wake-up:
// retries and timeouts are due at it (their delays are seconds).
const safTick = 10 * time.Millisecond

func (sr *safRunner) run() {
	defer sr.s.outWG.Done()
	tk := time.NewTicker(safTick)
	defer tk.Stop()
	for {
		select {
		case <-sr.s.outStop:
			return
		case <-tk.C:
		case <-sr.wake:
		case a := <-sr.answers:
			sr.take(a)
		case c := <-sr.ctl:
			c.reply <- sr.control(c)
			continue
		}
		sr.step(sr.s.clock.Now())
	}
}

// step is one round: what arrived, the answers waiting, the entries
// overdue or expired, then as many sends as the window and a connection
// allow.
func (sr *safRunner) step(now time.Time) {
	sr.admit()
	for {
		select {
		case a := <-sr.answers:
			sr.take(a)
			continue
		default:
		}
		break
	}
	if n := sr.q.Due(now); n > 0 {
		sr.m.retried.Add(float64(n)) // their flight keys stay: a late answer to one is taken if it is in flight again
	}
	for _, e := range sr.q.Expired(now) {
		sr.final(e.ID, journal.UpSAFExpired, [2]byte{}, now)
	}
	sr.send(now)
	sr.gauges(now)
}

// admit moves the inbox into the queue, deduplicated by RRNSeq: one entry
// per request (a late approval after its timeout's reversal adds none).
func (sr *safRunner) admit() {
	sr.mu.Lock()
	in := sr.inbox
	sr.inbox = nil
	sr.mu.Unlock()
	for i := range in {
		q := &in[i]
		ref := SAFRef(&q.rec)
		if _, live := sr.byRef[ref]; live {
			sr.m.deduped.Inc()
			continue
		}
		if sr.recent.Has(ref) && SAFFollowsUp(&q.rec) {
			sr.m.deduped.Inc()
			continue
		}
		e := saf.Entry{ID: q.rec.Seq, Kind: q.kind, Ref: ref, Enqueued: time.Unix(0, q.rec.Decided)}
		if q.restored {
			e.Attempts = 1 // it may have gone out before the stop: it goes as a repeat
		}
		if err := sr.q.Add(e); err != nil {
			sr.m.full.Inc()
			if n, ok := sr.d.line(destLineRefused); ok {
				logline.Held(sr.d.log.Error().Err(err).Uint64("seq", e.ID).Uint64("rrn_seq", ref), "suppressed", n).
					Msg("store-and-forward entry not queued (it stays in the journal: the next start queues it)")
			}
			continue
		}
		cp := *q
		sr.entries[e.ID] = &cp
		sr.byRef[ref] = e.ID
		sr.m.added.Inc()
	}
}

// send puts entries in flight while the window, a connection and the
// journal allow.
func (sr *safRunner) send(now time.Time) {
	d := sr.d
	for {
		// the entry first: a pick turns a round-robin pool, which must
		// turn only for what is sent
		e, ok := sr.q.Next(now, sr.timeout)
		if !ok {
			return
		}
		var ss *outSession
		if i, err := d.pool.Pick(); err == nil {
			ss = d.conns[i].session()
		}
		if ss == nil {
			sr.q.Unsent(e.ID, now)
			return
		}
		q := sr.entries[e.ID]
		if _, waiting := sr.byRef[q.rec.Follows]; q.rec.Follows != 0 && waiting { // the advice's entry, by its RRNSeq
			// the advice it reverses has not reached the destination yet
			// (an advice that expired or was rejected no longer holds it)
			sr.q.Defer(e.ID, now.Add(safTick))
			continue
		}
		out, err := sr.build(q, e.Attempts > 0, now)
		var transient *safTransient
		if errors.As(err, &transient) {
			// the HSM, a zone key not yet exchanged, the data key: the entry
			// waits, untried, and the step ends (the next tick tries again)
			sr.q.Unsent(e.ID, now)
			if n, ok := d.line(destLineRefused); ok {
				logline.Held(d.log.Warn().Err(err).Uint64("seq", e.ID), "suppressed", n).Msg("store-and-forward entry not built now: it waits")
			}
			return
		}
		if err != nil {
			// the entry cannot be carried in the destination's dialect:
			// nothing will change that
			sr.q.Answer(e.ID, "\x00\x00", now) // rejected: no configured code is two NULs
			sr.m.rejected.Inc()
			if n, ok := d.line(destLineRefused); ok {
				logline.Held(d.log.Error().Err(err).Uint64("seq", e.ID), "suppressed", n).Msg("store-and-forward entry cannot be built: rejected")
			}
			sr.final(e.ID, journal.UpSAFRejected, [2]byte{'3', '0'}, now)
			continue
		}
		if err := ss.send(out); err != nil {
			sr.q.Unsent(e.ID, now)
			return
		}
		sr.flight[safKeyOf(q.rec.UpSTAN, []byte(q.rec.UpRRN))] = e.ID
		sr.m.sent.Inc()
		if e.Attempts > 0 {
			sr.m.repeats.Inc()
		}
	}
}

// take applies one answer: matched to the entry in flight by STAN and
// RRN, its MAC verified, its code decides.
func (sr *safRunner) take(a safAnswer) {
	d := sr.d
	v := &sr.view
	if err := d.dialect.Decode(v, a.frame); err != nil {
		return // upstreamFrame decoded it once already
	}
	stan, _ := v.STAN()
	var rb [16]byte
	k := safKeyOf(stan, v.RRN(rb[:0]))
	id, ok := sr.flight[k]
	if q := sr.entries[id]; !ok || q == nil || v.MTI()[1] != q.kind.MTI()[1] {
		// an answer to an entry no longer in flight (a repeat's, or after
		// its timeout), or to the advice whose reversal, with the same
		// STAN and RRN, is in flight now
		sr.m.ignored.Inc()
		return
	}
	if d.zone.macAlg != 0 {
		if err := sr.s.verifyZoneMAC(d, v, d.zone.keys.Load().zak, d.cfg.Timeout); err != nil {
			sr.m.ignored.Inc() // not trusted: the timeout retries it
			return
		}
	}
	var cb [8]byte
	rc := v.AppendText(cb[:0], codec.FieldResponseCode)
	var code [2]byte
	copy(code[:], rc)
	now := sr.s.clock.Now()
	delete(sr.flight, k)
	switch sr.q.Answer(id, string(code[:]), now) {
	case saf.Delivered:
		sr.m.delivered.Inc()
		sr.final(id, journal.UpSAFDelivered, code, now)
	case saf.Rejected:
		sr.m.rejected.Inc()
		sr.final(id, journal.UpSAFRejected, code, now)
	case saf.Retry:
		sr.m.retried.Inc()
	default:
		sr.m.ignored.Inc()
	}
}

// final ends entry id: it leaves the runner, and its final record goes to
// the journal (without waiting: an entry whose final record is lost at a
// crash is sent again as a repeat, which the destination takes as one).
func (sr *safRunner) final(id uint64, st journal.UpState, code [2]byte, now time.Time) {
	q := sr.entries[id]
	if q == nil {
		return
	}
	delete(sr.entries, id)
	delete(sr.byRef, SAFRef(&q.rec))
	delete(sr.flight, safKeyOf(q.rec.UpSTAN, []byte(q.rec.UpRRN)))
	switch st {
	case journal.UpSAFDelivered:
		if code != [2]byte{'2', '5'} { // "no original": the original may still come, and a late approval must be reversed again
			sr.recent.Add(SAFRef(&q.rec))
		}
	case journal.UpSAFExpired:
		sr.m.expired.Inc()
		sr.except(q, st, code, now)
	case journal.UpSAFRejected:
		sr.except(q, st, code, now)
	}
	rec := safFinal(&q.rec, q.kind, st, code, now, sr.s.day.Date(now))
	rj, _ := sr.s.journal.(JournalStage)
	if rj.J == nil {
		return
	}
	rj.J.Append(rec, safJournaled{sr})
}

// safFinal is the final record of the entry of record r.
func safFinal(r *journal.Record, kind saf.Kind, st journal.UpState, code [2]byte, now time.Time, date uint32) *journal.Record {
	f := *r
	f.Seq, f.Hash = 0, [journal.HashLen]byte{}
	f.BusinessDate = date
	f.Received, f.Decided = now.UnixNano(), now.UnixNano()
	copy(f.MTI[:], kind.MTI())
	f.RespCode, f.UpCode, f.UpState = [2]byte{}, code, st
	f.Approval, f.ApprovalSeq, f.Outcome, f.SessionKeys, f.Original = "", 0, nil, nil, ""
	f.Link = r.Destination
	if r.UpState == journal.UpUndelivered && st == journal.UpSAFDelivered {
		// the originator's approval is undone: the record is an approved
		// reversal naming it, so clearing does not clear it
		f.RespCode = [2]byte{'0', '0'}
		f.Link = r.Link
		f.Original = fmt.Sprintf("%s/%06d/%04d", r.MTI[:], r.STAN%1000000, clearing.RequestDate(r)%10000)
	}
	return &f
}

type safJournaled struct{ sr *safRunner }

func (w safJournaled) Committed(err error) {
	if err != nil {
		if n, ok := w.sr.d.line(destLineRefused); ok {
			logline.Held(w.sr.d.log.Error().Err(err), "suppressed", n).
				Msg("store-and-forward final record not journaled: the entry goes again after a restart, as a repeat")
		}
	}
}

func (sr *safRunner) except(q *safQueued, st journal.UpState, code [2]byte, now time.Time) {
	e := safEntryOf(q, 0, false)
	e.State, e.Code, e.At = st.String(), string(code[:]), now.UTC().Format(time.RFC3339Nano)
	if code == [2]byte{} {
		e.Code = ""
	}
	if len(sr.excepts) >= safExceptionsMax {
		sr.excepts = append(sr.excepts[:0], sr.excepts[1:]...)
	}
	sr.excepts = append(sr.excepts, e)
	if n, ok := sr.d.line(destLineRefused); ok {
		logline.Held(sr.d.log.Error().Str("state", e.State).Str("code", e.Code).Str("mti", e.MTI).Str("pan", e.PAN).
			Str("up_stan", e.UpSTAN).Str("up_rrn", e.UpRRN).Int64("amount", e.Amount), "suppressed", n).
			Msg("store-and-forward entry is an exception: the destination does not have it")
	}
}

func (sr *safRunner) gauges(now time.Time) {
	sr.m.depth.Set(float64(sr.q.Len()))
	sr.m.inFlight.Set(float64(sr.q.InFlight()))
	if t, ok := sr.q.Oldest(); ok {
		sr.m.oldest.Set(now.Sub(t).Seconds())
	} else {
		sr.m.oldest.Set(0)
	}
}

var errSAFNoPAN = errors.New("the entry's PAN cannot be read back (no data key)")

// safTransient is a build failure that may pass (the HSM, a zone key not
// yet exchanged, the data key): the entry waits instead of being rejected.
type safTransient struct{ err error }

func (e *safTransient) Error() string { return e.err.Error() }
func (e *safTransient) Unwrap() error { return e.err }
