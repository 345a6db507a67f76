package hsm

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes a hex vector or fails the test.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// tdes parses a TDES vector key without a parity check.
func tdes(t testing.TB, s string) Key {
	t.Helper()
	k, err := ParseTDESKey(s, ParityIgnore)
	if err != nil {
		t.Fatalf("key %s: %v", s, err)
	}
	return k
}

// aesKey parses an AES vector key.
func aesKey(t testing.TB, s string) Key {
	t.Helper()
	k, err := ParseAESKey(s)
	if err != nil {
		t.Fatalf("key %s: %v", s, err)
	}
	return k
}

// pin parses a vector PIN.
func pin(t testing.TB, s string) PIN {
	t.Helper()
	p, err := ParsePIN(s)
	if err != nil {
		t.Fatalf("PIN: %v", err)
	}
	return p
}

// wantHex fails unless got equals the hex vector want.
func wantHex(t testing.TB, what string, got []byte, want string) {
	t.Helper()
	if !bytes.Equal(got, unhex(t, want)) {
		t.Errorf("%s = %X, want %s", what, got, strings.ToUpper(want))
	}
}

// wantKey fails unless got holds the clear key want (hex).
func wantKey(t testing.TB, what string, got Key, want string) {
	t.Helper()
	if !bytes.Equal(got.bytes(), unhex(t, want)) {
		t.Errorf("%s = %X, want %s", what, got.bytes(), want)
	}
}

// constReader is a deterministic "random" source repeating one pattern.
type constReader struct{ pattern []byte }

func (r constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.pattern[i%len(r.pattern)]
	}
	return len(p), nil
}
