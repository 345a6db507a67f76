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

// Findings is what Inspect found in a text, as bits.
type Findings uint8

const (
	Control   Findings = 1 << iota // a byte outside printable ASCII (0x20 to 0x7E)
	Separator                      // a track 2 separator '=' next to a digit: a piece of track data
	Luhn                           // a maximal run of RunsMin to RunsMax digits that passes the Luhn check
)

// Inspect looks at b once for control bytes, track separators and
// Luhn-valid digit runs (maximal: not part of a longer run). It allocates
// nothing.
func Inspect(b []byte) Findings {
	var f Findings
	for i := 0; i < len(b); {
		c := b[i]
		if isDigit(c) {
			j := i + 1
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			if n := j - i; n >= RunsMin && n <= RunsMax && luhnOK(b[i:j]) {
				f |= Luhn
			}
			i = j
			continue
		}
		if c == '=' && (i > 0 && isDigit(b[i-1]) || i+1 < len(b) && isDigit(b[i+1])) {
			f |= Separator
		}
		if c < 0x20 || c > 0x7e {
			f |= Control
		}
		i++
	}
	return f
}

// LuhnRun reports whether b holds a Luhn-valid run of RunsMin to RunsMax
// digits (Inspect).
func LuhnRun(b []byte) bool { return Inspect(b)&Luhn != 0 }

// TrackSeparator reports whether b holds an ASCII track 2 separator '='
// next to a digit (Inspect).
func TrackSeparator(b []byte) bool { return Inspect(b)&Separator != 0 }

// CardData reports whether b holds a PAN-like digit run or a piece of
// track 2 (Inspect).
func CardData(b []byte) bool { return Inspect(b)&(Luhn|Separator) != 0 }

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
