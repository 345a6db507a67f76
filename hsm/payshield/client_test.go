package payshield

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/cardswitch/cardswitch/hsm"
)

// Keys from HSM_VECTORS.md §8 under the test LMK.
var (
	tpkU   = hsm.KeyRef{Type: hsm.KeyTypeTPK, Cryptogram: "U8463435FC4B4DAA0C49025272C29B12C"}
	tpkS   = hsm.KeyRef{Type: hsm.KeyTypeTPK, Cryptogram: "0406FBB23A5214DF"}
	zpkU   = hsm.KeyRef{Type: hsm.KeyTypeZPK, Cryptogram: "U1EF828AA8F6B80EB83E19FBC373F3A85"}
	zpkS   = hsm.KeyRef{Type: hsm.KeyTypeZPK, Cryptogram: "BAB32D775A38E4AB"}
	pvkX   = hsm.KeyRef{Type: hsm.KeyTypePVK, Cryptogram: "X367930344805B1FAD6146EF4ED7502B3"}
	takU   = hsm.KeyRef{Type: hsm.KeyTypeTAK, Cryptogram: "U19D25F349FD03CC3556BB05F65283CA1"}
	takS   = hsm.KeyRef{Type: hsm.KeyTypeTAK, Cryptogram: "C6F34693FB39CB6E"}
	zmkU   = hsm.KeyRef{Type: hsm.KeyTypeZMK, Cryptogram: "U93CB819F8FEE4F78BF9C4CDD84750DB1"}
	cvkU   = hsm.KeyRef{Type: hsm.KeyTypeCVK, Cryptogram: "U479D751977AA598CB481F548226DBF2B"}
	bdkU   = hsm.KeyRef{Type: hsm.KeyTypeBDK, Cryptogram: "U8E3D3E2FD5919657F05A1AA90D32A014"}
	vecPAN = "5500000253210"
)

// Blocks for PIN 1234 (§9).
var (
	blockTPKDiebold = mustHex("028DCC093FB0471F") // TPK U, format 03
	blockTPKISO0    = mustHex("6428EB94035AF53B") // TPK U, format 01
	blockZPKISO0    = mustHex("91DDDA0A7C12CFAA") // ZPK U, format 01
	blockZPKSDieb   = mustHex("F7808F2CBEC63168") // ZPK single, format 03
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// newPair starts a simulator and a client against it over 127.0.0.1.
func newPair(t testing.TB, cfg Config) (*Client, *hsm.Soft) {
	t.Helper()
	_, addr := startServer(t, ServerConfig{})
	cfg.Addr = addr
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, &hsm.Soft{LMK: hsm.ThalesTestLMK()}
}

// sameErr fails unless both errors are nil or both match target.
func sameErr(t *testing.T, what string, got, soft, target error) {
	t.Helper()
	if (got == nil) != (soft == nil) || (target != nil && (!errors.Is(got, target) || !errors.Is(soft, target))) {
		t.Errorf("%s: client %v, soft %v, want %v", what, got, soft, target)
	}
}

// ibmCheck builds an IBM check for PIN 1234 with an offset from Soft's primitives.
func ibmCheck(t *testing.T, key hsm.KeyRef, f hsm.PINBlockFormat, block []byte) hsm.PINCheck {
	t.Helper()
	vd, err := hsm.ThalesValidationData("12345N678901", vecPAN[:12])
	if err != nil {
		t.Fatal(err)
	}
	pvk, err := hsm.ThalesTestLMK().DecryptKey(pvkX.Type, pvkX.Cryptogram)
	if err != nil {
		t.Fatal(err)
	}
	pin, _ := hsm.ParsePIN("1234")
	m := hsm.IBM3624{PVK: pvk, DecimalisationTable: "0123456789012345", ValidationData: vd}
	off, err := m.Offset(pin)
	if err != nil {
		t.Fatal(err)
	}
	ibm := &hsm.IBMData{PVK: pvkX, DecimalisationTable: m.DecimalisationTable, ValidationData: vd, Offset: off}
	return hsm.PINCheck{PINKey: key, Format: f, Block: block, PAN: vecPAN, IBM: ibm}
}

func TestClientVerifyPIN(t *testing.T) {
	c, soft := newPair(t, Config{})
	ctx := context.Background()
	pvv := func(k hsm.KeyRef, f hsm.PINBlockFormat, b []byte, v string) hsm.PINCheck {
		return hsm.PINCheck{PINKey: k, Format: f, Block: b, PAN: vecPAN, PVV: &hsm.PVVData{PVK: pvkX, PVKI: 1, PVV: v}}
	}
	wrongOffset := ibmCheck(t, zpkU, hsm.ISO0, blockZPKISO0)
	wrongOffset.IBM.Offset = "9999"
	tests := []struct {
		name   string
		check  hsm.PINCheck
		target error
	}{
		{"DC PVV", pvv(tpkU, hsm.Diebold, blockTPKDiebold, "4402"), nil},
		{"DC wrong PIN", pvv(tpkU, hsm.Diebold, blockTPKDiebold, "4401"), hsm.ErrPINMismatch},
		{"EC PVV", pvv(zpkU, hsm.ISO0, blockZPKISO0, "4402"), nil},
		{"EC single ZPK", pvv(zpkS, hsm.Diebold, blockZPKSDieb, "4402"), nil},
		{"EC wrong PIN", pvv(zpkS, hsm.Diebold, blockZPKSDieb, "1111"), hsm.ErrPINMismatch},
		{"DC wrong key", pvv(tpkS, hsm.ISO0, blockTPKISO0, "4402"), hsm.ErrPINBlockFormat},
		{"DC short block", pvv(tpkU, hsm.ISO0, blockTPKISO0[:7], "4402"), hsm.ErrPINBlockLength},
		{"DA IBM", ibmCheck(t, tpkU, hsm.ISO0, blockTPKISO0), nil},
		{"EA IBM", ibmCheck(t, zpkU, hsm.ISO0, blockZPKISO0), nil},
		{"EA wrong offset", wrongOffset, hsm.ErrPINMismatch},
		{"no method", hsm.PINCheck{PINKey: tpkU, Format: hsm.ISO0, Block: blockTPKISO0, PAN: vecPAN}, hsm.ErrNoMethod},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, want := c.VerifyPIN(ctx, tc.check), soft.VerifyPIN(ctx, tc.check)
			sameErr(t, tc.name, got, want, tc.target)
		})
	}
}

func TestClientTranslatePIN(t *testing.T) {
	c, soft := newPair(t, Config{})
	ctx := context.Background()
	tests := []hsm.PINTranslation{
		{From: tpkU, To: zpkU, FromFormat: hsm.ISO0, ToFormat: hsm.ISO0, Block: blockTPKISO0, PAN: vecPAN},
		{From: tpkU, To: zpkS, FromFormat: hsm.Diebold, ToFormat: hsm.Diebold, Block: blockTPKDiebold, PAN: vecPAN},
		{From: zpkS, To: zpkU, FromFormat: hsm.Diebold, ToFormat: hsm.ISO0, Block: blockZPKSDieb, PAN: vecPAN},
	}
	for _, tr := range tests {
		got, err := c.TranslatePIN(ctx, tr)
		want, serr := soft.TranslatePIN(ctx, tr)
		if err != nil || serr != nil || !bytes.Equal(got, want) {
			t.Errorf("%s->%s: client %X %v, soft %X %v", tr.From.Cryptogram, tr.To.Cryptogram, got, err, want, serr)
		}
	}
	// ISO-3 has random fill: check the result verifies instead.
	tr := hsm.PINTranslation{From: tpkU, To: zpkU, FromFormat: hsm.ISO0, ToFormat: hsm.ISO3, Block: blockTPKISO0, PAN: vecPAN}
	got, err := c.TranslatePIN(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	chk := hsm.PINCheck{PINKey: zpkU, Format: hsm.ISO3, Block: got, PAN: vecPAN, PVV: &hsm.PVVData{PVK: pvkX, PVKI: 1, PVV: "4402"}}
	if err := soft.VerifyPIN(ctx, chk); err != nil {
		t.Errorf("ISO-3 block from CA does not verify: %v", err)
	}
	tr.Block = blockTPKDiebold // wrong format for this block
	_, err = c.TranslatePIN(ctx, tr)
	_, serr := soft.TranslatePIN(ctx, tr)
	sameErr(t, "bad block", err, serr, hsm.ErrPINBlockFormat)
}

func TestClientMAC(t *testing.T) {
	c, soft := newPair(t, Config{})
	ctx := context.Background()
	data := []byte("givemeSOMEMACing and a little more data")
	tests := []struct {
		key hsm.KeyRef
		alg hsm.MACAlgorithm
		pad hsm.MACPadding
	}{
		{takS, hsm.MACISO9797Alg1, hsm.MACPadding1},
		{takU, hsm.MACISO9797Alg3, hsm.MACPadding2},
		{takU, hsm.MACISO9797Alg3, hsm.MACPadding3},
		{takU, hsm.MACCMAC, hsm.MACPaddingNone},
	}
	for _, tc := range tests {
		got, err := c.GenerateMAC(ctx, tc.key, tc.alg, tc.pad, data)
		want, serr := soft.GenerateMAC(ctx, tc.key, tc.alg, tc.pad, data)
		if err != nil || serr != nil || !bytes.Equal(got, want) {
			t.Fatalf("M6 %d/%d: client %X %v, soft %X %v", tc.alg, tc.pad, got, err, want, serr)
		}
		for _, n := range []int{4, 8} {
			err, serr = c.VerifyMAC(ctx, tc.key, tc.alg, tc.pad, data, want[:n]), soft.VerifyMAC(ctx, tc.key, tc.alg, tc.pad, data, want[:n])
			sameErr(t, "M8", err, serr, nil)
			bad := append([]byte(nil), want[:n]...)
			bad[0] ^= 1
			err, serr = c.VerifyMAC(ctx, tc.key, tc.alg, tc.pad, data, bad), soft.VerifyMAC(ctx, tc.key, tc.alg, tc.pad, data, bad)
			sameErr(t, "M8 mismatch", err, serr, hsm.ErrMACMismatch)
		}
	}
	_, err := c.GenerateMAC(ctx, takU, hsm.MACUnionPay, hsm.MACPaddingNone, data)
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("UnionPay MAC = %v, want ErrUnsupported", err)
	}
}

func TestClientKeys(t *testing.T) {
	c, soft := newPair(t, Config{})
	ctx := context.Background()
	for _, k := range []hsm.KeyRef{zmkU, zpkU, zpkS, tpkU, pvkX, takS, cvkU, bdkU} {
		got, err := c.KCV(ctx, k)
		want, serr := soft.KCV(ctx, k)
		if err != nil || serr != nil || got != want {
			t.Errorf("KCV %s: client %s %v, soft %s %v", k.Cryptogram, got, err, want, serr)
		}
	}
	lmk := hsm.ThalesTestLMK()
	for _, tmk := range []hsm.KeyRef{zmkU, {Type: hsm.KeyTypeTPK, Cryptogram: pvkX.Cryptogram}} {
		wk, err := c.WorkingKey(ctx, tmk, hsm.KeyTypeTAK)
		if err != nil {
			t.Fatal(err)
		}
		kcv, err := soft.KCV(ctx, wk.UnderLMK)
		if err != nil || kcv != wk.KCV || wk.UnderLMK.Type != hsm.KeyTypeTAK {
			t.Errorf("A0 key under LMK: KCV %s %v, reply KCV %s", kcv, err, wk.KCV)
		}
		m, err := lmk.DecryptKey(tmk.Type, tmk.Cryptogram)
		if err != nil {
			t.Fatal(err)
		}
		k, err := hsm.DecryptUnderZMK(m, "X"+hex.EncodeToString(wk.UnderTMK))
		if err != nil || k.KCV() != wk.KCV {
			t.Errorf("A0 key under TMK: %v %v, want KCV %s", k, err, wk.KCV)
		}
	}
	// A6: a ZPK one side exported under the ZMK comes back under the LMK
	// on the other, the same key (its KCV) on the payShield and the
	// software HSM alike.
	exported, err := soft.WorkingKey(ctx, zmkU, hsm.KeyTypeZPK)
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]hsm.Service{"payshield": c, "soft": soft} {
		got, kcv, err := h.ImportKey(ctx, zmkU, hsm.KeyTypeZPK, exported.UnderTMK)
		if err != nil || got.Type != hsm.KeyTypeZPK || kcv[:6] != exported.KCV[:6] {
			t.Errorf("%s ImportKey: %v %s %v, want KCV %s", name, got, kcv, err, exported.KCV)
			continue
		}
		if check, err := soft.KCV(ctx, got); err != nil || check[:6] != kcv[:6] {
			t.Errorf("%s imported key: KCV %s %v, reply %s", name, check, err, kcv)
		}
		if _, _, err := h.ImportKey(ctx, hsm.KeyRef{Type: hsm.KeyTypeTPK, Cryptogram: zmkU.Cryptogram}, hsm.KeyTypeZPK, exported.UnderTMK); err == nil {
			t.Errorf("%s ImportKey under a key that is not a ZMK: no error", name)
		}
	}
	if err := c.Health(ctx); err != nil {
		t.Errorf("Health: %v", err)
	}
}

// TestClientHSMErrors checks codes other than 00 become *Error with the
// sentinel meaning.
func TestClientHSMErrors(t *testing.T) {
	c, _ := newPair(t, Config{})
	ctx := context.Background()
	// One changed cryptogram bit: the clear key loses odd parity (error 10).
	bad := hsm.KeyRef{Type: hsm.KeyTypeTAK, Cryptogram: "C6F34693FB39CB6F"}
	_, err := c.GenerateMAC(ctx, bad, hsm.MACISO9797Alg1, hsm.MACPadding1, []byte("x"))
	var he *Error
	if !errors.As(err, &he) || he.Command != "M6" || he.Code != "10" || !errors.Is(err, hsm.ErrKeyParity) {
		t.Fatalf("bad key: %v, want M6 error 10", err)
	}
	_, err = c.GenerateMAC(ctx, hsm.KeyRef{Type: hsm.KeyTypeZPK, Cryptogram: zpkU.Cryptogram}, hsm.MACISO9797Alg1, hsm.MACPadding1, []byte("x"))
	if !errors.As(err, &he) || he.Code != "04" || !errors.Is(err, hsm.ErrKeyType) {
		t.Errorf("ZPK for M6: %v, want code 04", err)
	}
	_, err = c.TranslatePIN(ctx, hsm.PINTranslation{From: tpkU, To: zpkU, FromFormat: hsm.ISO0, ToFormat: hsm.ISO0, Block: blockTPKISO0, PAN: "55000002532"})
	if !errors.Is(err, hsm.ErrPAN) {
		t.Errorf("short PAN: %v", err)
	}
}

// The client does not verify DUKPT PINs yet: it says so, and sends nothing.
func TestClientDUKPTUnsupported(t *testing.T) {
	var c Client // no connection: a send would fail otherwise
	err := c.VerifyDUKPTPIN(t.Context(), hsm.DUKPTPINCheck{})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("DUKPT PIN verify = %v, want ErrUnsupported", err)
	}
}

// G0 against the simulator gives the software HSM's answer and the
// published one (EMV_VECTORS.md §4.2, G1), and refuses wrong key types
// before sending.
func TestClientTranslateDUKPTPIN(t *testing.T) {
	c, soft := newPair(t, Config{})
	tr := hsm.DUKPTPINTranslation{BDK: hsm.KeyRef{Type: hsm.KeyTypeBDK, Cryptogram: "U8E3D3E2FD5919657F05A1AA90D32A014"},
		KSN: mustHex("FFFF9876543210E00001"), Block: mustHex("1B9C1845EB993A7A"), PAN: "4012345678909",
		To: hsm.KeyRef{Type: hsm.KeyTypeZPK, Cryptogram: "U1EF828AA8F6B80EB83E19FBC373F3A85"}, ToFormat: hsm.ISO0}
	got, err := c.TranslateDUKPTPIN(t.Context(), tr)
	want, serr := soft.TranslateDUKPTPIN(t.Context(), tr)
	if err != nil || serr != nil || !bytes.Equal(got, want) || fmt.Sprintf("%X", got) != "AC623CC691B16CBF" {
		t.Fatalf("G0: %X %v, soft %X %v, want AC623CC691B16CBF", got, err, want, serr)
	}
	bad := tr
	bad.To.Type = hsm.KeyTypeTPK
	if _, err := c.TranslateDUKPTPIN(t.Context(), bad); !errors.Is(err, hsm.ErrKeyType) {
		t.Errorf("a TPK as the destination: %v", err)
	}
}
