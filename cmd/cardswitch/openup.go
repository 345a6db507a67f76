package main

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/engine/saf"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/journal/snapshot"
)

// Requests open upstream at a restart (ARCHITECTURE.md, "The life of a
// forwarded 0200", restart): every forwarded request has a record written
// before its bytes leave (UpForwarded) and a final one later (answered,
// timeout, not sent), tied by destination and RRNSeq. A forwarded record
// without its final one is a request the switch stopped with in flight:
// the host may have approved it and the originator was never answered.
// The replay keeps the set of them (openSet, also in the snapshots, for
// the ones forwarded before a snapshot's point); the start logs them,
// counts them, lists them on the admin port and writes for each a final
// record "open at restart: needs reversal" (journal.UpOpenAtRestart),
// which the store-and-forward of the next issue reverses and which closes
// it: a second start does not find it again.

// openLinesMax bounds the log lines of one start's open requests: a
// crash under load leaves thousands, which the admin port and the tool
// list whole.
const openLinesMax = 20

// openSet is the forwarded requests without their final record, by
// RRNSeq (the switch's RRN counter: one value per forwarded request, on
// every destination), each as its record's journal encoding with its
// chain hash, copied from the replay's borrowed record into one arena and
// decoded only for the few left at the end. The arena is compacted when
// less than half of it is live, so it stays within twice what is open
// (plus arenaSlack); the map holds no pointers, so the collector does not
// walk it. Touched by the replay's reading goroutine only, then read once
// the replay is over.
type openSet struct {
	// owed makes it the set of records that owe their destination a
	// store-and-forward entry (engine.SAFOwed) without its final SAF
	// record (journal.UpState.SettlesSAF), the pending entries a start
	// hands the engine (engine.Server.RestoreSAF); the same arena, the same
	// bounds.
	owed bool
	// stood makes it the set of stand-in approvals of the newest business
	// day (their cards' daily limits): a record of a newer day empties it.
	stood     bool
	day       uint32
	delivered saf.Recent // owed: the entries delivered lately, as the live runner keeps them
	// key is what a record is kept by: its RRNSeq, or (owed) the entry it
	// is of (engine.SAFRef)
	key     func(*journal.Record) uint64
	at      map[uint64]span
	arena   []byte
	live    int // bytes of arena that at points to
	dropped int // forwarded records beyond snapshot.MaxOpen, not kept
}

type span struct{ off, n int }

// arenaSlack is the garbage the arena may hold before a compaction: a
// compaction copies what is live, so it runs at most once per arenaSlack
// bytes of closed records.
const arenaSlack = 4 << 20

func newOpenSet() *openSet {
	return &openSet{at: map[uint64]span{}, key: rrnSeqOf}
}

func rrnSeqOf(r *journal.Record) uint64 { return r.RRNSeq }

// newSAFSet is the set of pending store-and-forward entries.
func newSAFSet() *openSet {
	return &openSet{owed: true, at: map[uint64]span{}, key: engine.SAFRef}
}

// newStandInSet is the set of the day's stand-in approvals.
func newStandInSet() *openSet {
	return &openSet{stood: true, at: map[uint64]span{}, key: rrnSeqOf}
}

// observe follows one replayed record (borrowed: valid during the call).
func (o *openSet) observe(r *journal.Record) {
	if o.owed {
		o.observeOwed(r)
		return
	}
	if o.stood {
		if r.BusinessDate > o.day { // a new day: yesterday's stand-in usage counts for nothing
			o.day = r.BusinessDate
			o.at, o.arena, o.live = map[uint64]span{}, o.arena[:0], 0
		}
		switch {
		case r.UpState == journal.UpStandIn && r.RespCode == [2]byte{'0', '0'}:
			o.keep(r)
		case r.Follows != 0 && (r.UpState == journal.UpUndelivered || (r.UpState == journal.UpAdviceAccepted && r.MTI[1] == '4')):
			o.reverse(r.Follows, r.Replacement) // a reversal of a stand-in approval: its usage is freed
		}
		return
	}
	switch {
	case r.UpState == journal.UpForwarded:
		o.keep(r)
	case r.UpState.Closes():
		o.forget(r.RRNSeq)
	}
}

// observeOwed follows a record for the pending store-and-forward
// entries: one per request (RRNSeq), the first record that owes it starts
// it (a late approval after its timeout adds nothing), its final SAF
// record ends it.
func (o *openSet) observeOwed(r *journal.Record) {
	ref := engine.SAFRef(r)
	switch {
	case r.UpState.SettlesSAF():
		o.forget(ref)
		if r.UpState == journal.UpSAFDelivered && r.UpCode != [2]byte{'2', '5'} {
			o.delivered.Add(ref)
		}
	case !o.has(ref):
		if _, ok := engine.SAFOwed(r); ok && !(engine.SAFFollowsUp(r) && o.delivered.Has(ref)) {
			o.keep(r) // not a follow-up of what was delivered: the live runner skips those too
		}
	}
}

func (o *openSet) has(rrnSeq uint64) bool {
	_, ok := o.at[rrnSeq]
	return ok
}

// keep adds r's encoding (with its chain hash), replacing any of the same
// RRNSeq; beyond snapshot.MaxOpen it is counted, not kept.
func (o *openSet) keep(r *journal.Record) {
	if len(o.at) >= snapshot.MaxOpen {
		o.dropped++
		return
	}
	k := o.key(r)
	o.forget(k)
	if len(o.arena) > 2*o.live+arenaSlack {
		o.compact()
	}
	off := len(o.arena)
	o.arena = append(r.AppendEncoding(o.arena), r.Hash[:]...)
	o.at[k] = span{off, len(o.arena) - off}
	o.live += len(o.arena) - off
}

// reverse takes the stand-in approval of counter rrnSeq back: whole, or
// down to what a partial reversal leaves (remains, its field 95).
func (o *openSet) reverse(rrnSeq uint64, remains int64) {
	sp, ok := o.at[rrnSeq]
	if !ok || remains <= 0 {
		o.forget(rrnSeq)
		return
	}
	var a journal.Record
	if journal.Decode(o.encoding(sp), &a) != nil || remains >= a.Amount {
		return
	}
	a.Amount = remains
	o.keep(&a)
}

func (o *openSet) forget(rrnSeq uint64) {
	if sp, ok := o.at[rrnSeq]; ok {
		o.live -= sp.n
		delete(o.at, rrnSeq)
	}
}

// compact moves the live encodings to the arena's front, in place (in
// offset order, each moves down or stays: copy handles the overlap).
func (o *openSet) compact() {
	keys := make([]uint64, 0, len(o.at))
	for k := range o.at {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b uint64) int { return o.at[a].off - o.at[b].off })
	w := 0
	for _, k := range keys {
		sp := o.at[k]
		copy(o.arena[w:], o.arena[sp.off:sp.off+sp.n])
		o.at[k] = span{w, sp.n}
		w += sp.n
	}
	o.arena = o.arena[:w]
}

func (o *openSet) encoding(sp span) []byte { return o.arena[sp.off : sp.off+sp.n : sp.off+sp.n] }

// records decodes the open requests, in journal order.
func (o *openSet) records() ([]journal.Record, error) {
	out := make([]journal.Record, 0, len(o.at))
	for _, sp := range o.at {
		var r journal.Record
		if err := journal.Decode(o.encoding(sp), &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b journal.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// OpenRecords implements snapshot.Open: the encodings are o's, valid
// until the next observe.
func (o *openSet) OpenRecords() [][]byte {
	out := make([][]byte, 0, len(o.at))
	for _, sp := range o.at {
		out = append(out, o.encoding(sp))
	}
	slices.SortFunc(out, func(a, b []byte) int { return cmp.Compare(seqOfEncoding(a), seqOfEncoding(b)) })
	return out
}

// seqOfEncoding is the sequence number of a record's encoding (after its
// version byte).
func seqOfEncoding(b []byte) uint64 { return binary.BigEndian.Uint64(b[1:9]) }

// RestoreOpen implements snapshot.Open: b is valid only during the call.
func (o *openSet) RestoreOpen(b []byte) error {
	var r journal.Record
	if err := journal.Decode(b, &r); err != nil {
		return err
	}
	if o.stood {
		if r.UpState != journal.UpStandIn {
			return fmt.Errorf("stand-in record %d is %q", r.Seq, r.UpState)
		}
		o.observe(&r)
		return nil
	}
	if r.UpState != journal.UpForwarded {
		return fmt.Errorf("open upstream record %d is %q, not forwarded", r.Seq, r.UpState)
	}
	o.observe(&r)
	return nil
}

// pendingParts is the snapshot's Open part: the requests open upstream
// and the pending store-and-forward entries, records both, told apart by
// their upstream state when restored (a forwarded record is open; one
// that owes an entry is pending).
type pendingParts struct{ open, owed *openSet }

func (p pendingParts) OpenRecords() [][]byte {
	out := append(p.open.OpenRecords(), p.owed.OpenRecords()...)
	// the entries delivered lately, as records of their end (the RRN
	// counter is all they say): a follow-up after the snapshot's point
	// of one delivered before it owes nothing, as in a whole replay
	for _, ref := range p.owed.delivered.Values() {
		r := journal.Record{UpState: journal.UpSAFDelivered, RRNSeq: ref, UpCode: [2]byte{'0', '0'}}
		if f, ok := engine.SAFFollowed(ref); ok {
			r.RRNSeq, r.Follows = f, f // a reversal of an advice: what it followed names it
		}
		out = append(out, append(r.AppendEncoding(nil), make([]byte, journal.HashLen)...))
	}
	slices.SortFunc(out, func(a, b []byte) int { return cmp.Compare(seqOfEncoding(a), seqOfEncoding(b)) })
	return out
}

func (p pendingParts) RestoreOpen(b []byte) error {
	var r journal.Record
	if err := journal.Decode(b, &r); err != nil {
		return err
	}
	if r.UpState == journal.UpForwarded {
		p.open.observe(&r)
		return nil
	}
	if r.UpState == journal.UpSAFDelivered {
		p.owed.delivered.Add(engine.SAFRef(&r))
		return nil
	}
	if _, ok := engine.SAFOwed(&r); !ok {
		return fmt.Errorf("snapshot record %d is %q: neither open upstream nor owing an entry", r.Seq, r.UpState)
	}
	p.owed.observe(&r)
	return nil
}

// openAtStart is what a start found open upstream and what it did, as
// the admin port serves it: the count per destination, and the JSON list
// of at most openListMax of them (the records themselves are not kept: a
// crash under load leaves up to snapshot.MaxOpen; the tool lists them all).
type openAtStart struct {
	byDest map[string]int
	body   []byte
	closed []journal.Record // the records written "open at restart", in journal order
}

// openListMax bounds the requests GET /upstream/open-at-start lists.
const openListMax = 1000

// closeOpen writes the final record "open at restart: needs reversal" of
// every request st's replay found open, before any traffic, and logs
// them: one summary line with the count per destination, and the first
// openLinesMax one by one (masked PAN, STAN, RRN). A record the journal
// refuses leaves its request open: the next start finds it again.
func closeOpen(st *state, log zerolog.Logger, now time.Time) (*openAtStart, error) {
	recs, err := st.open.records()
	if err != nil {
		return nil, err
	}
	dropped := st.open.dropped
	res := &openAtStart{byDest: map[string]int{}}
	for _, r := range recs {
		res.byDest[r.Destination]++
	}
	recorded := make([]bool, len(recs))
	defer func() { res.body = openList(recs, recorded, dropped) }()
	if len(recs) == 0 && dropped == 0 {
		return res, nil
	}
	waits := make([]syncErr, len(recs))
	closing := make([]journal.Record, len(recs))
	for i := range recs {
		closing[i] = closingRecord(&recs[i], now, st.day.Date(now))
		waits[i] = make(syncErr, 1)
		st.j.Append(&closing[i], waits[i])
	}
	failed := 0
	var firstErr error
	for i, w := range waits {
		if err := <-w; err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		recorded[i] = true
		res.closed = append(res.closed, closing[i]) // each owes a reversal: the engine's store-and-forward takes them
	}
	// the live state's set is not used again (the snapshots' follower
	// keeps its own): its arena goes
	st.open = newOpenSet()
	by := zerolog.Dict()
	for d, n := range res.byDest {
		by.Int(d, n)
	}
	ev := log.Warn()
	if failed > 0 || dropped > 0 {
		ev = log.Error().Int("not_recorded", failed).AnErr("cause", firstErr).Int("not_kept", dropped)
	}
	ev.Int("open", len(recs)).Dict("by_destination", by).
		Msg("requests open upstream at start (the switch stopped with them in flight): recorded to be reversed; GET /upstream/open-at-start lists them")
	for i, r := range recs {
		if i == openLinesMax {
			log.Warn().Int("not_logged", len(recs)-i).Msg("more requests open upstream at start: GET /upstream/open-at-start or 'cardswitch journal open-upstream' lists them")
			break
		}
		log.Warn().Str("destination", r.Destination).Str("link", r.Link).Str("pan", r.PANMasked).
			Str("stan", fmt.Sprintf("%06d", r.STAN)).Str("rrn", r.RRN).Str("up_stan", fmt.Sprintf("%06d", r.UpSTAN)).Str("up_rrn", r.UpRRN).
			Uint64("seq", r.Seq).Bool("recorded", recorded[i]).Msg("request open upstream at start: to be reversed")
	}
	return res, nil
}

// closingRecord is the "open at restart" record of forwarded record f: its
// request and upstream leg as they were journaled (the PAN protected as it
// was), no response code (the originator was never answered).
func closingRecord(f *journal.Record, now time.Time, date uint32) journal.Record {
	r := *f
	r.Seq, r.Hash = 0, [journal.HashLen]byte{}
	r.BusinessDate = date
	r.Decided = now.UnixNano()
	r.RespCode, r.UpCode, r.Approval, r.ApprovalSeq = [2]byte{}, [2]byte{}, "", 0
	r.Outcome, r.SessionKeys = nil, nil
	r.UpState = journal.UpOpenAtRestart
	return r
}

type syncErr chan error

func (w syncErr) Committed(err error) { w <- err }

// openLine is an open request as the admin port and the tool show it:
// the record's masked form and, at start, whether its reversal is recorded.
type openLine struct {
	dumpLine
	Recorded *bool `json:"recorded_to_reverse,omitempty"`
}

// openList is the JSON of GET /upstream/open-at-start: the count, and
// the first openListMax requests, the PAN masked.
func openList(recs []journal.Record, recorded []bool, dropped int) []byte {
	out := struct {
		Open    int        `json:"open"`
		Listed  int        `json:"listed"`
		NotKept int        `json:"not_kept,omitempty"`
		Records []openLine `json:"records"`
	}{Open: len(recs), NotKept: dropped, Records: make([]openLine, 0, min(len(recs), openListMax))}
	for i := range recs[:min(len(recs), openListMax)] {
		out.Records = append(out.Records, openLine{dumpLine: newDumpLine(&recs[i]), Recorded: &recorded[i]})
	}
	out.Listed = len(out.Records)
	body, _ := json.MarshalIndent(out, "", "  ")
	return append(body, '\n')
}

// handler serves GET /upstream/open-at-start.
func (o *openAtStart) handler() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "GET lists the requests found open upstream at start", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(o.body)
	}
}

// journalOpenUpstream lists the requests open upstream in a stopped
// switch's journal: the newest snapshot's (those forwarded before its
// point), then every record of the journal. It changes nothing: a start
// records them to be reversed.
func journalOpenUpstream(e *env, dataDir, jdir string, asJSON bool) error {
	o := newOpenSet()
	if metas, err := snapshot.List(filepath.Join(dataDir, "snapshots")); err != nil {
		return err
	} else {
		for _, m := range metas {
			seed := newOpenSet()
			parts := snapshot.Parts{State: discardState{}, Counters: noCounters{}, Sessions: noSessions{}, Open: pendingParts{seed, newSAFSet()}}
			if err := snapshot.Load(m, parts); err != nil {
				fmt.Fprintf(e.stderr, "note: snapshot %s passed over: %v\n", m.Path, err)
				continue
			}
			o = seed
			break
		}
	}
	res, err := journal.Replay(jdir, func(r *journal.Record) error {
		o.observe(r)
		return nil
	})
	printNotes(e, res)
	if err != nil {
		return err
	}
	recs, err := o.records()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	for i := range recs {
		l := newDumpLine(&recs[i])
		if asJSON {
			if err := enc.Encode(l); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(e.stdout, "%8d %s %-12s %s %s %s %-19s %12d %s up_stan %s up_rrn %s\n", l.Seq, l.Received, l.Destination, l.Link,
			l.MTI, l.STAN, l.PAN, l.Amount, l.RRN, l.UpSTAN, l.UpRRN)
	}
	fmt.Fprintf(e.stderr, "%d requests open upstream (forwarded, no final record)\n", len(recs))
	if res.Problem != nil {
		return res.Problem
	}
	return nil
}

// the parts of a snapshot the tool does not need
type (
	discardState struct{}
	noCounters   struct{}
	noSessions   struct{}
)

func (discardState) WriteState(io.Writer) error { return nil }
func (discardState) ReadState(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (noCounters) Counters() (uint64, uint64) { return 0, 0 }
func (noCounters) Observe(uint64, uint64)     {}
func (noSessions) Sessions() [][]byte         { return nil }
func (noSessions) Restore([]byte) error       { return nil }

// restoreSAF hands the engine the store-and-forward entries the replay
// found pending, and the reversals this start owes for what it found open
// upstream (closed, just written), before any traffic; the replay's set
// goes (the snapshots' follower keeps its own). Entries of a destination
// no longer configured, or with store-and-forward disabled, stay in the
// journal: logged, and found again by the next start.
func restoreSAF(st *state, srv *engine.Server, closed []journal.Record, log zerolog.Logger) error {
	recs, err := st.owed.records()
	if err != nil {
		return err
	}
	dropped := st.owed.dropped
	st.owed = newSAFSet()
	left := srv.RestoreSAF(recs, closed)
	if len(recs) > 0 || dropped > 0 {
		ev := log.Info()
		if dropped > 0 {
			ev = log.Error().Int("not_kept", dropped)
		}
		ev.Int("pending", len(recs)).Int("open_to_reverse", len(closed)).Int("not_queued", len(left)).
			Msg("store-and-forward entries at start: the pending ones go again, as repeats")
	}
	if len(left) > 0 {
		by := map[string]int{}
		for _, r := range left {
			by[r.Destination]++
		}
		d := zerolog.Dict()
		for name, n := range by {
			d.Int(name, n)
		}
		log.Warn().Int("entries", len(left)).Dict("by_destination", d).
			Msg("store-and-forward entries for destinations not configured or with saf disabled: kept in the journal, not sent")
	}
	return nil
}
