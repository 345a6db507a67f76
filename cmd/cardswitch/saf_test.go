package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/internal/pan"
	"github.com/cardswitch/cardswitch/internal/testlog"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/journal/snapshot"
)

// safConfig is the test configuration with destination visa-host at the
// simulator, a short timeout and quick store-and-forward retries.
func safConfig(t *testing.T, simAddr string) (string, map[string]string) {
	body, addrs := testConfig(t)
	dests := fmt.Sprintf("destinations:\n  - name: visa-host\n    dialect: iso87ascii\n    framing: binary2\n"+
		"    endpoints: [{address: %s}]\n    timeout: 200ms\n    reconnect_min: 10ms\n    reconnect_max: 50ms\n"+
		"    saf: {timeout: 100ms, retry_base: 50ms, retry_max: 100ms}\n", simAddr)
	rules := "    - name: visa-issuers\n      pan_prefixes: [\"4761739001\"]\n      action: upstream\n      destination: visa-host\n"
	return withDestinationsIn(t, body, dests, rules), addrs
}

func safStatus(t *testing.T, admin string) []engine.SAFStatus {
	t.Helper()
	res, err := http.Get("http://" + admin + "/saf?destination=visa-host")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st []engine.SAFStatus
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil || len(st) != 1 {
		t.Fatalf("GET /saf: %v %+v", err, st)
	}
	return st
}

// Reversals owed when the switch stops are not lost: the host answers
// neither the purchases nor their reversals, the switch stops with three
// entries pending (the admin API, the metrics and the command list them,
// PANs masked; the operator expires one and retries another, with the
// admin token), and after the restart each of the other two goes again
// as a repeat (0421) to the host, now answering, and is journaled
// delivered, once.
func TestSAFEntriesSurviveARestart(t *testing.T) {
	const n = 3
	is, err := sim.Start("127.0.0.1:0", sim.Config{Dialect: "iso87ascii", Framing: "binary2",
		Rules: sim.Rules{Rules: []sim.Rule{{Name: "silent", Fault: "no_answer"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	body, addrs := safConfig(t, is.Addr())
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	var logBuf testlog.Buffer
	stop := startServeLog(t, c, zerolog.New(&logBuf))
	waitDestinationUp(t, addrs["8580"], "visa-host")
	conn, d := dialPOS(t, addrs["8583"])
	var rrns []string
	for i := 0; i < n; i++ {
		rrn := fmt.Sprintf("SAFRESTART%02d", i)
		rrns = append(rrns, rrn)
		r, err := conn.RoundTrip(purchase(t, d, fmt.Sprintf("%06d", i+1), rrn, 700+i), 5*time.Second)
		if err != nil || string(r.View.AppendText(nil, 39)) != "91" {
			t.Fatalf("purchase %d: %v, want 91 (no answer)", i, err)
		}
	}
	conn.Close()
	waitUntilT(t, "three reversals tried and retried", func() bool {
		st := safStatus(t, addrs["8580"])
		return st[0].Depth == n && is.Stats().Faults["no_answer"] >= 2*n+n // the purchases, then each reversal twice
	})
	st := safStatus(t, addrs["8580"])
	for _, e := range st[0].Entries {
		if e.PAN != "476173******0010" || e.Kind != "reversal" || e.MTI != "0420" || e.Reason != "timeout" {
			t.Fatalf("entry %+v", e)
		}
	}
	if m := scrape(t, addrs["8580"]); m[`cardswitch_saf_depth{destination="visa-host"}`] != n {
		t.Fatalf("cardswitch_saf_depth = %v, want %d", m[`cardswitch_saf_depth{destination="visa-host"}`], n)
	}
	code, out, errOut := cli(t, "", "saf", "--admin", addrs["8580"], "list")
	if code != 0 || strings.Count(out, "476173******0010") != n || strings.Contains(out, "4761739001010010") ||
		!strings.Contains(out, fmt.Sprintf("visa-host: %d pending", n)) {
		t.Fatalf("saf list: %d\n%s%s", code, out, errOut)
	}
	// the operator settles the first by hand: expired, an exception
	tok := filepath.Join(c.file.DataDir, "admin.token")
	id := fmt.Sprint(st[0].Entries[0].ID)
	if code, _, errOut := cli(t, "", "saf", "--admin", addrs["8580"], "expire", "visa-host", id); code != 2 || !strings.Contains(errOut, "token") {
		t.Fatalf("expire without a token: %d %s", code, errOut)
	}
	if code, out, errOut := cli(t, "", "saf", "--admin", addrs["8580"], "--token-file", tok, "expire", "visa-host", id); code != 0 || !strings.Contains(out, "expired") {
		t.Fatalf("saf expire: %d %s%s", code, out, errOut)
	}
	if code, _, errOut := cli(t, "", "saf", "--admin", addrs["8580"], "--token-file", tok, "retry", "visa-host", id); code != 1 || !strings.Contains(errOut, "404") {
		t.Fatalf("retry of an expired entry: %d %s, want 404", code, errOut)
	}
	if code, out, errOut := cli(t, "", "saf", "--admin", addrs["8580"], "--token-file", tok, "retry", "visa-host", fmt.Sprint(st[0].Entries[1].ID)); code != 0 || !strings.Contains(out, "retried") {
		t.Fatalf("saf retry: %d %s%s", code, out, errOut)
	}
	st = safStatus(t, addrs["8580"])
	if st[0].Depth != n-1 || len(st[0].Exceptions) != 1 || st[0].Exceptions[0].State != "saf expired" || st[0].Exceptions[0].PAN != "476173******0010" {
		t.Fatalf("after the expiry: %+v", st[0])
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	before := is.Stats()
	if err := is.SetRules(sim.Rules{Default: "00"}); err != nil { // the host is back
		t.Fatal(err)
	}

	stop = startServeLog(t, c, zerolog.New(&logBuf))
	waitUntilT(t, "the pending entries delivered", func() bool { return safStatus(t, addrs["8580"])[0].Depth == 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logBuf.String(), `"pending":2`) {
		t.Fatalf("the start does not log its pending entries:\n%s", logBuf.String())
	}
	after := is.Stats()
	if got := after.Answered["00"] - before.Answered["00"]; got != n-1 {
		t.Fatalf("the host approved %d messages after the restart, want the %d repeats", got, n)
	}
	var delivered, timedOut, expired []string
	if _, err := journal.Replay(filepath.Join(c.file.DataDir, "journal"), func(r *journal.Record) error {
		switch r.UpState {
		case journal.UpTimeout:
			timedOut = append(timedOut, strings.Clone(r.RRN))
		case journal.UpSAFDelivered:
			if string(r.MTI[:]) != "0420" || r.UpCode != [2]byte{'0', '0'} || r.PANMasked != "476173******0010" {
				t.Errorf("delivered record %+v", r)
			}
			delivered = append(delivered, strings.Clone(r.RRN))
		case journal.UpSAFExpired:
			expired = append(expired, strings.Clone(r.RRN))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sorted(timedOut), rrns) || !slices.Equal(sorted(append(delivered, expired...)), rrns) || len(expired) != 1 {
		t.Fatalf("journal: timed out %q, delivered %q, expired %q, want %q each, one expired", timedOut, delivered, expired, rrns)
	}
}

func waitUntilT(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

// Stand-in's daily limits are the journal's: with the destination down,
// the card's one stand-in approval of the day is used, a card on the
// negative file gets its code, and after a restart the card is still at
// its limit (65).
func TestStandInLimitsSurviveARestart(t *testing.T) {
	body, addrs := testConfig(t)
	neg := filepath.Join(t.TempDir(), "negative.txt")
	hot := pan.WithCheckDigit("476173900101002")
	if err := os.WriteFile(neg, []byte("# hot cards\n"+hot+" 43\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dests := fmt.Sprintf("destinations:\n  - name: visa-host\n    dialect: iso87ascii\n    framing: binary2\n"+
		"    endpoints: [{address: %s}]\n    reconnect_min: 10ms\n    reconnect_max: 50ms\n"+
		"    stand_in: {enabled: true, currency: 840, max_amount: 100000, daily_count: 1, negative_file: %s}\n", freePort(t), neg)
	rules := "    - name: visa-issuers\n      pan_prefixes: [\"4761739001\"]\n      action: upstream\n      destination: visa-host\n"
	c, err := loadConfig(writeFile(t, withDestinationsIn(t, body, dests, rules)))
	if err != nil {
		t.Fatal(err)
	}
	send := func(card string, stan int) (string, string) {
		conn, d := dialPOS(t, addrs["8583"])
		defer conn.Close()
		msg := purchase(t, d, fmt.Sprintf("%06d", stan), fmt.Sprintf("STANDIN%05d", stan), 1000)
		msg = []byte(strings.Replace(string(msg), "4761739001010010", card, 1))
		r, err := conn.RoundTrip(msg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return string(r.View.AppendText(nil, 39)), string(r.View.AppendText(nil, 44))
	}
	stop := startServeLog(t, c, zerolog.New(io.Discard))
	for i, want := range []struct{ card, rc, ind string }{
		{"4761739001010010", "00", "STIP:approved"}, {"4761739001010010", "65", "STIP:count"}, {hot, "43", "STIP:negative"}} {
		if rc, ind := send(want.card, i+1); rc != want.rc || ind != want.ind {
			t.Fatalf("request %d: %s %q, want %s %q", i, rc, ind, want.rc, want.ind)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stop = startServeLog(t, c, zerolog.New(io.Discard))
	defer stop()
	if rc, ind := send("4761739001010010", 9); rc != "65" || ind != "STIP:count" {
		t.Fatalf("after the restart: %s %q, want 65: the day's stand-in approval still counts", rc, ind)
	}
}

// A partial reversal of a stand-in approval frees what it reverses, and
// the approval still counts in the card's count, before and after a
// restart (the replay leaves the approval at what the 95 kept).
func TestStandInPartialReversalSurvivesARestart(t *testing.T) {
	body, addrs := testConfig(t)
	dests := fmt.Sprintf("destinations:\n  - name: visa-host\n    dialect: iso87ascii\n    framing: binary2\n"+
		"    endpoints: [{address: %s}]\n    reconnect_min: 10ms\n    reconnect_max: 50ms\n"+
		"    stand_in: {enabled: true, currency: 840, max_amount: 100000, daily_amount: 1500, daily_count: 2}\n", freePort(t))
	rules := "    - name: visa-issuers\n      pan_prefixes: [\"4761739001\"]\n      action: upstream\n      destination: visa-host\n"
	c, err := loadConfig(writeFile(t, withDestinationsIn(t, body, dests, rules)))
	if err != nil {
		t.Fatal(err)
	}
	send := func(what string, msg []byte, want string) {
		t.Helper()
		conn, _ := dialPOS(t, addrs["8583"])
		defer conn.Close()
		r, err := conn.RoundTrip(msg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if rc := string(r.View.AppendText(nil, 39)); rc != want {
			t.Fatalf("%s: 39 = %s, want %s", what, rc, want)
		}
	}
	d, _ := codec.Lookup(codec.ISO87ASCII)
	rev, err := d.Encode(codec.Message{MTI: "0400", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": "000000001000", "7": "1201101600", "11": "000002", "12": "101600",
		"13": "1201", "14": "2812", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
		"90": "0200" + "000001" + "1201101500" + strings.Repeat("0", 22), "95": "000000000200000000000000C00000000C00000000"}})
	if err != nil {
		t.Fatal(err)
	}
	stop := startServeLog(t, c, zerolog.New(io.Discard))
	send("a stand-in purchase of 10.00", purchase(t, d, "000001", "PARTIAL00001", 1000), "00")
	send("its partial reversal leaving 2.00", rev, "00")
	send("a second purchase of 10.00 (12.00 of 15.00 used)", purchase(t, d, "000003", "PARTIAL00003", 1000), "00")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stop = startServeLog(t, c, zerolog.New(io.Discard))
	defer stop()
	// 2.50 more is within the amount (14.50 of 15.00) but the count of two is
	// spent: 65. A reversal forgotten gives 61 (22.50), one taken whole 00.
	send("after the restart, a third purchase of 2.50", purchase(t, d, "000004", "PARTIAL00004", 250), "65")
}

// The pending store-and-forward entries and the day's stand-in approvals
// cross a snapshot with the open requests: a state loaded from it and the
// journal after it has the same entries as one replayed whole, and a
// newer business day empties the stand-in set.
func TestSAFAndStandInAcrossASnapshot(t *testing.T) {
	c, prot, before := testState(t)
	stood := func(seq, ref uint64, day uint32) *journal.Record {
		r := fwd(seq, ref, journal.UpStandIn)
		r.RespCode, r.BusinessDate = [2]byte{'0', '0'}, day
		return r
	}
	delivered := func(seq, ref uint64) *journal.Record {
		r := fwd(seq, ref, journal.UpSAFDelivered)
		r.UpCode = [2]byte{'0', '0'}
		return r
	}
	replay := func(st *state, recs ...*journal.Record) { replayRecords(t, st, recs...) }
	// before the point: 1 times out (owes a reversal), 2 is stood in for
	// (owes an advice), 3 times out and is delivered
	replay(before, fwd(1, 1, journal.UpForwarded), fwd(2, 1, journal.UpTimeout), stood(3, 2, 20261202),
		fwd(4, 3, journal.UpForwarded), fwd(5, 3, journal.UpTimeout), delivered(6, 3))
	after := throughSnapshot(t, c, prot, before, 6)
	// after it: 1's reversal delivered; a late approval of 3 (delivered:
	// nothing more owed); another stand-in approval
	late := fwd(8, 3, journal.UpLateReversal)
	replay(after, delivered(7, 1), late, stood(9, 4, 20261202))
	owed, err := after.owed.records()
	if err != nil || len(owed) != 2 || owed[0].RRNSeq != 2 || owed[1].RRNSeq != 4 {
		t.Fatalf("pending after the snapshot: %v %+v, want the two advices", err, owed)
	}
	si, err := after.stood.records()
	if err != nil || len(si) != 2 {
		t.Fatalf("stand-in approvals after the snapshot: %v %d, want 2", err, len(si))
	}
	replay(after, stood(10, 5, 20261203)) // a new business day
	if si, _ := after.stood.records(); len(si) != 1 || si[0].RRNSeq != 5 {
		t.Fatalf("a new day: %+v, want its one approval", si)
	}
	// the open-upstream tool reads such a snapshot (it holds more than open requests)
	fillJournal(t, c.file.DataDir, []uint32{20261121}, 2).Close()
	if code, _, stderr := cli(t, "", "journal", "--data-dir", c.file.DataDir, "open-upstream", "--json"); code != 0 || strings.Contains(stderr, "passed over") {
		t.Fatalf("open-upstream with a snapshot holding store-and-forward entries: %d %s", code, stderr)
	}
}

// A reversal of a stand-in approval delivered before a snapshot's point
// is remembered across it by the advice it followed: the terminal's
// reversal of the same approval after the point owes nothing (the advice
// is still owed: nothing answered it), and the approval no longer counts.
func TestStandInReversalAcrossASnapshot(t *testing.T) {
	c, prot, before := testState(t)
	replay := func(st *state, recs ...*journal.Record) { replayRecords(t, st, recs...) }
	approval := fwd(1, 10, journal.UpStandIn)
	approval.RespCode = [2]byte{'0', '0'}
	own := fwd(2, 10, journal.UpUndelivered) // the switch's reversal: its reply was not delivered
	own.Follows = 10
	done := fwd(3, 10, journal.UpSAFDelivered)
	done.Follows, done.MTI, done.UpCode = 10, [4]byte{'0', '4', '2', '0'}, [2]byte{'0', '0'}
	replay(before, approval, own, done)
	after := throughSnapshot(t, c, prot, before, 3)
	term := fwd(4, 11, journal.UpAdviceAccepted) // the terminal's 0400, with a counter of its own
	term.MTI, term.Follows = [4]byte{'0', '4', '0', '0'}, 10
	replay(after, term)
	if owed, err := after.owed.records(); err != nil || len(owed) != 1 || owed[0].UpState != journal.UpStandIn {
		t.Fatalf("pending after the snapshot: %v %+v, want the advice alone (the reversal was delivered)", err, owed)
	}
	if si, err := after.stood.records(); err != nil || len(si) != 0 {
		t.Fatalf("stand-in approvals after the snapshot: %v %+v, want none (reversed)", err, si)
	}
}

// replayRecords replays recs into st as a start does (a record without a
// business date is of 20261202).
func replayRecords(t *testing.T, st *state, recs ...*journal.Record) {
	t.Helper()
	p := newReplayer(st)
	for _, r := range recs {
		if r.BusinessDate == 0 {
			r.BusinessDate = 20261202
		}
		if err := p.add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.wait(); err != nil {
		t.Fatal(err)
	}
}

// throughSnapshot writes before's state as a snapshot at seq and returns
// a new state loaded from it.
func throughSnapshot(t *testing.T, c *config, prot *journal.Protector, before *state, seq uint64) *state {
	t.Helper()
	m, err := snapshot.Write(c.snapshotDir(), snapshot.Point{Seq: seq}, prot.Fingerprint(), before.parts())
	if err != nil {
		t.Fatal(err)
	}
	after, err := newState(c, prot)
	if err != nil {
		t.Fatal(err)
	}
	if err := snapshot.Load(m, after.parts()); err != nil {
		t.Fatal(err)
	}
	return after
}
