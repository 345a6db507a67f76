package payshield

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"io"

	"github.com/cardswitch/cardswitch/hsm"
)

// Wire format: every message is a 2-byte big-endian length, then the
// header (HeaderLen ASCII characters, echoed by the HSM), the 2-character
// command or response code and the fields. A reply's code is the
// command's with the second character incremented, followed by a
// 2-character error code.

const (
	// lengthPrefixBytes is the size of the length before every message.
	lengthPrefixBytes = 2
	// frameBytesLimit is the largest length a 2-byte prefix can carry.
	frameBytesLimit = 1<<16 - 1
	// frameBytesDefault bounds a message unless configured: a payShield
	// accepts up to 32 KiB of MAC data, the longest field any command here has.
	frameBytesDefault = 32 << 10
	// headerLenDefault is the payShield factory message header length.
	headerLenDefault = 4
	// headerLenMax keeps a header a decimal counter that fits a uint32.
	headerLenMax = 9
)

// readFrame reads one message into buf (reallocated if too small) and
// returns it. A length over frameMax is ErrFrameTooLarge: the stream cannot
// be trusted after that, so callers close the connection.
func readFrame(r *bufio.Reader, buf []byte, frameMax int) ([]byte, error) {
	var lp [lengthPrefixBytes]byte
	if _, err := io.ReadFull(r, lp[:]); err != nil {
		return buf, err
	}
	n := int(binary.BigEndian.Uint16(lp[:]))
	if n > frameMax {
		return buf, ErrFrameTooLarge
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// putLength writes the length prefix of msg (which starts with its 2
// reserved bytes); false if the message is too long for the prefix.
func putLength(msg []byte, frameMax int) bool {
	n := len(msg) - lengthPrefixBytes
	if n > frameMax || n > frameBytesLimit {
		return false
	}
	binary.BigEndian.PutUint16(msg, uint16(n))
	return true
}

// responseCode returns the reply code for a command: the second character
// incremented (NC -> ND, CA -> CB, M6 -> M7).
func responseCode(cmd []byte) [2]byte { return [2]byte{cmd[0], cmd[1] + 1} }

// fieldReader consumes fixed-layout fields. It never panics: a short or
// malformed field sets bad, and every later read returns zero values.
type fieldReader struct {
	b   []byte
	bad bool
}

// take returns the next n bytes.
func (r *fieldReader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// str returns the next n bytes as a string.
func (r *fieldReader) str(n int) string { return string(r.take(n)) }

// num parses the next n decimal digits.
func (r *fieldReader) num(n int) int {
	v := 0
	for _, c := range r.take(n) {
		if c < '0' || c > '9' {
			r.bad = true
			return 0
		}
		v = v*10 + int(c-'0')
	}
	return v
}

// digits returns the next n characters, which must be decimal digits.
func (r *fieldReader) digits(n int) string {
	b := r.take(n)
	for _, c := range b {
		if c < '0' || c > '9' {
			r.bad = true
			return ""
		}
	}
	return string(b)
}

// hexBytes decodes the next n hex characters.
func (r *fieldReader) hexBytes(n int) []byte {
	b := r.take(n)
	if r.bad || n%2 != 0 {
		r.bad = true
		return nil
	}
	out := make([]byte, n/2)
	if _, err := hex.Decode(out, b); err != nil {
		r.bad = true
		return nil
	}
	return out
}

// key returns a key cryptogram: scheme tag Z (16H), U/X (32H) or T/Y
// (48H), or untagged hex of the length the command layout gives.
func (r *fieldReader) key(untagged int) string {
	if r.bad || len(r.b) == 0 {
		r.bad = true
		return ""
	}
	n := untagged
	switch hsm.KeyScheme(r.b[0]) {
	case hsm.SchemeZ:
		n = 17
	case hsm.SchemeU, hsm.SchemeX:
		n = 33
	case hsm.SchemeT, hsm.SchemeY:
		n = 49
	}
	return r.str(n)
}

// optional consumes the delimiter c if it is next.
func (r *fieldReader) optional(c byte) bool {
	if !r.bad && len(r.b) > 0 && r.b[0] == c {
		r.b = r.b[1:]
		return true
	}
	return false
}

// err returns ErrInvalidInput (code 15) if any field was bad.
func (r *fieldReader) err() error {
	if r.bad {
		return codedError{"15", ErrInvalidInput}
	}
	return nil
}

// appendHexUpper appends b as uppercase hex.
func appendHexUpper(dst, b []byte) []byte {
	const digits = "0123456789ABCDEF"
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&0x0F])
	}
	return dst
}

// appendNum appends v as exactly n decimal digits (v must fit).
func appendNum(dst []byte, v, n int) []byte {
	start := len(dst)
	for i := 0; i < n; i++ {
		dst = append(dst, '0')
	}
	for i := len(dst) - 1; i >= start && v > 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
	return dst
}

// Thales PIN block format codes.
var formatCodes = [...]struct {
	f    hsm.PINBlockFormat
	code string
}{
	{hsm.ISO0, "01"}, {hsm.Diebold, "03"}, {hsm.PLUS, "04"}, {hsm.ISO1, "05"},
	{hsm.ISO2, "34"}, {hsm.ISO3, "47"},
}

// formatCode returns the 2-digit code of an 8-byte PIN block format.
func formatCode(f hsm.PINBlockFormat) (string, error) {
	for _, e := range formatCodes {
		if e.f == f {
			return e.code, nil
		}
	}
	return "", hsm.ErrPINBlockFormat
}

// usesPAN reports whether a format mixes the account number in.
func usesPAN(f hsm.PINBlockFormat) bool {
	return f == hsm.ISO0 || f == hsm.ISO3 || f == hsm.PLUS
}

// accountField returns the 12-digit account number field for pan: the 12
// rightmost digits excluding the check digit (PLUS: the 12 leftmost). A
// format without a PAN gets zeros when pan is not a full PAN.
func accountField(pan string, f hsm.PINBlockFormat) (string, error) {
	if len(pan) >= 13 && len(pan) <= 19 && isDigits(pan) {
		if f == hsm.PLUS {
			return pan[:12], nil
		}
		return pan[len(pan)-13 : len(pan)-1], nil
	}
	if usesPAN(f) {
		return "", hsm.ErrPAN
	}
	return "000000000000", nil
}

// panFromAccount rebuilds a PAN the hsm functions accept from a 12-digit
// account field: the field then any check digit, which they ignore.
func panFromAccount(account string) string { return account + "0" }

// isDigits reports whether s is non-empty and all decimal digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// keyLengthFlag returns the BU key length flag of a cryptogram (0 single,
// 1 double, 2 triple) or -1.
func keyLengthFlag(c string) int {
	if c == "" {
		return -1
	}
	switch hsm.KeyScheme(c[0]) {
	case hsm.SchemeZ:
		return 0
	case hsm.SchemeU, hsm.SchemeX:
		return 1
	case hsm.SchemeT, hsm.SchemeY:
		return 2
	}
	switch len(c) {
	case 16:
		return 0
	case 32:
		return 1
	case 48:
		return 2
	}
	return -1
}
