package hsm

import (
	"errors"
	"testing"
)

// TestPVV covers every row of the §5 Visa PVV table (psec, jPOS, ThalesSim).
func TestPVV(t *testing.T) {
	tests := []struct {
		pvk, pan string
		pvki     int
		pin, pvv string
	}{
		{"0123456789ABCDEFFEDCBA9876543210", "1122334455667788", 1, "4524", "8523"},
		{"0123456789ABCDEFFEDCBA9876543210", "1122334455667788", 2, "1912", "3244"},
		{"0123456789ABCDEFFEDCBA9876543210", "1122334455667718", 1, "0570", "3144"},
		{"0123456789ABCDEFFEDCBA9876543210", "1122334455667708", 1, "8299", "4422"},
		{"0123456789ABCDEFFEDCBA9876543210", "1122334455667788", 3, "4524", "4021"},
		{"13345779133457791334577913345779", "1234567890123", 0, "1234", "1226"},
		{"C8199237EA5857BC40EF9DA2B5E96BBF", "5500000253210", 1, "1234", "4402"},
	}
	for _, tc := range tests {
		t.Run(tc.pan+"/"+tc.pvv, func(t *testing.T) {
			k := tdes(t, tc.pvk)
			got, err := GeneratePVV(k, tc.pan, tc.pvki, pin(t, tc.pin))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.pvv {
				t.Errorf("PVV = %s, want %s", got, tc.pvv)
			}
			if err := VerifyPVV(k, tc.pan, tc.pvki, pin(t, tc.pin), tc.pvv); err != nil {
				t.Errorf("VerifyPVV: %v", err)
			}
			if err := VerifyPVV(k, tc.pan, tc.pvki, pin(t, "9999"), tc.pvv); !errors.Is(err, ErrPINMismatch) && tc.pin != "9999" {
				t.Errorf("VerifyPVV wrong PIN = %v", err)
			}
		})
	}
	k := tdes(t, "0123456789ABCDEFFEDCBA9876543210")
	for name, err := range map[string]error{
		"PVKI 10":     VerifyPVV(k, "1122334455667788", 10, pin(t, "4524"), "8523"),
		"PVV 3 chars": VerifyPVV(k, "1122334455667788", 1, pin(t, "4524"), "852"),
		"short PAN":   VerifyPVV(k, "112233445566", 1, pin(t, "4524"), "8523"),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestIBM3624 covers the §5 IBM 3624 rows: psec natural PIN and offsets,
// validation-data variants, the two mamicode examples, and the Thales N
// substitution of the ThalesSim CK vector.
func TestIBM3624(t *testing.T) {
	psec := IBM3624{PVK: tdes(t, "0123456789ABCDEFFEDCBA9876543210"), DecimalisationTable: "1234567890123456", ValidationData: "1122334455667788"}
	checkNatural(t, psec, 4, "4524")
	for _, o := range []struct{ pin, offset string }{
		{"4524", "0000"}, {"1234", "7710"}, {"0000", "6586"}, {"1111", "7697"}, {"5635", "1111"},
	} {
		got, err := psec.Offset(pin(t, o.pin))
		if err != nil || got != o.offset {
			t.Errorf("offset(%s) = %s, %v; want %s", o.pin, got, err, o.offset)
		}
		if err := psec.Verify(pin(t, o.pin), o.offset); err != nil {
			t.Errorf("Verify(%s, %s): %v", o.pin, o.offset, err)
		}
	}
	if err := psec.Verify(pin(t, "1235"), "7710"); !errors.Is(err, ErrPINMismatch) {
		t.Errorf("wrong PIN = %v", err)
	}
	for _, v := range []struct {
		start, length int
		pad           byte
		data, natural string
	}{
		{0, 14, 'F', "11223344556677FF", "5518"},
		{1, 14, '1', "", "3675"},
		{2, 14, '1', "", "5550"},
	} {
		data, err := IBM3624ValidationData("1122334455667788", v.start, v.length, v.pad)
		if err != nil || (v.data != "" && data != v.data) {
			t.Fatalf("validation data = %s, %v", data, err)
		}
		m := psec
		m.ValidationData = data
		checkNatural(t, m, 4, v.natural)
	}
	ex1 := IBM3624{PVK: tdes(t, "1313131313131313"), DecimalisationTable: "0123456789012345", ValidationData: "1234567890123456"}
	checkNatural(t, ex1, 6, "643085")
	if p, err := ex1.PINFromOffset("456789"); err != nil || !p.Equal(pin(t, "099764")) {
		t.Errorf("mamicode 1 customer PIN: %v", err)
	}
	ex2 := IBM3624{PVK: tdes(t, "0123456789ABCDEF"), DecimalisationTable: "0123456789012345", ValidationData: "1234567890123445"}
	checkNatural(t, ex2, 4, "9046")
	if o, err := ex2.Offset(pin(t, "1234")); err != nil || o != "2298" {
		t.Errorf("mamicode 2 offset = %s, %v", o, err)
	}
	data, err := ThalesValidationData("0004012345N9", "401234567890")
	if err != nil || data != "0004012345678909" {
		t.Errorf("Thales N substitution = %s, %v", data, err)
	}
}

// checkNatural fails unless m's natural PIN of length n is want.
func checkNatural(t *testing.T, m IBM3624, n int, want string) {
	t.Helper()
	got, err := m.NaturalPIN(n)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(pin(t, want)) {
		o, _ := m.Offset(pin(t, want))
		t.Errorf("natural PIN differs from %s (offset of %s = %s)", want, want, o)
	}
}

// TestIBM3624Errors covers malformed parameters.
func TestIBM3624Errors(t *testing.T) {
	ok := IBM3624{PVK: tdes(t, "0123456789ABCDEF"), DecimalisationTable: "0123456789012345", ValidationData: "1234567890123445"}
	badTable, badData, noKey := ok, ok, ok
	badTable.DecimalisationTable = "0123456789ABCDEF"
	badData.ValidationData = "12345678901234"
	noKey.PVK = Key{}
	p := pin(t, "1234")
	for name, tc := range map[string]struct {
		err, want error
	}{
		"hex table":      {badTable.Verify(p, "2298"), ErrPINParams},
		"short data":     {badData.Verify(p, "2298"), ErrPINParams},
		"zero key":       {noKey.Verify(p, "2298"), ErrKeyInvalid},
		"offset letter":  {ok.Verify(p, "22A8"), ErrPINParams},
		"offset 3":       {ok.Verify(p, "229"), ErrPINParams},
		"offset > PIN":   {ok.Verify(p, "229800"), ErrPINMismatch},
		"natural len 3":  {func() error { _, err := ok.NaturalPIN(3); return err }(), ErrPINLength},
		"Thales no N":    {func() error { _, err := ThalesValidationData("000401234569", "401234567890"); return err }(), ErrPINParams},
		"Thales bad acc": {func() error { _, err := ThalesValidationData("0004012345N9", "40123456789X"); return err }(), ErrPINParams},
		"pad not hex":    {func() error { _, err := IBM3624ValidationData("1122334455667788", 0, 14, 'G'); return err }(), ErrPINParams},
		"past the PAN":   {func() error { _, err := IBM3624ValidationData("1122334455667788", 4, 14, 'F'); return err }(), ErrPINParams},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s = %v, want %v", name, tc.err, tc.want)
		}
	}
}
