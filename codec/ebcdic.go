package codec

import (
	"github.com/moov-io/iso8583/encoding"
)

// EBCDIC text, as IBM hosts send it. A JSON dialect names moov's encodings
// "EBCDIC" (moov's own table, the common EBCDIC-to-ASCII mapping) and
// "EBCDIC1047" (IBM code page 1047); length prefixes "EBCDIC.LL" and the
// like. The codec carries the same content as in ASCII (7-bit characters;
// digits for numerics), one byte a character, translated through a table
// built once from moov's own encoders so both sides agree byte for byte.
// Digits are F0 to F9 in both code pages, so prefixes share one reader.

// ebcdicTable translates one EBCDIC code page to and from 7-bit ASCII.
type ebcdicTable struct {
	name    string     // as a moov JSON spec names the encoding
	toASCII [256]byte  // wire byte -> ASCII (valid only where kind has ebcText)
	kind    [256]uint8 // ebc* flags of each wire byte
	fromASC [128]byte  // ASCII -> wire byte
}

const (
	ebcText  = 1 << iota // translates to a 7-bit character and back
	ebcDigit             // a decimal digit
	ebcTrack             // a track 2 character: digit, '=' or 'D'
	ebcHex               // a hex digit
)

var (
	ebcdicMoov = newEBCDICTable("EBCDIC", encoding.EBCDIC)
	ebcdic1047 = newEBCDICTable("EBCDIC1047", encoding.EBCDIC1047)
)

// ebcdicDigit0 is the digit 0 in both code pages (digits are F0 to F9).
const ebcdicDigit0 = 0xF0

func newEBCDICTable(name string, enc encoding.Encoder) *ebcdicTable {
	t := &ebcdicTable{name: name}
	for c := 0; c < 128; c++ {
		out, err := enc.Encode([]byte{byte(c)})
		if err != nil || len(out) != 1 {
			panic("codec: " + name + " does not map every ASCII character to one byte")
		}
		t.fromASC[c] = out[0]
	}
	for b := 0; b < 256; b++ {
		out, _, err := enc.Decode([]byte{byte(b)}, 1)
		if err != nil || len(out) != 1 || out[0] >= 0x80 || t.fromASC[out[0]] != byte(b) {
			continue // not a 7-bit character: refused as text, as bytes above 0x7F are in ASCII
		}
		c := out[0]
		t.toASCII[b] = c
		t.kind[b] = ebcText
		if charFlags[c]&flagDigit != 0 {
			t.kind[b] |= ebcDigit
		}
		if charFlags[c]&flagTrack != 0 {
			t.kind[b] |= ebcTrack
		}
		if charFlags[c]&flagHex != 0 {
			t.kind[b] |= ebcHex
		}
	}
	for d := byte(0); d < 10; d++ {
		if t.fromASC['0'+d] != ebcdicDigit0+d {
			panic("codec: " + name + " digits are not F0 to F9")
		}
	}
	return t
}

// ebcdicFor returns the table of a moov encoder, nil for a non-EBCDIC one.
func ebcdicFor(e encoding.Encoder) *ebcdicTable {
	switch e {
	case encoding.EBCDIC:
		return ebcdicMoov
	case encoding.EBCDIC1047:
		return ebcdic1047
	}
	return nil
}

// check validates EBCDIC content w of a field of class c without
// translating it anywhere: one table load a byte.
func (t *ebcdicTable) check(class Class, w []byte) error {
	switch class {
	case ClassN:
		if !t.all(w, ebcDigit) {
			return ErrNotNumeric
		}
	case ClassZ:
		if !t.all(w, ebcTrack) {
			return ErrBadTrack
		}
	case ClassAmount:
		if len(w) > 0 && t.toASCII[w[0]] != 'C' && t.toASCII[w[0]] != 'D' {
			return ErrBadAmountSign
		}
		if len(w) > 0 && !t.all(w[1:], ebcDigit) {
			return ErrNotNumeric
		}
	default:
		if !t.all(w, ebcText) {
			return ErrNotASCII
		}
	}
	return nil
}

func (t *ebcdicTable) all(w []byte, flag uint8) bool {
	for _, b := range w {
		if t.kind[b]&flag == 0 {
			return false
		}
	}
	return true
}

// appendASCII appends w translated to ASCII (w has been checked).
func (t *ebcdicTable) appendASCII(dst, w []byte) []byte {
	for _, b := range w {
		dst = append(dst, t.toASCII[b])
	}
	return dst
}

// appendEBCDIC appends ASCII text translated to the code page; text has
// been checked to be 7-bit.
func (t *ebcdicTable) appendEBCDIC(dst, text []byte) []byte {
	for _, c := range text {
		dst = append(dst, t.fromASC[c&0x7f])
	}
	return dst
}

// asciiIdentity maps every byte to itself: the "translation" of ASCII text.
var asciiIdentity = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	return t
}()
