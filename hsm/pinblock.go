package hsm

import (
	"crypto/rand"
	"io"
)

// PINBlockFormat is a PIN block layout.
type PINBlockFormat uint8

const (
	// ISO0 is ISO 9564-1 format 0 (ANSI X9.8, Thales "01"): PIN field XOR
	// PAN field (12 rightmost PAN digits excluding the check digit), F fill.
	ISO0 PINBlockFormat = iota + 1
	// ISO1 is ISO 9564-1 format 1 (Thales "05"): no PAN, random fill.
	ISO1
	// ISO2 is ISO 9564-1 format 2 (Thales "34"): no PAN, F fill; for ICCs.
	ISO2
	// ISO3 is ISO 9564-1 format 3 (Thales "47"): as format 0 with random
	// fill nibbles A-F.
	ISO3
	// ISO4 is ISO 9564-1 format 4 (Thales "48"): 16-byte AES block,
	// C = AES_K(AES_K(PIN field) XOR PAN field).
	ISO4
	// Diebold is Thales "03", the Diebold and IBM ATM format: the PIN
	// digits then F fill, no control or length nibble, no PAN.
	Diebold
	// PLUS is Thales "04", the PLUS network format: as format 0 but the PAN
	// field holds the 12 leftmost PAN digits.
	PLUS
)

// thalesFormats maps Thales PIN block format codes to formats.
var thalesFormats = [...]struct {
	code string
	f    PINBlockFormat
}{
	{"01", ISO0}, {"03", Diebold}, {"04", PLUS}, {"05", ISO1},
	{"34", ISO2}, {"47", ISO3}, {"48", ISO4},
}

// ThalesPINBlockFormat returns the format of a payShield format code.
func ThalesPINBlockFormat(code string) (PINBlockFormat, error) {
	for _, e := range thalesFormats {
		if e.code == code {
			return e.f, nil
		}
	}
	return 0, ErrPINBlockFormat
}

// String returns the format's name.
func (f PINBlockFormat) String() string {
	names := [...]string{"invalid", "ISO-0", "ISO-1", "ISO-2", "ISO-3", "ISO-4", "Diebold", "PLUS"}
	if int(f) < len(names) {
		return names[f]
	}
	return "invalid"
}

// BlockLen returns 16 for ISO4, 8 for the other formats, 0 if unknown.
func (f PINBlockFormat) BlockLen() int {
	switch {
	case f == ISO4:
		return 16
	case f >= ISO0 && f <= PLUS:
		return 8
	}
	return 0
}

// panDigitsMax is the longest PAN (ISO/IEC 7812).
const panDigitsMax = 19

// nibbles holds a PIN or PAN field as one value 0-15 per element.
type nibbles [32]byte

// pack writes the first 2*len(dst) nibbles into dst as bytes.
func (n *nibbles) pack(dst []byte) {
	for i := range dst {
		dst[i] = n[2*i]<<4 | n[2*i+1]
	}
}

// unpack spreads src into nibbles.
func (n *nibbles) unpack(src []byte) {
	for i, c := range src {
		n[2*i], n[2*i+1] = c>>4, c&0x0F
	}
}

// panField writes the 8-byte PAN field of formats 0, 3 and PLUS.
func panField(f PINBlockFormat, pan string, dst *[8]byte) error {
	if len(pan) < 13 || len(pan) > panDigitsMax || !isDigits(pan) {
		return ErrPAN
	}
	digits := pan[len(pan)-13 : len(pan)-1] // 12 rightmost, no check digit
	if f == PLUS {
		digits = pan[:12]
	}
	var n nibbles
	for i := 0; i < 12; i++ {
		n[4+i] = digits[i] - '0'
	}
	n.pack(dst[:])
	return nil
}

// iso4PANField writes the 16-byte PAN field of format 4: PAN length - 12
// (0 below 12 digits), the PAN (left-padded with zeros to 12 digits), zeros.
func iso4PANField(pan string, dst *[16]byte) error {
	if len(pan) < 1 || len(pan) > panDigitsMax || !isDigits(pan) {
		return ErrPAN
	}
	var n nibbles
	pad := 0
	if len(pan) > 12 {
		n[0] = byte(len(pan) - 12)
	} else {
		pad = 12 - len(pan)
	}
	for i := 0; i < len(pan); i++ {
		n[1+pad+i] = pan[i] - '0'
	}
	n.pack(dst[:])
	return nil
}

// randomSource returns r, or crypto/rand's reader when r is nil.
func randomSource(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// randomNibbles fills dst with random nibbles in [lo, 15] by rejection
// sampling (no modulo bias). A-F fill needs 6/16 acceptance, so it draws at
// most randomDrawsMax batches: with a real source failure is negligible
// (under 2^-100), and a broken source cannot loop forever.
func randomNibbles(r io.Reader, dst []byte, lo byte) error {
	const randomDrawsMax = 8
	var buf [16]byte
	filled := 0
	for draw := 0; draw < randomDrawsMax && filled < len(dst); draw++ {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return ErrRandom
		}
		for _, c := range buf {
			for _, v := range [2]byte{c >> 4, c & 0x0F} {
				if v >= lo && filled < len(dst) {
					dst[filled] = v
					filled++
				}
			}
		}
	}
	if filled < len(dst) {
		return ErrRandom
	}
	return nil
}
