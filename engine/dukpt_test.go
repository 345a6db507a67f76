package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
)

// The X9.24-1 test BDK (HSM_VECTORS.md §2) and its cryptogram under the
// Thales test LMK as key type 009 (HSM_VECTORS.md, KCV 08D7B4).
const (
	testBDK      = "0123456789ABCDEFFEDCBA9876543210"
	testBDKUnder = "U8E3D3E2FD5919657F05A1AA90D32A014"
	testKSN      = "FFFF9876543210E00000"
)

// dukptData is the demo data with TERM0001 a DUKPT terminal of the test
// key set.
func dukptData(t *testing.T) *issuer.Data {
	t.Helper()
	raw := string(issuer.DemoYAML())
	for _, e := range [][2]string{
		{"  pvki: 1\n", "  pvki: 1\n  bdks:\n    - {ksi: FFFF987654, bdk: " + testBDKUnder + "}\n"},
		{"  - id: TERM0001\n", "  - id: TERM0001\n    dukpt: {ksn: " + testKSN + "}\n"},
	} {
		if !strings.Contains(raw, e[0]) {
			t.Fatalf("demo data has no %q", e[0])
		}
		raw = strings.Replace(raw, e[0], e[1], 1)
	}
	d, err := issuer.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// dukptPurchase is TERM0001's purchase with pin under the DUKPT PIN key of
// ksn (20 hex digits), the KSN in field 62.
func dukptPurchase(t *testing.T, stan int, pin, ksn string) []byte {
	t.Helper()
	const card = "4761739001010010"
	bdk, err := hsm.NewTDESKey(mustHex(t, testBDK), hsm.ParityIgnore)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := hex.DecodeString(ksn)
	k, err := hsm.DUKPTKey(bdk, raw, hsm.DUKPTPIN)
	if err != nil { // an exhausted or malformed KSN: any block, the switch must refuse the KSN first
		k = bdk
	}
	p, _ := hsm.ParsePIN(pin)
	b, err := hsm.EncryptPINBlock(k, hsm.ISO0, p, card, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := codec.Lookup(codec.ISO87ASCII)
	msg, err := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
		"2": card, "3": "000000", "4": "000000000100", "7": "1121204500", "11": fmt.Sprintf("%06d", stan), "12": "204500",
		"13": "1121", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
		"52": strings.ToUpper(hex.EncodeToString(b)), "62": ksn}})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startDUKPT runs the POS link over the authorizer with the soft HSM, keys
// and a scripted journal.
func startDUKPT(t *testing.T, data *issuer.Data, keys *Keys, j *scriptedJournal) *testServer {
	a, err := auth.New(data, func(p []byte) [32]byte { return sha256.Sum256(p) }, auth.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, AuthStage{A: a}, func(c *Config) {
		c.testHSM, c.testKeys, c.testJournal = &hsm.Soft{LMK: hsm.ThalesTestLMK()}, keys, j
	})
}

// A DUKPT terminal's right PIN is approved and a wrong one 55; a replayed
// KSN, one of an exhausted device (more than ten one bits), one of another
// device and a malformed one are refused 63; and the highest counter,
// journaled with the requests, survives a restart (replay of the records,
// or a snapshot of the keys).
func TestDUKPTTerminal(t *testing.T) {
	data := dukptData(t)
	keys, j := &Keys{Data: data}, newScripted()
	ts := startDUKPT(t, data, keys, j)
	c := ts.dial(t)
	for i, s := range []struct{ pin, ksn, want string }{
		{"1234", "FFFF9876543210E00001", "00"},
		{"9999", "FFFF9876543210E00002", "55"},
		{"1234", "FFFF9876543210E00002", "63"}, // replayed (the wrong PIN used it)
		{"1234", "FFFF9876543210E00001", "63"}, // replayed, older
		{"1234", "FFFF9876543210E007FF", "63"}, // eleven one bits: exhausted
		{"1234", "FFFF9876543211E00009", "63"}, // another device
		{"1234", "FFFF9876543210E0000G", "63"}, // not hex
		{"1234", "FFFF9876543210E00003", "00"},
		{"1234", "FFFF9876543210FFF800", "00"}, // ten one bits: the device's last counter
	} {
		r, err := c.RoundTrip(dukptPurchase(t, 10+i, s.pin, s.ksn), 5*time.Second)
		if err != nil || field(r, 39) != s.want {
			t.Fatalf("%d: PIN %s KSN %s: %v %q, want %s", i, s.pin, s.ksn, err, field(r, 39), s.want)
		}
	}
	wantCounter := func(k *Keys, what string) {
		t.Helper()
		dev, n, ok := k.DUKPTCounter("TERM0001")
		if !ok || n != 0x1FF800 || hex.EncodeToString(dev[:]) != strings.ToLower(testKSN) {
			t.Fatalf("%s: counter %X of %X, %v", what, n, dev, ok)
		}
	}
	wantCounter(keys, "running")

	replayed := &Keys{Data: data}
	for _, r := range j.recorded() {
		if r.SessionKeys != nil {
			if err := replayed.Restore(r.SessionKeys); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantCounter(replayed, "replayed")
	snap := &Keys{Data: data}
	for _, b := range keys.Sessions() {
		if err := snap.Restore(b); err != nil {
			t.Fatal(err)
		}
	}
	wantCounter(snap, "from a snapshot")

	// after the restart, the counter the device used last is still refused
	ts2 := startDUKPT(t, data, replayed, newScripted())
	c2 := ts2.dial(t)
	if r, err := c2.RoundTrip(dukptPurchase(t, 40, "1234", "FFFF9876543210FFF800"), 5*time.Second); err != nil || field(r, 39) != "63" {
		t.Fatalf("replayed after a restart: %v %q", err, field(r, 39))
	}
}

// A journaled counter record reads back; a damaged one is refused.
func TestDUKPTRecord(t *testing.T) {
	var dev [10]byte
	copy(dev[:], mustHex(t, testKSN))
	b := encodeDUKPT("TERM0001", dev, 0x1FF800)
	term, d, n, err := decodeDUKPT(b)
	if err != nil || term != "TERM0001" || d != dev || n != 0x1FF800 {
		t.Fatalf("round trip: %q %X %X %v", term, d, n, err)
	}
	for _, bad := range [][]byte{b[:len(b)-1], append(append([]byte(nil), b...), 0), {dukptVersion}, encodeDUKPT("T", dev, 0)} {
		if _, _, _, err := decodeDUKPT(bad); err == nil {
			t.Errorf("%X parsed", bad)
		}
	}
}

// On a link with MACs, a DUKPT terminal's request is MACed under the
// request MAC variant of its KSN's key (X9.24-1) and the reply under the
// response variant; a MAC that verifies claims the counter, so a replayed
// KSN is refused 63 even without a PIN; a wrong MAC is A0 and claims
// nothing; a request without its KSN is 63.
func TestDUKPTMACs(t *testing.T) {
	data := dukptData(t)
	keys := &Keys{Data: data}
	a, err := auth.New(data, func(p []byte) [32]byte { return sha256.Sum256(p) }, auth.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, AuthStage{A: a}, func(c *Config) {
		c.testHSM, c.testKeys, c.testJournal = &hsm.Soft{LMK: hsm.ThalesTestLMK()}, keys, newScripted()
		c.Links[0].MAC = "x919"
	})
	bdk, err := hsm.NewTDESKey(mustHex(t, testBDK), hsm.ParityIgnore)
	if err != nil {
		t.Fatal(err)
	}
	macKey := func(ksn string, v hsm.DUKPTVariant) hsm.Key {
		k, err := hsm.DUKPTKey(bdk, mustHex(t, ksn), v)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	d, _ := codec.Lookup(codec.ISO87ASCII)
	request := func(stan int, ksn string, v hsm.DUKPTVariant) []byte {
		f := map[string]string{"2": "4761739001010010", "3": "000000", "4": "000000000100", "7": "1121204500", "11": fmt.Sprintf("%06d", stan),
			"12": "204500", "13": "1121", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}
		if ksn != "" {
			f["62"] = ksn
		}
		key := macKey("FFFF9876543210E00001", v)
		if ksn != "" {
			key = macKey(ksn, v)
		}
		msg, err := d.EncodeMAC(codec.Message{MTI: "0200", Fields: f}, 64, func(in []byte) ([]byte, error) {
			return hsm.GenerateMAC(key, hsm.MACISO9797Alg3, hsm.MACPadding1, in)
		})
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	c := ts.dial(t)
	for i, s := range []struct {
		what, ksn string
		v         hsm.DUKPTVariant
		want      string
	}{
		{"right MAC", "FFFF9876543210E00001", hsm.DUKPTMACRequest, "00"},
		{"its KSN again", "FFFF9876543210E00001", hsm.DUKPTMACRequest, "63"},
		{"a MAC under the response variant", "FFFF9876543210E00002", hsm.DUKPTMACResponse, "A0"},
		{"the next counter, right MAC", "FFFF9876543210E00002", hsm.DUKPTMACRequest, "00"},
		{"no KSN", "", hsm.DUKPTMACRequest, "63"},
	} {
		r, err := c.RoundTrip(request(20+i, s.ksn, s.v), 5*time.Second)
		if err != nil || field(r, 39) != s.want {
			t.Fatalf("%s: %v, 39 %q, want %s", s.what, err, field(r, 39), s.want)
		}
		if s.want == "00" {
			in, ok := r.View.MACInput()
			if !ok || hsm.VerifyMAC(macKey(s.ksn, hsm.DUKPTMACResponse), hsm.MACISO9797Alg3, hsm.MACPadding1, in, r.View.MAC(nil)) != nil {
				t.Fatalf("%s: the reply's MAC does not verify under the response variant", s.what)
			}
		}
	}
	if _, n, ok := keys.DUKPTCounter("TERM0001"); !ok || n != 2 {
		t.Fatalf("counter %d %v, want 2", n, ok)
	}
}
