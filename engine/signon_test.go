package engine

import (
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/client"
	"github.com/cardswitch/cardswitch/internal/clock"
	"github.com/cardswitch/cardswitch/internal/cuptest"
	"github.com/cardswitch/cardswitch/internal/testlog"
)

// twoLinks runs the POS link (iso87ascii, no MACs) as Links[0] and a
// UnionPay link named cup (MACs) as Links[1], on data, with the soft HSM.
type twoLinks struct {
	*testServer
	keys    *Keys
	cupAddr string
	log     *testlog.Buffer
}

func startTwoLinks(t *testing.T, data *issuer.Data, clk clock.Clock, change func(cup *LinkConfig)) *twoLinks {
	tl := &twoLinks{keys: &Keys{Data: data}, log: &testlog.Buffer{}}
	tl.testServer = startServerOn(t, clk, DemoAuthorizer{Data: data}, func(c *Config) {
		cup := LinkConfig{Name: "cup", Listen: freeAddr(t), Dialect: codec.CUPPOS, Framing: "binary2+tpdu", MAC: "cup"}
		if change != nil {
			change(&cup)
		}
		c.Links = append(c.Links, cup)
		tl.cupAddr = cup.Listen
		c.testHSM, c.testKeys, c.testLog, c.testLogInfo = &hsm.Soft{LMK: hsm.ThalesTestLMK()}, tl.keys, tl.log, true
	})
	return tl
}

func (tl *twoLinks) dialCUP(t *testing.T) *client.Conn {
	t.Helper()
	d, _ := codec.Lookup(codec.CUPPOS)
	f, _ := codec.ParseFraming("binary2+tpdu")
	c, err := client.Dial(tl.cupAddr, d, f, []byte{0x60, 0, 1, 0, 2}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dataWith is the demo issuer data with its text edited.
func dataWith(t *testing.T, old, new string) *issuer.Data {
	t.Helper()
	raw := string(issuer.DemoYAML())
	if !strings.Contains(raw, old) {
		t.Fatalf("demo data has no %q", old)
	}
	d, err := issuer.Parse([]byte(strings.Replace(raw, old, new, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// posPINPurchase is a POS purchase by TERM0001 with PIN 1234 (the demo
// card's) under tpk.
func posPINPurchase(t *testing.T, stan int, tpk hsm.Key) []byte {
	t.Helper()
	const card = "4761739001010010"
	p, _ := hsm.ParsePIN("1234")
	b, err := hsm.EncryptPINBlock(tpk, hsm.ISO0, p, card, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := codec.Lookup(codec.ISO87ASCII)
	msg, err := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
		"2": card, "3": "000000", "4": "000000000100", "7": "1121204500", "11": fmt.Sprintf("%06d", stan), "12": "204500",
		"13": "1121", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
		"52": strings.ToUpper(hex.EncodeToString(b))}})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// rightPINApproved checks that TERM0001's right PIN, under its configured
// PIN key, is approved on the POS link three times running (a stolen key
// answered 55, 55, then 75).
func rightPINApproved(t *testing.T, ts *testServer, data *issuer.Data) {
	t.Helper()
	term, _ := data.Terminal([]byte("TERM0001"))
	tpk := terminalKey(t, hsm.KeyTypeTPK, term.TPK)
	c := ts.dial(t)
	for i := 1; i <= 3; i++ {
		if r, err := c.RoundTrip(posPINPurchase(t, 100+i, tpk), 5*time.Second); err != nil || field(r, 39) != "00" {
			t.Fatalf("POS purchase %d with the right PIN: %v %q", i, err, field(r, 39))
		}
	}
}

// The attack: a sign-on on the UnionPay link naming TERM0001, a terminal of
// the POS link, is refused (58, no keys in 62), changes TERM0001's keys on
// no link, and its right PIN is still approved.
func TestSignOnNamingAnotherLinksTerminalIsRefused(t *testing.T) {
	data := demoData(t) // TERM0001 names links: [pos, acquirer]
	tl := startTwoLinks(t, data, nil, nil)
	_, posPIN, posMAC, _ := tl.keys.Terminal("pos", []byte("TERM0001"))
	_, cupPIN, cupMAC, _ := tl.keys.Terminal("cup", []byte("TERM0001"))
	c := tl.dialCUP(t)
	r, err := c.RoundTrip(cuptest.SignOn(t, "000001", "TERM0001", "MERCHANT0000001", nil, nil), 5*time.Second)
	if err != nil || field(r, 39) != "58" || r.View.Has(62) {
		t.Fatalf("sign-on naming TERM0001 on cup: %v %q has62 %v", err, field(r, 39), r.View.Has(62))
	}
	for _, link := range []string{"pos", "cup"} {
		_, pin, mac, _ := tl.keys.Terminal(link, []byte("TERM0001"))
		if pin != posPIN || mac != posMAC || pin != cupPIN || mac != cupMAC {
			t.Fatalf("TERM0001's keys on %s changed", link)
		}
	}
	rightPINApproved(t, tl.testServer, data)
	if !strings.Contains(tl.log.String(), `"terminal":"TERM0001","reason":"the terminal does not belong to the link`) {
		t.Fatalf("the refusal is not logged with the terminal and reason:\n%s", tl.log)
	}
}

// A sign-on naming a terminal the issuer data does not have is refused as
// one naming a terminal of another link is (58, no keys), so that an
// attacker cannot tell which terminal IDs exist from the answers; the
// refusal is logged with the ID and the reason.
func TestSignOnByUnknownTerminalIsRefused(t *testing.T) {
	tl := startTwoLinks(t, demoData(t), nil, nil)
	c := tl.dialCUP(t)
	for i, id := range []string{"NOSUCH01", "TERM0001"} { // unknown; known, of the pos link
		r, err := c.RoundTrip(cuptest.SignOn(t, fmt.Sprintf("%06d", i+1), id, "MERCHANT0000001", nil, nil), 5*time.Second)
		if err != nil || field(r, 39) != "58" || r.View.Has(62) {
			t.Fatalf("sign-on by %s: %v %q has62 %v", id, err, field(r, 39), r.View.Has(62))
		}
	}
	if !strings.Contains(tl.log.String(), `"terminal":"NOSUCH01","reason":"the terminal is not in the issuer data`) {
		t.Fatalf("the refusal is not logged with the terminal and reason:\n%s", tl.log)
	}
}

// Keys are per terminal and link: a terminal that may sign on on both
// links and does so on cup gets new keys there only; its POS keys stay,
// the key change is logged with the terminal and link but not the keys,
// and a snapshot's sessions restore the keys on their link.
func TestSignOnKeysArePerLink(t *testing.T) {
	data := dataWith(t, "links: [pos, acquirer]", "links: [pos, acquirer, cup]")
	tl := startTwoLinks(t, data, nil, nil)
	_, posPIN, posMAC, _ := tl.keys.Terminal("pos", []byte("TERM0001"))
	c := tl.dialCUP(t)
	r, err := c.RoundTrip(cuptest.SignOn(t, "000001", "TERM0001", "MERCHANT0000001", nil, nil), 5*time.Second)
	if err != nil || field(r, 39) != "00" || !r.View.Has(62) {
		t.Fatalf("sign-on: %v %q", err, field(r, 39))
	}
	_, cupPIN, cupMAC, _ := tl.keys.Terminal("cup", []byte("TERM0001")) // installed before the reply
	if cupPIN == posPIN || cupMAC == posMAC {
		t.Fatal("the keys on cup did not change")
	}
	if _, pin, mac, _ := tl.keys.Terminal("pos", []byte("TERM0001")); pin != posPIN || mac != posMAC {
		t.Fatal("a sign-on on cup changed the keys on pos")
	}
	rightPINApproved(t, tl.testServer, data)

	log := tl.log.String()
	if !strings.Contains(log, `"level":"info","link":"cup","terminal":"TERM0001","message":"session keys changed: sign-on"`) {
		t.Fatalf("the key change is not logged at info with the terminal and link:\n%s", log)
	}
	f62 := strings.ToUpper(hex.EncodeToString(r.View.AppendBytes(nil, 62)))
	for _, secret := range []string{cupPIN.Cryptogram, cupMAC.Cryptogram, f62, f62[:32]} {
		if strings.Contains(strings.ToUpper(log), strings.ToUpper(secret)) {
			t.Fatalf("the log carries a key: %s", secret)
		}
	}

	fresh := &Keys{Data: data}
	for _, s := range tl.keys.Sessions() {
		if err := fresh.Restore(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, pin, mac, _ := fresh.Terminal("cup", []byte("TERM0001")); pin != cupPIN || mac != cupMAC {
		t.Fatal("the snapshot's sessions do not restore the keys on cup")
	}
	if _, pin, mac, _ := fresh.Terminal("pos", []byte("TERM0001")); pin != posPIN || mac != posMAC {
		t.Fatal("the snapshot's sessions put cup's keys on pos")
	}
}

// A sign-on storm is bounded per terminal: past sign_on_limit in a
// minute, 58 with no keys and no key change, until the minute has passed.
func TestSignOnStormIsLimited(t *testing.T) {
	fake := clock.NewFake(testStart)
	tl := startTwoLinks(t, demoData(t), fake, func(l *LinkConfig) { l.SignOnLimit = 3 })
	c := tl.dialCUP(t)
	signOn := func(stan int) *client.Reply {
		r, err := c.RoundTrip(cuptest.SignOn(t, fmt.Sprintf("%06d", stan), "12345678", "123456789012345", nil, nil), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for i := 1; i <= 3; i++ {
		if r := signOn(i); field(r, 39) != "00" {
			t.Fatalf("sign-on %d: %q", i, field(r, 39))
		}
	}
	_, _, before, _ := tl.keys.Terminal("cup", []byte("12345678")) // the third sign-on's (installed before its reply)
	for i := 4; i <= 10; i++ {
		if r := signOn(i); field(r, 39) != "58" || r.View.Has(62) {
			t.Fatalf("sign-on %d past the limit: %q has62 %v", i, field(r, 39), r.View.Has(62))
		}
	}
	if _, _, tak, _ := tl.keys.Terminal("cup", []byte("12345678")); tak != before {
		t.Fatal("a refused sign-on changed the keys")
	}
	fake.Advance(signOnWindow)
	if r := signOn(11); field(r, 39) != "00" {
		t.Fatalf("sign-on a minute later: %q", field(r, 39))
	}
}

// The limiter's table is bounded: at the bound, windows that ended are
// swept; a new terminal that finds no room is refused.
func TestSignOnLimiterIsBounded(t *testing.T) {
	l := newSignOnLimiter(1)
	for i := 0; i < maxSignOnTerminals; i++ {
		if !l.allow(fmt.Sprint(i), testStart) {
			t.Fatalf("terminal %d refused under the bound", i)
		}
	}
	if l.allow("new", testStart) || len(l.seen) != maxSignOnTerminals {
		t.Fatalf("a terminal past the bound was let in: %d entries", len(l.seen))
	}
	later := testStart.Add(signOnWindow)
	if !l.allow("new", later) || len(l.seen) != 1 {
		t.Fatalf("ended windows not swept: %d entries", len(l.seen))
	}
	if !l.allow("0", later) || l.allow("0", later) {
		t.Fatal("a swept terminal's new window does not count")
	}
}

// sign_on_auth: mac asks for a MAC under the terminal's current MAC key on
// the link (A0 otherwise), serial for its serial number in field 62 (58
// otherwise); a refused sign-on changes no key.
func TestSignOnAuthentication(t *testing.T) {
	data := demoData(t)
	term, _ := data.Terminal([]byte("12345678"))
	tak := terminalKey(t, hsm.KeyTypeTAK, term.TAK)
	tmk := terminalKey(t, hsm.KeyTypeTPK, term.TMK)
	wrong := terminalKey(t, hsm.KeyTypeTPK, term.TPK)
	t.Run("mac", func(t *testing.T) {
		tl := startTwoLinks(t, data, nil, func(l *LinkConfig) { l.SignOnAuth = SignOnAuthMAC })
		c := tl.dialCUP(t)
		_, _, before, _ := tl.keys.Terminal("cup", []byte("12345678"))
		for _, tc := range []struct {
			name string
			key  *hsm.Key
		}{{"no MAC", nil}, {"a MAC under another key", &wrong}} {
			r, err := c.RoundTrip(cuptest.SignOn(t, "000001", "12345678", "123456789012345", nil, tc.key), 5*time.Second)
			if err != nil || field(r, 39) != "A0" || r.View.Has(62) {
				t.Fatalf("%s: %v %q", tc.name, err, field(r, 39))
			}
		}
		if _, _, k, _ := tl.keys.Terminal("cup", []byte("12345678")); k != before {
			t.Fatal("an unauthenticated sign-on changed the keys")
		}
		r, err := c.RoundTrip(cuptest.SignOn(t, "000002", "12345678", "123456789012345", nil, &tak), 5*time.Second)
		if err != nil || field(r, 39) != "00" {
			t.Fatalf("MAC under the configured key: %v %q", err, field(r, 39))
		}
		keys := r.View.AppendBytes(nil, 62)
		mak := cuptest.SessionKey(t, tmk, keys[20:36])
		// the next sign-on needs the current key: the new one, not the configured one
		if r, _ := c.RoundTrip(cuptest.SignOn(t, "000003", "12345678", "123456789012345", nil, &tak), 5*time.Second); field(r, 39) != "A0" {
			t.Fatalf("MAC under the replaced key: %q", field(r, 39))
		}
		if r, _ := c.RoundTrip(cuptest.SignOn(t, "000004", "12345678", "123456789012345", nil, &mak), 5*time.Second); field(r, 39) != "00" {
			t.Fatalf("MAC under the current key: %q", field(r, 39))
		}
	})
	t.Run("serial", func(t *testing.T) {
		tl := startTwoLinks(t, data, nil, func(l *LinkConfig) { l.SignOnAuth = SignOnAuthSerial })
		c := tl.dialCUP(t)
		_, _, before, _ := tl.keys.Terminal("cup", []byte("12345678"))
		for i, extra := range []map[string]string{nil, {"62": hex.EncodeToString([]byte("SN-CUP-0002"))}, {"62": hex.EncodeToString([]byte("SN-CUP-000"))}} {
			r, err := c.RoundTrip(cuptest.SignOn(t, fmt.Sprintf("%06d", i+1), "12345678", "123456789012345", extra, nil), 5*time.Second)
			if err != nil || field(r, 39) != "58" || r.View.Has(62) {
				t.Fatalf("serial %v: %v %q", extra, err, field(r, 39))
			}
		}
		if _, _, k, _ := tl.keys.Terminal("cup", []byte("12345678")); k != before {
			t.Fatal("a sign-on without the serial changed the keys")
		}
		r, err := c.RoundTrip(cuptest.SignOn(t, "000009", "12345678", "123456789012345",
			map[string]string{"62": hex.EncodeToString([]byte(term.Serial))}, nil), 5*time.Second)
		if err != nil || field(r, 39) != "00" || !r.View.Has(62) {
			t.Fatalf("the right serial: %v %q", err, field(r, 39))
		}
	})
}

func TestSignOnConfigChecked(t *testing.T) {
	for _, tc := range []struct {
		change func(*LinkConfig)
		want   string
	}{
		{func(l *LinkConfig) { l.SignOnAuth = "password" }, "links[0].sign_on_auth"},
		{func(l *LinkConfig) { l.SignOnAuth, l.MAC = SignOnAuthMAC, "" }, "links[0].sign_on_auth: mac needs"},
		{func(l *LinkConfig) { l.SignOnLimit = 1001 }, "links[0].sign_on_limit"},
		{func(l *LinkConfig) { l.SignOnLimit = -1 }, "links[0].sign_on_limit"},
	} {
		c := Config{Links: []LinkConfig{{Name: "cup", Listen: "127.0.0.1:1", Dialect: codec.CUPPOS, Framing: "binary2", MAC: "cup"}}}.WithDefaults()
		tc.change(&c.Links[0])
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("want %q, got %v", tc.want, err)
		}
	}
	c := Config{Links: []LinkConfig{{Name: "cup", Listen: "127.0.0.1:1", Dialect: codec.CUPPOS, Framing: "binary2"}}}.WithDefaults()
	if err := c.Validate(); err != nil || c.Links[0].SignOnAuth != SignOnAuthNone || c.Links[0].SignOnLimit != 6 {
		t.Fatalf("defaults: %v %+v", err, c.Links[0])
	}
}

// The issuer data's terminal links and serials are checked.
func TestTerminalLinksChecked(t *testing.T) {
	for _, bad := range []string{"links: [pos, pos]", "links: [POS]", `links: [""]`, "links: [pos]\n    serial: \"has space\""} {
		raw := strings.Replace(string(issuer.DemoYAML()), "links: [pos, acquirer]", bad, 1)
		if _, err := issuer.Parse([]byte(raw)); err == nil || !strings.Contains(err.Error(), "terminals[0].") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
	d := demoData(t)
	term, _ := d.Terminal([]byte("TERM0001"))
	if !term.SignsOnAt("pos") || term.SignsOnAt("cup") || (&issuer.Terminal{}).SignsOnAt("pos") {
		t.Fatal("SignsOnAt")
	}
	// requests: only on its links; a terminal that names none, on any
	if !term.TakesRequestsAt("acquirer") || term.TakesRequestsAt("cup") || term.TakesRequestsAt("") ||
		!(&issuer.Terminal{}).TakesRequestsAt("cup") {
		t.Fatal("TakesRequestsAt")
	}
}

// A terminal the issuer data holds as inactive cannot sign on: an ISO 8583
// sign-on (0800, 70 = 001) naming it in 41 is answered 58 and leaves the
// connection not signed on, a UnionPay sign-on naming it is answered 58
// without keys and changes none; both are logged with the reason. So is
// an ISO sign-on naming an active terminal of other links. A sign-on
// naming an active terminal of the link, or none (a host), is answered 00.
func TestInactiveOrForeignTerminalCannotSignOn(t *testing.T) {
	raw := strings.Replace(string(issuer.DemoYAML()), "    status: active\n    tmk:", "    status: inactive\n    tmk:", -1)
	if strings.Count(raw, "    status: inactive\n    tmk:") != 2 {
		t.Fatal("the demo data's terminals are not where the test expects them")
	}
	data, err := issuer.Parse([]byte(raw)) // both demo terminals inactive
	if err != nil {
		t.Fatal(err)
	}
	active, err := issuer.Parse(issuer.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("iso", func(t *testing.T) {
		log := &testlog.Buffer{}
		var current atomic.Pointer[issuer.Data] // the issuer data in force, as a reload swaps it
		current.Store(data)
		keys := &Keys{Current: current.Load}
		ts := startServer(t, nil, func(c *Config) {
			c.Links[0].RequireSignOn = true
			c.testKeys, c.testLog, c.testLogInfo = keys, log, true
		})
		_, pin, mac, _ := keys.Terminal("pos", []byte("TERM0001"))
		d, _ := codec.Lookup(codec.ISO87ASCII)
		signOn := func(c *client.Conn, stan, terminal string) string {
			t.Helper()
			f := map[string]string{"7": "1121204500", "11": stan, "70": "001"}
			if terminal != "" {
				f["41"] = terminal
			}
			msg, err := d.Encode(codec.Message{MTI: "0800", Fields: f})
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.RoundTrip(msg, 5*time.Second)
			if err != nil || r.View.MTI().String() != "0810" {
				t.Fatalf("sign-on by %q: %v", terminal, err)
			}
			return field(r, 39)
		}
		c := ts.dial(t)
		if got := signOn(c, "000001", "TERM0001"); got != "58" {
			t.Fatalf("sign-on by inactive TERM0001: %s, want 58", got)
		}
		if r, err := c.RoundTrip(purchase(t, 2, 1), 5*time.Second); err != nil || field(r, 39) != "91" {
			t.Fatalf("a purchase after the refused sign-on: %v %q, want 91 (not signed on)", err, field(r, 39))
		}
		if _, p, m, _ := keys.Terminal("pos", []byte("TERM0001")); p != pin || m != mac {
			t.Fatal("a refused sign-on changed the keys")
		}
		if !strings.Contains(log.String(), `"terminal":"TERM0001","reason":"the terminal is not active`) {
			t.Fatalf("the refusal is not logged with the terminal and reason:\n%s", log)
		}
		// a host's sign-on (no 41) and an unknown terminal's are taken as before
		if got := signOn(ts.dial(t), "000003", ""); got != "00" {
			t.Fatalf("a host's sign-on: %s", got)
		}
		if got := signOn(ts.dial(t), "000004", "TERM9999"); got != "00" {
			t.Fatalf("an unknown terminal's sign-on: %s", got)
		}
		current.Store(active) // the same terminal, active: signed on
		c2 := ts.dial(t)
		if got := signOn(c2, "000005", "TERM0001"); got != "00" {
			t.Fatalf("sign-on by active TERM0001: %s", got)
		}
		if r, err := c2.RoundTrip(purchase(t, 6, 1), 5*time.Second); err != nil || field(r, 39) != "00" {
			t.Fatalf("a purchase after the sign-on: %v %q", err, field(r, 39))
		}
		// an active terminal of another link (the UnionPay one) is refused
		if got := signOn(ts.dial(t), "000007", "12345678"); got != "58" {
			t.Fatalf("sign-on on pos by cup's terminal 12345678: %s, want 58", got)
		}
		if !strings.Contains(log.String(), `"terminal":"12345678","reason":"the terminal does not belong to the link`) {
			t.Fatalf("the refusal is not logged with the terminal and reason:\n%s", log)
		}
	})

	t.Run("cup", func(t *testing.T) {
		tl := startTwoLinks(t, data, nil, nil)
		_, pin, mac, _ := tl.keys.Terminal("cup", []byte("12345678"))
		c := tl.dialCUP(t)
		r, err := c.RoundTrip(cuptest.SignOn(t, "000001", "12345678", "123456789012345", nil, nil), 5*time.Second)
		if err != nil || field(r, 39) != "58" || r.View.Has(62) {
			t.Fatalf("UnionPay sign-on by inactive 12345678: %v %q has62 %v", err, field(r, 39), r.View.Has(62))
		}
		if _, p, m, _ := tl.keys.Terminal("cup", []byte("12345678")); p != pin || m != mac {
			t.Fatal("a refused UnionPay sign-on changed the keys")
		}
		if !strings.Contains(tl.log.String(), `"terminal":"12345678","reason":"the terminal is not active`) {
			t.Fatalf("the refusal is not logged with the terminal and reason:\n%s", tl.log)
		}
	})
}
