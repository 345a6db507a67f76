package hsm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"fmt"
	"io"
	"math/bits"
)

// Algorithm is the block cipher a Key belongs to.
type Algorithm uint8

const (
	// AlgorithmTDES is single DES (8-byte keys) or Triple DES (16 or 24 bytes).
	AlgorithmTDES Algorithm = iota + 1
	// AlgorithmAES is AES with 16, 24 or 32 byte keys.
	AlgorithmAES
)

// String returns "TDES" or "AES".
func (a Algorithm) String() string {
	switch a {
	case AlgorithmTDES:
		return "TDES"
	case AlgorithmAES:
		return "AES"
	}
	return "invalid"
}

// Parity says whether NewTDESKey must check DES odd parity.
type Parity uint8

const (
	// ParityIgnore accepts any parity. Derived keys (DUKPT, TR-31 payloads,
	// AES-DUKPT TDES working keys) are not parity-adjusted by their standards.
	ParityIgnore Parity = iota
	// ParityOdd requires every byte to have an odd number of one bits, as a
	// Thales HSM requires of keys under the LMK.
	ParityOdd
)

// keyBytesMax is the longest key the package holds: AES-256.
const keyBytesMax = 32

// Key is a clear DES, TDES or AES key. The zero value is not a key: every
// function given one returns ErrKeyInvalid. A Key never prints its bytes:
// String, GoString and Format show the algorithm, length and check value.
// A Key is immutable and safe for concurrent use.
type Key struct {
	alg   Algorithm
	n     uint8
	b     [keyBytesMax]byte
	block cipher.Block // the whole key: DES, TDES (K1K2K1 for 16 bytes) or AES
	left  cipher.Block // DES under K1, for 16 and 24 byte TDES keys (X9.19)
}

// NewTDESKey returns a DES (8 bytes) or TDES (16 or 24 bytes) key. With
// ParityOdd it rejects a key whose bytes lack odd parity (ErrKeyParity).
func NewTDESKey(b []byte, p Parity) (Key, error) {
	if len(b) != 8 && len(b) != 16 && len(b) != 24 {
		return Key{}, ErrKeyLength
	}
	if p == ParityOdd && !HasOddParity(b) {
		return Key{}, ErrKeyParity
	}
	k := Key{alg: AlgorithmTDES, n: uint8(len(b))}
	copy(k.b[:], b)
	var err error
	switch len(b) {
	case 8:
		k.block, err = des.NewCipher(b)
	case 16:
		var k3 [24]byte
		copy(k3[:16], b)
		copy(k3[16:], b[:8])
		k.block, err = des.NewTripleDESCipher(k3[:])
	default:
		k.block, err = des.NewTripleDESCipher(b)
	}
	if err != nil {
		return Key{}, ErrKeyLength
	}
	if len(b) > 8 {
		if k.left, err = des.NewCipher(b[:8]); err != nil {
			return Key{}, ErrKeyLength
		}
	}
	return k, nil
}

// NewAESKey returns an AES-128, AES-192 or AES-256 key.
func NewAESKey(b []byte) (Key, error) {
	if len(b) != 16 && len(b) != 24 && len(b) != 32 {
		return Key{}, ErrKeyLength
	}
	k := Key{alg: AlgorithmAES, n: uint8(len(b))}
	copy(k.b[:], b)
	block, err := aes.NewCipher(b)
	if err != nil {
		return Key{}, ErrKeyLength
	}
	k.block = block
	return k, nil
}

// ParseTDESKey parses a DES or TDES key from 16, 32 or 48 hex characters.
func ParseTDESKey(s string, p Parity) (Key, error) {
	var buf [24]byte
	b, err := decodeHexInto(buf[:], s)
	if err != nil {
		return Key{}, err
	}
	return NewTDESKey(b, p)
}

// ParseAESKey parses an AES key from 32, 48 or 64 hex characters.
func ParseAESKey(s string) (Key, error) {
	var buf [keyBytesMax]byte
	b, err := decodeHexInto(buf[:], s)
	if err != nil {
		return Key{}, err
	}
	return NewAESKey(b)
}

// HasOddParity reports whether every byte of b has an odd number of one bits.
func HasOddParity(b []byte) bool {
	for _, c := range b {
		if bits.OnesCount8(c)%2 == 0 {
			return false
		}
	}
	return true
}

// FixParity sets the low bit of every byte of b so that it has odd parity.
func FixParity(b []byte) {
	for i, c := range b {
		if bits.OnesCount8(c&0xFE)%2 == 0 {
			b[i] = c | 1
		} else {
			b[i] = c &^ 1
		}
	}
}

// Algorithm returns the key's algorithm (zero for the zero Key).
func (k Key) Algorithm() Algorithm { return k.alg }

// Len returns the key length in bytes.
func (k Key) Len() int { return int(k.n) }

// Valid reports whether k was built by a constructor.
func (k Key) Valid() bool { return k.block != nil }

// Equal reports whether two keys have the same algorithm and bytes,
// comparing the bytes in constant time.
func (k Key) Equal(o Key) bool {
	if k.alg != o.alg || k.n != o.n {
		return false
	}
	return subtle.ConstantTimeCompare(k.b[:k.n], o.b[:o.n]) == 1
}

// String returns a redacted description: algorithm, bits and KCV.
func (k Key) String() string {
	if !k.Valid() {
		return "hsm.Key{invalid}"
	}
	var kcv [16]byte
	n := k.checkValue(KCVDefault, &kcv)
	var h [6]byte
	encodeUpperHex(h[:], kcv[:min(n, 3)])
	return fmt.Sprintf("hsm.Key{%s-%d KCV %s}", k.alg, int(k.n)*8, h[:])
}

// GoString is String, so %#v does not show the bytes either.
func (k Key) GoString() string { return k.String() }

// Format writes String for every verb, so no fmt verb reveals the bytes.
func (k Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// bytes returns the clear key bytes; for use inside the package only.
func (k Key) bytes() []byte { return k.b[:k.n] }

// requireAlg returns ErrKeyInvalid or ErrKeyAlgorithm unless k is a valid key of algorithm a.
func (k Key) requireAlg(a Algorithm) error {
	if !k.Valid() {
		return ErrKeyInvalid
	}
	if k.alg != a {
		return ErrKeyAlgorithm
	}
	return nil
}

// RevealKey returns a copy of a key's clear bytes. It exists for operator
// tools that must print a clear key (cardswitch hsm dukpt); the switch's
// transaction path never calls it.
func RevealKey(k Key) []byte { return append([]byte(nil), k.bytes()...) }
