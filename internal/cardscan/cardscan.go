// Package cardscan finds card data in what a test collected from a running
// switch: journal files, `journal dump` output, log lines, a /metrics
// scrape. It is a test helper (imported by tests only) and looks for
//
//   - PAN-like digit runs: 13 to 19 digits, not part of a longer run or of
//     a decimal number (1.2345678901234e-05, as metrics print), passing Luhn;
//   - ASCII track 2: 12 to 19 digits, '=' or 'D', 4 digits;
//   - the secrets a test sent, given with Card, Track and Secret: the PANs,
//     every 12-character piece of a track, as text and as packed BCD (a
//     misaligned message splits a track over several fields, and a binary
//     dialect's BCD track read as text fields is raw bytes), PIN blocks as
//     bytes and as hex.
//
// Use:
//
//	var s cardscan.Scanner
//	s.Track("4761739001010010=28121011234567890")
//	s.Secret("PIN block", pinBlock)
//	for _, f := range s.Scan("journal dump", out) { t.Error(f) }
package cardscan

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/cardswitch/cardswitch/internal/pan"
)

// pieceLen is the length of the track pieces Track looks for: long enough
// that a match by chance in a few megabytes is all but impossible (10^-12
// per position for digits), short enough to catch a piece that fills one
// retrieval reference number (12 characters) or merchant ID (15).
const pieceLen = 12

var track2 = regexp.MustCompile(`[0-9]{12,19}[=D][0-9]{4}`)

// Finding is one place where card data was found. Text is masked: a
// failing test must not print what it found either.
type Finding struct {
	Where  string // what was scanned ("journal dump", a file name)
	Offset int
	Kind   string // "luhn", "track2" or the secret's name
	Text   string // the match, masked
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s at byte %d: %s", f.Where, f.Kind, f.Offset, f.Text)
}

// Scanner holds the secrets to look for besides the patterns.
type Scanner struct {
	secrets []secret
}

type secret struct {
	name string
	b    []byte
}

// Secret adds an exact value to look for. A binary value is also looked
// for as upper- and lower-case hex.
func (s *Scanner) Secret(name string, b []byte) {
	s.add(name, b)
	if !printable(b) {
		h := hex.EncodeToString(b)
		s.add(name+" (hex)", []byte(h))
		s.add(name+" (HEX)", []byte(strings.ToUpper(h)))
	}
}

// add adds a secret once: a finding is reported once.
func (s *Scanner) add(name string, b []byte) {
	for _, sec := range s.secrets {
		if bytes.Equal(sec.b, b) {
			return
		}
	}
	s.secrets = append(s.secrets, secret{name, bytes.Clone(b)})
}

// Card adds a PAN: as digits and packed BCD.
func (s *Scanner) Card(p string) {
	s.add("PAN", []byte(p))
	s.add("PAN (BCD)", packBCD(p))
}

// Track adds an ASCII track 2 (PAN '=' data): the PAN, the track in full
// and packed BCD, and every pieceLen-character piece of it.
func (s *Scanner) Track(t string) {
	p, _, _ := strings.Cut(t, "=")
	s.Card(p)
	s.add("track 2 (BCD)", packBCD(t))
	for i := 0; i+pieceLen <= len(t); i++ {
		s.add(fmt.Sprintf("track 2 piece %d", i), []byte(t[i:i+pieceLen]))
	}
	// packed, at both nibble alignments (a length prefix or a pad nibble
	// before the track shifts it by one)
	for shift := 0; shift < 2; shift++ {
		b := packBCD(t[shift:])
		full := len(t[shift:]) / 2 // bytes without a pad nibble
		for i := 0; i+pieceLen/2 <= full; i++ {
			s.add(fmt.Sprintf("track 2 piece (BCD) %d", 2*i+shift), b[i:i+pieceLen/2])
		}
	}
}

// Scan returns every card-data finding in b; where names b in findings.
func (s *Scanner) Scan(where string, b []byte) []Finding {
	var out []Finding
	for _, r := range luhnRuns(b) {
		out = append(out, Finding{where, r[0], "luhn", pan.Mask(string(b[r[0]:r[1]]))})
	}
	for _, r := range track2.FindAllIndex(b, -1) {
		out = append(out, Finding{where, r[0], "track2", mask(b[r[0]:r[1]])})
	}
	for _, sec := range s.secrets {
		for off := 0; ; {
			i := bytes.Index(b[off:], sec.b)
			if i < 0 {
				break
			}
			out = append(out, Finding{where, off + i, sec.name, mask(sec.b)})
			off += i + 1
		}
	}
	return out
}

// luhnRuns finds maximal digit runs of a PAN's length that pass Luhn and
// are not part of a decimal number (a '.' before or after, an exponent
// after).
func luhnRuns(b []byte) [][2]int {
	var out [][2]int
	for i := 0; i < len(b); {
		if !digit(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && digit(b[j]) {
			j++
		}
		decimal := i > 0 && b[i-1] == '.' || j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E')
		if !decimal && j-i >= pan.RunsMin && j-i <= pan.RunsMax && pan.Valid(string(b[i:j])) {
			out = append(out, [2]int{i, j})
		}
		i = j
	}
	return out
}

func digit(c byte) bool { return c >= '0' && c <= '9' }

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// mask shows a match by its length and first two characters.
func mask(b []byte) string {
	if !printable(b) {
		return fmt.Sprintf("[%d bytes]", len(b))
	}
	return fmt.Sprintf("%.2s… [%d characters]", b, len(b))
}

// packBCD packs digits and '=' (as D) into nibbles, right-padded with F.
func packBCD(s string) []byte {
	out := make([]byte, 0, (len(s)+1)/2)
	nib := func(c byte) byte {
		if c == '=' {
			return 0xd
		}
		return c - '0'
	}
	for i := 0; i < len(s); i += 2 {
		lo := byte(0xf)
		if i+1 < len(s) {
			lo = nib(s[i+1])
		}
		out = append(out, nib(s[i])<<4|lo)
	}
	return out
}

// Files hands every file below dir, read whole, to fn, and returns how
// many there were: a test scans a switch's data directory with it.
func Files(dir string, fn func(path string, b []byte)) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		n++
		fn(p, b)
		return err
	})
	return n, err
}
