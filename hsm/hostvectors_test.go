package hsm

import (
	"errors"
	"testing"
)

// These tests run the §9 payShield host-command vectors through the
// primitives (not a command parser): keys come out of the test LMK by key
// type, exactly as the DC/EC/CA/CC/G0/CI/CK/MA/MC/M6 commands would use
// them. A Thales 12-digit account field is passed as a PAN with an
// arbitrary check digit appended (the §5 table does the same).

// lmkKey decrypts a §9 key cryptogram or fails.
func lmkKey(t *testing.T, keyType, c string) Key {
	t.Helper()
	k, err := ThalesTestLMK().DecryptKey(keyType, c)
	if err != nil {
		t.Fatalf("%s %s: %v", keyType, c, err)
	}
	return k
}

// thalesFormat maps a Thales format code or fails.
func thalesFormat(t *testing.T, code string) PINBlockFormat {
	t.Helper()
	f, err := ThalesPINBlockFormat(code)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestHostDCEC covers the two DC (TPK) and two EC (ZPK) PVV verify rows,
// and DC's "PVV 4401 -> 01" failure.
func TestHostDCEC(t *testing.T) {
	const pan = "5500000253210"
	tests := []struct{ name, keyType, pinKey, pvk, block, format string }{
		{"DC single TPK fmt 01", KeyTypeTPK, "0406FBB23A5214DF", "367930344805B1FAD6146EF4ED7502B3", "AE7A708F877571A9", "01"},
		{"DC U TPK fmt 03", KeyTypeTPK, "U8463435FC4B4DAA0C49025272C29B12C", "X367930344805B1FAD6146EF4ED7502B3", "028DCC093FB0471F", "03"},
		{"EC single ZPK fmt 03", KeyTypeZPK, "BAB32D775A38E4AB", "X367930344805B1FAD6146EF4ED7502B3", "F7808F2CBEC63168", "03"},
		{"EC U ZPK fmt 01", KeyTypeZPK, "U1EF828AA8F6B80EB83E19FBC373F3A85", "X367930344805B1FAD6146EF4ED7502B3", "91DDDA0A7C12CFAA", "01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecryptPINBlock(lmkKey(t, tc.keyType, tc.pinKey), thalesFormat(t, tc.format), unhex(t, tc.block), pan)
			if err != nil {
				t.Fatal(err)
			}
			pvk := lmkKey(t, KeyTypePVK, tc.pvk)
			if err := VerifyPVV(pvk, pan, 1, p, "4402"); err != nil {
				t.Errorf("PVV 4402: %v", err)
			}
			if err := VerifyPVV(pvk, pan, 1, p, "4401"); !errors.Is(err, ErrPINMismatch) {
				t.Errorf("PVV 4401 = %v, want ErrPINMismatch", err)
			}
		})
	}
}

// TestHostCACC covers the three CA (TPK to ZPK) and two CC (ZPK to ZPK)
// translation rows.
func TestHostCACC(t *testing.T) {
	const pan = "5500000253210"
	tests := []struct{ name, srcType, src, dst, block, srcFmt, dstFmt, want string }{
		{"CA 03->03", KeyTypeTPK, "0406FBB23A5214DF", "BAB32D775A38E4AB", "DC80B186C30902B0", "03", "03", "F7808F2CBEC63168"},
		{"CA 01->01", KeyTypeTPK, "0406FBB23A5214DF", "BAB32D775A38E4AB", "AE7A708F877571A9", "01", "01", "E98FFDA17099AF55"},
		{"CA U keys 01->01", KeyTypeTPK, "U8463435FC4B4DAA0C49025272C29B12C", "U1EF828AA8F6B80EB83E19FBC373F3A85", "6428EB94035AF53B", "01", "01", "91DDDA0A7C12CFAA"},
		{"CC 03->03", KeyTypeZPK, "BAB32D775A38E4AB", "U1EF828AA8F6B80EB83E19FBC373F3A85", "F7808F2CBEC63168", "03", "03", "82206CCD872229C2"},
		{"CC 03->01", KeyTypeZPK, "BAB32D775A38E4AB", "U1EF828AA8F6B80EB83E19FBC373F3A85", "F7808F2CBEC63168", "03", "01", "91DDDA0A7C12CFAA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TranslatePINBlock(lmkKey(t, tc.srcType, tc.src), thalesFormat(t, tc.srcFmt),
				lmkKey(t, KeyTypeZPK, tc.dst), thalesFormat(t, tc.dstFmt), unhex(t, tc.block), pan, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantHex(t, "translated block", got, tc.want)
		})
	}
	clear, err := EncodePINBlock(Diebold, pin(t, "1234"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "format 03 clear block", clear, "1234FFFFFFFFFFFF")
}

// TestHostG0CI covers G0 and CI: DUKPT (TDES) PIN block to ZPK format 01.
func TestHostG0CI(t *testing.T) {
	bdk := lmkKey(t, KeyTypeBDK, "U8E3D3E2FD5919657F05A1AA90D32A014")
	tests := []struct{ name, zpk, ksn, block, want string }{
		{"G0", "U1EF828AA8F6B80EB83E19FBC373F3A85", "FFFF9876543210E00008", "50E55547A5027551", "AC623CC691B16CBF"},
		{"CI", "U9D961F6AF1D24B38AB37B320022FF57D", "FFFF9876543210E00001", "1B9C1845EB993A7A", "7D26134E85E7DADF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pinKey, err := DUKPTKey(bdk, unhex(t, tc.ksn), DUKPTPIN)
			if err != nil {
				t.Fatal(err)
			}
			got, err := TranslatePINBlock(pinKey, ISO0, lmkKey(t, KeyTypeZPK, tc.zpk), ISO0, unhex(t, tc.block), "4012345678909", nil)
			if err != nil {
				t.Fatal(err)
			}
			wantHex(t, "ZPK block", got, tc.want)
		})
	}
}

// TestHostCK covers CK: DUKPT PIN block verified by IBM 3624 offset with
// the Thales N substitution (natural PIN 2082, offset 9252).
func TestHostCK(t *testing.T) {
	bdk := lmkKey(t, KeyTypeBDK, "U8E3D3E2FD5919657F05A1AA90D32A014")
	pvk := lmkKey(t, KeyTypePVK, "56C1DC7F3A899043")
	wantKey(t, "PVK", pvk, "1C1C1C1C1C1C1C1C")
	pinKey, err := DUKPTKey(bdk, unhex(t, "FFFF9876543210E00001"), DUKPTPIN)
	if err != nil {
		t.Fatal(err)
	}
	p, err := DecryptPINBlock(pinKey, ISO0, unhex(t, "1B9C1845EB993A7A"), "4012345678909")
	if err != nil {
		t.Fatal(err)
	}
	data, err := ThalesValidationData("0004012345N9", "401234567890")
	if err != nil {
		t.Fatal(err)
	}
	m := IBM3624{PVK: pvk, DecimalisationTable: "0123456789012345", ValidationData: data}
	checkNatural(t, m, 4, "2082")
	if err := m.Verify(p, "9252FFFFFFFF"); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := m.Verify(p, "9253FFFFFFFF"); !errors.Is(err, ErrPINMismatch) {
		t.Errorf("Verify wrong offset = %v", err)
	}
}

// TestHostMAC covers MA, MC (and MC's failure with the last byte 68 -> 01)
// and M6 with TAKs from the test LMK.
func TestHostMAC(t *testing.T) {
	data := unhex(t, "676976656D65534F4D454D4143696E67")
	tak := lmkKey(t, KeyTypeTAK, "C6F34693FB39CB6E")
	mac, err := GenerateMAC(tak, MACISO9797Alg1, MACPadding1, data)
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "MA", mac[:4], "170C2BDB")
	if err := VerifyMAC(tak, MACISO9797Alg1, MACPadding1, data, unhex(t, "170C2BDB")); err != nil {
		t.Errorf("MC: %v", err)
	}
	bad := append([]byte(nil), data...)
	bad[len(bad)-1] = 0x01
	if err := VerifyMAC(tak, MACISO9797Alg1, MACPadding1, bad, unhex(t, "170C2BDB")); !errors.Is(err, ErrMACMismatch) {
		t.Errorf("MC changed data = %v", err)
	}
	tak2 := lmkKey(t, KeyTypeTAK, "U19D25F349FD03CC3556BB05F65283CA1")
	mac, err = GenerateMAC(tak2, MACISO9797Alg3, MACPadding2, unhex(t, "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2"))
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "M6", mac[:4], "5F1448EE")
}
