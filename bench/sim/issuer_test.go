package sim

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moov-io/iso8583/specs"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/client"
)

// echoedOn is what a reply must carry of its request: the fields a
// matcher keys on, and the rest of the switch's echo set present in the
// test requests.
var echoedOn = []string{"2", "3", "4", "7", "11", "12", "13", "18", "22", "25", "37", "41", "42", "49"}

// checkReply: response MTI, the echoed fields equal, 38 exactly on an
// approval, 39 = code, and nothing the request did not send but 38 and 39.
func checkReply(t *testing.T, req, got codec.Message, code string) {
	t.Helper()
	var m codec.MTI
	copy(m[:], req.MTI)
	wantMTI := m.Response().String() // 0200 -> 0210, 0421 -> 0430
	if got.MTI != wantMTI || got.Fields["39"] != code {
		t.Fatalf("reply %s 39=%q, want %s 39=%s (%v)", got.MTI, got.Fields["39"], wantMTI, code, got.Fields)
	}
	if got.Header != req.Header {
		t.Errorf("header %q, want %q echoed", got.Header, req.Header)
	}
	for _, id := range echoedOn {
		if v, ok := req.Fields[id]; ok && got.Fields[id] != v {
			t.Errorf("field %s = %q, want %q echoed", id, got.Fields[id], v)
		}
	}
	if _, has := got.Fields["38"]; has != (code == "00") {
		t.Errorf("38 = %q on a %s", got.Fields["38"], code)
	}
	for id := range got.Fields {
		if _, inReq := req.Fields[id]; !inReq && id != "38" && id != "39" && id != "64" && id != "128" { // 64 or 128: the MAC, when the link has one
			t.Errorf("field %s = %q was not in the request", id, got.Fields[id])
		}
	}
	never := []string{"35", "52"} // track data and PIN blocks
	if req.Header == "" {
		never = append(never, "14") // the ISO 8583 echo set has no expiry date; UnionPay's has
	}
	for _, id := range never {
		if _, has := got.Fields[id]; has {
			t.Errorf("field %s echoed", id)
		}
	}
}

var testRules = Rules{Seed: 7, Rules: []Rule{
	{Name: "big", AmountOver: 100_000, Code: "51"},
	{Name: "blocked", PANPrefixes: []string{"400000-400999", "51"}, Code: "14"},
	{Name: "tiny", AmountUnder: 10, Code: "13"},
}}

// Every dialect and framing the switch's links speak: rules give the right
// codes and the reply is built as the switch builds its own.
func TestAnswersByRulesInEveryDialect(t *testing.T) {
	raw, err := specs.ExportJSON(specs.Spec87ASCII)
	if err != nil {
		t.Fatal(err)
	}
	moovSpec := filepath.Join(t.TempDir(), "spec87ascii.json")
	if err := os.WriteFile(moovSpec, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dialect, framing string }{
		{"iso87ascii", "binary2"}, {"iso87ascii", "ascii4"}, {"iso87binary", "bcd2"},
		{"iso87binary", "binary2+tpdu"}, {"iso87ascii-bbitmap", "ascii4+tpdu"}, {moovSpec, "binary2"},
	} {
		t.Run(filepath.Base(c.dialect)+"/"+c.framing, func(t *testing.T) {
			is := startIssuer(t, Config{Dialect: c.dialect, Framing: c.framing, Rules: testRules})
			conn := dial(t, is)
			for i, x := range []struct {
				amount int64
				pan    string
				code   string
			}{
				{2500, demoPAN, "00"},
				{100_000, demoPAN, "00"}, // not over
				{100_001, demoPAN, "51"},
				{2500, "4000001234567899", "14"},
				{2500, "4009991234567899", "14"},
				{2500, "4010001234567899", "00"}, // past the range
				{2500, "5100001234567899", "14"},
				{200_000, "4000001234567899", "51"}, // the first rule with a code wins
				{9, demoPAN, "13"},
			} {
				req := purchase(i+1, x.amount, x.pan)
				checkReply(t, req, roundTrip(t, conn, is.Dialect(), req), x.code)
			}
			st := is.Stats()
			if st.Received != 9 || st.Answered["00"] != 3 || st.Answered["51"] != 2 || st.Answered["14"] != 3 || st.Answered["13"] != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// A UnionPay POS link with a TPDU: the reply's TPDU has its addresses
// swapped (as engine/reply.go does), the 6-byte header is echoed, and a
// sign-on with its code in 60.3 is answered.
func TestCUPPOSWithTPDU(t *testing.T) {
	is := startIssuer(t, Config{Dialect: codec.CUPPOS, Framing: "binary2+tpdu", Rules: testRules})
	conn := dial(t, is)
	d := is.Dialect()
	for i, x := range []struct {
		amount int64
		code   string
	}{{2500, "00"}, {150_000, "51"}} {
		req := cupPurchase(i+1, x.amount)
		r, err := conn.RoundTrip(encode(t, d, req), ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		if want := []byte{0x60, 0x00, 0x02, 0x00, 0x01}; !bytes.Equal(r.TPDU, want) {
			t.Errorf("TPDU % X, want % X (source and destination swapped)", r.TPDU, want)
		}
		checkReply(t, req, r.View.ToMessage(false), x.code)
	}
	signOn := codec.Message{MTI: "0800", Header: "600100000000", Fields: map[string]string{
		"11": "000003", "41": "TERM0001", "42": "MERCHANT0000001", "60": "00000001001"}}
	got := roundTrip(t, conn, d, signOn)
	if got.MTI != "0810" || got.Fields["39"] != "00" || got.Fields["60"] != "00000001001" {
		t.Errorf("sign-on: %+v", got)
	}
}

// 0800 sign-on, sign-off and echo test are answered 0810/00, another code
// 12, and rules that do not name class 8 leave them alone.
func TestNetworkManagement(t *testing.T) {
	is := startIssuer(t, Config{Dialect: "iso87ascii", Framing: "binary2",
		Rules: Rules{Default: "05", Rules: []Rule{{Code: "91"}, {Fault: "no_answer"}}}})
	conn := dial(t, is)
	for i, x := range []struct{ code70, want string }{
		{"001", "00"}, {"301", "00"}, {"002", "00"}, {"161", "12"},
	} {
		req := codec.Message{MTI: "0800", Fields: map[string]string{
			"7": "1202030405", "11": strconv.Itoa(100000 + i), "70": x.code70}}
		got := roundTrip(t, conn, is.Dialect(), req)
		if got.MTI != "0810" || got.Fields["39"] != x.want || got.Fields["70"] != x.code70 ||
			got.Fields["11"] != req.Fields["11"] || got.Fields["7"] != req.Fields["7"] {
			t.Errorf("70=%s: %+v, want 0810 39=%s echoing 7, 11, 70", x.code70, got, x.want)
		}
	}
	if st := is.Stats(); st.NetworkManagement != 4 || st.Answered["00"] != 3 || st.Answered["12"] != 1 {
		t.Errorf("stats %+v", st)
	}
	// a rule naming class 8 applies to them
	if err := is.SetRules(Rules{Rules: []Rule{{MTIClasses: []string{"8"}, Code: "91"}}}); err != nil {
		t.Fatal(err)
	}
	got := roundTrip(t, conn, is.Dialect(), codec.Message{MTI: "0800", Fields: map[string]string{"11": "000009", "70": "301"}})
	if got.Fields["39"] != "91" {
		t.Errorf("echo under a class 8 rule: %+v", got)
	}
}

// A request with a bad field is answered 30 with the fields that could be
// read; a missing mandatory field is 30 too; a response is ignored; a
// stream that is not ISO 8583 is closed.
func TestBadInput(t *testing.T) {
	is := startIssuer(t, Config{Dialect: "iso87ascii", Framing: "binary2"})
	d := is.Dialect()
	conn := dial(t, is)
	req := purchase(1, 2500, demoPAN)
	msg := encode(t, d, req)
	s, _, _ := (func() (int, int, bool) { var v codec.View; d.Decode(&v, msg); return v.Span(4) })()
	bad := append([]byte(nil), msg...)
	bad[s] = 'X' // field 4 is numeric
	resp := purchase(2, 2500, demoPAN)
	resp.MTI, resp.Fields["39"] = "0210", "00"
	if err := conn.Write(encode(t, d, resp)); err != nil { // ignored: no reply
		t.Fatal(err)
	}
	if err := conn.Write(bad); err != nil {
		t.Fatal(err)
	}
	got, _ := read(t, conn)
	if got.Fields["39"] != "30" || got.Fields["11"] != "000001" || got.Fields["41"] != "TERM0001" || got.Fields["37"] != req.Fields["37"] {
		t.Errorf("bad field 4: %+v", got)
	}
	missing := purchase(3, 2500, demoPAN)
	delete(missing.Fields, "3")
	if got := roundTrip(t, conn, d, missing); got.Fields["39"] != "30" {
		t.Errorf("no field 3: %+v", got)
	}
	if _, err := conn.Raw().Write([]byte{0, 8, 'G', 'E', 'T', ' ', '/', ' ', 'H', 'T'}); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, conn)
	if st := is.Stats(); st.Ignored != 1 || st.FormatErrors != 2 || st.Received != 2 {
		t.Errorf("stats %+v", st)
	}
}

// expectClosed: a read ends in EOF or a reset, not a timeout.
func expectClosed(t *testing.T, c *client.Conn) {
	t.Helper()
	_, err := c.Read(time.Now().Add(ioTimeout))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read: %v, want the connection closed", err)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) {
		t.Logf("closed with %v", err)
	}
}

// With EchoIdle, an idle connection gets echo tests (0800, 70 = 301, with
// 7 and 11) and the peer's 0810s are counted.
func TestEchoWhenIdle(t *testing.T) {
	for _, framing := range []string{"binary2", "ascii4+tpdu"} {
		is := startIssuer(t, Config{Dialect: "iso87ascii", Framing: framing, EchoIdle: 30 * time.Millisecond})
		d, conn := is.Dialect(), dial(t, is)
		stans := map[string]bool{}
		for i := 0; i < 2; i++ {
			got, _ := read(t, conn)
			if got.MTI != "0800" || got.Fields["70"] != "301" || len(got.Fields["7"]) != 10 || len(got.Fields["11"]) != 6 || stans[got.Fields["11"]] {
				t.Fatalf("%s: %+v, want an echo test with 7 and a new STAN", framing, got)
			}
			stans[got.Fields["11"]] = true
			resp := codec.Message{MTI: "0810", Fields: map[string]string{"7": got.Fields["7"], "11": got.Fields["11"], "39": "00", "70": "301"}}
			write(t, conn, d, resp)
		}
		waitFor(t, "two echoes answered", func() bool { return is.Stats().EchoesAnswered == 2 })
		if st := is.Stats(); st.EchoesSent < 2 || st.Ignored != 0 {
			t.Errorf("%s: stats %+v", framing, st)
		}
	}
	if _, err := New(Config{Dialect: codec.CUPPOS, Framing: "binary2+tpdu", EchoIdle: time.Second}); err == nil || !strings.Contains(err.Error(), "has no field 7") {
		t.Errorf("cup-pos with EchoIdle: %v", err)
	}
}

// Config.Validate refuses what New refuses, naming it.
func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Dialect: "iso93", Framing: "binary2"}, `unknown dialect "iso93"`},
		{Config{Dialect: "iso87ascii", Framing: "udp"}, `unknown framing "udp"`},
		{Config{Dialect: "iso87ascii", Framing: "binary2", MaxFrame: 70000}, "max frame 70000 must be 1 to 65535"},
		{Config{Dialect: "iso87ascii", Framing: "binary2", Rules: Rules{Latency: "soon"}}, `latency "soon"`},
		{Config{Dialect: "iso87ascii", Framing: "binary2", Rules: Rules{Rules: []Rule{{Code: "5"}}}}, `"5" is not a response code`},
		{Config{Dialect: "iso87ascii", Framing: "binary2", MaxInFlight: -1}, "must not be negative"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
		if _, err2 := New(c.cfg); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("%+v: New says %v, Validate %v", c.cfg, err2, err)
		}
	}
}
