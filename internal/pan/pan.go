// Package pan holds the two things every part of the switch does with a
// card number: mask it for people and check it.
package pan

// Mask keeps the first 6 and last 4 digits of a PAN (PCI DSS); a value too
// short to be a PAN keeps no more than a quarter of it at either end.
func Mask(pan string) string {
	b := []byte(pan)
	head, tail := 6, 4
	if len(b) < 13 {
		head, tail = len(b)/4, len(b)/4
	}
	for i := head; i < len(b)-tail; i++ {
		b[i] = '*'
	}
	return string(b)
}

// Valid checks length (12 to 19 digits) and the Luhn check digit.
func Valid(pan string) bool {
	if len(pan) < 12 || len(pan) > 19 {
		return false
	}
	sum, ok := luhnSum(pan, 0)
	return ok && sum%10 == 0
}

// WithCheckDigit appends the Luhn check digit to the digits of body (test
// and load-generator card numbers).
func WithCheckDigit(body string) string {
	sum, _ := luhnSum(body, 1)
	return body + string(rune('0'+(10-sum%10)%10))
}

// luhnSum is the Luhn sum of s, doubling the digits at odd positions from
// the right counting from first; ok is false for a non-digit.
func luhnSum(s string, first int) (sum int, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[len(s)-1-i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int(c - '0')
		if (i+first)%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum, true
}
