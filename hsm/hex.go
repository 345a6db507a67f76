package hsm

const hexUpper = "0123456789ABCDEF"

// hexNibble returns the value of one hex character, or false.
func hexNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// decodeHexInto decodes s into dst and returns the filled prefix. It fails
// with ErrHex if s is odd-length, too long for dst or not hex.
func decodeHexInto(dst []byte, s string) ([]byte, error) {
	if len(s)%2 != 0 || len(s)/2 > len(dst) {
		return nil, ErrHex
	}
	for i := 0; i < len(s); i += 2 {
		hi, ok1 := hexNibble(s[i])
		lo, ok2 := hexNibble(s[i+1])
		if !ok1 || !ok2 {
			return nil, ErrHex
		}
		dst[i/2] = hi<<4 | lo
	}
	return dst[:len(s)/2], nil
}

// encodeUpperHex writes 2*len(src) uppercase hex characters into dst.
func encodeUpperHex(dst, src []byte) {
	for i, c := range src {
		dst[2*i] = hexUpper[c>>4]
		dst[2*i+1] = hexUpper[c&0x0F]
	}
}

// upperHex returns src as an uppercase hex string.
func upperHex(src []byte) string {
	out := make([]byte, 2*len(src))
	encodeUpperHex(out, src)
	return string(out)
}

// xorBytes sets dst[i] = a[i] ^ b[i] for the length of dst.
func xorBytes(dst, a, b []byte) {
	for i := range dst {
		dst[i] = a[i] ^ b[i]
	}
}

// isDigits reports whether s is non-empty and all ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
