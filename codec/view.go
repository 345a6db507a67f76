package codec

import (
	"encoding/binary"
	"math/bits"
)

// View is a decoded message that points into the bytes it was decoded from:
// the MTI, the bitmap and where each present field sits. Decoding allocates
// nothing; the bytes must outlive the view and must not change under it.
// A View is reusable: Decode overwrites it. It is not safe for concurrent
// use while being decoded.
type View struct {
	d      *Dialect
	msg    []byte
	mti    MTI
	bitmap [2]uint64 // bit 63 of word 0 is field 1
	// per field: offset of the length prefix, offset of the data, and the
	// length in units; valid only where the bitmap has the field.
	start [MaxField + 1]uint16
	data  [MaxField + 1]uint16
	units [MaxField + 1]uint16
}

// Dialect returns the dialect the view was decoded with.
func (v *View) Dialect() *Dialect { return v.d }

// Bytes returns the whole message the view was decoded from.
func (v *View) Bytes() []byte { return v.msg }

// Header returns the message header before the MTI (nil if the dialect has none).
func (v *View) Header() []byte { return v.msg[:v.d.HeaderLen] }

// MTI returns the message type indicator.
func (v *View) MTI() MTI { return v.mti }

// Has reports whether field id is present.
func (v *View) Has(id int) bool {
	if id < 1 || id > MaxField {
		return false
	}
	w := (id - 1) / 64
	return v.bitmap[w]&(1<<(63-uint(id-1)%64)) != 0
}

// Bitmap returns the primary and secondary bitmaps as integers, bit 63 of the
// first word being field 1.
func (v *View) Bitmap() [2]uint64 { return v.bitmap }

// Span returns where field id lies inside Bytes(), length prefix included.
func (v *View) Span(id int) (start, end int, ok bool) {
	if id < 2 || !v.Has(id) {
		return 0, 0, false
	}
	def := &v.d.fields[id]
	return int(v.start[id]), int(v.data[id]) + def.wireBytes(int(v.units[id])), true
}

// Wire returns field id's content as carried on the wire, without its
// length prefix: characters for ASCII, packed digits for BCD, raw bytes for
// binary, hex characters for hex text.
func (v *View) Wire(id int) []byte {
	if id < 2 || !v.Has(id) {
		return nil
	}
	d := int(v.data[id])
	return v.msg[d : d+v.d.fields[id].wireBytes(int(v.units[id]))]
}

// Len returns the length of field id in its units (characters, digits or bytes).
func (v *View) Len(id int) int {
	if id < 2 || !v.Has(id) {
		return 0
	}
	return int(v.units[id])
}

// Decode reads one message (after framing: header, MTI, bitmap, fields) into
// v. Errors are *FieldError values. After an error the view still holds what
// came before the failure, so a format-error reply can echo it: the MTI
// (unless the MTI itself failed) and the fields before the failing one.
func (d *Dialect) Decode(v *View, msg []byte) error { return d.decode(v, msg, false) }

// DecodeSalvage is Decode that, after a field whose length is sound but
// whose content is not (a letter in a PAN), reads on: the error is the
// first one, and the view also holds the good fields after the bad ones,
// so that a format-error reply can carry what a peer matches replies by
// (11, 41, 7, 37). The bad fields are absent from the view, and so is
// everything from a field whose length cannot be read.
func (d *Dialect) DecodeSalvage(v *View, msg []byte) error { return d.decode(v, msg, true) }

func (d *Dialect) decode(v *View, msg []byte, salvage bool) error {
	v.d, v.msg, v.mti, v.bitmap = d, msg, MTI{}, [2]uint64{}
	if len(msg) > maxMessageBytes {
		return fieldErr(0, 0, ErrTooLong)
	}
	off := d.HeaderLen
	if len(msg) < off {
		return fieldErr(0, 0, ErrTruncated)
	}
	off, err := d.decodeMTI(v, msg, off)
	if err != nil {
		return err
	}
	if off, err = d.decodeBitmap(v, msg, off); err != nil {
		v.bitmap = [2]uint64{}
		return err
	}
	var first error // salvage: the first bad field's error
	for w := 0; w < 2; w++ {
		word := v.bitmap[w]
		if w == 0 {
			word &^= 1 << 63 // bit 1 is the secondary bitmap, not a field
		}
		for word != 0 {
			z := bits.LeadingZeros64(word)
			word &^= 1 << (63 - uint(z))
			id := w*64 + z + 1
			end, at, reason := d.decodeField(v, msg, id, off)
			if reason == nil {
				off = end
				continue
			}
			if first == nil {
				first = fieldErr(id, at, reason)
			}
			if !salvage || end == 0 {
				v.keepBefore(id)
				return first
			}
			v.drop(id)
			off = end
		}
	}
	if first != nil {
		return first
	}
	if off != len(msg) {
		return fieldErr(lastField(v), off, ErrTrailingData)
	}
	return nil
}

// drop clears the bit of field id (bit 1 too when no secondary field remains).
func (v *View) drop(id int) {
	v.bitmap[(id-1)/64] &^= 1 << (63 - uint(id-1)%64)
	if v.bitmap[1] == 0 {
		v.bitmap[0] &^= 1 << 63
	}
}

// keepBefore clears the bits of field id and every field after it.
// Bit 1 stays set only while a secondary field remains.
func (v *View) keepBefore(id int) {
	if id <= 64 {
		v.bitmap[1] = 0
		v.bitmap[0] &^= 1<<(64-uint(id)+1) - 1 // fields id..64
	} else {
		v.bitmap[1] &^= 1<<(128-uint(id)+1) - 1 // fields id..128
	}
	if v.bitmap[1] == 0 {
		v.bitmap[0] &^= 1 << 63
	}
}

func lastField(v *View) int {
	for id := MaxField; id >= 2; id-- {
		if v.Has(id) {
			return id
		}
	}
	return 1
}

func (d *Dialect) decodeMTI(v *View, msg []byte, off int) (int, error) {
	if d.mtiBCD {
		if len(msg) < off+2 {
			return 0, fieldErr(0, off, ErrTruncated)
		}
		for i := 0; i < 2; i++ {
			b := msg[off+i]
			if b>>4 > 9 || b&0xf > 9 {
				return 0, fieldErr(0, off, ErrBadMTI)
			}
			v.mti[2*i], v.mti[2*i+1] = '0'+b>>4, '0'+b&0xf
		}
		return off + 2, nil
	}
	if len(msg) < off+4 {
		return 0, fieldErr(0, off, ErrTruncated)
	}
	zero := byte('0')
	if d.mtiEBCDIC {
		zero = ebcdicDigit0
	}
	for i := 0; i < 4; i++ {
		c := msg[off+i]
		if c < zero || c > zero+9 {
			return 0, fieldErr(0, off, ErrBadMTI)
		}
		v.mti[i] = '0' + c - zero
	}
	return off + 4, nil
}

func (d *Dialect) decodeBitmap(v *View, msg []byte, off int) (int, error) {
	if d.bitmap128 {
		return d.decodeBitmap128(v, msg, off)
	}
	for w := 0; w < 2; w++ {
		var word uint64
		var ok bool
		if d.bitmapHex {
			if len(msg) < off+16 {
				return 0, fieldErr(1, off, ErrTruncated)
			}
			word, ok = parseHex64(msg[off : off+16])
			if !ok {
				return 0, fieldErr(1, off, ErrBadBitmap)
			}
			off += 16
		} else {
			if len(msg) < off+8 {
				return 0, fieldErr(1, off, ErrTruncated)
			}
			word, ok = binary.BigEndian.Uint64(msg[off:off+8]), true
			off += 8
		}
		v.bitmap[w] = word
		if w == 1 {
			if word == 0 {
				return 0, fieldErr(1, off, ErrEmptySecondary)
			}
			if word&(1<<63) != 0 {
				return 0, fieldErr(65, off, ErrTertiaryBitmap)
			}
		}
		if word&(1<<63) == 0 || w == 1 {
			break
		}
	}
	return off, nil
}

// decodeField reads field id at off and returns where it ends, or the
// reason it cannot and the offset of the problem. A field whose content is
// bad but whose extent is known returns its end with the reason; any other
// failure returns end 0. Reasons are sentinels: nothing is allocated here.
func (d *Dialect) decodeField(v *View, msg []byte, id, off int) (end, at int, reason error) {
	if !d.defined[id] {
		return 0, off, ErrUndefinedField
	}
	def := &d.fields[id]
	n := def.Length
	pb := def.pbytes
	if pb > 0 {
		if len(msg) < off+pb {
			return 0, off, ErrTruncated
		}
		var ok bool
		n, ok = readPrefix(def, msg[off:off+pb])
		if !ok {
			return 0, off, ErrBadPrefix
		}
		if n > def.Length {
			return 0, off, ErrTooLong
		}
	}
	dataOff := off + pb
	wb := def.wireBytes(n)
	if len(msg) < dataOff+wb {
		return 0, dataOff, ErrTruncated
	}
	if err := checkContent(def, msg[dataOff:dataOff+wb], n); err != nil {
		return dataOff + wb, dataOff, err
	}
	v.start[id], v.data[id], v.units[id] = uint16(off), uint16(dataOff), uint16(n)
	return dataOff + wb, 0, nil
}

// readPrefix decodes a length prefix; ok=false for a malformed one.
func readPrefix(def *FieldDef, p []byte) (int, bool) {
	n := 0
	switch def.Prefix {
	case PrefixASCII:
		for _, c := range p {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
	case PrefixBCD:
		if def.PrefixLen%2 == 1 && p[0]>>4 != 0 {
			return 0, false // the pad nibble of an odd digit count must be 0
		}
		for _, b := range p {
			if b>>4 > 9 || b&0xf > 9 {
				return 0, false
			}
			n = n*100 + int(b>>4)*10 + int(b&0xf)
		}
	case PrefixBinary:
		for _, b := range p {
			n = n<<8 | int(b)
		}
	case PrefixHex:
		for _, c := range p {
			h, ok := unhex(c)
			if !ok {
				return 0, false
			}
			n = n<<4 | int(h)
		}
	case PrefixEBCDIC:
		for _, c := range p {
			if c < ebcdicDigit0 || c > ebcdicDigit0+9 {
				return 0, false
			}
			n = n*10 + int(c-ebcdicDigit0)
		}
	}
	return n, true
}

// checkContent validates wire bytes w holding n units of field def.
func checkContent(def *FieldDef, w []byte, n int) error {
	switch def.Enc {
	case EncASCII:
		return checkText(def.Class, w)
	case EncEBCDIC:
		return def.ebcdic.check(def.Class, w)
	case EncBCD, EncLBCD:
		return checkBCD(def.Class, w, n, def.Enc == EncLBCD)
	case EncHexText:
		if !allHave(w, flagHex) {
			return ErrBadHex
		}
	case EncAmountBCD:
		if n == 0 {
			return nil
		}
		if w[0] != 'C' && w[0] != 'D' {
			return ErrBadAmountSign
		}
		return checkBCD(ClassN, w[1:], n-1, false)
	}
	return nil
}

func checkText(class Class, w []byte) error {
	switch class {
	case ClassN:
		if !allDigits(w) {
			return ErrNotNumeric
		}
	case ClassZ:
		if !allHave(w, flagTrack) {
			return ErrBadTrack
		}
	case ClassANSB:
		return nil // any byte: hex text or raw
	case ClassAmount:
		if len(w) > 0 && w[0] != 'C' && w[0] != 'D' {
			return ErrBadAmountSign
		}
		if len(w) > 0 && !allHave(w[1:], flagDigit) {
			return ErrNotNumeric
		}
	default:
		if !sevenBit(w) {
			return ErrNotASCII
		}
	}
	return nil
}

const (
	flagDigit = 1 << iota
	flagTrack
	flagHex
)

// charFlags classifies bytes for content checks: one table load a byte.
var charFlags = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] |= flagDigit | flagTrack | flagHex
	}
	t['='] |= flagTrack
	t['D'] |= flagTrack
	for c := 'A'; c <= 'F'; c++ {
		t[c] |= flagHex
		t[c+'a'-'A'] |= flagHex
	}
	return t
}()

func allHave(w []byte, flag uint8) bool {
	for _, c := range w {
		if charFlags[c]&flag == 0 {
			return false
		}
	}
	return true
}

// allDigits reports whether w is all ASCII digits, 8 bytes a step: every
// byte is 0x3X, and adding 6 to each keeps it 0x3X (no carry can cross bytes
// once all are 0x3X).
func allDigits(w []byte) bool {
	const hi, six, threes = 0xF0F0F0F0F0F0F0F0, 0x0606060606060606, 0x3030303030303030
	for len(w) >= 8 {
		x := binary.LittleEndian.Uint64(w)
		if x&hi != threes || (x+six)&hi != threes {
			return false
		}
		w = w[8:]
	}
	return allHave(w, flagDigit)
}

// sevenBit reports whether no byte of w has its top bit set, 8 bytes a step.
func sevenBit(w []byte) bool {
	var acc uint64
	for len(w) >= 8 {
		acc |= binary.LittleEndian.Uint64(w)
		w = w[8:]
	}
	for _, c := range w {
		acc |= uint64(c)
	}
	return acc&0x8080808080808080 == 0
}

// checkBCD validates n digits packed in w: right-aligned (a leading pad
// nibble) or left-aligned (a trailing one). The pad nibble must be 0 or F
// (VisaNet and many terminals pad with F; jPOS reads both).
func checkBCD(class Class, w []byte, n int, left bool) error {
	if len(w) == 0 {
		return nil
	}
	ok := &bcdDigits
	if class == ClassZ {
		ok = &bcdTrack
	}
	if len(w)*2 != n { // one pad nibble
		if left {
			last := w[len(w)-1]
			if p := last & 0xf; p != 0 && p != 0xf {
				return ErrBadPadding
			}
			if !ok[last&0xf0] {
				return bcdErr(class)
			}
			w = w[:len(w)-1]
		} else {
			if p := w[0] >> 4; p != 0 && p != 0xf {
				return ErrBadPadding
			}
			if !ok[w[0]&0x0f] {
				return bcdErr(class)
			}
			w = w[1:]
		}
	}
	for _, b := range w {
		if !ok[b] {
			return bcdErr(class)
		}
	}
	return nil
}

func bcdErr(class Class) error {
	if class == ClassZ {
		return ErrBadTrack
	}
	return ErrNotNumeric
}

// bcdDigits[b] reports a byte of two decimal digits; bcdTrack also allows
// the track separator nibble D.
var bcdDigits, bcdTrack = func() (d, t [256]bool) {
	for hi := 0; hi < 16; hi++ {
		for lo := 0; lo < 16; lo++ {
			dig := func(x int) bool { return x <= 9 }
			trk := func(x int) bool { return x <= 9 || x == 0xd }
			d[hi<<4|lo] = dig(hi) && dig(lo)
			t[hi<<4|lo] = trk(hi) && trk(lo)
		}
	}
	return d, t
}()

// isHexText reports whether ansb content w is hex text: an even count of
// hex digits.
func isHexText(w []byte) bool { return len(w)%2 == 0 && allHave(w, flagHex) }

func parseHex64(b []byte) (uint64, bool) {
	var x uint64
	for _, c := range b {
		h, ok := unhex(c)
		if !ok {
			return 0, false
		}
		x = x<<4 | uint64(h)
	}
	return x, true
}

func unhex(c byte) (byte, bool) {
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

const hexDigits = "0123456789ABCDEF"
