package standin

import (
	"errors"
	"fmt"
)

// MaxNegative bounds the entries of a negative file: 4,194,304, about
// 200 MB as a map of 32-byte keys (a national hot-card list is well under
// a million cards).
const MaxNegative = 1 << 22

// maxNegativeCodes bounds the distinct codes of a negative file: an entry
// keeps its code as an index of one byte.
const maxNegativeCodes = 256

// ErrNegative is wrapped by the errors of NewNegative.
var ErrNegative = errors.New("standin: negative file")

// Negative is a negative file (a hot-card list): cards stand-in declines
// whatever their limits, each with its entry's code (41 lost, 43 stolen,
// 62 restricted, 04 or 07 pick up, 14 invalid number...). It is immutable
// once made, so one file may be shared by every destination's Stand and
// a reload swaps a new one in (Stand.SetNegative). A nil *Negative is an
// empty file.
type Negative struct {
	m     map[[32]byte]uint8 // keyed hash of the PAN -> index in codes
	codes []string
}

// NewNegative makes a negative file from entries, each a PAN's keyed hash
// (the same key as the Request's PAN) and its decline code. An empty code
// is 62, restricted card: the file lists the card and gives no reason,
// where 41 or 43 would have the terminal keep a card for a reason nobody
// gave and 14 would say the number is wrong. A code must be a decline
// (2 letters or digits, not 00, 08, 10 or 11); at most MaxNegative
// entries. The map is copied.
func NewNegative(entries map[[32]byte]string) (*Negative, error) {
	if len(entries) > MaxNegative {
		return nil, fmt.Errorf("%w: %d entries, at most %d", ErrNegative, len(entries), MaxNegative)
	}
	n := &Negative{m: make(map[[32]byte]uint8, len(entries))}
	index := map[string]uint8{}
	for pan, code := range entries {
		if code == "" {
			code = RestrictedCard
		}
		if !isDecline(code) {
			return nil, fmt.Errorf("%w: code %q is not a decline", ErrNegative, code)
		}
		i, ok := index[code]
		if !ok {
			if len(n.codes) == maxNegativeCodes {
				return nil, fmt.Errorf("%w: more than %d distinct codes", ErrNegative, maxNegativeCodes)
			}
			i = uint8(len(n.codes))
			index[code] = i
			n.codes = append(n.codes, code)
		}
		n.m[pan] = i
	}
	return n, nil
}

// Code is the code of the card with keyed hash pan, false when the card
// is not on the file.
func (n *Negative) Code(pan [32]byte) (string, bool) {
	if n == nil {
		return "", false
	}
	i, ok := n.m[pan]
	if !ok {
		return "", false
	}
	return n.codes[i], true
}

// Len is the number of cards on the file.
func (n *Negative) Len() int {
	if n == nil {
		return 0
	}
	return len(n.m)
}
