package pan

// Card data in text that is stored, logged or echoed in clear (retrieval
// reference numbers, terminal and merchant IDs, names and locations). A
// PAN is 13 to 19 digits with a Luhn check digit (ISO/IEC 7812), and
// ASCII track 2 is the PAN, '=' and the expiry, service code and
// discretionary data (ISO/IEC 7813): either in a free-text field means the
// message is misaligned (bitmap bit 35 off with the track bytes present)
// or the sender put card data where it does not belong.

// RunsMin and RunsMax bound the digit runs LuhnRun looks at: the lengths
// of a PAN.
const (
	RunsMin = 13
	RunsMax = 19
)

// LuhnRun reports whether b holds a run of RunsMin to RunsMax digits (a
// maximal run: not part of a longer one) that passes the Luhn check. It
// allocates nothing.
func LuhnRun(b []byte) bool {
	for i := 0; i < len(b); {
		if !isDigit(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if n := j - i; n >= RunsMin && n <= RunsMax && luhnOK(b[i:j]) {
			return true
		}
		i = j
	}
	return false
}

// TrackSeparator reports whether b holds an ASCII track 2 separator '='
// next to a digit: a piece of track data (the end of a PAN, or the expiry
// that follows it). It allocates nothing.
func TrackSeparator(b []byte) bool {
	for i, c := range b {
		if c == '=' && (i > 0 && isDigit(b[i-1]) || i+1 < len(b) && isDigit(b[i+1])) {
			return true
		}
	}
	return false
}

// CardData reports whether b holds a PAN-like digit run (LuhnRun) or a
// piece of track 2 (TrackSeparator).
func CardData(b []byte) bool { return LuhnRun(b) || TrackSeparator(b) }

// MaskDigits returns s with every digit replaced by '*': what a free-text
// value that holds card data may show of itself.
func MaskDigits(s string) string {
	b := []byte(s)
	for i, c := range b {
		if isDigit(c) {
			b[i] = '*'
		}
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// luhnOK is the Luhn check of a run of digits.
func luhnOK(d []byte) bool {
	sum := 0
	for i := 0; i < len(d); i++ {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}
