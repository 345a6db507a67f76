package engine

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/saf"
	"github.com/cardswitch/cardswitch/engine/standin"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/journal/clearing"
)

// build makes the message of entry q in the destination's dialect, from
// its record alone (so a restart rebuilds it the same): the kind's MTI
// (a repeat's last digit 1), the original's PAN (unsealed), 3, 4, a new
// 7, the original outbound 11 and 37 (the same on every repeat: the
// destination matches the entry, and a repeat, by them), 12, 13, 18,
// 22, 32, 38, 39 (a reversal's reason, an advice's stand-in answer), 41,
// 42, 49, 90
// (the original data elements: its MTI, STAN, field 7 and acquirer), and
// 95 for a partial reversal (what stays), each where the dialect has the
// field; and the zone MAC.
func (sr *safRunner) build(q *safQueued, repeat bool, now time.Time) ([]byte, error) {
	d, r := sr.d, &q.rec
	var mti codec.MTI
	copy(mti[:], q.kind.MTI())
	if repeat {
		mti[3] = '1'
	}
	has := func(id int) bool { return d.dialect.Field(id) != nil }
	b := &sr.builder
	b.SetBCDPad(0)
	// a buffer of its own: the connection's loop writes it later
	b.Begin(d.dialect, d.framing.Reserve(make([]byte, 0, 512), d.tpdu), mti, d.header)
	var tmp [48]byte
	// the mapping's constant fields (mapping.out.set: a field the
	// destination requires, such as UnionPay's 60) go in their place, in
	// ascending order with the entry's own, which win
	set, next := sr.setFields, 0
	upTo := func(id int) {
		for ; next < len(set) && set[next].id < id; next++ {
			b.String(set[next].id, set[next].v)
		}
		if next < len(set) && set[next].id == id {
			next++
		}
	}
	text := func(id int, v []byte) { upTo(id); b.Text(id, v) }
	str := func(id int, v string) { upTo(id); b.String(id, v) }
	if has(codec.FieldPAN) && len(r.PANSealed) > 0 {
		rj, _ := sr.s.journal.(JournalStage)
		if rj.P == nil {
			return nil, &safTransient{errSAFNoPAN}
		}
		pan, err := rj.P.Unseal(r)
		if err != nil {
			return nil, &safTransient{fmt.Errorf("the entry's PAN: %w", err)}
		}
		text(codec.FieldPAN, pan)
		clear(pan)
	}
	if has(3) {
		text(3, appendPadded(tmp[:0], uint64(r.ProcCode), 6))
	}
	if has(4) {
		text(4, appendPadded(tmp[:0], uint64(max(r.Amount, 0)), 12))
	}
	if has(codec.FieldTransmission) {
		text(codec.FieldTransmission, upstream.AppendTransmission(tmp[:0], now))
	}
	text(codec.FieldSTAN, upstream.AppendSTAN(tmp[:0], r.UpSTAN))
	if r.LocalDate != 0 && has(12) && has(13) {
		text(12, appendPadded(tmp[:0], uint64(r.LocalTime), 6))
		text(13, appendPadded(tmp[:0], uint64(r.LocalDate), 4))
	}
	if r.MCC != 0 && has(codec.FieldMCC) {
		text(codec.FieldMCC, appendPadded(tmp[:0], uint64(r.MCC), 4))
	}
	if r.EntryMode != 0 && has(codec.FieldEntryMode) {
		text(codec.FieldEntryMode, appendPadded(tmp[:0], uint64(r.EntryMode), 3))
	}
	if r.Acquirer != "" && has(32) {
		str(32, r.Acquirer)
	}
	if has(codec.FieldRRN) {
		str(codec.FieldRRN, r.UpRRN)
	}
	if len(r.Approval) == 6 && has(codec.FieldApproval) {
		str(codec.FieldApproval, r.Approval)
	}
	if has(codec.FieldResponseCode) {
		text(codec.FieldResponseCode, safReason(r))
	}
	if r.Terminal != "" && has(41) {
		str(41, r.Terminal)
	}
	if r.Merchant != "" && has(42) {
		str(42, r.Merchant)
	}
	if r.UpState == journal.UpStandIn && has(standInIndicatorField) {
		str(standInIndicatorField, standin.Indicator(standin.ReasonApproved)) // an advice is of a stand-in approval
	}
	if r.Currency != 0 && has(codec.FieldCurrency) {
		text(codec.FieldCurrency, appendPadded(tmp[:0], uint64(r.Currency), 3))
	}
	if has(90) && q.kind == saf.Reversal {
		if r.UpState == journal.UpAdviceAccepted {
			text(90, sr.originals.appendOriginalData(tmp[:0], r))
		} else {
			text(90, appendOriginalData(tmp[:0], r))
		}
	}
	if has(fieldReplacement) && q.kind == saf.Reversal && r.Replacement > 0 {
		// a partial reversal: the actual amount, the settlement amount and
		// fees not known to the switch (zero)
		b := appendPadded(tmp[:0], uint64(r.Replacement), 12)
		text(fieldReplacement, append(b, "000000000000C00000000C00000000"...))
	}
	upTo(codec.FieldMAC)
	if d.zone.macAlg != 0 {
		zak := d.zone.keys.Load().zak
		if zak.Cryptogram == "" || sr.s.hsm == nil {
			return nil, &safTransient{errNoZAK}
		}
		if err := sr.s.appendZoneMAC(b, d, zak, d.cfg.Timeout); err != nil {
			return nil, &safTransient{err}
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil, err
	}
	return d.framing.Seal(out, 0)
}

// safReason is field 39 of an entry: an advice carries the stand-in
// decision; a reversal its reason, 68 (the answer came too late, or not
// at all) for a timeout or a late approval, 22 (suspected malfunction)
// for an answer not trusted (bad MAC), a request the switch stopped with
// in flight, or an approval that could not be delivered to the originator.
func safReason(r *journal.Record) []byte {
	switch r.UpState {
	case journal.UpStandIn:
		return r.RespCode[:]
	case journal.UpAdviceAccepted:
		if r.UpCode != [2]byte{} {
			return r.UpCode[:] // the originator's own
		}
		if r.MTI[1] != '4' {
			return []byte("00") // an advice of what the originator approved
		}
	case journal.UpBadMAC, journal.UpOpenAtRestart, journal.UpUndelivered:
		return []byte("22")
	}
	return []byte("68")
}

// appendOriginalData appends field 90 of a reversal: the original
// request's MTI (4), STAN (6), field 7 (10) as it went out, the acquirer
// (11, zero-filled on the left) and the forwarding institution (11
// zeros: none). A late approval's record is the response, whose 7 echoes
// the request's; the others are the request, whose 7 was made from its
// received time (forward).
func appendOriginalData(dst []byte, r *journal.Record) []byte {
	orig := r.MTI
	orig[2], orig[3] = '0', '0' // the request, not a response or a repeat
	if r.Follows != 0 {
		orig[2] = '2' // the reversal of a stand-in approval names the advice the destination had
	}
	dst = append(dst, orig[:]...)
	dst = appendPadded(dst, uint64(r.UpSTAN), 6)
	if r.UpState == journal.UpLateReversal && r.Transmission != 0 {
		dst = appendPadded(dst, r.Transmission, 10)
	} else {
		dst = upstream.AppendTransmission(dst, time.Unix(0, r.Received))
	}
	return appendInstitutions(dst, r.Acquirer)
}

// appendInstitutions ends field 90: the acquirer (11 digits, zero-filled
// on the left; not digits or too long: zeros) and the forwarding
// institution (11 zeros: none).
func appendInstitutions(dst []byte, acq string) []byte {
	if len(acq) > 11 || !allDigits(acq) {
		acq = ""
	}
	for range 11 - len(acq) {
		dst = append(dst, '0')
	}
	dst = append(dst, acq...)
	for range 11 {
		dst = append(dst, '0')
	}
	return dst
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendPadded appends x in decimal, zero-filled to width digits (its
// low width digits if it has more).
func appendPadded(dst []byte, x uint64, width int) []byte {
	var buf [20]byte
	n := strconv.AppendUint(buf[:0], x, 10)
	if len(n) > width {
		n = n[len(n)-width:]
	}
	for range width - len(n) {
		dst = append(dst, '0')
	}
	return append(dst, n...)
}

// SAFEntry is a store-and-forward entry as the admin API lists it: the
// PAN masked, nothing a card could be used with.
type SAFEntry struct {
	Destination string `json:"destination"`
	ID          uint64 `json:"id"` // the journal sequence of the record that started it
	Kind        string `json:"kind"`
	MTI         string `json:"mti"`
	Reason      string `json:"reason"` // what the record that started it says
	State       string `json:"state"`  // waiting, in flight; for an exception: saf rejected, saf expired
	Attempts    int    `json:"attempts"`
	PAN         string `json:"pan"`
	Amount      int64  `json:"amount"`
	Currency    uint16 `json:"currency"`
	Terminal    string `json:"terminal"`
	UpSTAN      string `json:"up_stan"`
	UpRRN       string `json:"up_rrn"`
	RRNSeq      uint64 `json:"rrn_seq"`
	Enqueued    string `json:"enqueued"`
	Code        string `json:"code,omitempty"` // an exception's answer
	At          string `json:"at,omitempty"`   // when it became an exception
}

func safEntryOf(q *safQueued, attempts int, sent bool) SAFEntry {
	r := &q.rec
	st := "waiting"
	if sent {
		st = "in flight"
	}
	return SAFEntry{Destination: r.Destination, ID: r.Seq, Kind: q.kind.String(), MTI: q.kind.MTI(), Reason: r.UpState.String(),
		State: st, Attempts: attempts, PAN: r.PANMasked, Amount: r.Amount, Currency: r.Currency, Terminal: r.Terminal,
		UpSTAN: fmt.Sprintf("%06d", r.UpSTAN), UpRRN: r.UpRRN, RRNSeq: r.RRNSeq,
		Enqueued: time.Unix(0, r.Decided).UTC().Format(time.RFC3339Nano)}
}

// SAFStatus is one destination's store-and-forward as the admin API shows
// it.
type SAFStatus struct {
	Destination string     `json:"destination"`
	Depth       int        `json:"depth"`
	InFlight    int        `json:"in_flight"`
	OldestAge   float64    `json:"oldest_age_seconds"`
	Entries     []SAFEntry `json:"entries"`    // the first ones, in queue order
	Exceptions  []SAFEntry `json:"exceptions"` // the latest rejected and expired, newest last
}

// safCtl is a request of the admin API to a runner (its queue is its
// goroutine's alone).
type safCtl struct {
	op    safOp
	id    uint64
	max   int
	reply chan safCtlReply
}

type safOp uint8

const (
	safList safOp = iota
	safRetryOne
	safExpireOne
)

type safCtlReply struct {
	status SAFStatus
	err    error
}

// ErrSAFNoEntry: the destination has no such entry waiting (it is in
// flight, finished, or never was).
var ErrSAFNoEntry = errors.New("no such store-and-forward entry waiting")

func (sr *safRunner) control(c safCtl) safCtlReply {
	now := sr.s.clock.Now()
	sr.admit()
	switch c.op {
	case safRetryOne:
		if err := sr.q.Retry(c.id, now); err != nil {
			return safCtlReply{err: ErrSAFNoEntry}
		}
		select {
		case sr.wake <- struct{}{}:
		default:
		}
		return safCtlReply{}
	case safExpireOne:
		if _, err := sr.q.Remove(c.id); err != nil {
			return safCtlReply{err: ErrSAFNoEntry}
		}
		sr.m.expired.Inc()
		sr.final(c.id, journal.UpSAFExpired, [2]byte{}, now)
		sr.gauges(now)
		return safCtlReply{}
	}
	st := SAFStatus{Destination: sr.d.cfg.Name, Depth: sr.q.Len(), InFlight: sr.q.InFlight(), Entries: []SAFEntry{}}
	if t, ok := sr.q.Oldest(); ok {
		st.OldestAge = now.Sub(t).Seconds()
	}
	es, sent := sr.q.Entries(c.max)
	for i, e := range es {
		if q := sr.entries[e.ID]; q != nil {
			st.Entries = append(st.Entries, safEntryOf(q, e.Attempts, sent[i]))
		}
	}
	st.Exceptions = append([]SAFEntry{}, sr.excepts...)
	return safCtlReply{status: st}
}

// ErrNoSAF: the destination has store-and-forward disabled.
var ErrNoSAF = errors.New("engine: the destination's store-and-forward is disabled")

func (s *Server) safCall(dest string, c safCtl) (safCtlReply, error) {
	d := s.dests[dest]
	switch {
	case d == nil:
		return safCtlReply{}, ErrNoDestination
	case d.saf == nil:
		return safCtlReply{}, ErrNoSAF
	}
	c.reply = make(chan safCtlReply, 1)
	select {
	case d.saf.ctl <- c:
	case <-s.outStop:
		return safCtlReply{}, errors.New("engine: stopping")
	case <-time.After(5 * time.Second):
		return safCtlReply{}, errors.New("store-and-forward busy: try again")
	}
	return <-c.reply, nil
}

// SAF lists each destination's store-and-forward (one when dest is set),
// with up to max entries each.
func (s *Server) SAF(dest string, max int) ([]SAFStatus, error) {
	var out []SAFStatus
	for _, d := range s.destList {
		if d.saf == nil || (dest != "" && d.cfg.Name != dest) {
			continue
		}
		r, err := s.safCall(d.cfg.Name, safCtl{op: safList, max: max})
		if err != nil {
			return nil, err
		}
		out = append(out, r.status)
	}
	if dest != "" && len(out) == 0 {
		if s.dests[dest] == nil {
			return nil, ErrNoDestination
		}
		return nil, ErrNoSAF
	}
	return out, nil
}

// SAFRetry makes a waiting entry due now (an operator's "retry now").
func (s *Server) SAFRetry(dest string, id uint64) error {
	r, err := s.safCall(dest, safCtl{op: safRetryOne, id: id})
	if err != nil {
		return err
	}
	return r.err
}

// SAFExpire ends a waiting entry as expired (journaled: the exceptions
// list has it), for an entry the operator settles by other means.
func (s *Server) SAFExpire(dest string, id uint64) error {
	r, err := s.safCall(dest, safCtl{op: safExpireOne, id: id})
	if err != nil {
		return err
	}
	return r.err
}

// forwardedIndexMax bounds the forwarded requests remembered for the
// originators' reversals: a terminal reverses within its own timeout (a
// minute or so), and 262,144 requests are minutes of a busy destination.
// An original not found is named as the originator named it.
const forwardedIndexMax = 1 << 18

// forwardedIndex maps an original as an originator names it (terminal,
// MTI class, STAN, date: engine.OriginalOf) to how the switch forwarded
// it (its outbound STAN, field 7 and MTI), so that the reversal passed on
// names what the destination saw; and the advices the switch owes (a
// stand-in approval, an accepted advice: their repeats and reversals find
// them). It is a cache filled by the committer from the records as they
// commit, so it costs the committer one write: a direct-mapped table of
// forwardedIndexMax slots of 96 bytes (24 MB, made at the first), where a
// newer request takes an older one's slot (BenchmarkObserveRecord). Safe
// for concurrent use (the committer adds, the runner reads).
type forwardedIndex struct {
	mu    sync.Mutex
	slots []origSlot
}

type origSlot struct {
	key origKey
	ref origRef
}

// origKey is fixed-size (no string to copy or hash apart): field 41 is
// 8 characters in the dialects the switch speaks; 16 leaves room.
type origKey struct {
	terminal [16]byte
	class    byte
	stan     uint32
	mmdd     uint32
}

func newOrigKey(terminal string, class byte, stan, mmdd uint32) origKey {
	k := origKey{class: class, stan: stan, mmdd: mmdd}
	copy(k.terminal[:], terminal)
	return k
}

// slot is k's place: FNV-1a over its bytes.
func (k *origKey) slot() int {
	h := uint32(2166136261)
	for _, c := range k.terminal {
		h = (h ^ uint32(c)) * 16777619
	}
	for _, x := range [...]uint32{uint32(k.class), k.stan, k.mmdd} {
		h = (h ^ x) * 16777619
	}
	return int(h & (forwardedIndexMax - 1))
}

// origRef is how the switch sent an original on: forwarded live, or as
// an advice store-and-forward owes (a stand-in approval, an originator's
// advice accepted).
type origRef struct {
	mti      [4]byte // as the destination sees it: the request, or the advice
	upSTAN   uint32
	upRRN    [12]byte
	rrnSeq   uint64
	received int64
	reversed bool   // an advice's: a reversal of it was taken (claimReversal)
	day      uint32 // business date of a stand-in approval
	code     [2]byte
	approval [6]byte
	kind     refKind
}

// refKind is what an origRef is the record of.
type refKind uint8

const (
	refForwarded refKind = iota + 1 // a request forwarded live: its reversal is the same entry as its timeout's
	refStandIn                      // a stand-in approval, owed as an advice
	refAdvice                       // an originator's advice accepted, owed as itself
)

func (x *forwardedIndex) add(r *journal.Record) {
	x.put(r, refForwarded, r.MTI)
}

// addAdvice remembers a record whose entry is an advice: a stand-in
// approval (its repeats are answered alike, its reversals follow its
// advice) or an originator's advice (its repeats are the same entry).
func (x *forwardedIndex) addAdvice(r *journal.Record) {
	mti := r.MTI
	kind := refAdvice
	if r.UpState == journal.UpStandIn {
		kind = refStandIn
		mti[2] = '2' // the destination sees the advice: 0220 or 0120
	}
	mti[3] = '0'
	x.put(r, kind, mti)
}

func (x *forwardedIndex) put(r *journal.Record, kind refKind, mti [4]byte) {
	k := newOrigKey(r.Terminal, r.MTI[1], r.STAN, clearing.RequestDate(r)%10000)
	i := k.slot()
	ref := origRef{mti: mti, upSTAN: r.UpSTAN, rrnSeq: r.RRNSeq, received: r.Received, kind: kind,
		day: r.BusinessDate, code: r.RespCode}
	copy(ref.upRRN[:], r.UpRRN)
	copy(ref.approval[:], r.Approval)
	x.mu.Lock()
	if x.slots == nil {
		x.slots = make([]origSlot, forwardedIndexMax)
	}
	if s := &x.slots[i]; s.key == k && s.ref.rrnSeq == ref.rrnSeq && s.ref.kind == kind {
		ref.reversed = s.ref.reversed // a repeat of what is there: its reversal stays taken
	}
	x.slots[i] = origSlot{key: k, ref: ref}
	x.mu.Unlock()
}

// claimReversal marks the advice at k reversed; first reports the first
// claim (a repeat's, or the terminal's after the switch's own, are not).
// found is false when k is not an advice in the index.
func (x *forwardedIndex) claimReversal(k origKey) (ref origRef, first, found bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.slots == nil {
		return origRef{}, false, false
	}
	s := &x.slots[k.slot()]
	if s.key != k || (s.ref.kind != refStandIn && s.ref.kind != refAdvice) {
		return origRef{}, false, false
	}
	first = !s.ref.reversed
	s.ref.reversed = true
	return s.ref, first, true
}

func (x *forwardedIndex) find(k origKey) (origRef, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.slots == nil {
		return origRef{}, false
	}
	s := &x.slots[k.slot()]
	return s.ref, s.key == k && s.ref.kind != 0
}

// appendOriginalData appends field 90 of an originator's reversal r: its
// original as the switch forwarded it when the index has it, else as the
// originator named it (its STAN and date; time and class unknown: zeros).
func (x *forwardedIndex) appendOriginalData(dst []byte, r *journal.Record) []byte {
	class, stan, mmdd, ok := clearing.ParseOriginal(r.Original)
	var ref origRef
	found := false
	if ok {
		for _, c := range []byte{class, '2', '1'} {
			if ref, found = x.find(newOrigKey(r.Terminal, c, stan, mmdd)); found {
				break
			}
		}
	}
	if found {
		orig := ref.mti // an advice's is the advice as the destination had it
		if ref.kind == refForwarded {
			orig[2] = '0'
		}
		orig[3] = '0'
		dst = append(dst, orig[:]...)
		dst = appendPadded(dst, uint64(ref.upSTAN), 6)
		dst = upstream.AppendTransmission(dst, time.Unix(0, ref.received))
	} else {
		if class < '1' || class > '9' {
			class = '2'
		}
		dst = append(dst, '0', class, '0', '0')
		dst = appendPadded(dst, uint64(stan), 6)
		dst = appendPadded(dst, uint64(mmdd), 4)
		dst = append(dst, "000000"...)
	}
	return appendInstitutions(dst, r.Acquirer)
}
