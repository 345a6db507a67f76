package hsm

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestClearPINBlocks covers every clear-block row of HSM_VECTORS.md §1
// (formats 0, 1, 2, 3, Thales 01/03/04) and the §9 clear blocks.
func TestClearPINBlocks(t *testing.T) {
	ff := constReader{[]byte{0xFF}}
	aa := constReader{[]byte{0xAA}}
	tests := []struct {
		name string
		f    PINBlockFormat
		pin  string
		pan  string
		rnd  io.Reader
		want string
	}{
		{"moov ISO0", ISO0, "1234", "5432101234567891", nil, "041215FEDCBA9876"},
		{"CyberChef ISO0 check digit ignored", ISO0, "1234", "5432101234567890", nil, "041215FEDCBA9876"},
		{"X9.24-1 DUKPT ISO0", ISO0, "1234", "4012345678909", nil, "041274EDCBA9876F"},
		{"psec ISO0", ISO0, "1234", "5555555551234567", nil, "041261AAAAEDCBA9"},
		{"psec ISO0 12 digits", ISO0, "123456789012", "5555555551234567", nil, "0C1261032D8226A9"},
		{"CyberChef ISO0 6 digits", ISO0, "123456", "5432101234567890", nil, "06121557DCBA9876"},
		{"Thales 01", ISO0, "92389", "4000001234562", nil, "0592789FFFEDCBA9"},
		{"Thales 04 PLUS", PLUS, "92389", "2283400000123456", nil, "05921A1CBFFFFFED"},
		{"ISO1 fill F", ISO1, "1234", "", ff, "141234FFFFFFFFFF"},
		{"psec ISO2", ISO2, "1234", "", nil, "241234FFFFFFFFFF"},
		{"CyberChef ISO3 deterministic", ISO3, "1234", "5432101234567890", aa, "341215AB89EFCD23"},
		{"Thales 03 Diebold", Diebold, "1234", "", nil, "1234FFFFFFFFFFFF"},
		{"§9 clear format 01", ISO0, "1234", "5500000253210", nil, "041261FFFFFDACDE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodePINBlock(tc.f, pin(t, tc.pin), tc.pan, tc.rnd)
			if err != nil {
				t.Fatal(err)
			}
			wantHex(t, "block", got, tc.want)
			p, err := DecodePINBlock(tc.f, unhex(t, tc.want), tc.pan)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !p.Equal(pin(t, tc.pin)) {
				t.Error("decoded PIN differs")
			}
		})
	}
}

// TestISO3RandomFill covers the psec ISO3 row: random A-F fill, block
// starting 341261; and ISO1 random fill decoding back.
func TestISO3RandomFill(t *testing.T) {
	for i := 0; i < 50; i++ {
		b, err := EncodePINBlock(ISO3, pin(t, "1234"), "5555555551234567", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b[:3], unhex(t, "341261")) {
			t.Fatalf("block %X does not start with 341261", b)
		}
		p, err := DecodePINBlock(ISO3, b, "5555555551234567")
		if err != nil || !p.Equal(pin(t, "1234")) {
			t.Fatalf("decode %X: %v", b, err)
		}
	}
	b, err := EncodePINBlock(ISO1, pin(t, "1234"), "", nil)
	if err != nil || !bytes.Equal(b[:3], unhex(t, "141234")) {
		t.Fatalf("ISO1 %X: %v", b, err)
	}
}

// TestISO4 covers the §1 format 4 vectors: ep2, X9.24-3 supplement (PIN
// field, PAN field, enciphered block), psec's FF case and short PAN.
func TestISO4(t *testing.T) {
	x := constReader{unhex(t, "2F69ADDE2E9E7ACE")}
	field, err := EncodePINBlock(ISO4, pin(t, "1234"), "4111111111111111", x)
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "PIN field", field, "441234AAAAAAAAAA2F69ADDE2E9E7ACE")
	var pf [16]byte
	if err := iso4PANField("4111111111111111", &pf); err != nil {
		t.Fatal(err)
	}
	wantHex(t, "PAN field", pf[:], "44111111111111111000000000000000")

	tests := []struct {
		name, key, pin, pan string
		rnd                 io.Reader
		block               string
	}{
		{"X9.24-3 supplement", "AF8CB133A78F8DC2D1359F18527593FB", "1234", "4111111111111111", x, "A912150391AB65A67E52883D81CE2D15"},
		{"psec random FF", "00112233445566778899AABBCCDDEEFF", "1234", "1234567890123456789", constReader{[]byte{0xFF}}, "28B41FDDD29B743E93124BD8E32D921E"},
		{"ep2 §8.4 decrypt only", "C1D0F8FB4958670DBA40AB1F3752EF0D", "1234", "432198765432109870", nil, "CC17F65586BFD0953010226C4FC5B3CA"},
		{"psec short PAN decrypt only", "00112233445566778899AABBCCDDEEFF", "123456", "1", nil, "39B69B1B91FE05D48F7EF0D68EB2CBD6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := aesKey(t, tc.key)
			if tc.rnd != nil {
				got, err := EncryptPINBlock(k, ISO4, pin(t, tc.pin), tc.pan, tc.rnd)
				if err != nil {
					t.Fatal(err)
				}
				wantHex(t, "block", got, tc.block)
			}
			p, err := DecryptPINBlock(k, ISO4, unhex(t, tc.block), tc.pan)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Equal(pin(t, tc.pin)) {
				t.Error("PIN differs")
			}
		})
	}
}

// TestPINBlockErrors: wrong format nibble, PIN length, digits, fill,
// block length, key algorithm, PAN, format and random source.
func TestPINBlockErrors(t *testing.T) {
	tdesKey := tdes(t, "0123456789ABCDEFFEDCBA9876543210")
	aes := aesKey(t, "00112233445566778899AABBCCDDEEFF")
	const pan = "5432101234567890"
	tests := []struct {
		name  string
		f     PINBlockFormat
		block string
		want  error
	}{
		{"ISO0 format nibble 1", ISO0, "141215FEDCBA9876", ErrPINBlockFormat},
		{"ISO0 length 3", ISO0, "031215FEDCBA9876", ErrPINLength},
		{"ISO0 length 13", ISO0, "0D1215FEDCBA9876", ErrPINLength},
		{"ISO0 non-digit", ISO0, "04121AFEDCBA9876", ErrPINDigits},
		{"ISO0 bad fill", ISO0, "041215FEDCBA9870", ErrPINBlockFill},
		{"ISO0 short block", ISO0, "041215FEDCBA98", ErrPINBlockLength},
		{"ISO0 long block", ISO0, "041215FEDCBA987600", ErrPINBlockLength},
		{"ISO2 fill not F", ISO2, "241234FFFFFFFFF0", ErrPINBlockFill},
		{"ISO3 fill below A", ISO3, "341215AB89EFCD29", ErrPINBlockFill},
		{"ISO1 as ISO2", ISO2, "141234FFFFFFFFFF", ErrPINBlockFormat},
		{"Diebold 3 digits", Diebold, "123FFFFFFFFFFFFF", ErrPINLength},
		{"Diebold bad fill", Diebold, "1234FFFFFFFFFFF0", ErrPINBlockFill},
		{"ISO4 nibble 3", ISO4, "341234AAAAAAAAAA2F69ADDE2E9E7ACE", ErrPINBlockFormat},
		{"ISO4 fill F", ISO4, "441234AAAAAAAAAF2F69ADDE2E9E7ACE", ErrPINBlockFill},
		{"ISO4 8 bytes", ISO4, "441234AAAAAAAAAA", ErrPINBlockLength},
		{"unknown format", PINBlockFormat(0), "041215FEDCBA9876", ErrPINBlockFormat},
		{"format 99", PINBlockFormat(99), "041215FEDCBA9876", ErrPINBlockFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodePINBlock(tc.f, unhex(t, tc.block), pan); !errors.Is(err, tc.want) {
				t.Errorf("DecodePINBlock = %v, want %v", err, tc.want)
			}
		})
	}
	p := pin(t, "1234")
	calls := []struct {
		name string
		err  error
		want error
	}{
		{"ParsePIN 3 digits", func() error { _, err := ParsePIN("123"); return err }(), ErrPINLength},
		{"ParsePIN 13 digits", func() error { _, err := ParsePIN("1234567890123"); return err }(), ErrPINLength},
		{"ParsePIN letter", func() error { _, err := ParsePIN("12a4"); return err }(), ErrPINDigits},
		{"zero PIN", func() error { _, err := EncodePINBlock(ISO0, PIN{}, pan, nil); return err }(), ErrPINLength},
		{"PAN 12 digits", func() error { _, err := EncodePINBlock(ISO0, p, "543210123456", nil); return err }(), ErrPAN},
		{"PAN letter", func() error { _, err := EncodePINBlock(ISO0, p, "54321012345678X0", nil); return err }(), ErrPAN},
		{"PAN 20 digits", func() error { _, err := EncryptPINBlock(aes, ISO4, p, "12345678901234567890", nil); return err }(), ErrPAN},
		{"ISO0 with AES key", func() error { _, err := EncryptPINBlock(aes, ISO0, p, pan, nil); return err }(), ErrKeyAlgorithm},
		{"ISO4 with TDES key", func() error { _, err := EncryptPINBlock(tdesKey, ISO4, p, pan, nil); return err }(), ErrKeyAlgorithm},
		{"zero key", func() error { _, err := DecryptPINBlock(Key{}, ISO0, make([]byte, 8), pan); return err }(), ErrKeyInvalid},
		{"random fails", func() error { _, err := EncodePINBlock(ISO3, p, pan, bytes.NewReader(nil)); return err }(), ErrRandom},
		{"random never A-F", func() error { _, err := EncodePINBlock(ISO3, p, pan, constReader{[]byte{0x11}}); return err }(), ErrRandom},
		{"Thales code 99", func() error { _, err := ThalesPINBlockFormat("99"); return err }(), ErrPINBlockFormat},
	}
	for _, c := range calls {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.err, c.want)
		}
	}
}

// TestTranslatePINBlock re-encrypts the X9.24-1 clear block between two
// keys and formats and checks the PIN survives.
func TestTranslatePINBlock(t *testing.T) {
	src := tdes(t, "042666B49184CF5C68DE9628D0397B36") // §2 PIN key for E00001
	dst := tdes(t, "C7152C20BC2C830EA7EC9E8334ABE3FE")
	out, err := TranslatePINBlock(src, ISO0, dst, ISO3, unhex(t, "1B9C1845EB993A7A"), "4012345678909", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := DecryptPINBlock(dst, ISO3, out, "4012345678909")
	if err != nil || !p.Equal(pin(t, "1234")) {
		t.Fatalf("translated block: %v", err)
	}
}
