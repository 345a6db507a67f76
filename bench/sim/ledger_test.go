package sim

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
)

// advice is a store-and-forward message as a switch sends it for the
// purchase with this STAN (purchase's fields): mti 0420 or 0421 (a
// reversal, 39 its reason and 90 naming the original), 0220, 0221, 0120 or
// 0121. Its 11 and 37 are the original's, the same on every repeat.
func advice(mti string, stan int) codec.Message {
	m := purchase(stan, 2500, demoPAN)
	m.MTI = mti
	for _, id := range []string{"14", "22", "25", "35", "52"} { // no card data in an advice
		delete(m.Fields, id)
	}
	orig := "0200"
	if mti[1] == '1' {
		orig = "0100"
	}
	m.Fields["90"] = fmt.Sprintf("%s%06d%s%011d%011d", orig, stan, m.Fields["7"], 12345, 0)
	if mti[1] == '4' {
		m.Fields["39"] = "68" // the reason: the issuer's answer did not come
	}
	return m
}

// checkAdvice is checkReply for an advice: its request's 39 (a reversal's
// reason) is not echoed but answered, and 90 is echoed.
func checkAdvice(t *testing.T, req, got codec.Message, code string) {
	t.Helper()
	checkReply(t, req, got, code)
	if got.Fields["90"] != req.Fields["90"] {
		t.Errorf("%s: 90 = %q, want %q echoed", req.MTI, got.Fields["90"], req.Fields["90"])
	}
}

func rrnOf(stan int) string { return fmt.Sprintf("RRN%09d", stan) }

func checkLedger(t *testing.T, is *Issuer, want ...LedgerEntry) {
	t.Helper()
	got := is.Ledger()
	if len(got) != len(want) {
		t.Fatalf("ledger %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ledger[%d] %+v, want %+v", i, got[i], want[i])
		}
	}
}

// A reversal is answered 0430 echoing what the switch matches on, and
// booked as applied; so is a repeat, on both ASCII and binary dialects.
func TestReversalAnsweredAndBooked(t *testing.T) {
	for _, dialect := range []string{codec.ISO87ASCII, "iso87binary"} {
		t.Run(dialect, func(t *testing.T) {
			is := startIssuer(t, Config{Dialect: dialect, Framing: "binary2"})
			d, conn := is.Dialect(), dial(t, is)
			req := advice("0420", 7)
			got := roundTrip(t, conn, d, req)
			if got.MTI != "0430" {
				t.Fatalf("reversal answered %s, want 0430", got.MTI)
			}
			checkAdvice(t, req, got, "00")
			checkLedger(t, is, LedgerEntry{Class: '4', RRN: rrnOf(7), STAN: 7, Received: 1, Applied: true, FirstCode: "00"})
			st := is.Stats()
			if st.Reversals != 1 || st.ReversalRepeats != 0 || st.Advices != 0 || st.Duplicates != 0 || is.Applied('4') != 1 {
				t.Errorf("stats %+v, applied %d", st, is.Applied('4'))
			}
		})
	}
}

// A repeat (0421) of a reversal already applied is answered 0430 with 00
// again and counted as a duplicate, and so is a resend of the 0420; the
// reversal is applied once.
func TestRepeatOfAppliedReversalIsDuplicate(t *testing.T) {
	is := startIssuer(t, Config{Dialect: codec.ISO87ASCII, Framing: "binary2"})
	d, conn := is.Dialect(), dial(t, is)
	checkAdvice(t, advice("0420", 7), roundTrip(t, conn, d, advice("0420", 7)), "00")
	for _, mti := range []string{"0421", "0421", "0420"} {
		req := advice(mti, 7)
		got := roundTrip(t, conn, d, req)
		if got.MTI != "0430" {
			t.Fatalf("%s answered %s, want 0430", mti, got.MTI)
		}
		checkAdvice(t, req, got, "00")
	}
	checkAdvice(t, advice("0420", 8), roundTrip(t, conn, d, advice("0420", 8)), "00") // another reversal
	checkLedger(t, is,
		LedgerEntry{Class: '4', RRN: rrnOf(7), STAN: 7, Received: 4, Repeats: 2, Applied: true, FirstCode: "00"},
		LedgerEntry{Class: '4', RRN: rrnOf(8), STAN: 8, Received: 1, Applied: true, FirstCode: "00"})
	st := is.Stats()
	if st.Reversals != 5 || st.ReversalRepeats != 2 || st.Duplicates != 3 || is.Applied('4') != 2 || st.Answered["00"] != 5 {
		t.Errorf("stats %+v, applied %d", st, is.Applied('4'))
	}
}

// Advices are answered 0230 and 0130 (repeats too) by the rules, and
// booked by class: the same STAN and RRN under another class is another
// key.
func TestAdvices(t *testing.T) {
	is := startIssuer(t, Config{Dialect: codec.ISO87ASCII, Framing: "binary2",
		Rules: Rules{Rules: []Rule{{MTIClasses: []string{"1"}, AmountOver: 5000, Code: "05"}}}})
	d, conn := is.Dialect(), dial(t, is)
	big := advice("0120", 9)
	big.Fields["4"] = "000000009999"
	for _, x := range []struct {
		req       codec.Message
		mti, code string
	}{
		{advice("0220", 1), "0230", "00"},
		{advice("0221", 1), "0230", "00"},
		{advice("0120", 1), "0130", "00"},
		{advice("0121", 1), "0130", "00"},
		{advice("0121", 1), "0130", "00"},
		{big, "0130", "05"},
	} {
		got := roundTrip(t, conn, d, x.req)
		if got.MTI != x.mti {
			t.Fatalf("%s answered %s, want %s", x.req.MTI, got.MTI, x.mti)
		}
		checkAdvice(t, x.req, got, x.code)
	}
	checkLedger(t, is,
		LedgerEntry{Class: '1', RRN: rrnOf(1), STAN: 1, Received: 3, Repeats: 2, Applied: true, FirstCode: "00"},
		LedgerEntry{Class: '1', RRN: rrnOf(9), STAN: 9, Received: 1, FirstCode: "05"},
		LedgerEntry{Class: '2', RRN: rrnOf(1), STAN: 1, Received: 2, Repeats: 1, Applied: true, FirstCode: "00"})
	st := is.Stats()
	if st.Advices != 6 || st.AdviceRepeats != 3 || st.Duplicates != 3 || st.Reversals != 0 ||
		is.Applied('1') != 1 || is.Applied('2') != 1 || is.Applied('4') != 0 {
		t.Errorf("stats %+v, applied %d %d", st, is.Applied('1'), is.Applied('2'))
	}
	// a purchase or an 0800 is not booked
	checkReply(t, purchase(3, 100, demoPAN), roundTrip(t, conn, d, purchase(3, 100, demoPAN)), "00")
	if n := len(is.Ledger()); n != 3 {
		t.Errorf("%d entries after a purchase, want 3", n)
	}
}

// The ledger holds LedgerKeys keys: a new key past it is answered but not
// booked (LedgerFull), and the keys already in it go on counting.
func TestLedgerBounded(t *testing.T) {
	is := startIssuer(t, Config{Dialect: codec.ISO87ASCII, Framing: "binary2", LedgerKeys: 2})
	d, conn := is.Dialect(), dial(t, is)
	for _, x := range []struct {
		mti  string
		stan int
	}{{"0420", 1}, {"0220", 1}, {"0420", 2}, {"0421", 1}, {"0421", 2}} {
		checkAdvice(t, advice(x.mti, x.stan), roundTrip(t, conn, d, advice(x.mti, x.stan)), "00")
	}
	checkLedger(t, is,
		LedgerEntry{Class: '2', RRN: rrnOf(1), STAN: 1, Received: 1, Applied: true, FirstCode: "00"},
		LedgerEntry{Class: '4', RRN: rrnOf(1), STAN: 1, Received: 2, Repeats: 1, Applied: true, FirstCode: "00"})
	st := is.Stats()
	if st.LedgerFull != 2 || st.Reversals != 4 || st.Duplicates != 1 || is.Applied('4') != 1 || st.Answered["00"] != 5 {
		t.Errorf("stats %+v", st)
	}
	if err := (Config{Dialect: codec.ISO87ASCII, Framing: "binary2", LedgerKeys: -1}).Validate(); err == nil {
		t.Error("a negative LedgerKeys is accepted")
	}
}

// A rule declining reversals (class 4) with 91 leaves the reversal not
// applied, and leaves purchases alone; once the rule is gone, the repeat
// answered 00 applies it (not a duplicate: nothing was applied before).
func TestDeclinedReversalAppliedByItsRepeat(t *testing.T) {
	is := startIssuer(t, Config{Dialect: codec.ISO87ASCII, Framing: "binary2",
		Rules: Rules{Rules: []Rule{{Name: "down", MTIClasses: []string{"4"}, Code: "91"}}}})
	d, conn := is.Dialect(), dial(t, is)
	checkAdvice(t, advice("0420", 5), roundTrip(t, conn, d, advice("0420", 5)), "91")
	checkReply(t, purchase(6, 100, demoPAN), roundTrip(t, conn, d, purchase(6, 100, demoPAN)), "00")
	checkAdvice(t, advice("0421", 5), roundTrip(t, conn, d, advice("0421", 5)), "91")
	checkLedger(t, is, LedgerEntry{Class: '4', RRN: rrnOf(5), STAN: 5, Received: 2, Repeats: 1, FirstCode: "91"})
	if is.Applied('4') != 0 {
		t.Fatalf("applied %d after 91s", is.Applied('4'))
	}
	if err := is.SetRules(Rules{}); err != nil {
		t.Fatal(err)
	}
	checkAdvice(t, advice("0421", 5), roundTrip(t, conn, d, advice("0421", 5)), "00")
	checkLedger(t, is, LedgerEntry{Class: '4', RRN: rrnOf(5), STAN: 5, Received: 3, Repeats: 2, Applied: true, FirstCode: "91"})
	if st := is.Stats(); is.Applied('4') != 1 || st.Duplicates != 0 || st.Answered["91"] != 2 {
		t.Errorf("applied %d, stats %+v", is.Applied('4'), st)
	}
}

// Faults apply to reversals as to requests: with no_answer the 0420 is
// read (the purchase after it is answered) but never answered nor booked
// as applied; slow holds its answer back, and it is booked when it goes
// out; the repeat after the fault is gone applies it.
func TestFaultsApplyToReversals(t *testing.T) {
	is := startIssuer(t, Config{Dialect: codec.ISO87ASCII, Framing: "binary2"})
	d, conn := is.Dialect(), dial(t, is)
	if err := is.Inject(Rule{MTIClasses: []string{"4"}, Fault: "no_answer"}); err != nil {
		t.Fatal(err)
	}
	write(t, conn, d, advice("0420", 1))
	write(t, conn, d, purchase(2, 100, demoPAN))
	if got, _ := read(t, conn); got.MTI != "0210" || got.Fields["11"] != "000002" {
		t.Fatalf("first reply %s for STAN %s, want the purchase's 0210 (the reversal is not answered)", got.MTI, got.Fields["11"])
	}
	checkLedger(t, is, LedgerEntry{Class: '4', RRN: rrnOf(1), STAN: 1, Received: 1})
	is.ClearInjected()
	if err := is.Inject(Rule{MTIClasses: []string{"4"}, Fault: "slow", Delay: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	write(t, conn, d, advice("0421", 1))
	write(t, conn, d, purchase(3, 100, demoPAN))
	if got, _ := read(t, conn); got.MTI != "0210" || got.Fields["11"] != "000003" {
		t.Fatalf("first reply %s for STAN %s, want the purchase's 0210 before the slow reversal", got.MTI, got.Fields["11"])
	}
	got, _ := read(t, conn)
	checkAdvice(t, advice("0421", 1), got, "00")
	checkLedger(t, is, LedgerEntry{Class: '4', RRN: rrnOf(1), STAN: 1, Received: 2, Repeats: 1, Applied: true, FirstCode: "00"})
	if st := is.Stats(); st.Faults["no_answer"] != 1 || st.Faults["slow"] != 1 || st.Duplicates != 0 || is.Applied('4') != 1 {
		t.Errorf("stats %+v", st)
	}
	// drop: the connection closes, nothing is booked as answered
	is.ClearInjected()
	if err := is.Inject(Rule{MTIClasses: []string{"2"}, Fault: "drop"}); err != nil {
		t.Fatal(err)
	}
	write(t, conn, d, advice("0220", 4))
	expectClosed(t, conn)
	checkLedger(t, is,
		LedgerEntry{Class: '2', RRN: rrnOf(4), STAN: 4, Received: 1},
		LedgerEntry{Class: '4', RRN: rrnOf(1), STAN: 1, Received: 2, Repeats: 1, Applied: true, FirstCode: "00"})
}

// Under a ZAK, a reversal and its repeat are MAC-checked as requests are:
// a wrong MAC is answered A0 and not applied, the repeat with the right
// MAC is answered 00 with a MAC that verifies under the ZAK.
func TestReversalMACUnderZAK(t *testing.T) {
	is := startIssuer(t, Config{Dialect: "iso87binary", Framing: "binary2", ZAK: testMACKey})
	d, conn := is.Dialect(), dial(t, is)
	key, _ := hsm.ParseTDESKey(testMACKey, hsm.ParityIgnore)
	alg := hsm.MACMethods["x919"]
	pad := hsm.MACPaddingFor(alg)
	sign := func(flip bool) func([]byte) ([]byte, error) {
		return func(in []byte) ([]byte, error) {
			m, err := hsm.GenerateMAC(key, alg, pad, in)
			if flip {
				m[0] ^= 1
			}
			return m[:8], err
		}
	}
	send := func(req codec.Message, flip bool) (codec.Message, []byte) {
		msg, err := d.EncodeMAC(req, codec.FieldMAC2, sign(flip)) // 128: 90 is a secondary field
		if err != nil {
			t.Fatal(err)
		}
		r, err := conn.RoundTrip(msg, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		return r.View.ToMessage(false), r.Raw
	}
	got, _ := send(advice("0420", 3), true)
	checkAdvice(t, advice("0420", 3), got, "A0")
	got, raw := send(advice("0421", 3), false)
	checkAdvice(t, advice("0421", 3), got, "00")
	var v codec.View
	if err := d.Decode(&v, raw); err != nil {
		t.Fatal(err)
	}
	in, ok := v.MACInput()
	if !ok {
		t.Fatal("the 0430 has no MAC")
	}
	if err := hsm.VerifyMAC(key, alg, pad, in, v.MAC(nil)); err != nil {
		t.Errorf("the 0430's MAC: %v", err)
	}
	checkLedger(t, is, LedgerEntry{Class: '4', RRN: rrnOf(3), STAN: 3, Received: 2, Repeats: 1, Applied: true, FirstCode: "A0"})
	if st := is.Stats(); st.MACFailures != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A reversal without its mandatory 90 is answered 30, counted, and not
// booked.
func TestMalformedReversalNotBooked(t *testing.T) {
	is := startIssuer(t, Config{Dialect: codec.ISO87ASCII, Framing: "binary2"})
	d, conn := is.Dialect(), dial(t, is)
	req := advice("0420", 4)
	delete(req.Fields, "90")
	if got := roundTrip(t, conn, d, req); got.MTI != "0430" || got.Fields["39"] != "30" {
		t.Fatalf("no 90: %s 39=%s, want 0430 30", got.MTI, got.Fields["39"])
	}
	if st := is.Stats(); st.Reversals != 1 || st.FormatErrors != 1 || len(is.Ledger()) != 0 {
		t.Errorf("stats %+v, ledger %+v", st, is.Ledger())
	}
}

// Many connections at once send reversals and their repeats: every key is
// booked once with all its messages, applied once.
func TestLedgerConcurrent(t *testing.T) {
	is := startIssuer(t, Config{Dialect: codec.ISO87ASCII, Framing: "binary2", Rules: Rules{Latency: "uniform 0 2ms"}})
	d := is.Dialect()
	const conns, each = 4, 50
	msgs := make([][2][]byte, each) // encoded before: encode may not fail the test from a goroutine
	for j := range msgs {
		msgs[j] = [2][]byte{encode(t, d, advice("0420", j+1)), encode(t, d, advice("0421", j+1))}
	}
	var wg sync.WaitGroup
	for i := range conns {
		conn := dial(t, is)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range msgs {
				for k, msg := range msgs[j] {
					r, err := conn.RoundTrip(msg, ioTimeout)
					if err != nil {
						t.Error(err)
						return
					}
					if code := r.View.ToMessage(false).Fields["39"]; code != "00" {
						t.Errorf("conn %d STAN %d message %d: %s", i, j+1, k, code)
					}
				}
			}
		}()
	}
	wg.Wait()
	l := is.Ledger()
	if len(l) != each || is.Applied('4') != each {
		t.Fatalf("%d keys, %d applied, want %d", len(l), is.Applied('4'), each)
	}
	for _, e := range l {
		if e.Received != 2*conns || e.Repeats != conns || !e.Applied {
			t.Errorf("%+v, want %d received, %d repeats", e, 2*conns, conns)
		}
	}
	// every 0421 follows its connection's 0420 answered 00: a duplicate; a
	// 0420 is one when another connection's was applied before it came
	if st := is.Stats(); st.Reversals != 2*conns*each || st.Duplicates < conns*each || st.Duplicates > 2*conns*each-each {
		t.Errorf("reversals %d duplicates %d", st.Reversals, st.Duplicates)
	}
}

// WriteText shows the store-and-forward counters.
func TestWriteTextShowsLedgerCounters(t *testing.T) {
	s := Stats{Reversals: 5, ReversalRepeats: 2, Advices: 3, AdviceRepeats: 1, Duplicates: 4, LedgerFull: 6}
	var b bytes.Buffer
	s.WriteText(&b)
	for _, want := range []string{"reversals    5 (repeats 2), advices 3 (repeats 1)\n", "duplicates   4 (key applied already), ledger full 6 (not booked)\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}
