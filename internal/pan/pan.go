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
	sum := 0
	for i := 0; i < len(pan); i++ {
		c := pan[len(pan)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
