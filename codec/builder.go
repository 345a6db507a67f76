package codec

// Builder appends a message to a caller's buffer, field by field in ascending
// order, and fills in the bitmap at the end. It allocates nothing once its
// buffer is large enough. Errors are sticky, as with bufio.Writer: the first
// one stops the build and Finish returns it.
//
//	var b codec.Builder
//	b.Begin(d, buf[:0], req.MTI().Response(), req.Header())
//	b.Copy(req, 3)
//	b.Text(39, []byte("00"))
//	out, err := b.Finish()
type Builder struct {
	d      *Dialect
	buf    []byte
	mtiOff int // offset of the MTI in buf
	bmOff  int // offset of the primary bitmap in buf
	bitmap [2]uint64
	last   int
	err    error
	tmp    []byte // hex-decoded binary values
	text   []byte // text handed in by String and Copy
	pad    byte   // pad nibble of odd-length variable BCD values (SetBCDPad)
}

// PadNibble fills the spare half byte of an odd-length packed BCD value.
type PadNibble byte

const (
	PadZero PadNibble = 0x0 // ISO 8583 and jPOS's default
	PadF    PadNibble = 0xF // VisaNet and many terminals
)

// ParsePadNibble reads "0" or "F" ("f" too).
func ParsePadNibble(s string) (PadNibble, bool) {
	switch s {
	case "0":
		return PadZero, true
	case "F", "f":
		return PadF, true
	}
	return 0, false
}

// SetBCDPad sets the pad nibble this builder writes, from now on (Begin
// keeps it), into odd-length variable BCD values: LL and LLL numerics and
// track data. Fixed numerics keep a 0 nibble: ISO 8583 right-justifies
// them with leading zeros. Decode accepts 0 or F wherever a pad nibble is.
func (b *Builder) SetBCDPad(p PadNibble) { b.pad = byte(p) & 0xF }

// padFor is the pad nibble the builder writes into field def.
func (b *Builder) padFor(def *FieldDef) byte {
	if def.Fixed() {
		return 0
	}
	return b.pad
}

// Begin starts a message in dst (appending to it) with the MTI and, for
// dialects that have one, the header (copied; nil writes zeros).
func (b *Builder) Begin(d *Dialect, dst []byte, mti MTI, header []byte) {
	b.d, b.buf, b.bitmap, b.last, b.err = d, dst, [2]uint64{}, 1, nil
	if d.HeaderLen > 0 {
		start := len(b.buf)
		b.buf = append(b.buf, header...)
		for len(b.buf)-start < d.HeaderLen {
			b.buf = append(b.buf, 0)
		}
		b.buf = b.buf[:start+d.HeaderLen]
	}
	for _, c := range mti {
		if c < '0' || c > '9' {
			b.err = fieldErr(0, len(b.buf), ErrBadMTI)
			return
		}
	}
	b.mtiOff = len(b.buf)
	if d.mtiBCD {
		b.buf = append(b.buf, (mti[0]-'0')<<4|(mti[1]-'0'), (mti[2]-'0')<<4|(mti[3]-'0'))
	} else if d.mtiEBCDIC {
		for _, c := range mti {
			b.buf = append(b.buf, ebcdicDigit0+c-'0')
		}
	} else {
		b.buf = append(b.buf, mti[:]...)
	}
	b.bmOff = len(b.buf)
	b.buf = append(b.buf, make([]byte, b.bitmapBytes())...)
	if d.bitmap128 {
		b.buf = append(b.buf, make([]byte, b.bitmapBytes())...)
	}
}

func (b *Builder) bitmapBytes() int {
	if b.d.bitmapHex {
		return 16
	}
	return 8
}

// Err returns the first error of the build so far.
func (b *Builder) Err() error { return b.err }

// next checks the order and definition of field id and marks it present.
func (b *Builder) next(id int) *FieldDef {
	if b.err != nil {
		return nil
	}
	if id <= b.last || id > MaxField {
		b.err = fieldErr(id, len(b.buf), ErrOutOfOrder)
		return nil
	}
	if !b.d.defined[id] {
		b.err = fieldErr(id, len(b.buf), ErrUndefinedField)
		return nil
	}
	if id > 64 && b.bitmap[1] == 0 && !b.d.bitmap128 {
		b.insertSecondary()
	}
	b.last = id
	b.bitmap[(id-1)/64] |= 1 << (63 - uint(id-1)%64)
	return &b.d.fields[id]
}

// insertSecondary opens room for the secondary bitmap after the primary:
// fields are appended in order, so those up to 64 must move.
func (b *Builder) insertSecondary() {
	n := b.bitmapBytes()
	at := b.bmOff + n
	b.buf = append(b.buf, make([]byte, n)...)
	copy(b.buf[at+n:], b.buf[at:len(b.buf)-n])
	b.bitmap[0] |= 1 << 63
}

// Text appends field id from its text form (digits, characters; hex for a
// binary field). A short value of a fixed field is padded as the dialect
// pads it; anything that does not fit is an error.
func (b *Builder) Text(id int, text []byte) {
	def := b.next(id)
	if def == nil {
		return
	}
	if def.Class == ClassB || def.Class == ClassANSB {
		if len(text)%2 != 0 {
			b.err = fieldErr(id, len(b.buf), ErrBadHex)
			return
		}
		b.tmp = b.tmp[:0]
		for i := 0; i < len(text); i += 2 {
			hi, ok1 := unhex(text[i])
			lo, ok2 := unhex(text[i+1])
			if !ok1 || !ok2 {
				b.err = fieldErr(id, len(b.buf), ErrBadHex)
				return
			}
			b.tmp = append(b.tmp, hi<<4|lo)
		}
		b.put(def, b.tmp)
		return
	}
	b.put(def, text)
}

// String is Text for a string value.
func (b *Builder) String(id int, s string) {
	b.text = append(b.text[:0], s...)
	b.Text(id, b.text)
}

// Binary appends a binary or ansb field from raw bytes (a text field takes
// them as text).
func (b *Builder) Binary(id int, raw []byte) {
	def := b.next(id)
	if def == nil {
		return
	}
	b.put(def, raw)
}

// Uint appends a numeric field, zero-padded to its fixed length (or written
// with as many digits as it takes in a variable field).
func (b *Builder) Uint(id int, x uint64) {
	var digits [20]byte
	i := len(digits)
	for {
		i--
		digits[i] = '0' + byte(x%10)
		x /= 10
		if x == 0 {
			break
		}
	}
	def := b.next(id)
	if def == nil {
		return
	}
	if def.Class != ClassN {
		b.err = fieldErr(id, len(b.buf), ErrNotNumeric)
		return
	}
	if def.Fixed() {
		for len(digits)-i < def.Length && i > 0 {
			i--
			digits[i] = '0'
		}
	}
	b.put(def, digits[i:])
}

// Copy appends field id as it is in v (absent: nothing). Between views of the
// same dialect it copies the wire bytes.
func (b *Builder) Copy(v *View, id int) {
	if !v.Has(id) || b.err != nil {
		return
	}
	if v.d == b.d {
		if b.next(id) == nil {
			return
		}
		s, e, _ := v.Span(id)
		at := len(b.buf)
		b.buf = append(b.buf, v.msg[s:e]...)
		b.repad(&b.d.fields[id], b.buf[at+int(v.data[id])-s:], int(v.units[id]))
		return
	}
	if c := v.d.fields[id].Class; c == ClassB || c == ClassANSB {
		b.text = v.AppendBytes(b.text[:0], id)
		b.Binary(id, b.text)
		return
	}
	b.text = v.AppendText(b.text[:0], id)
	b.Text(id, b.text)
}

// MACInput returns what a MAC carried in field id (64 or 128) covers: the
// message built so far from the MTI on (no header), with its bitmap already
// showing field id. Append the MAC next with Binary(id, mac). The slice is
// valid until the next call on b.
func (b *Builder) MACInput(id int) ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if id <= b.last || id > MaxField || !b.d.defined[id] {
		return nil, fieldErr(id, len(b.buf), ErrOutOfOrder)
	}
	if id > 64 && b.bitmap[1] == 0 && !b.d.bitmap128 {
		b.insertSecondary()
	}
	b.bitmap[(id-1)/64] |= 1 << (63 - uint(id-1)%64)
	b.writeBitmap()
	return b.buf[b.mtiOff:], nil
}

// Finish writes the bitmap and returns the message (dst with it appended).
func (b *Builder) Finish() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	b.writeBitmap()
	return b.buf, nil
}

func (b *Builder) writeBitmap() {
	words := 1
	if b.bitmap[1] != 0 || b.d.bitmap128 {
		words = 2
	}
	off := b.bmOff
	for w := 0; w < words; w++ {
		x := b.bitmap[w]
		if b.d.bitmapHex {
			for i := 15; i >= 0; i-- {
				b.buf[off+i] = hexDigits[x&0xf]
				x >>= 4
			}
			off += 16
		} else {
			for i := 7; i >= 0; i-- {
				b.buf[off+i] = byte(x)
				x >>= 8
			}
			off += 8
		}
	}
}

// put writes prefix and content of value (in units: characters, digits, bytes).
func (b *Builder) put(def *FieldDef, value []byte) {
	if def.Class == ClassANSB {
		b.putANSB(def, value)
		return
	}
	n := len(value)
	padN := 0
	if def.Fixed() && n < def.Length && def.Pad != 0 {
		padN = def.Length - n
	}
	total := n + padN
	if (def.Fixed() && total != def.Length) || total > def.Length {
		b.err = fieldErr(def.ID, len(b.buf), ErrWrongLength)
		return
	}
	if err := checkValue(def, value); err != nil {
		b.err = fieldErr(def.ID, len(b.buf), err)
		return
	}
	if def.Pad != 0 && padN > 0 && def.Class != ClassB {
		if ok := padAllowed(def); !ok {
			b.err = fieldErr(def.ID, len(b.buf), ErrWrongLength)
			return
		}
	}
	b.putPrefix(def, total)
	b.putContent(def, value, padN)
}

// putANSB writes the bytes of an ansb field as hex text, or raw when the
// hex text would not fit (raw bytes that would read as hex text cannot be
// written: the field is then too long).
func (b *Builder) putANSB(def *FieldDef, value []byte) {
	switch {
	case 2*len(value) <= def.Length:
		b.putPrefix(def, 2*len(value))
		b.buf = appendHex(b.buf, value)
	case len(value) <= def.Length && !isHexText(value):
		b.putPrefix(def, len(value))
		b.buf = append(b.buf, value...)
	default:
		b.err = fieldErr(def.ID, len(b.buf), ErrWrongLength)
	}
}

func padAllowed(def *FieldDef) bool {
	// A pad character must itself be valid content of the field.
	return checkValue(def, []byte{def.Pad}) == nil
}

// checkValue validates a value in text units (raw bytes for binary).
func checkValue(def *FieldDef, value []byte) error {
	if def.Class == ClassB {
		return nil
	}
	if def.Enc == EncBCD || def.Enc == EncLBCD {
		for _, c := range value {
			if def.Class == ClassZ {
				if _, ok := trackNibble(c); !ok {
					return ErrBadTrack
				}
			} else if c < '0' || c > '9' {
				return ErrNotNumeric
			}
		}
		return nil
	}
	if def.Enc == EncAmountBCD {
		return checkText(ClassAmount, value)
	}
	return checkText(def.Class, value)
}

func (b *Builder) putPrefix(def *FieldDef, n int) {
	switch def.Prefix {
	case PrefixASCII:
		b.buf = appendDecimal(b.buf, n, def.PrefixLen)
	case PrefixBCD:
		var digits [4]byte
		d := appendDecimal(digits[:0], n, def.PrefixLen+def.PrefixLen%2)
		for i := 0; i < len(d); i += 2 {
			b.buf = append(b.buf, (d[i]-'0')<<4|(d[i+1]-'0'))
		}
	case PrefixBinary:
		for i := def.PrefixLen - 1; i >= 0; i-- {
			b.buf = append(b.buf, byte(n>>(8*uint(i))))
		}
	case PrefixHex:
		for i := 2*def.PrefixLen - 1; i >= 0; i-- {
			b.buf = append(b.buf, hexDigits[(n>>(4*uint(i)))&0xf])
		}
	case PrefixEBCDIC:
		start := len(b.buf)
		b.buf = appendDecimal(b.buf, n, def.PrefixLen)
		for i := start; i < len(b.buf); i++ {
			b.buf[i] += ebcdicDigit0 - '0'
		}
	}
}

func appendDecimal(dst []byte, n, width int) []byte {
	start := len(dst)
	for i := 0; i < width; i++ {
		dst = append(dst, '0')
	}
	for i := len(dst) - 1; i >= start && n > 0; i-- {
		dst[i] = '0' + byte(n%10)
		n /= 10
	}
	return dst
}

func (b *Builder) putContent(def *FieldDef, value []byte, padN int) {
	switch def.Enc {
	case EncASCII:
		if def.PadLeft {
			b.appendPad(def.Pad, padN)
		}
		b.buf = append(b.buf, value...)
		if !def.PadLeft {
			b.appendPad(def.Pad, padN)
		}
	case EncEBCDIC:
		t := def.ebcdic
		if def.PadLeft {
			b.appendPad(t.fromASC[def.Pad&0x7f], padN)
		}
		b.buf = t.appendEBCDIC(b.buf, value)
		if !def.PadLeft {
			b.appendPad(t.fromASC[def.Pad&0x7f], padN)
		}
	case EncBinary:
		b.buf = append(b.buf, value...)
	case EncHexText:
		b.buf = appendHex(b.buf, value)
	case EncBCD, EncLBCD:
		b.putBCD(def, value, padN)
	case EncAmountBCD:
		if len(value) == 0 {
			return
		}
		b.buf = append(b.buf, value[0])
		b.putDigits(value[1:], 0, def.Pad, false, true, b.padFor(def))
	}
}

func (b *Builder) appendPad(c byte, n int) {
	for i := 0; i < n; i++ {
		b.buf = append(b.buf, c)
	}
}

// repad rewrites the pad nibble of copied content w (n units) of field
// def to the one the builder writes: a request padded with F is answered
// with the link's pad.
func (b *Builder) repad(def *FieldDef, w []byte, n int) {
	nib := b.padFor(def)
	switch def.Enc {
	case EncBCD:
		if n%2 == 1 {
			w[0] = w[0]&0x0F | nib<<4
		}
	case EncLBCD:
		if n%2 == 1 {
			w[len(w)-1] = w[len(w)-1]&0xF0 | nib
		}
	case EncAmountBCD:
		if n > 0 && (n-1)%2 == 1 {
			w[1] = w[1]&0x0F | nib<<4
		}
	}
}

func (b *Builder) putBCD(def *FieldDef, value []byte, padN int) {
	b.putDigits(value, padN, def.Pad, def.PadLeft, def.Enc == EncBCD, b.padFor(def))
}

// putDigits packs padN pad characters (left or right of value) and value
// as BCD; an odd total gets the pad nibble padNib first (right-aligned) or
// last.
func (b *Builder) putDigits(value []byte, padN int, pad byte, padLeft, rightAligned bool, padNib byte) {
	total := len(value) + padN
	k := 0
	var cur byte
	if total%2 == 1 && rightAligned {
		k, cur = 1, padNib<<4 // the leading pad nibble
	}
	emit := func(nib byte) {
		if k%2 == 0 {
			cur = nib << 4
		} else {
			b.buf = append(b.buf, cur|nib)
		}
		k++
	}
	padChar, _ := trackNibble(pad)
	if padLeft {
		for i := 0; i < padN; i++ {
			emit(padChar)
		}
	}
	for _, c := range value {
		nib, _ := trackNibble(c)
		emit(nib)
	}
	if !padLeft {
		for i := 0; i < padN; i++ {
			emit(padChar)
		}
	}
	if k%2 == 1 {
		emit(padNib)
	}
}
