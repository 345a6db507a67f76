package engine

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/router"
)

// startSim runs an issuer simulator on loopback (iso87ascii, binary2
// unless cfg says otherwise).
func startSim(t testing.TB, addr string, cfg sim.Config) *sim.Issuer {
	t.Helper()
	if cfg.Dialect == "" {
		cfg.Dialect, cfg.Framing = codec.ISO87ASCII, "binary2"
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	is, err := sim.Start(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { is.Close() })
	return is
}

// dest is a destination on the given endpoints (iso87ascii, binary2), with
// quick redials.
func dest(name string, eps ...Endpoint) DestinationConfig {
	return DestinationConfig{Name: name, Dialect: codec.ISO87ASCII, Framing: "binary2", Endpoints: eps,
		ReconnectMin: 5 * time.Millisecond, ReconnectMax: 50 * time.Millisecond}
}

// forwarding runs a server whose routes send PANs starting 4 to dests[0]
// and 5 to dests[1] (when there is one).
func forwarding(t testing.TB, dests []DestinationConfig, change func(*Config)) *testServer {
	t.Helper()
	return startServer(t, nil, func(c *Config) {
		c.Destinations = dests
		c.testRules = []router.Rule{{Name: "a", PANPrefixes: []string{"4"}, Action: router.Upstream, Destination: dests[0].Name}}
		if len(dests) > 1 {
			c.testRules = append(c.testRules, router.Rule{Name: "b", PANPrefixes: []string{"5"}, Action: router.Upstream, Destination: dests[1].Name})
		}
		if change != nil {
			change(c)
		}
	})
}

// waitUp waits until n connections of destination name are up.
func waitUp(t testing.TB, ts *testServer, name string, n int) *destination {
	t.Helper()
	d := ts.dests[name]
	waitUntil(t, name+" connections up", func() bool {
		up := 0
		for i := range d.conns {
			if d.pool.Up(i) {
				up++
			}
		}
		return up == n
	})
	return d
}

// card0200 is an iso87ascii 0200 for pan, without 37 (the switch gives one).
func card0200(t testing.TB, pan string, stan int, amount int64) []byte {
	t.Helper()
	d, _ := codec.Lookup(codec.ISO87ASCII)
	msg, err := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
		"2": pan, "3": "000000", "4": strconv.FormatInt(amount, 10), "7": "1121204500",
		"11": strconv.Itoa(stan), "12": "204500", "13": "1121", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestForwardRoutesByBIN(t *testing.T) {
	a := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "00"}})
	b := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "05"}})
	j, jst := journalFor(t)
	ts := forwarding(t, []DestinationConfig{dest("visa", Endpoint{Address: a.Addr()}), dest("mc", Endpoint{Address: b.Addr()})},
		func(c *Config) { c.testJournal = jst })
	waitUp(t, ts, "visa", 1)
	waitUp(t, ts, "mc", 1)
	c := ts.dial(t)
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 11, 1000), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(r, 39); got != "00" {
		t.Fatalf("visa card: 39 = %s, want the visa host's 00", got)
	}
	if field(r, 11) != "000011" || field(r, 7) != "1121204500" || len(field(r, 38)) != 6 || len(field(r, 37)) != 12 {
		t.Fatalf("reply fields: 11=%q 7=%q 38=%q 37=%q", field(r, 11), field(r, 7), field(r, 38), field(r, 37))
	}
	r, err = c.RoundTrip(card0200(t, "5413330089020011", 12, 1000), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(r, 39); got != "05" {
		t.Fatalf("mc card: 39 = %s, want the mc host's 05", got)
	}
	if a.Stats().Answered["00"] != 1 || b.Stats().Answered["05"] != 1 {
		t.Fatalf("hosts answered %v and %v: each card must reach its own host once", a.Stats().Answered, b.Stats().Answered)
	}
	recs := records(t, j)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4: each request's record before the send, then its final one", len(recs))
	}
	for i, want := range []struct {
		dest string
		rc   [2]byte
	}{{"visa", [2]byte{'0', '0'}}, {"mc", [2]byte{'0', '5'}}} {
		fwd, r := recs[2*i], recs[2*i+1]
		if r.Destination != want.dest || r.UpCode != want.rc || r.RespCode != want.rc || r.UpState != journal.UpAnswered ||
			r.UpSTAN != uint32(r.RRNSeq) || r.UpRRN != r.RRN || r.STAN != uint32(11+i) || r.PANMasked == "" {
			t.Errorf("record %d: %+v", i, r)
		}
		if fwd.UpState != journal.UpForwarded || fwd.RespCode != [2]byte{} || fwd.Destination != want.dest ||
			fwd.RRNSeq != r.RRNSeq || fwd.UpSTAN != r.UpSTAN || fwd.UpRRN != r.UpRRN || fwd.Seq >= r.Seq {
			t.Errorf("forwarded record %d: %+v\nfinal %+v", i, fwd, r)
		}
	}
}

func TestForwardFailsOverToSecondary(t *testing.T) {
	primary := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "00"}})
	secondary := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "08"}})
	ts := forwarding(t, []DestinationConfig{dest("visa", Endpoint{Address: primary.Addr()}, Endpoint{Address: secondary.Addr(), Tier: 1})}, nil)
	d := waitUp(t, ts, "visa", 2)
	c := ts.dial(t)
	if r, err := c.RoundTrip(card0200(t, "4761739001010010", 1, 100), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("with the primary up: %v %v, want its 00", err, r)
	}
	primary.Close()
	waitUntil(t, "the primary marked down", func() bool { return !d.pool.Up(0) })
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 2, 100), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(r, 39); got != "08" {
		t.Fatalf("primary closed: 39 = %s, want the secondary's 08", got)
	}
}

func TestForwardAllDownAnswers91AtOnce(t *testing.T) {
	dc := dest("visa", Endpoint{Address: freeAddr(t)}) // nothing listens there
	dc.Timeout = 2 * time.Minute                       // a reply within the read's guard cannot be the timeout
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	c := ts.dial(t)
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 1, 100), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(r, 39); got != "91" {
		t.Fatalf("39 = %s, want 91", got)
	}
	if n := testutil.ToFloat64(ts.dests["visa"].m.allDown); n != 1 {
		t.Fatalf("all_down counted %v times, want 1", n)
	}
}

// journalFor opens a journal the server records in; walk reads it back.
func journalFor(t testing.TB) (*journal.Journal, Journal) {
	t.Helper()
	j, err := journal.Open(journal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	p, _ := journal.NewProtector(make([]byte, journal.KeyFileLen))
	return j, JournalStage{J: j, P: p}
}

func records(t *testing.T, j *journal.Journal) []journal.Record {
	t.Helper()
	var out []journal.Record
	if _, err := j.Walk(journal.Point{}, j.LastSeq(), func(r *journal.Record) error {
		c := *r // its strings point into the journal's buffer, valid during the call only
		c.Outcome, c.PANSealed, c.SessionKeys = nil, nil, nil
		for _, f := range []*string{&c.Link, &c.RRN, &c.Terminal, &c.Merchant, &c.Approval, &c.Route, &c.Original,
			&c.PANMasked, &c.Acquirer, &c.Destination, &c.UpRRN} {
			*f = strings.Clone(*f)
		}
		out = append(out, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestForwardTimeoutThenLateApprovalRecorded(t *testing.T) {
	is := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "00", Rules: []sim.Rule{{Name: "late", Fault: "late", Delay: 400 * time.Millisecond}}}})
	j, jst := journalFor(t)
	dc := dest("visa", Endpoint{Address: is.Addr()})
	dc.Timeout = 50 * time.Millisecond
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
	d := waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 7, 100), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(r, 39); got != "91" {
		t.Fatalf("39 = %s, want 91 (the deadline passed)", got)
	}
	waitUntil(t, "the late approval journaled", func() bool { return len(records(t, j)) == 3 })
	recs := records(t, j)
	fwd, final, late := recs[0], recs[1], recs[2]
	if fwd.UpState != journal.UpForwarded || fwd.RRNSeq != final.RRNSeq {
		t.Fatalf("forwarded record %+v", fwd)
	}
	if final.UpState != journal.UpTimeout || final.RespCode != [2]byte{'9', '1'} || final.Destination != "visa" || final.UpSTAN == 0 || len(final.UpRRN) != 12 {
		t.Fatalf("final record: %+v", final)
	}
	if late.UpState != journal.UpLateReversal || late.UpCode != [2]byte{'0', '0'} || late.RespCode != [2]byte{} || late.UpSTAN != final.UpSTAN ||
		late.UpRRN != final.UpRRN || late.RRNSeq != final.RRNSeq || late.PANMasked != final.PANMasked {
		t.Fatalf("late record %+v\ndoes not tie to %+v", late, final)
	}
	if testutil.ToFloat64(d.m.timeouts) != 1 || testutil.ToFloat64(d.m.late) != 1 || testutil.ToFloat64(d.m.lateReverse) != 1 {
		t.Fatal("timeouts, late and late_reversal must each count 1")
	}
}

func TestForwardRepliesOutOfOrder(t *testing.T) {
	// the first request is answered after the second: each reply must
	// carry its own request's answer (51 for the big one)
	is := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "00", Rules: []sim.Rule{
		{Name: "big", AmountOver: 100000, Code: "51", Fault: "slow", Delay: 200 * time.Millisecond}}}})
	ts := forwarding(t, []DestinationConfig{dest("visa", Endpoint{Address: is.Addr()})}, nil)
	waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	if err := c.Write(card0200(t, "4761739001010010", 1, 500000)); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(card0200(t, "4761739001010010", 2, 100)); err != nil {
		t.Fatal(err)
	}
	first, err := c.Read(time.Now().Add(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Read(time.Now().Add(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if field(first, 11) != "000002" || field(first, 39) != "00" || field(first, 4) != "000000000100" {
		t.Fatalf("first reply: 11=%s 39=%s 4=%s, want STAN 2's 00", field(first, 11), field(first, 39), field(first, 4))
	}
	if field(second, 11) != "000001" || field(second, 39) != "51" || field(second, 4) != "000000500000" {
		t.Fatalf("second reply: 11=%s 39=%s 4=%s, want STAN 1's 51", field(second, 11), field(second, 39), field(second, 4))
	}
}

func TestForwardDuplicateKeyRefused(t *testing.T) {
	// keyed on the terminal alone, two requests of one terminal in flight
	// cannot be told apart: the second is refused, never sent
	is := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "00", Rules: []sim.Rule{
		{Name: "slow", AmountOver: 100000, Fault: "slow", Delay: 300 * time.Millisecond}}}})
	dc := dest("visa", Endpoint{Address: is.Addr()})
	dc.Key = "mti 41"
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	d := waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	if err := c.Write(card0200(t, "4761739001010010", 1, 500000)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the first in flight", func() bool { return d.table.Len() == 1 })
	if err := c.Write(card0200(t, "4761739001010010", 2, 100)); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, c, 2)
	if field(got[2], 39) != "91" || field(got[1], 39) != "00" {
		t.Fatalf("STAN 1: %s, STAN 2: %s; want 00 and 91", field(got[1], 39), field(got[2], 39))
	}
	if n := is.Stats().Received; n != 1 {
		t.Fatalf("the host received %d requests, want 1: the duplicate must not leave", n)
	}
}

func TestForwardCUPTerminalToISO87Host(t *testing.T) {
	is := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "00"}})
	ts := startServer(t, nil, func(c *Config) {
		c.Links[0].Dialect, c.Links[0].Framing = codec.CUPPOS, "binary2+tpdu"
		c.Destinations = []DestinationConfig{dest("host", Endpoint{Address: is.Addr()})}
		c.testRules = []router.Rule{{Name: "cup", PANPrefixes: []string{"62"}, Action: router.Upstream, Destination: "host"}}
	})
	waitUp(t, ts, "host", 1)
	c := ts.dial(t)
	req := cupPurchase(t, nil, "", hsm.Key{})
	r, err := c.RoundTrip(req, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if field(r, 39) != "00" || len(field(r, 38)) != 6 {
		t.Fatalf("39=%s 38=%q, want the host's approval", field(r, 39), field(r, 38))
	}
	cup, _ := codec.Lookup(codec.CUPPOS)
	var v codec.View
	if err := cup.Decode(&v, req); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int{2, 3, 4, 11, 22, 25, 41, 42, 49, 60} {
		if !bytes.Equal(r.View.Wire(id), v.Wire(id)) {
			t.Errorf("field %d: reply %x, request %x: not restored byte for byte", id, r.View.Wire(id), v.Wire(id))
		}
	}
	if !bytes.Equal(r.View.Header(), v.Header()) {
		t.Errorf("header %x, request's %x", r.View.Header(), v.Header())
	}
	if len(field(r, 37)) != 12 {
		t.Errorf("37 = %q: the switch's RRN, as the host echoed it, must come back", field(r, 37))
	}
}

func TestForwardReconnectsAndSignsOnAfterRestart(t *testing.T) {
	is := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "00"}})
	addr := is.Addr()
	dc := dest("visa", Endpoint{Address: addr})
	dc.SignOn = true
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	d := waitUp(t, ts, "visa", 1)
	if n := is.Stats().NetworkManagement; n != 1 {
		t.Fatalf("%d network management messages before the connection was up, want the sign-on", n)
	}
	is.Close()
	waitUntil(t, "the connection down", func() bool { return !d.pool.Up(0) })
	c := ts.dial(t)
	if r, err := c.RoundTrip(card0200(t, "4761739001010010", 1, 100), 5*time.Second); err != nil || field(r, 39) != "91" {
		t.Fatalf("host down: %v, want 91", err)
	}
	again := startSim(t, addr, sim.Config{Rules: sim.Rules{Default: "00"}})
	waitUp(t, ts, "visa", 1)
	if n := again.Stats().NetworkManagement; n != 1 {
		t.Fatalf("restarted host saw %d network management messages, want the sign-on", n)
	}
	if r, err := c.RoundTrip(card0200(t, "4761739001010010", 2, 100), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("after the restart: %v, want 00", err)
	}
}

func TestForwardDroppedConnectionIsATimeout(t *testing.T) {
	// the host reads the request and closes the connection: the bytes had
	// left, so the request stays in flight and times out (91, journaled as
	// a timeout), never "not sent"
	// (financial requests only: the reversal of the timeout carries the
	// same amount, and must not be dropped too)
	is := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "00", Rules: []sim.Rule{{Name: "drop", AmountOver: 100000, MTIClasses: []string{"2"}, Fault: "drop"}}}})
	j, jst := journalFor(t)
	dc := dest("visa", Endpoint{Address: is.Addr()})
	dc.Timeout = 100 * time.Millisecond
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
	d := waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 1, 500000), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if field(r, 39) != "91" {
		t.Fatalf("39 = %s, want 91", field(r, 39))
	}
	if recs := records(t, j); len(recs) < 2 || recs[0].UpState != journal.UpForwarded || recs[1].UpState != journal.UpTimeout {
		t.Fatalf("records %+v, want the forwarded one and its timeout", recs)
	}
	if testutil.ToFloat64(d.m.timeouts) != 1 {
		t.Fatal("the timeout is not counted")
	}
	waitUp(t, ts, "visa", 1) // redialled
	if r, err := c.RoundTrip(card0200(t, "4761739001010010", 2, 100), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("after the redial: %v, want 00", err)
	}
}

func TestForwardEchoTests(t *testing.T) {
	// the host's echo tests are answered; the switch sends its own on a
	// quiet connection, and the host answers them
	is := startSim(t, "", sim.Config{EchoIdle: 20 * time.Millisecond})
	dc := dest("visa", Endpoint{Address: is.Addr()})
	dc.EchoInterval = time.Second
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	waitUp(t, ts, "visa", 1)
	waitUntil(t, "the host's echo test answered", func() bool { return is.Stats().EchoesAnswered >= 1 })
	// the host's echoes keep the connection busy; without them, the
	// switch's own echo after a quiet second
	quiet := startSim(t, "", sim.Config{})
	dc2 := dest("mc", Endpoint{Address: quiet.Addr()})
	dc2.EchoInterval = time.Second
	ts2 := forwarding(t, []DestinationConfig{dc2}, nil)
	waitUp(t, ts2, "mc", 1)
	waitUntil(t, "the switch's echo test received and answered", func() bool {
		return quiet.Stats().NetworkManagement >= 1 && quiet.Stats().Answered["00"] >= 1
	})
}

func TestForwardMetrics(t *testing.T) {
	is := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "05"}})
	ts := forwarding(t, []DestinationConfig{dest("visa", Endpoint{Address: is.Addr()}), dest("mc", Endpoint{Address: freeAddr(t)})}, nil)
	waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	for i, pan := range []string{"4761739001010010", "5413330089020011"} {
		if _, err := c.RoundTrip(card0200(t, pan, i+1, 100), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		`cardswitch_upstream_up{address="` + is.Addr() + `",conn="0",destination="visa"} 1`,
		`cardswitch_upstream_answered_total{destination="visa",rc="05"} 1`,
		`cardswitch_upstream_events_total{destination="mc",event="all_down"} 1`,
		`cardswitch_upstream_in_flight{destination="visa"} 0`,
	} {
		if !metricsHave(t, ts, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func metricsHave(t *testing.T, ts *testServer, want string) bool {
	t.Helper()
	rec := newRecorder()
	ts.AdminHandler().ServeHTTP(rec, mustRequest("/metrics"))
	return strings.Contains(rec.body.String(), want)
}

// refusingJournal refuses every record, as a failed journal does.
type refusingJournal struct{}

func (refusingJournal) Append(t *Txn)         { t.Committed(journal.ErrFailed) }
func (refusingJournal) TryAppend(t *Txn) bool { t.Committed(journal.ErrFailed); return true }

func TestForwardNothingLeavesBeforeItsRecord(t *testing.T) {
	// the record of the forwarded request is refused: the request is
	// answered 96 and never sent
	is := startSim(t, "", sim.Config{})
	ts := forwarding(t, []DestinationConfig{dest("visa", Endpoint{Address: is.Addr()})}, func(c *Config) { c.testJournal = refusingJournal{} })
	d := waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 1, 100), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if field(r, 39) != "96" {
		t.Fatalf("39 = %s, want 96", field(r, 39))
	}
	if n := testutil.ToFloat64(d.m.sent); n != 0 || d.table.Len() != 0 || is.Stats().Received != 0 {
		t.Fatalf("%v requests sent, %d in flight: nothing may leave before its record is durable", n, d.table.Len())
	}
}

// gateJournal holds a forwarded request's record until the test opens the
// gate, then journals it as JournalStage does.
type gateJournal struct {
	JournalStage
	arrived, gate chan struct{}
}

func (g gateJournal) Append(t *Txn) {
	if t.upState == journal.UpForwarded {
		close(g.arrived)
		<-g.gate
	}
	g.JournalStage.Append(t)
}

func TestForwardConnectionDownBeforeTheRecordIsNotSent(t *testing.T) {
	// the only connection goes down while the forwarded record is being
	// written: nothing can be sent, the request is answered 91 and its
	// final record says "not sent"
	is := startSim(t, "", sim.Config{})
	j, jst := journalFor(t)
	g := gateJournal{JournalStage: jst.(JournalStage), arrived: make(chan struct{}), gate: make(chan struct{})}
	dc := dest("visa", Endpoint{Address: is.Addr()})
	dc.Timeout = 2 * time.Minute
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = g })
	d := waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	if err := c.Write(card0200(t, "4761739001010010", 1, 100)); err != nil {
		t.Fatal(err)
	}
	<-g.arrived
	is.Close()
	waitUntil(t, "the connection down", func() bool { return !d.pool.Up(0) })
	close(g.gate)
	r, err := c.Read(time.Now().Add(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if field(r, 39) != "91" {
		t.Fatalf("39 = %s, want 91", field(r, 39))
	}
	recs := records(t, j)
	if len(recs) != 2 || recs[0].UpState != journal.UpForwarded || recs[1].UpState != journal.UpNotSent || recs[1].RespCode != [2]byte{'9', '1'} {
		t.Fatalf("records %+v, want forwarded then not sent (91)", recs)
	}
	if testutil.ToFloat64(d.m.sent) != 0 {
		t.Fatal("counted as sent")
	}
}
