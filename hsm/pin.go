package hsm

import (
	"crypto/subtle"
	"fmt"
	"io"
)

const (
	// pinDigitsMin and pinDigitsMax are the ISO 9564-1 PIN length limits.
	pinDigitsMin = 4
	pinDigitsMax = 12
)

// PIN is a clear PIN of 4 to 12 digits. It never prints its digits: String,
// GoString and Format return a mask. Functions that verify or encrypt take
// a PIN; only ParsePIN, DecodePINBlock and DecryptPINBlock make one.
type PIN struct {
	d [pinDigitsMax]byte // digit values 0-9
	n uint8
}

// ParsePIN parses 4 to 12 ASCII digits.
func ParsePIN(s string) (PIN, error) {
	if len(s) < pinDigitsMin || len(s) > pinDigitsMax {
		return PIN{}, ErrPINLength
	}
	var p PIN
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return PIN{}, ErrPINDigits
		}
		p.d[i] = s[i] - '0'
	}
	p.n = uint8(len(s))
	return p, nil
}

// Len returns the number of digits (0 for the zero PIN).
func (p PIN) Len() int { return int(p.n) }

// Valid reports whether p holds a PIN.
func (p PIN) Valid() bool { return p.n >= pinDigitsMin }

// Equal reports whether two PINs are equal, comparing digits in constant time.
func (p PIN) Equal(o PIN) bool {
	return subtle.ConstantTimeByteEq(p.n, o.n)&subtle.ConstantTimeCompare(p.d[:], o.d[:]) == 1
}

// String returns a mask that does not depend on the digits.
func (p PIN) String() string { return "hsm.PIN{****}" }

// GoString is String.
func (p PIN) GoString() string { return p.String() }

// Format writes String for every verb.
func (p PIN) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }
