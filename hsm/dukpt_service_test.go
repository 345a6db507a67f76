package hsm

import (
	"errors"
	"fmt"
	"testing"
)

// The software HSM verifies a DUKPT terminal's PIN block from the BDK
// under the test LMK (HSM_VECTORS.md: 009 BDK U8E3D3E2F..., the X9.24-1
// BDK) and the §2 table's encrypted blocks (PIN 1234, PAN 4012345678909).
func TestSoftVerifyDUKPTPIN(t *testing.T) {
	lmk := ThalesTestLMK()
	s := &Soft{LMK: lmk}
	bdk := KeyRef{Type: KeyTypeBDK, Cryptogram: "U8E3D3E2FD5919657F05A1AA90D32A014"}
	if kcv, err := s.KCV(t.Context(), bdk); err != nil || kcv != "08D7B4" {
		t.Fatalf("BDK KCV %s %v, want 08D7B4", kcv, err)
	}
	pvk := tdes(t, "0123456789ABCDEFFEDCBA9876543210")
	pvkUnder, err := lmk.EncryptKey(KeyTypePVK, SchemeU, pvk)
	if err != nil {
		t.Fatal(err)
	}
	const pan = "4012345678909"
	pvv, err := GeneratePVV(pvk, pan, 1, pin(t, "1234"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(ksn, block string, ref KeyRef) error {
		return s.VerifyDUKPTPIN(t.Context(), DUKPTPINCheck{BDK: ref, KSN: unhex(t, ksn), Check: PINCheck{Format: ISO0,
			Block: unhex(t, block), PAN: pan, PVV: &PVVData{PVK: KeyRef{Type: KeyTypePVK, Cryptogram: pvkUnder}, PVKI: 1, PVV: pvv}}})
	}
	for _, r := range [][2]string{{"FFFF9876543210E00001", "1B9C1845EB993A7A"}, {"FFFF9876543210E00008", "50E55547A5027551"},
		{"FFFF9876543210E00015", "72105C22EBC791E6"}} {
		if err := check(r[0], r[1], bdk); err != nil {
			t.Errorf("KSN %s: %v", r[0], err)
		}
	}
	// the E00002 block under E00001's KSN: another key, not the PIN
	if err := check("FFFF9876543210E00001", "10A01C8D02C69107", bdk); err == nil {
		t.Error("a block under another counter's key verified")
	}
	if err := check("FFFF9876543210E00001", "1B9C1845EB993A7A", KeyRef{Type: KeyTypeTPK, Cryptogram: bdk.Cryptogram}); !errors.Is(err, ErrKeyType) {
		t.Errorf("the BDK as a TPK: %v, want ErrKeyType", err)
	}
	if err := check("FFFF9876543210E007FF", "1B9C1845EB993A7A", bdk); !errors.Is(err, ErrKSN) {
		t.Errorf("an exhausted counter: %v, want ErrKSN", err)
	}
}

// KSNCounter reads the 21-bit counter and refuses zero, more than ten one
// bits (X9.24-1 A.2) and a wrong length; KSNDevice clears the counter.
func TestKSNCounter(t *testing.T) {
	for _, c := range []struct {
		ksn  string
		want uint32
		ok   bool
	}{
		{"FFFF9876543210E00001", 1, true},
		{"FFFF9876543210E00015", 0x15, true},
		{"FFFF9876543210FFF800", 0x1FF800, true}, // ten one bits: the last a device uses
		{"FFFF9876543210FFFC00", 0, false},       // eleven
		{"FFFF9876543210E007FF", 0, false},       // eleven, low
		{"FFFF9876543210E00000", 0, false},
		{"FFFF9876543210E000", 0, false},
	} {
		n, err := KSNCounter(unhex(t, c.ksn))
		if (err == nil) != c.ok || n != c.want {
			t.Errorf("%s: %X %v", c.ksn, n, err)
		}
	}
	d, err := KSNDevice(unhex(t, "FFFF9876543210FFC015"))
	if err != nil || d != [10]byte(unhex(t, "FFFF9876543210E00000")) {
		t.Errorf("device %X %v", d, err)
	}
}

// EMV_VECTORS.md §4.2, G1: the DUKPT block of PIN 1234 under KSN
// FFFF9876543210E00001 re-encrypted under the ZPK U1EF828AA... (ISO 0,
// account 401234567890) is AC623CC691B16CBF; a TPK as the source or a
// TPK as the destination is refused by key type, an exhausted KSN by ErrKSN.
func TestSoftTranslateDUKPTPIN(t *testing.T) {
	s := &Soft{LMK: ThalesTestLMK()}
	tr := DUKPTPINTranslation{BDK: KeyRef{Type: KeyTypeBDK, Cryptogram: "U8E3D3E2FD5919657F05A1AA90D32A014"},
		KSN: unhex(t, "FFFF9876543210E00001"), Block: unhex(t, "1B9C1845EB993A7A"), PAN: "4012345678909",
		To: KeyRef{Type: KeyTypeZPK, Cryptogram: "U1EF828AA8F6B80EB83E19FBC373F3A85"}, ToFormat: ISO0}
	out, err := s.TranslateDUKPTPIN(t.Context(), tr)
	if err != nil || fmt.Sprintf("%X", out) != "AC623CC691B16CBF" {
		t.Fatalf("G1: %X %v, want AC623CC691B16CBF", out, err)
	}
	bad := tr
	bad.BDK.Type = KeyTypeTPK
	if _, err := s.TranslateDUKPTPIN(t.Context(), bad); !errors.Is(err, ErrKeyType) {
		t.Errorf("a TPK as the BDK: %v", err)
	}
	bad = tr
	bad.To.Type = KeyTypeTPK
	if _, err := s.TranslateDUKPTPIN(t.Context(), bad); !errors.Is(err, ErrKeyType) {
		t.Errorf("a TPK as the destination: %v", err)
	}
	bad = tr
	bad.KSN = unhex(t, "FFFF9876543210E007FF")
	if _, err := s.TranslateDUKPTPIN(t.Context(), bad); !errors.Is(err, ErrKSN) {
		t.Errorf("an exhausted KSN: %v", err)
	}
}

// The software HSM's DUKPT MACs are HSM_VECTORS.md §2's full MACs for
// E00001 over "4012345678909D987" (ISO 9797-1 algorithm 3, padding 1),
// request and response variants; a wrong MAC is ErrMACMismatch.
func TestSoftDUKPTMAC(t *testing.T) {
	s := &Soft{LMK: ThalesTestLMK()}
	m := DUKPTMAC{BDK: KeyRef{Type: KeyTypeBDK, Cryptogram: "U8E3D3E2FD5919657F05A1AA90D32A014"}, KSN: unhex(t, "FFFF9876543210E00001"),
		Alg: MACISO9797Alg3, Pad: MACPadding1, Data: []byte(dukptMACData)}
	for _, c := range []struct {
		response bool
		want     string
	}{{false, "9CCC78173FC4FB64"}, {true, "20364223C1FF00FA"}} {
		m.Response = c.response
		mac, err := s.GenerateDUKPTMAC(t.Context(), m)
		if err != nil || fmt.Sprintf("%X", mac) != c.want {
			t.Fatalf("response %v: %X %v, want %s", c.response, mac, err, c.want)
		}
		if err := s.VerifyDUKPTMAC(t.Context(), m, mac); err != nil {
			t.Fatalf("verify: %v", err)
		}
	}
	m.Response = false
	if err := s.VerifyDUKPTMAC(t.Context(), m, unhex(t, "20364223C1FF00FA")); !errors.Is(err, ErrMACMismatch) {
		t.Fatalf("the response MAC as the request's: %v, want ErrMACMismatch", err)
	}
}
