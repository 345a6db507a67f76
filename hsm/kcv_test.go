package hsm

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestKCV covers HSM_VECTORS.md §6 (TDES, AES CMAC and legacy AES-ECB
// methods) and the 8-byte check values of the ThalesSim BU test (§8).
func TestKCV(t *testing.T) {
	tests := []struct {
		name   string
		key    Key
		method KCVMethod
		want   string
	}{
		{"TDES zero block", tdes(t, "0123456789ABCDEFFEDCBA9876543210"), KCVZeroBlock, "08D7B4FB629D0885"},
		{"TDES default", tdes(t, "0123456789ABCDEFFEDCBA9876543210"), KCVDefault, "08D7B4"},
		{"AES CMAC", aesKey(t, "00112233445566778899AABBCCDDEEFF"), KCVCMAC, "53E107"},
		{"AES default is CMAC", aesKey(t, "00112233445566778899AABBCCDDEEFF"), KCVDefault, "53E107"},
		{"AES legacy ECB", aesKey(t, "00112233445566778899AABBCCDDEEFF"), KCVZeroBlock, "FDE4FB"},
		{"BU ZMK", tdes(t, "BA134F1680987CA7AB4A2A01B3E3F1BF"), KCVZeroBlock, "B70AD25C94548822"},
		{"BU ZMK single", tdes(t, "0B38AE52E32FEA1F"), KCVZeroBlock, "4BD5E2482582C2C4"},
		{"BU ZPK", tdes(t, "C7152C20BC2C830EA7EC9E8334ABE3FE"), KCVZeroBlock, "6F1E3F74F826B7EB"},
		{"BU TPK single", tdes(t, "0B681FC20E62C734"), KCVZeroBlock, "0035BBE340A4B763"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.key.CheckValue(tc.method)
			if err != nil {
				t.Fatal(err)
			}
			want := unhex(t, tc.want)
			wantHex(t, "KCV", got[:len(want)], tc.want)
			if tc.method == KCVDefault && tc.key.KCV() != tc.want {
				t.Errorf("KCV() = %s, want %s", tc.key.KCV(), tc.want)
			}
		})
	}
	if _, err := (Key{}).CheckValue(KCVZeroBlock); !errors.Is(err, ErrKeyInvalid) {
		t.Errorf("zero key CheckValue = %v", err)
	}
}

// TestKeyRedacted checks that no formatting verb prints key bytes.
func TestKeyRedacted(t *testing.T) {
	k := tdes(t, "0123456789ABCDEFFEDCBA9876543210")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		s := fmt.Sprintf(verb, k)
		if strings.Contains(strings.ToUpper(s), "0123456789") || strings.Contains(s, "[") {
			t.Errorf("%s printed %q", verb, s)
		}
		if !strings.Contains(s, "08D7B4") {
			t.Errorf("%s = %q, want the KCV", verb, s)
		}
	}
	s := fmt.Sprintf("%v", struct{ K Key }{k})
	if strings.Contains(strings.ToUpper(s), "0123456789") {
		t.Errorf("nested key printed %q", s)
	}
	p := pin(t, "1234")
	if s := fmt.Sprintf("%v %#v %x %d", p, p, p, p); strings.Contains(s, "1234") || strings.Contains(s, "1 2") {
		t.Errorf("PIN printed %q", s)
	}
}

// TestKeyConstruction covers key lengths and DES odd parity.
func TestKeyConstruction(t *testing.T) {
	tests := []struct {
		name   string
		hex    string
		aes    bool
		parity Parity
		want   error
	}{
		{"DES odd parity", "0123456789ABCDEF", false, ParityOdd, nil},
		{"TDES double odd parity", "0123456789ABCDEFFEDCBA9876543210", false, ParityOdd, nil},
		{"TDES triple", "0123456789ABCDEFFEDCBA987654321089ABCDEF01234567", false, ParityOdd, nil},
		{"wrong parity", "0123456789ABCDEEFEDCBA9876543210", false, ParityOdd, ErrKeyParity},
		{"wrong parity ignored", "0123456789ABCDEEFEDCBA9876543210", false, ParityIgnore, nil},
		{"TDES 12 bytes", "0123456789ABCDEF01234567", false, ParityIgnore, ErrKeyLength},
		{"TDES 32 bytes", "0123456789ABCDEFFEDCBA98765432100123456789ABCDEFFEDCBA9876543210", false, ParityIgnore, ErrHex},
		{"TDES empty", "", false, ParityIgnore, ErrKeyLength},
		{"bad hex", "0123456789ABCDEG", false, ParityIgnore, ErrHex},
		{"odd hex", "0123456789ABCDE", false, ParityIgnore, ErrHex},
		{"AES-128", "00112233445566778899AABBCCDDEEFF", true, 0, nil},
		{"AES-192", "00112233445566778899AABBCCDDEEFF0011223344556677", true, 0, nil},
		{"AES-256", "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6", true, 0, nil},
		{"AES 8 bytes", "0011223344556677", true, 0, ErrKeyLength},
		{"AES 20 bytes", "00112233445566778899AABBCCDDEEFF00112233", true, 0, ErrKeyLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.aes {
				_, err = ParseAESKey(tc.hex)
			} else {
				_, err = ParseTDESKey(tc.hex, tc.parity)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestFixParity adjusts a key and checks the result against the standard
// odd-parity key of the vectors.
func TestFixParity(t *testing.T) {
	b := unhex(t, "0022446688AACCEEFEDCBA9876543210")
	FixParity(b)
	wantHex(t, "fixed", b, "0123456789ABCDEFFEDCBA9876543210")
	if !HasOddParity(b) {
		t.Error("HasOddParity after FixParity = false")
	}
}
