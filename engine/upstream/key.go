package upstream

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cardswitch/cardswitch/codec"
)

// KeyBytesMax bounds a match key: the default key (MTI class, 11, 41, 7)
// takes 28 bytes, and 64 leave room for 37 and 32 or 42 besides. A fixed
// size keeps a Key comparable (a map key) and free of allocation.
const KeyBytesMax = 64

// Key is the match key of a message: the MTI's class and each key field's
// text form, each field preceded by its length so that no two field lists
// make the same bytes. A request and its response make the same Key.
type Key struct {
	n uint8
	b [KeyBytesMax]byte
}

// Bytes returns the key's bytes, for logs and tests: KeySpec refuses card
// data (PAN, tracks, PIN block) as key fields, so a key is safe to show.
func (k *Key) Bytes() []byte { return k.b[:k.n] }

// KeySpec says what a match key is made of: the MTI class or not, and the
// fields, in order. The default is jPOS QMUX's "41 11" with the MTI class
// and the transmission time added: a terminal's STAN wraps at 999999, and
// two requests with one STAN on one terminal in flight at once are rarer
// still with the time beside it.
type KeySpec struct {
	MTI    bool  // the MTI class (version, class, function pair) leads the key
	Fields []int // field numbers, in key order
}

// DefaultKeySpec is MTI class + 11 + 41 + 7.
func DefaultKeySpec() KeySpec {
	return KeySpec{MTI: true, Fields: []int{codec.FieldSTAN, codec.FieldTerminal, codec.FieldTransmission}}
}

// ParseKeySpec reads a key as configured: "mti" and field numbers, in
// order ("mti 11 41 7", commas allowed).
func ParseKeySpec(s string) (KeySpec, error) {
	var ks KeySpec
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		if item == "mti" {
			if ks.MTI || len(ks.Fields) > 0 {
				return KeySpec{}, fmt.Errorf("upstream: key %q: mti must come first, once", s)
			}
			ks.MTI = true
			continue
		}
		id, err := strconv.Atoi(item)
		if err != nil {
			return KeySpec{}, fmt.Errorf("upstream: key %q: %q is neither mti nor a field number", s, item)
		}
		ks.Fields = append(ks.Fields, id)
	}
	return ks, ks.Validate()
}

// Validate checks the spec on its own: at least one field, each in 2..128
// and named once, and no card data (2, 35, 36, 45, 52) in a key, which
// logs and metrics may show.
func (ks KeySpec) Validate() error {
	if len(ks.Fields) == 0 {
		return errors.New("upstream: a match key needs at least one field")
	}
	seen := map[int]bool{}
	for _, id := range ks.Fields {
		switch {
		case id < 2 || id > codec.MaxField:
			return fmt.Errorf("upstream: key field %d: not a field number", id)
		case seen[id]:
			return fmt.Errorf("upstream: key field %d named twice", id)
		case id == 2 || id == 35 || id == 36 || id == 45 || id == 52 || id == 64 || id == 128:
			return fmt.Errorf("upstream: key field %d: card data or a MAC cannot be a match key", id)
		}
		seen[id] = true
	}
	return nil
}

// Check validates the spec against the destination's dialect: every field
// defined, and the longest key it can make within KeyBytesMax, so that
// Extract never runs out of room on a message the dialect decoded.
func (ks KeySpec) Check(d *codec.Dialect) error {
	if err := ks.Validate(); err != nil {
		return err
	}
	size := 0
	if ks.MTI {
		size = mtiKeyBytes
	}
	for _, id := range ks.Fields {
		def := d.Field(id)
		if def == nil {
			return fmt.Errorf("upstream: key field %d is not defined in dialect %s", id, d.Name)
		}
		size += 1 + textMax(def, def.Length)
	}
	if size > KeyBytesMax {
		return fmt.Errorf("upstream: key %v can take %d bytes in dialect %s, over %d", ks.Fields, size, d.Name, KeyBytesMax)
	}
	return nil
}

// mtiKeyBytes: version, class and function pair.
const mtiKeyBytes = 3

// textMax is the most bytes field def's text form takes for n units: one
// a unit, but two (hex) for binary content.
func textMax(def *codec.FieldDef, n int) int {
	if def.Enc == codec.EncBinary || def.Class == codec.ClassB || def.Class == codec.ClassANSB {
		return 2 * n
	}
	return n
}

// KeyError is a message that cannot make a key: a key field is absent (or
// too long, for a dialect the spec was not checked against).
type KeyError struct{ Field int }

func (e *KeyError) Error() string {
	return "upstream: match key field " + strconv.Itoa(e.Field) + " absent or too long"
}

// Extract makes the match key of v. It allocates nothing. A request and
// the response to it make the same key: the MTI contributes its version,
// class and function pair (0200 and 0210 alike, 0400, 0401 and 0410
// alike), never its origin digit, which a repeat changes.
func (ks *KeySpec) Extract(v *codec.View, k *Key) error {
	*k = Key{} // a reused Key keeps no bytes of the last one: == compares all of them
	if ks.MTI {
		m := v.MTI()
		k.b[0], k.b[1], k.b[2] = m[0], m[1], '0'+(m[2]-'0')&^1
		k.n = mtiKeyBytes
	}
	for _, id := range ks.Fields {
		def := v.Dialect().Field(id)
		if !v.Has(id) || def == nil {
			return &KeyError{id}
		}
		at := int(k.n) + 1
		if at+textMax(def, v.Len(id)) > KeyBytesMax {
			return &KeyError{id}
		}
		// appending inside the array's capacity writes in place: no allocation
		text := v.AppendText(k.b[at:at:KeyBytesMax], id)
		k.b[k.n] = byte(len(text))
		k.n = uint8(at + len(text))
	}
	return nil
}
