package sim

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
)

// Vectors (/work/shared/vectors/HSM_VECTORS.md §8, §9): the ThalesSim A6
// test's ZMK and the ZPK it imports (under the ZMK C8E3118A..., KCV
// 6F1E3F), and the CA test's PIN block under that ZPK (PIN 1234, account
// 550000025321).
const (
	vZMK      = "C497DCBA1A98ABBC45A2523786C28007"
	vZPK      = "C7152C20BC2C830EA7EC9E8334ABE3FE"
	vZPKUnder = "C8E3118AFA853807EB7E92294663A5BA"
	vZPKKCV   = "6F1E3F"
	vBlock    = "91DDDA0A7C12CFAA"
	vPAN      = "5500000253210"
)

func pinPurchase(stan int, block string) codec.Message {
	m := purchase(stan, 1000, vPAN)
	delete(m.Fields, "35")
	m.Fields["52"] = block
	return m
}

func keyChange(stan, f53, f48 string) codec.Message {
	return codec.Message{MTI: "0800", Fields: map[string]string{"7": "1202030405", "11": stan, "48": f48, "53": f53, "70": "161"}}
}

func TestSimChecksPINUnderTheZPK(t *testing.T) {
	is := startIssuer(t, Config{Dialect: codec.ISO87ASCII, Framing: "binary2", ZPK: vZPK, PIN: "1234"})
	d := is.Dialect()
	c := dial(t, is)
	p, _ := hsm.ParsePIN("9999")
	zpk, _ := hsm.ParseTDESKey(vZPK, hsm.ParityIgnore)
	wrong, err := hsm.EncryptPINBlock(zpk, hsm.ISO0, p, vPAN, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ block, want string }{
		{vBlock, "00"},
		{strings.ToUpper(hex.EncodeToString(wrong)), "55"},
		{"0123456789ABCDEF", "55"}, // does not decode under the ZPK
	} {
		if got := roundTrip(t, c, d, pinPurchase(i+1, tc.block)).Fields["39"]; got != tc.want {
			t.Errorf("block %d: 39 = %s, want %s", i, got, tc.want)
		}
	}
	if st := is.Stats(); st.PINChecks != 3 || st.PINFailures != 2 {
		t.Fatalf("PIN checks %d, failures %d: want 3 and 2", st.PINChecks, st.PINFailures)
	}
}

// A key change imports the key under the ZMK (the A6 vector), refuses a
// wrong check value (96, the old key kept) and a malformed one (30).
func TestSimAcceptsKeyChanges(t *testing.T) {
	is := startIssuer(t, Config{Dialect: codec.ISO87ASCII, Framing: "binary2", ZMK: vZMK, ZPK: "0123456789ABCDEFFEDCBA9876543210", PIN: "1234"})
	d := is.Dialect()
	c := dial(t, is)
	if got := roundTrip(t, c, d, pinPurchase(1, vBlock)).Fields["39"]; got != "55" {
		t.Fatalf("before the change: 39 = %s, want 55 (the block is under another key)", got)
	}
	for _, tc := range []struct{ f53, f48, want string }{
		{"0100000000000000", vZPKUnder + "000000", "96"},
		{"0300000000000000", vZPKUnder + vZPKKCV, "30"},
		{"0100000000000001", vZPKUnder + vZPKKCV, "30"},
		{"0100000000000000", vZPKUnder, "30"},
	} {
		if got := roundTrip(t, c, d, keyChange("000100", tc.f53, tc.f48)).Fields["39"]; got != tc.want {
			t.Errorf("53 %s 48 %s: %s, want %s", tc.f53, tc.f48, got, tc.want)
		}
	}
	if got := roundTrip(t, c, d, pinPurchase(2, vBlock)).Fields["39"]; got != "55" {
		t.Fatalf("after refused changes: 39 = %s, want 55 (the old key stays)", got)
	}
	if got := roundTrip(t, c, d, keyChange("000101", "0100000000000000", vZPKUnder+vZPKKCV)).Fields["39"]; got != "00" {
		t.Fatalf("key change: 39 = %s, want 00", got)
	}
	if got := roundTrip(t, c, d, pinPurchase(3, vBlock)).Fields["39"]; got != "00" {
		t.Fatalf("after the change: 39 = %s, want 00", got)
	}
	if st := is.Stats(); st.KeyChanges["00"] != 1 || st.KeyChanges["96"] != 1 || st.KeyChanges["30"] != 3 {
		t.Fatalf("key changes %v", st.KeyChanges)
	}
}

// The simulator sends its own key change and uses the key once answered 00.
func TestSimSendsKeyChange(t *testing.T) {
	is := startIssuer(t, Config{Dialect: codec.ISO87ASCII, Framing: "binary2", ZMK: vZMK, ZPK: vZPK, PIN: "1234"})
	d := is.Dialect()
	c := dial(t, is)
	if got := roundTrip(t, c, d, pinPurchase(1, vBlock)).Fields["39"]; got != "00" { // the connection is known
		t.Fatalf("39 = %s", got)
	}
	done := make(chan error, 1)
	go func() { done <- is.ChangeKey(context.Background(), KeyChange{Key: "zpk"}) }()
	m, _ := read(t, c)
	if m.MTI != "0800" || m.Fields["70"] != "161" || m.Fields["53"] != "0100000000000000" || len(m.Fields["48"]) != 38 {
		t.Fatalf("key change %+v", m)
	}
	zmk, _ := hsm.ParseTDESKey(vZMK, hsm.ParityIgnore)
	k, err := hsm.DecryptUnderZMK(zmk, "X"+m.Fields["48"][:32])
	if err != nil || k.KCV() != m.Fields["48"][32:] {
		t.Fatalf("the key does not decrypt to its check value: %v", err)
	}
	ans := codec.Message{MTI: "0810", Fields: map[string]string{"7": m.Fields["7"], "11": m.Fields["11"], "39": "00", "70": "161"}}
	write(t, c, d, ans)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p, _ := hsm.ParsePIN("1234")
	b, _ := hsm.EncryptPINBlock(k, hsm.ISO0, p, vPAN, nil)
	if got := roundTrip(t, c, d, pinPurchase(2, strings.ToUpper(hex.EncodeToString(b)))).Fields["39"]; got != "00" {
		t.Fatalf("under the new key: 39 = %s, want 00", got)
	}
	if k := is.zone.keys.Load(); !k.zpk.Valid() || k.zpk.KCV() != m.Fields["48"][32:] {
		t.Fatal("the new key is not in force")
	}
}
