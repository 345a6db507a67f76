package upstream

import "time"

// The numbers the switch gives the outbound leg itself, so that the
// destination sees one acquirer (the switch) with one STAN sequence,
// whatever the originators' STANs, and two terminals' requests with the
// same STAN never meet in the destination's table.

// stanSpace: a STAN is 6 digits, 000001 to 999999 (0 is not used: some
// hosts read 000000 as absent).
const stanSpace = 999_999

// STAN is the outbound STAN of counter n (1, 2, ...; the caller keeps the
// counter, journaled as the engine keeps its RRN counter): 1 to 999999,
// then 1 again. At 100,000 requests a second the sequence wraps in 10 s;
// the default match key holds the transmission time (field 7, to the
// second) beside it, so two requests in flight share a key only if one
// destination gets more than 999,999 in one second.
func STAN(n uint64) uint32 {
	if n == 0 {
		n = stanSpace
	}
	return uint32((n-1)%stanSpace) + 1
}

// AppendSTAN appends stan as 6 digits.
func AppendSTAN(dst []byte, stan uint32) []byte {
	return appendDigits(dst, uint64(stan), 6)
}

// AppendTransmission appends field 7, the transmission date and time in
// UTC as MMDDhhmmss (ISO 8583:1987 gives it in GMT).
func AppendTransmission(dst []byte, t time.Time) []byte {
	t = t.UTC()
	_, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = appendDigits(dst, uint64(mo), 2)
	dst = appendDigits(dst, uint64(d), 2)
	dst = appendDigits(dst, uint64(h), 2)
	dst = appendDigits(dst, uint64(mi), 2)
	return appendDigits(dst, uint64(s), 2)
}

// appendDigits appends x as width digits (the low ones, zero-padded).
func appendDigits(dst []byte, x uint64, width int) []byte {
	var buf [20]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + x%10)
		x /= 10
	}
	return append(dst, buf[:width]...)
}
