package hsm

import (
	"errors"
	"strings"
	"testing"
)

// TestLMKKeys covers every usable row of the §8 table: each cryptogram
// decrypts under the test LMK to the listed clear key and KCV, and
// encrypting the clear key gives the cryptogram back.
func TestLMKKeys(t *testing.T) {
	tests := []struct{ keyType, cryptogram, clear, kcv string }{
		{"000", "U93CB819F8FEE4F78BF9C4CDD84750DB1", "BA134F1680987CA7AB4A2A01B3E3F1BF", "B70AD25C94548822"},
		{"000", "ACE9B8A0BE50C09B", "0B38AE52E32FEA1F", "4BD5E2482582C2C4"},
		{"000", "U71979DEB8587E2734F1E99D5DCAEF9AC", "C497DCBA1A98ABBC45A2523786C28007", ""},
		{"001", "U1EF828AA8F6B80EB83E19FBC373F3A85", "C7152C20BC2C830EA7EC9E8334ABE3FE", "6F1E3F74F826B7EB"},
		{"001", "BAB32D775A38E4AB", "13F10E5D868A529E", "73936E441E46819D"},
		{"001", "U0E07CDC0161A0DE3B5AA44DF227EC9DE", "1C25CDFE23D931075D2602B6D9F26E16", "ABDEBC"},
		{"001", "U34E2FC8EAD7CD07BFA2B7ED5FE4D8212", "13345779133457791334577913345779", "6FB1C8"},
		{"001", "U9D961F6AF1D24B38AB37B320022FF57D", "1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C1C", ""},
		{"002", "0406FBB23A5214DF", "0B681FC20E62C734", "0035BBE340A4B763"},
		{"002", "U8463435FC4B4DAA0C49025272C29B12C", "D3DCC7EA9BCB755D254620B376B3D007", "0707533EE390722E"},
		{"002", "UE9F05D2F2DB8A8579CA3E806B35E336F", "13345779133457791334577913345779", "6FB1C8"},
		{"002", "X367930344805B1FAD6146EF4ED7502B3", "C8199237EA5857BC40EF9DA2B5E96BBF", ""},
		{"002", "367930344805B1FAD6146EF4ED7502B3", "C8199237EA5857BC40EF9DA2B5E96BBF", ""},
		{"002", "141E1DA3D2D7F3F4", "1334577913345779", "6FB1C8"},
		{"003", "C6F34693FB39CB6E", "E9CB01B93B20914F", ""},
		{"003", "U19D25F349FD03CC3556BB05F65283CA1", "7962D9ECE03D1ACD4C76089DCE131543", ""},
		{"009", "U8E3D3E2FD5919657F05A1AA90D32A014", "0123456789ABCDEFFEDCBA9876543210", "08D7B4"},
		{"402", "U479D751977AA598CB481F548226DBF2B", "13345779133457791334577913345779", "6FB1C8"},
		{"402", "56FBB74CDEAD6949", "1334577913345779", "6FB1C8"},
		{"402", "69E636CF27A47EEE", "8664432086644320", "AAB151"},
		{"109", "U0D39A43C864D1B40F33998B80BB02C95", "13345779133457791334577913345779", "6FB1C8"},
		{"709", "UDBD2D13CCA57AAAF3E477E0646EF10C9", "13345779133457791334577913345779", "6FB1C8"},
		{"00B", "UAAD5E90B44EE630E3D76D6CEC1F4AA72", "13345779133457791334577913345779", "6FB1C8"},
	}
	lmk := ThalesTestLMK()
	for _, tc := range tests {
		t.Run(tc.keyType+" "+tc.cryptogram, func(t *testing.T) {
			k, err := lmk.DecryptKey(tc.keyType, tc.cryptogram)
			if err != nil {
				t.Fatal(err)
			}
			wantKey(t, "clear key", k, tc.clear)
			if tc.kcv != "" {
				cv, _ := k.CheckValue(KCVZeroBlock)
				wantHex(t, "KCV", cv[:len(tc.kcv)/2], tc.kcv)
			}
			s := SchemeNone
			if _, isHex := hexNibble(tc.cryptogram[0]); !isHex {
				s = KeyScheme(tc.cryptogram[0])
			}
			got, err := lmk.EncryptKey(tc.keyType, s, k)
			if err != nil || got != tc.cryptogram {
				t.Errorf("EncryptKey = %s, %v; want %s", got, err, tc.cryptogram)
			}
		})
	}
}

// TestLMKTripleLength round-trips a triple-length key under schemes T and Y
// (no §8 vector has one).
func TestLMKTripleLength(t *testing.T) {
	lmk := ThalesTestLMK()
	k, err := ParseTDESKey("0123456789ABCDEFFEDCBA987654321089ABCDEF01234567", ParityOdd)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []KeyScheme{SchemeT, SchemeY} {
		c, err := lmk.EncryptKey(KeyTypeZPK, s, k)
		if err != nil || len(c) != 49 || c[0] != byte(s) {
			t.Fatalf("EncryptKey %c = %q, %v", s, c, err)
		}
		back, err := lmk.DecryptKey(KeyTypeZPK, c)
		if err != nil || !back.Equal(k) {
			t.Errorf("round trip %c: %v", s, err)
		}
	}
	u, _ := lmk.EncryptKey(KeyTypeZPK, SchemeT, k)
	y, _ := lmk.EncryptKey(KeyTypeZPK, SchemeY, k)
	if u[1:] == y[1:] {
		t.Error("scheme T applies no length variant")
	}
}

// TestZMKImport covers the §9 A6 and FA vectors: keys under a ZMK (schemes
// U and X, and single length) import to the listed LMK cryptograms.
func TestZMKImport(t *testing.T) {
	lmk := ThalesTestLMK()
	tests := []struct{ zmk, underZMK, underLMK, kcv string }{
		{"U71979DEB8587E2734F1E99D5DCAEF9AC", "U482C4E722BB0CF1845E1E5BD16310119", "U0E07CDC0161A0DE3B5AA44DF227EC9DE", "ABDEBC"},
		{"U71979DEB8587E2734F1E99D5DCAEF9AC", "XC8E3118AFA853807EB7E92294663A5BA", "U1EF828AA8F6B80EB83E19FBC373F3A85", "6F1E3F"},
		{"U1457FF6ADF6250C66C368416B4C9D383", "2B930A07119F93A8", "BAB32D775A38E4AB", "73936E441E46819D"},
	}
	for _, tc := range tests {
		zmk, err := lmk.DecryptKey(KeyTypeZMK, tc.zmk)
		if err != nil {
			t.Fatal(err)
		}
		zpk, err := DecryptUnderZMK(zmk, tc.underZMK)
		if err != nil {
			t.Fatalf("%s: %v", tc.underZMK, err)
		}
		out, err := lmk.EncryptKey(KeyTypeZPK, KeyScheme(tc.underLMK[0]), zpk)
		if tc.underLMK[0] != 'U' {
			out, err = lmk.EncryptKey(KeyTypeZPK, SchemeNone, zpk)
		}
		if err != nil || out != tc.underLMK {
			t.Errorf("import %s = %s, %v; want %s", tc.underZMK, out, err, tc.underLMK)
		}
		cv, _ := zpk.CheckValue(KCVZeroBlock)
		wantHex(t, "KCV", cv[:len(tc.kcv)/2], tc.kcv)
		back, err := EncryptUnderZMK(zmk, KeyScheme(tc.underZMK[0]), zpk)
		if tc.underZMK[0] == '2' {
			back, err = EncryptUnderZMK(zmk, SchemeNone, zpk)
		}
		if err != nil || back != tc.underZMK {
			t.Errorf("export = %s, %v; want %s", back, err, tc.underZMK)
		}
	}
}

// TestLMKErrors covers key types, schemes, lengths, parity and tampering.
func TestLMKErrors(t *testing.T) {
	lmk := ThalesTestLMK()
	single := tdes(t, "0B681FC20E62C734")
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"type 0FF", de(lmk.DecryptKey("0FF", "0406FBB23A5214DF")), ErrKeyType},
		{"type 00F", de(lmk.DecryptKey("00F", "0406FBB23A5214DF")), ErrKeyType},
		{"type 2 chars", de(lmk.DecryptKey("00", "0406FBB23A5214DF")), ErrKeyType},
		{"type A01", de(lmk.DecryptKey("A01", "0406FBB23A5214DF")), ErrKeyType},
		{"scheme Q", de(lmk.DecryptKey("001", "Q1EF828AA8F6B80EB83E19FBC373F3A85")), ErrKeyScheme},
		{"U with 16 hex", de(lmk.DecryptKey("001", "U1EF828AA8F6B80EB")), ErrKeyScheme},
		{"20 hex", de(lmk.DecryptKey("001", "1EF828AA8F6B80EB83E1")), ErrKeyScheme},
		{"empty", de(lmk.DecryptKey("001", "")), ErrKeyScheme},
		{"non-hex", de(lmk.DecryptKey("001", "U1EF828AA8F6B80EB83E19FBC373F3A8G")), ErrHex},
		{"tampered: wrong parity", de(lmk.DecryptKey("001", "U1EF828AA8F6B80EB83E19FBC373F3A84")), ErrKeyParity},
		{"wrong key type: wrong parity", de(lmk.DecryptKey("000", "U1EF828AA8F6B80EB83E19FBC373F3A85")), ErrKeyParity},
		{"encrypt U single", ee(lmk.EncryptKey("001", SchemeU, single)), ErrKeyScheme},
		{"encrypt AES", ee(lmk.EncryptKey("001", SchemeU, aesKey(t, "00112233445566778899AABBCCDDEEFF"))), ErrKeyAlgorithm},
		{"encrypt even parity", ee(lmk.EncryptKey("001", SchemeU, tdes(t, "0123456789ABCDEEFEDCBA9876543210"))), ErrKeyParity},
		{"ZMK single length", de(DecryptUnderZMK(single, "2B930A07119F93A8")), ErrKeyLength},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	var bad [lmkPairCount][16]byte
	if _, err := NewVariantLMK(bad); !errors.Is(err, ErrLMK) {
		t.Errorf("zero LMK = %v", err)
	}
	if _, err := NewVariantLMK(lmk.pairs); err != nil {
		t.Errorf("test LMK pairs rejected: %v", err)
	}
	if strings.Contains(lmk.String(), "0101") {
		t.Error("LMK printed")
	}
}

// TestSplitKeyCryptogram covers host-field splitting by scheme tag.
func TestSplitKeyCryptogram(t *testing.T) {
	for _, tc := range []struct{ in, key, rest string }{
		{"U8463435FC4B4DAA0C49025272C29B12CX367930344805B1FAD6146EF4ED7502B3", "U8463435FC4B4DAA0C49025272C29B12C", "X367930344805B1FAD6146EF4ED7502B3"},
		{"0406FBB23A5214DF367930344805B1FAD6146EF4ED7502B3", "0406FBB23A5214DF", "367930344805B1FAD6146EF4ED7502B3"},
	} {
		k, r, err := SplitKeyCryptogram(tc.in)
		if err != nil || k != tc.key || r != tc.rest {
			t.Errorf("split %s = %s %s %v", tc.in, k, r, err)
		}
	}
	if _, _, err := SplitKeyCryptogram("U1234"); !errors.Is(err, ErrKeyScheme) {
		t.Errorf("short = %v", err)
	}
}

// de and ee keep only the error of a call.
func de(_ Key, err error) error    { return err }
func ee(_ string, err error) error { return err }
