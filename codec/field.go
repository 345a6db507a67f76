package codec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/padding"
	"github.com/moov-io/iso8583/specs"
)

// Class is the content class of a field: which characters it may hold.
// ISO 8583 names them n, ans, z, x+n and b; the moov field type alone cannot
// say that a String holds digits, so each built-in dialect states it.
type Class uint8

const (
	ClassANS    Class = iota // any 7-bit character (what moov's ASCII encoding accepts)
	ClassN                   // digits only
	ClassZ                   // track data: digits and the '=' separator (a D nibble in BCD)
	ClassAmount              // x+n: 'C' or 'D' then digits
	ClassB                   // binary; the text form is upper-case hex
	// ClassANSB is ISO 8583's ansb in a variable ASCII field: bytes, carried
	// as hex text (two characters a byte, as the codec writes them) or raw
	// (as jPOS's IFA_LLLCHAR passes any byte: EMV data in field 55). Content
	// that is an even count of hex digits is hex text; anything else stands
	// for itself. The prefix counts bytes on the wire; the text form is the
	// bytes in upper-case hex.
	ClassANSB
)

// Enc is how a field's content is laid out on the wire.
type Enc uint8

const (
	EncASCII     Enc = iota // one byte per character
	EncBCD                  // packed BCD, right-aligned: an odd length gets a leading 0 nibble
	EncLBCD                 // packed BCD, left-aligned: an odd length gets a trailing 0 nibble
	EncBinary               // raw bytes
	EncHexText              // raw bytes carried as upper-case hex text, two characters a byte
	EncAmountBCD            // x+n: the sign as one ASCII byte, then the digits as right-aligned BCD
	EncEBCDIC               // one byte per character in an EBCDIC code page (FieldDef.Charset names it)
)

// Prefix is the family of a variable-length field's length prefix.
type Prefix uint8

const (
	PrefixFixed  Prefix = iota // no prefix: the length is the field's fixed length
	PrefixASCII                // decimal digits as ASCII
	PrefixBCD                  // decimal digits as packed BCD, right-aligned
	PrefixBinary               // big-endian unsigned integer
	PrefixHex                  // hexadecimal digits as ASCII, two per prefix byte
	PrefixEBCDIC               // decimal digits as EBCDIC (F0 to F9 in every code page the codec reads)
)

// FieldDef is one field of a dialect, compiled from the moov field spec.
// Units of Length: characters for text classes in ASCII, digits in BCD,
// bytes for binary. A variable prefix counts the same units.
type FieldDef struct {
	ID          int
	Description string
	Class       Class
	Enc         Enc
	Prefix      Prefix
	PrefixLen   int // digits (ASCII, BCD, hex) or bytes (binary) of the prefix
	Length      int // the fixed length, or the maximum for a variable field
	Composite   bool
	// Pad fills a short value of a fixed field (0: the value must be exact),
	// on the left when PadLeft, as moov's padder does.
	Pad     byte
	PadLeft bool

	pbytes int          // prefixBytes(), computed once
	ebcdic *ebcdicTable // the code page of an EncEBCDIC field
}

// Charset names the code page of an EBCDIC field as moov's JSON spec names
// its encoding ("EBCDIC", "EBCDIC1047"); "" for any other encoding.
func (d *FieldDef) Charset() string {
	if d.ebcdic == nil {
		return ""
	}
	return d.ebcdic.name
}

// Fixed reports whether the field has no length prefix.
func (d *FieldDef) Fixed() bool { return d.Prefix == PrefixFixed }

// prefixBytes is the size of the length prefix on the wire.
func (d *FieldDef) prefixBytes() int {
	switch d.Prefix {
	case PrefixASCII, PrefixBinary, PrefixEBCDIC:
		return d.PrefixLen
	case PrefixBCD:
		return (d.PrefixLen + 1) / 2
	case PrefixHex:
		return d.PrefixLen * 2
	}
	return 0
}

// wireBytes is the size on the wire of a value of n units.
func (d *FieldDef) wireBytes(n int) int {
	switch d.Enc {
	case EncBCD, EncLBCD:
		return (n + 1) / 2
	case EncHexText:
		return 2 * n
	case EncAmountBCD:
		if n == 0 {
			return 0
		}
		return 1 + n/2 // sign byte, then n-1 digits right-aligned: (n-1+1)/2
	}
	return n
}

// maxPrefixValue is the largest length the prefix can express.
func (d *FieldDef) maxPrefixValue() int {
	switch d.Prefix {
	case PrefixASCII, PrefixBCD, PrefixEBCDIC:
		v := 1
		for i := 0; i < d.PrefixLen; i++ {
			v *= 10
		}
		return v - 1
	case PrefixBinary:
		return 1<<(8*d.PrefixLen) - 1
	case PrefixHex:
		return 1<<(8*d.PrefixLen) - 1
	}
	return d.Length
}

// compileField turns a moov field into a FieldDef. class is the content
// class the dialect states; ok=false lets the field type decide.
func compileField(id int, f field.Field, class Class, classSet bool) (FieldDef, error) {
	spec := f.Spec()
	def := FieldDef{ID: id, Description: spec.Description, Length: spec.Length}
	if spec.Pref == nil {
		return def, fmt.Errorf("field %d: no length prefix", id)
	}
	if err := compilePrefix(&def, spec.Pref.Inspect()); err != nil {
		return def, fmt.Errorf("field %d: %w", id, err)
	}
	switch f.(type) {
	case *field.Composite:
		// A composite is carried whole: its prefix counts packed bytes.
		def.Composite, def.Class, def.Enc = true, ClassB, EncBinary
		return def, checkDef(&def)
	case *field.Binary, *field.Hex:
		def.Class = ClassB
	case *field.Numeric:
		def.Class = ClassN
	case *field.Track2:
		def.Class = ClassZ
	case *field.String:
		def.Class = ClassANS
	default:
		return def, fmt.Errorf("field %d: type %s is not supported (the codec reads String, Numeric, Track2, Binary, Hex and Composite)", id, typeName(f))
	}
	if classSet {
		def.Class = class
	}
	enc, err := compileEnc(spec.Enc, def.Class)
	if err != nil {
		return def, fmt.Errorf("field %d: %w", id, err)
	}
	def.Enc, def.ebcdic = enc, ebcdicFor(spec.Enc)
	if !classSet && def.Class == ClassANS && (enc == EncBCD || enc == EncLBCD) {
		def.Class = ClassN // a String carried as BCD can only hold digits
	}
	if !classSet && def.Class == ClassANS && enc == EncHexText {
		def.Class = ClassB // moov's String in HexToASCII holds the decoded bytes (Spec87ASCII's 52 and 64)
	}
	if err := checkPadding(&def, spec.Pad); err != nil {
		return def, fmt.Errorf("field %d: %w", id, err)
	}
	return def, checkDef(&def)
}

func compilePrefix(def *FieldDef, inspect string) error {
	family, ls, ok := strings.Cut(inspect, ".")
	if !ok {
		return fmt.Errorf("length prefix %q is not supported", inspect)
	}
	if strings.EqualFold(ls, "fixed") {
		def.Prefix = PrefixFixed
		return nil
	}
	if strings.Trim(ls, "L") != "" || len(ls) > 4 {
		return fmt.Errorf("length prefix %q is not supported", inspect)
	}
	def.PrefixLen = len(ls)
	switch family {
	case "ASCII":
		def.Prefix = PrefixASCII
	case "BCD":
		def.Prefix = PrefixBCD
	case "Binary":
		def.Prefix = PrefixBinary
	case "Hex":
		def.Prefix = PrefixHex
	case "EBCDIC", "EBCDIC1047":
		def.Prefix = PrefixEBCDIC
	default:
		return fmt.Errorf("length prefix %q is not supported", inspect)
	}
	return nil
}

func compileEnc(e encoding.Encoder, class Class) (Enc, error) {
	switch e {
	case encoding.ASCII:
		return EncASCII, nil
	case encoding.BCD:
		return EncBCD, nil
	case encoding.LBCD, Track2BCD:
		return EncLBCD, nil
	case encoding.Binary:
		return EncBinary, nil
	case encoding.BytesToASCIIHex:
		return EncHexText, nil
	case AmountBCD:
		return EncAmountBCD, nil
	case encoding.EBCDIC, encoding.EBCDIC1047:
		return EncEBCDIC, nil
	}
	return 0, fmt.Errorf("encoding %s is not supported by the codec (it reads %s)", encodingName(e), supportedEncodings)
}

// supportedEncodings lists, as moov's JSON spec names them, the field
// encodings compileEnc accepts.
const supportedEncodings = "ASCII, BCD, LBCD, EBCDIC, EBCDIC1047, Binary and HexToASCII"

// encodingName names a moov encoder as moov's JSON spec format does
// ("EBCDIC", "ASCIIToHex"), never by its Go type.
func encodingName(e encoding.Encoder) string {
	if e == nil {
		return "(none)"
	}
	names := make([]string, 0, 1)
	for name, enc := range specs.EncodingsExtToInt {
		if enc == e {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "(one that moov's JSON spec format has no name for)"
	}
	sort.Strings(names)
	return strings.Join(names, "/")
}

// typeName names a moov field type as moov's JSON spec format does
// ("Track1"), without its Go package and pointer.
func typeName(f field.Field) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", f), "*field.")
}

// checkPadding accepts only the padding the codec reproduces: left zeros on
// fixed numerics, right spaces on fixed text, none elsewhere.
func checkPadding(def *FieldDef, p padding.Padder) error {
	if p == nil || p == padding.None {
		return nil
	}
	pad := p.Inspect()
	if !def.Fixed() {
		return fmt.Errorf("padding %q on a variable field is not supported", pad)
	}
	if len(pad) != 1 {
		return fmt.Errorf("padding %q is not a single byte", pad)
	}
	def.Pad = pad[0]
	def.PadLeft = p.Pad([]byte{'x'}, 2)[1] == 'x'
	return nil
}

func checkDef(def *FieldDef) error {
	def.pbytes = def.prefixBytes()
	if def.Length <= 0 || def.Length > 9999 {
		return fmt.Errorf("field %d: length %d out of range", def.ID, def.Length)
	}
	if !def.Fixed() && def.Length > def.maxPrefixValue() {
		return fmt.Errorf("field %d: maximum %d does not fit its prefix", def.ID, def.Length)
	}
	switch def.Class {
	case ClassB:
		if def.Enc != EncBinary && def.Enc != EncHexText {
			return fmt.Errorf("field %d: binary content needs binary or hex encoding", def.ID)
		}
	case ClassN, ClassZ:
		if def.Enc == EncBinary || def.Enc == EncHexText || def.Enc == EncAmountBCD {
			return fmt.Errorf("field %d: numeric content cannot be binary-encoded", def.ID)
		}
	case ClassAmount:
		if def.Enc != EncASCII && def.Enc != EncEBCDIC && def.Enc != EncAmountBCD {
			return fmt.Errorf("field %d: amount content needs ASCII, EBCDIC or amount-BCD encoding", def.ID)
		}
	case ClassANS:
		if def.Enc != EncASCII && def.Enc != EncEBCDIC {
			return fmt.Errorf("field %d: text content needs ASCII or EBCDIC encoding", def.ID)
		}
	case ClassANSB:
		if def.Enc != EncASCII || def.Fixed() {
			return fmt.Errorf("field %d: ansb content needs ASCII encoding and a length prefix", def.ID)
		}
	}
	return nil
}
