package sim

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
)

// faultRules: each fault on its own PAN, so one connection can show them
// one after another.
func faultRules() Rules {
	return Rules{Rules: []Rule{
		{Name: "silent", PANPrefixes: []string{"4000000000000001"}, Fault: "no_answer"},
		{Name: "drop", PANPrefixes: []string{"4000000000000002"}, Fault: "drop"},
		{Name: "twice", PANPrefixes: []string{"4000000000000003"}, Fault: "twice"},
		{Name: "late", PANPrefixes: []string{"4000000000000004"}, Fault: "late", Delay: 300 * time.Millisecond},
		{Name: "slow", PANPrefixes: []string{"4000000000000005"}, Fault: "slow", Delay: 200 * time.Millisecond},
	}}
}

// No answer: the request is read (the one after it is answered) but never
// answered: the client's read times out.
func TestFaultNoAnswer(t *testing.T) {
	is := startIssuer(t, Config{Dialect: "iso87ascii", Framing: "binary2", Rules: faultRules()})
	d, conn := is.Dialect(), dial(t, is)
	write(t, conn, d, purchase(1, 100, "4000000000000001"))
	write(t, conn, d, purchase(2, 100, demoPAN))
	got, _ := read(t, conn)
	if got.Fields["11"] != "000002" {
		t.Fatalf("first reply is for STAN %s, want 000002 (000001 is never answered)", got.Fields["11"])
	}
	_, err := conn.Read(time.Now().Add(200 * time.Millisecond))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read after the no-answer request: %v, want a timeout", err)
	}
	if st := is.Stats(); st.Received != 2 || st.Faults["no_answer"] != 1 || st.AnsweredTotal() != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Drop: the connection is closed instead of an answer, and the issuer
// serves new connections.
func TestFaultDrop(t *testing.T) {
	is := startIssuer(t, Config{Dialect: "iso87ascii", Framing: "binary2", Rules: faultRules()})
	d, conn := is.Dialect(), dial(t, is)
	checkReply(t, purchase(1, 100, demoPAN), roundTrip(t, conn, d, purchase(1, 100, demoPAN)), "00")
	write(t, conn, d, purchase(2, 100, "4000000000000002"))
	expectClosed(t, conn)
	again := dial(t, is)
	checkReply(t, purchase(3, 100, demoPAN), roundTrip(t, again, d, purchase(3, 100, demoPAN)), "00")
	if st := is.Stats(); st.Faults["drop"] != 1 || st.Connections != 2 || st.AnsweredTotal() != 2 {
		t.Errorf("stats %+v", st)
	}
}

// Twice: two identical replies, with and without latency.
func TestFaultTwice(t *testing.T) {
	for _, latency := range []string{"", "5ms"} {
		r := faultRules()
		r.Latency = latency
		is := startIssuer(t, Config{Dialect: "iso87binary", Framing: "binary2", Rules: r})
		d, conn := is.Dialect(), dial(t, is)
		req := purchase(1, 100, "4000000000000003")
		write(t, conn, d, req)
		write(t, conn, d, purchase(2, 100, demoPAN))
		first, r1 := read(t, conn)
		checkReply(t, req, first, "00")
		_, r2 := read(t, conn)
		if !bytes.Equal(r1.Raw, r2.Raw) {
			t.Errorf("latency %q: second reply differs:\n% X\n% X", latency, r1.Raw, r2.Raw)
		}
		third, _ := read(t, conn)
		if third.Fields["11"] != "000002" {
			t.Errorf("latency %q: third reply for STAN %s, want the next request's", latency, third.Fields["11"])
		}
		if st := is.Stats(); st.Faults["twice"] != 1 || st.Answered["00"] != 2 {
			t.Errorf("latency %q: stats %+v", latency, st)
		}
	}
}

// Late and slow: the reply comes no sooner than the delay (checked as at
// least, never at most), and requests behind it are not held up.
func TestFaultLateAndSlow(t *testing.T) {
	r := faultRules()
	r.Latency = "50ms"
	is := startIssuer(t, Config{Dialect: "iso87ascii", Framing: "binary2", Rules: r})
	d, conn := is.Dialect(), dial(t, is)
	for _, x := range []struct {
		pan   string
		least time.Duration
	}{{"4000000000000004", 300 * time.Millisecond}, {"4000000000000005", 250 * time.Millisecond}, {demoPAN, 50 * time.Millisecond}} {
		began := time.Now()
		write(t, conn, d, purchase(1, 100, x.pan))
		got, _ := read(t, conn)
		if took := time.Since(began); took < x.least {
			t.Errorf("PAN %s answered after %v, want at least %v", x.pan, took, x.least)
		}
		checkReply(t, purchase(1, 100, x.pan), got, "00")
	}
	// the late one does not hold the one after it
	write(t, conn, d, purchase(2, 100, "4000000000000004"))
	write(t, conn, d, purchase(3, 100, demoPAN))
	if got, _ := read(t, conn); got.Fields["11"] != "000003" {
		t.Errorf("first reply for STAN %s, want 000003 before the late 000002", got.Fields["11"])
	}
	if got, _ := read(t, conn); got.Fields["11"] != "000002" {
		t.Errorf("second reply for STAN %s, want the late 000002", got.Fields["11"])
	}
	if st := is.Stats(); st.Faults["late"] != 2 || st.Faults["slow"] != 1 || st.Answered["00"] != 5 {
		t.Errorf("stats %+v", st)
	}
}

// Faults switched on and off at run time through the library.
func TestInjectAtRunTime(t *testing.T) {
	is := startIssuer(t, Config{Dialect: "iso87ascii", Framing: "binary2"})
	d, conn := is.Dialect(), dial(t, is)
	checkReply(t, purchase(1, 100, demoPAN), roundTrip(t, conn, d, purchase(1, 100, demoPAN)), "00")
	if err := is.Inject(Rule{Code: "91"}); err != nil {
		t.Fatal(err)
	}
	checkReply(t, purchase(2, 100, demoPAN), roundTrip(t, conn, d, purchase(2, 100, demoPAN)), "91")
	if err := is.Inject(Rule{Fault: "drop", AmountOver: 1000}); err != nil {
		t.Fatal(err)
	}
	checkReply(t, purchase(3, 100, demoPAN), roundTrip(t, conn, d, purchase(3, 100, demoPAN)), "91")
	write(t, conn, d, purchase(4, 5000, demoPAN))
	expectClosed(t, conn)
	is.ClearInjected()
	conn = dial(t, is)
	checkReply(t, purchase(5, 5000, demoPAN), roundTrip(t, conn, d, purchase(5, 5000, demoPAN)), "00")
	if err := is.Inject(Rule{Fault: "wrong_mac"}); err == nil {
		t.Error("wrong_mac injected without a MAC configured")
	}
	if err := is.Inject(Rule{Fault: "late"}); err == nil {
		t.Error("late injected without a delay")
	}
}

// testMACKey is a double-length TDES key (X9.19).
const testMACKey = "0123456789ABCDEFFEDCBA9876543210"

// MACs: a request with a good MAC is approved and its reply's MAC
// verifies; a wrong or missing one is answered the failure code; the
// wrong_mac fault gives a reply whose MAC does not verify. X9.19 on an
// ISO 8583 link, and the UnionPay MAC on a cup-pos link with its header
// and TPDU (the MAC covers neither).
func TestMAC(t *testing.T) {
	for _, c := range []struct {
		dialect, framing, method string
		request                  func(stan int, pan string) codec.Message
	}{
		{"iso87binary", "binary2", "x919", func(stan int, pan string) codec.Message { return purchase(stan, 100, pan) }},
		{codec.CUPPOS, "binary2+tpdu", "cup", func(stan int, pan string) codec.Message {
			m := cupPurchase(stan, 100)
			m.Fields["2"] = pan
			return m
		}},
	} {
		t.Run(c.dialect, func(t *testing.T) { testMAC(t, c.dialect, c.framing, c.method, c.request) })
	}
}

func testMAC(t *testing.T, dialect, framing, method string, request func(int, string) codec.Message) {
	key, err := hsm.ParseTDESKey(testMACKey, hsm.ParityIgnore)
	if err != nil {
		t.Fatal(err)
	}
	alg := hsm.MACMethods[method]
	pad := hsm.MACPaddingFor(alg)
	sign := func(in []byte) ([]byte, error) {
		m, err := hsm.GenerateMAC(key, alg, pad, in)
		return m[:8], err
	}
	rules := Rules{MAC: MACConfig{Method: method, Key: testMACKey}, Rules: []Rule{
		{PANPrefixes: []string{"4000000000000006"}, Fault: "wrong_mac"}}}
	is := startIssuer(t, Config{Dialect: dialect, Framing: framing, Rules: rules})
	d, conn := is.Dialect(), dial(t, is)
	verify := func(r []byte) error {
		var v codec.View
		if err := d.Decode(&v, r); err != nil {
			return err
		}
		in, ok := v.MACInput()
		if !ok {
			return errors.New("no MAC")
		}
		return hsm.VerifyMAC(key, alg, pad, in, v.MAC(nil))
	}
	for i, x := range []struct {
		pan      string
		signed   bool
		code     string
		replyMAC bool // the reply's MAC verifies
	}{
		{demoPAN, true, "00", true},
		{demoPAN, false, "A0", true},
		{"4000000000000006", true, "00", false},
	} {
		req := request(i+1, x.pan)
		var msg []byte
		if x.signed {
			msg, err = d.EncodeMAC(req, codec.FieldMAC, sign)
		} else {
			msg, err = d.Encode(req)
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := conn.RoundTrip(msg, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		checkReply(t, req, r.View.ToMessage(false), x.code)
		if err := verify(r.Raw); (err == nil) != x.replyMAC {
			t.Errorf("%d: reply MAC check %v, want it to verify: %v", i, err, x.replyMAC)
		}
	}
	// a request with a bad MAC
	req := request(9, demoPAN)
	msg, _ := d.EncodeMAC(req, codec.FieldMAC, func(in []byte) ([]byte, error) { m, err := sign(in); m[0] ^= 1; return m, err })
	r, err := conn.RoundTrip(msg, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	checkReply(t, req, r.View.ToMessage(false), "A0")
	if st := is.Stats(); st.MACFailures != 2 || st.Faults["wrong_mac"] != 1 {
		t.Errorf("stats %+v", st)
	}
}
