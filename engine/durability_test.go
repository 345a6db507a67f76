package engine

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/cuptest"
	"github.com/cardswitch/cardswitch/journal"
)

// scriptedJournal answers each append with the error its script gives the
// request's STAN (nil: durable), records what it was given, and can report
// a failure through Err, as the real journal does.
type scriptedJournal struct {
	mu      sync.Mutex
	errs    map[uint32]error // STAN -> the commit's answer
	records []journal.Record // what fill built, in order
	failed  error            // mu guards failed: Err's answer
	stage   JournalStage     // builds the records
}

func newScripted() *scriptedJournal {
	p, _ := journal.NewProtector(make([]byte, journal.KeyFileLen))
	return &scriptedJournal{errs: map[uint32]error{}, stage: JournalStage{P: p}}
}

func (j *scriptedJournal) Append(t *Txn) {
	stan, _ := t.View.STAN()
	if err := j.stage.fill(t); err != nil {
		t.Committed(err)
		return
	}
	j.mu.Lock()
	err := j.errs[stan]
	j.records = append(j.records, t.rec)
	j.mu.Unlock()
	t.Committed(err)
}

func (j *scriptedJournal) TryAppend(t *Txn) bool { j.Append(t); return true }

func (j *scriptedJournal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failed
}

func (j *scriptedJournal) answer(stan uint32, err error) {
	j.mu.Lock()
	j.errs[stan] = err
	j.mu.Unlock()
}

func (j *scriptedJournal) recorded() []journal.Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]journal.Record(nil), j.records...)
}

// abortingAuth approves everything with an outcome and counts the aborts.
type abortingAuth struct {
	mu      sync.Mutex
	aborted []string
	before  func(*Txn) // runs after the decision, if set (to inject faults)
}

func (a *abortingAuth) Authorize(t *Txn) {
	NewApprovalCode(t)
	t.SetCode("00")
	stan, _ := t.View.STAN()
	t.Outcome = []byte(fmt.Sprintf("effect-%d", stan))
	if a.before != nil {
		a.before(t)
	}
}

func (a *abortingAuth) Abort(t *Txn) {
	a.mu.Lock()
	a.aborted = append(a.aborted, string(t.Outcome))
	a.mu.Unlock()
	t.Outcome = []byte("aborted")
}

func (a *abortingAuth) aborts() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.aborted...)
}

// waitFor polls cond (for state another goroutine sets), failing after a
// generous bound; it asserts no duration.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}

// A record whose commit is in doubt may be durable: its reply is withheld
// (no 96 that a replay could contradict with a 00), its effect is not taken
// back, and the switch goes out of service.
func TestInDoubtCommitWithholdsTheReply(t *testing.T) {
	j := newScripted()
	a := &abortingAuth{}
	ts := startServer(t, a, func(c *Config) { c.testJournal = j })
	j.answer(1, fmt.Errorf("mark: %w", journal.ErrInDoubt))
	c := ts.dial(t)
	if err := c.Write(purchase(t, 1, 100)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the withheld reply", func() bool { return testutil.ToFloat64(ts.m.withheld) == 1 })
	// had the first reply been sent, it would be read before this one
	r, err := c.RoundTrip(purchase(t, 2, 100), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if stan, _ := r.View.STAN(); stan != 2 || field(r, 39) != "00" {
		t.Fatalf("got STAN %d rc %q: the in-doubt reply was sent", stan, field(r, 39))
	}
	if got := a.aborts(); len(got) != 0 {
		t.Fatalf("in-doubt effect taken back: %v", got)
	}
	if !ts.journalDown.Load() || testutil.ToFloat64(ts.m.journalBad) != 1 {
		t.Fatal("an in-doubt commit did not mark the journal failed")
	}
}

// A journal that refused a record (nothing written) gets 96, the effect is
// taken back, and the reply gives out no identifier the journal lacks.
func TestRefusedCommitAnswers96WithoutEffect(t *testing.T) {
	j := newScripted()
	a := &abortingAuth{}
	ts := startServer(t, a, func(c *Config) { c.testJournal = j })
	j.answer(7, fmt.Errorf("append: %w", journal.ErrFailed))
	j.answer(9, journal.ErrTooLarge)
	c := ts.dial(t)
	r, err := c.RoundTrip(purchase(t, 7, 100), 5*time.Second)
	if err != nil || field(r, 39) != "96" {
		t.Fatalf("refused commit: %v %q", err, field(r, 39))
	}
	if r.View.Has(codec.FieldRRN) || r.View.Has(codec.FieldApproval) {
		t.Fatalf("96 carries RRN %q / approval %q the journal does not hold", field(r, 37), field(r, 38))
	}
	if got := a.aborts(); len(got) != 1 || got[0] != "effect-7" {
		t.Fatalf("aborts = %v, want the decision's effect once", got)
	}
	if !ts.journalDown.Load() {
		t.Fatal("a failed journal left the switch in service")
	}
	ts.journalDown.Store(false) // as a restart would
	// a record refused on its own (too large) is answered 96 and taken
	// back, and the switch stays in service
	if r, err := c.RoundTrip(purchase(t, 9, 100), 5*time.Second); err != nil || field(r, 39) != "96" {
		t.Fatalf("record too large: %v %q", err, field(r, 39))
	}
	if ts.journalDown.Load() || len(a.aborts()) != 2 {
		t.Fatalf("a record too large: out of service %v, aborts %v", ts.journalDown.Load(), a.aborts())
	}
	// a journaled approval carries both, and the record holds their counters
	r, err = c.RoundTrip(purchase(t, 8, 100), 5*time.Second)
	if err != nil || field(r, 39) != "00" || len(field(r, 37)) != 12 || len(field(r, 38)) != 6 {
		t.Fatalf("journaled approval: %v rc %q rrn %q approval %q", err, field(r, 39), field(r, 37), field(r, 38))
	}
	recs := j.recorded()
	last := recs[len(recs)-1]
	if last.RRN != field(r, 37) || last.RRNSeq == 0 || last.Approval != field(r, 38) || last.ApprovalSeq == 0 {
		t.Fatalf("record rrn %q/%d approval %q/%d, reply %q %q", last.RRN, last.RRNSeq, last.Approval, last.ApprovalSeq, field(r, 37), field(r, 38))
	}
}

// /readyz answers 503 with the reason while the journal reports a failure.
func TestReadyzFollowsTheJournal(t *testing.T) {
	j := newScripted()
	ts := startServer(t, nil, func(c *Config) { c.testJournal = j })
	h := ts.AdminHandler()
	get := func() (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		b, _ := io.ReadAll(w.Body)
		return w.Code, string(b)
	}
	if code, _ := get(); code != http.StatusOK {
		t.Fatalf("healthy journal: %d", code)
	}
	j.mu.Lock()
	j.failed = errors.New("journal: failed: disk full")
	j.mu.Unlock()
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "disk full") {
		t.Fatalf("failed journal: %d %q", code, body)
	}
}

// A panic after the decision takes its effect back and answers 96.
func TestPanicAfterTheDecisionAborts(t *testing.T) {
	j := newScripted()
	a := &abortingAuth{before: func(t *Txn) {
		if s, _ := t.View.STAN(); s == 3 {
			panic("after the decision")
		}
	}}
	ts := startServer(t, a, func(c *Config) { c.testJournal = j })
	r, err := ts.dial(t).RoundTrip(purchase(t, 3, 100), 5*time.Second)
	if err != nil || field(r, 39) != "96" {
		t.Fatalf("panic: %v %q", err, field(r, 39))
	}
	if got := a.aborts(); len(got) != 1 || got[0] != "effect-3" {
		t.Fatalf("aborts = %v", got)
	}
	// the 96 is journaled with the aborted outcome: a replay agrees
	recs := j.recorded()
	if len(recs) != 1 || string(recs[0].Outcome) != "aborted" || recs[0].RespCode != [2]byte{'9', '6'} {
		t.Fatalf("journaled %d records: %+v", len(recs), recs)
	}
}

// A reply that cannot be built does not leave its effect applied: the
// decision is taken back and a plain 96 goes out.
func TestUnbuildableReplyAborts(t *testing.T) {
	j := newScripted()
	a := &abortingAuth{before: func(t *Txn) {
		t.AddReplyField(codec.FieldAdditionalAmounts, make([]byte, 500)) // longer than field 54 allows
	}}
	ts := startServer(t, a, func(c *Config) { c.testJournal = j })
	r, err := ts.dial(t).RoundTrip(purchase(t, 4, 100), 5*time.Second)
	if err != nil || field(r, 39) != "96" || r.View.Has(codec.FieldAdditionalAmounts) {
		t.Fatalf("unbuildable reply: %v rc %q has54 %v", err, field(r, 39), r.View.Has(codec.FieldAdditionalAmounts))
	}
	if got := a.aborts(); len(got) != 1 {
		t.Fatalf("aborts = %v", got)
	}
	recs := j.recorded()
	if rec := recs[len(recs)-1]; string(rec.Outcome) != "aborted" || rec.RespCode != [2]byte{'9', '6'} {
		t.Fatalf("journaled %q %s, want the aborted outcome answered 96", rec.Outcome, rec.RespCode)
	}
}

// The record holds what clearing needs, read by content: the currency
// (text in the 1987 dialects), the transmission date and time, the
// acquirer, and the original a reversal names.
func TestRecordCarriesClearingFields(t *testing.T) {
	j := newScripted()
	ts := startServer(t, nil, func(c *Config) { c.testJournal = j })
	d, _ := codec.Lookup(codec.ISO87ASCII)
	msg, err := d.Encode(codec.Message{MTI: "0400", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": "2500", "7": "1121204500", "11": "000012", "12": "204500",
		"13": "1121", "22": "051", "32": "123456", "41": "TERM0001", "42": "MERCHANT0000001", "49": "978",
		"90": "020000001111212044590000012345600000000000"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.dial(t).RoundTrip(msg, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	rec := j.recorded()[0]
	want := journal.Record{Currency: 978, Transmission: 1121204500, Acquirer: "123456", Original: "0200/000011/1121",
		Amount: 2500, STAN: 12, LocalDate: 1121, LocalTime: 204500, EntryMode: 51}
	got := journal.Record{Currency: rec.Currency, Transmission: rec.Transmission, Acquirer: rec.Acquirer, Original: rec.Original,
		Amount: rec.Amount, STAN: rec.STAN, LocalDate: rec.LocalDate, LocalTime: rec.LocalTime, EntryMode: rec.EntryMode}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("record\n got %+v\nwant %+v", got, want)
	}
	if rec.PANMasked != "476173******0010" || rec.RRNSeq == 0 || len(rec.RRN) != 12 {
		t.Fatalf("record PAN %q RRN %q/%d", rec.PANMasked, rec.RRN, rec.RRNSeq)
	}
}

// A sign-on's keys are installed only once its record is durable: a
// sign-on the journal refused leaves the old keys in force, and the keys
// travel in the record so that a replay installs them.
func TestSignOnKeysInstalledOnlyWhenJournaled(t *testing.T) {
	j := newScripted()
	data := demoData(t)
	keys := &Keys{Data: data}
	ts := startServer(t, DemoAuthorizer{Data: data}, func(c *Config) {
		c.Links[0].Name, c.Links[0].Dialect, c.Links[0].Framing, c.Links[0].MAC = "cup", codec.CUPPOS, "binary2+tpdu", "cup"
		c.testHSM, c.testKeys, c.testJournal = &hsm.Soft{LMK: hsm.ThalesTestLMK()}, keys, j
	})
	signOn := func(stan string) []byte { return cuptest.SignOn(t, stan, "12345678", "123456789012345", nil, nil) }
	_, _, before, _ := keys.Terminal("cup", []byte("12345678"))
	j.answer(21, errors.New("journal: failed earlier"))
	c := ts.dial(t)
	if r, err := c.RoundTrip(signOn("000021"), 5*time.Second); err != nil || field(r, 39) != "96" || r.View.Has(62) {
		t.Fatalf("refused sign-on: %v %q has62 %v", err, field(r, 39), r.View.Has(62))
	}
	if _, _, tak, _ := keys.Terminal("cup", []byte("12345678")); tak != before {
		t.Fatal("a sign-on the journal refused replaced the MAC key")
	}
	if r, err := c.RoundTrip(signOn("000022"), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("sign-on: %v %q", err, field(r, 39))
	}
	_, _, after, _ := keys.Terminal("cup", []byte("12345678"))
	if after == before {
		t.Fatal("a journaled sign-on did not install its keys")
	}
	recs := j.recorded()
	fresh := &Keys{Data: data}
	if err := fresh.Restore(recs[len(recs)-1].SessionKeys); err != nil {
		t.Fatal(err)
	}
	if _, _, tak, _ := fresh.Terminal("cup", []byte("12345678")); tak != after {
		t.Fatal("the journaled sign-on does not restore the keys in force")
	}
}

// A panic in the commit callback (it runs on the journal's committer) does
// not end the process: the reply is dropped, the request accounted for,
// the panic counted, and the switch answers the next one.
func TestPanicInTheCommitCallback(t *testing.T) {
	j := newScripted()
	ts := startServer(t, &panicAbort{&abortingAuth{}}, func(c *Config) { c.testJournal = j })
	j.answer(5, errors.New("journal: refused")) // the refusal path aborts, and the abort panics
	c := ts.dial(t)
	if err := c.Write(purchase(t, 5, 100)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the panic", func() bool { return testutil.ToFloat64(ts.m.panics) == 1 })
	if r, err := c.RoundTrip(purchase(t, 6, 100), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("after the panic: %v", err)
	}
	waitFor(t, "nothing in flight", func() bool { return ts.inflight.Load() == 0 })
}

// panicAbort panics when asked to take a decision back.
type panicAbort struct{ *abortingAuth }

func (p *panicAbort) Abort(*Txn) { panic("abort") }
