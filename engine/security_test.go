package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/cuptest"
)

// terminalKey decrypts a demo terminal key (the tests play the terminal).
func terminalKey(t *testing.T, typ, cryptogram string) hsm.Key {
	k, err := hsm.ThalesTestLMK().DecryptKey(typ, cryptogram)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func demoData(t testing.TB) *issuer.Data {
	d, err := issuer.Parse(issuer.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// slowHSM answers nothing until the call's context ends (or quit closes,
// so a call without a deadline cannot hang the test), and tells how far
// off the call's deadline was when the call began (math.MaxInt64: no
// deadline).
type slowHSM struct {
	HSM
	deadlines chan time.Duration
	quit      chan struct{}
}

func (h slowHSM) VerifyMAC(ctx context.Context, _ hsm.KeyRef, _ hsm.MACAlgorithm, _ hsm.MACPadding, _, _ []byte) error {
	left := time.Duration(math.MaxInt64)
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	select {
	case h.deadlines <- left: // the first call's
	default:
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-h.quit:
		return errors.New("slow HSM: the test ended")
	}
}

// cupServer runs a UnionPay link with MACs (and the default hsm_timeout:
// the HSM's answers are not raced against a short one).
func cupServer(t *testing.T, h HSM) *testServer {
	return cupServerWith(t, h, nil)
}

func cupServerWith(t *testing.T, h HSM, change func(*LinkConfig)) *testServer {
	data := demoData(t)
	return startServer(t, DemoAuthorizer{Data: data}, func(c *Config) {
		c.Links[0].Name = "cup" // the demo UnionPay terminal names it (issuer data: terminals[].links)
		c.Links[0].Dialect, c.Links[0].Framing, c.Links[0].MAC = codec.CUPPOS, "binary2+tpdu", "cup"
		c.testHSM, c.testKeys = h, &Keys{Data: data}
		if change != nil {
			change(&c.Links[0])
		}
	})
}

func cupPurchase(t *testing.T, tak *hsm.Key, pin string, tpk hsm.Key) []byte {
	d, _ := codec.Lookup(codec.CUPPOS)
	f := map[string]string{"2": "6228480402564890018", "3": "000000", "4": "000000001000", "11": "000001",
		"22": "051", "25": "00", "41": "12345678", "42": "123456789012345", "49": "156", "60": "22000001000"}
	if pin != "" {
		p, _ := hsm.ParsePIN(pin)
		b, err := hsm.EncryptPINBlock(tpk, hsm.ISO0, p, f["2"], nil)
		if err != nil {
			t.Fatal(err)
		}
		f["52"] = strings.ToUpper(hex.EncodeToString(b))
	}
	m := codec.Message{MTI: "0200", Header: "603100311000", Fields: f}
	var sign func([]byte) ([]byte, error)
	if tak != nil {
		sign = func(in []byte) ([]byte, error) { return hsm.GenerateMAC(*tak, hsm.MACUnionPay, hsm.MACPaddingNone, in) }
	}
	field := 0
	if sign != nil {
		field = 64
	}
	msg, err := d.EncodeMAC(m, field, sign)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestMACAndPINOnAUnionPayLink(t *testing.T) {
	ts := cupServer(t, &hsm.Soft{LMK: hsm.ThalesTestLMK()})
	term, _ := demoData(t).Terminal([]byte("12345678"))
	tak := terminalKey(t, hsm.KeyTypeTAK, term.TAK)
	tpk := terminalKey(t, hsm.KeyTypeTPK, term.TPK)
	c := ts.dial(t)
	for _, tc := range []struct {
		name string
		tak  *hsm.Key
		pin  string
		want string
	}{
		{"MAC and right PIN", &tak, "1234", "00"},
		{"wrong PIN", &tak, "4321", "55"},
		{"no MAC", nil, "", "A0"},
		{"wrong MAC key", &tpk, "", "A0"},
	} {
		r, err := c.RoundTrip(cupPurchase(t, tc.tak, tc.pin, tpk), 5*time.Second)
		if err != nil || field(r, 39) != tc.want {
			t.Fatalf("%s: %v %q", tc.name, err, field(r, 39))
		}
		if tc.want == "00" { // the reply carries a MAC that verifies
			in, ok := r.View.MACInput()
			if !ok || hsm.VerifyMAC(tak, hsm.MACUnionPay, hsm.MACPaddingNone, in, r.View.MAC(nil)) != nil {
				t.Fatalf("%s: reply MAC does not verify", tc.name)
			}
		}
	}
}

func TestUnionPaySignOnIssuesKeys(t *testing.T) {
	ts := cupServer(t, &hsm.Soft{LMK: hsm.ThalesTestLMK()})
	term, _ := demoData(t).Terminal([]byte("12345678"))
	tmk := terminalKey(t, hsm.KeyTypeTPK, term.TMK)
	msg := cuptest.SignOn(t, "000009", "12345678", "123456789012345", nil, nil)
	c := ts.dial(t)
	r, err := c.RoundTrip(msg, 5*time.Second)
	if err != nil || field(r, 39) != "00" {
		t.Fatalf("sign-on: %v %q", err, field(r, 39))
	}
	keys := r.View.AppendBytes(nil, 62)
	if len(keys) != 40 {
		t.Fatalf("field 62 is %d bytes", len(keys))
	}
	// the terminal decrypts its new MAC key under its master key; the check value matches
	mak := cuptest.SessionKey(t, tmk, keys[20:36])
	if kcv, _ := mak.CheckValue(hsm.KCVZeroBlock); hex.EncodeToString(kcv[:4]) != hex.EncodeToString(keys[36:40]) {
		t.Fatalf("MAC key check value %X, field 62 says %X", kcv[:4], keys[36:40])
	}
	// and from now on the switch expects MACs under the new key
	tpk := terminalKey(t, hsm.KeyTypeTPK, term.TPK)
	if r, err = c.RoundTrip(cupPurchase(t, &mak, "", tpk), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("purchase with the new MAC key: %v %q", err, field(r, 39))
	}
	old := terminalKey(t, hsm.KeyTypeTAK, term.TAK)
	if r, err = c.RoundTrip(cupPurchase(t, &old, "", tpk), 5*time.Second); err != nil || field(r, 39) != "A0" {
		t.Fatalf("purchase with the old MAC key: %v %q", err, field(r, 39))
	}
}

func TestSlowHSMAnswers96(t *testing.T) {
	// The HSM call's deadline is a real-time one (it goes on to the HSM's
	// socket): the test checks that each call gets the link's hsm_timeout
	// as its bound, and that the request is answered 96 when it passes.
	const hsmTimeout = 10 * time.Millisecond
	slow := slowHSM{HSM: &hsm.Soft{LMK: hsm.ThalesTestLMK()}, deadlines: make(chan time.Duration, 1), quit: make(chan struct{})}
	ts := cupServerWith(t, slow, func(l *LinkConfig) { l.HSMTimeout = hsmTimeout })
	t.Cleanup(func() { close(slow.quit) }) // before the server's shutdown: cleanups run last first
	term, _ := demoData(t).Terminal([]byte("12345678"))
	tak := terminalKey(t, hsm.KeyTypeTAK, term.TAK)
	c := ts.dial(t)
	r, err := c.RoundTrip(cupPurchase(t, &tak, "", tak), 10*time.Second)
	if err != nil {
		t.Fatalf("slow HSM: no answer: %v", err)
	}
	if field(r, 39) != "96" {
		t.Fatalf("slow HSM: answered %q", field(r, 39))
	}
	if left := <-slow.deadlines; left > hsmTimeout {
		t.Fatalf("the HSM call's deadline was %v away, or none: want at most hsm_timeout %v", left, hsmTimeout)
	}
}
