package codec

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/specs"
)

// MaxField is the highest field number a dialect may define: a primary and a
// secondary bitmap. Bit 65 (a tertiary bitmap) is refused.
const MaxField = 128

// maxMessageBytes bounds one message: offsets inside a view are uint16.
const maxMessageBytes = 65535

// Dialect is one ISO 8583 message layout: which fields exist and how each is
// carried. It is compiled from a moov-io/iso8583 MessageSpec, which stays
// available as the reference implementation (Spec).
type Dialect struct {
	Name        string
	Description string
	// Spec is the moov-io/iso8583 definition the dialect was compiled from.
	Spec *iso8583.MessageSpec
	// HeaderLen is the size of a message header that precedes the MTI
	// (6 for China UnionPay POS), carried opaque and echoed on replies.
	HeaderLen int
	// Requirements are the mandatory fields per MTI, checked by Validate.
	Requirements []Requirement

	mtiBCD    bool // MTI as 2 bytes of BCD, else 4 ASCII digits
	mtiEBCDIC bool // MTI as 4 EBCDIC digits (F0 to F9), else ASCII or BCD
	bitmapHex bool // bitmap as 16 hex characters per 64 bits, else 8 raw bytes
	// bitmap128 is moov's 16-byte bitmap (Spec87ASCII): both words always
	// present, bit 1 never set (it would announce a third bitmap).
	bitmap128 bool
	defined   [MaxField + 1]bool
	fields    [MaxField + 1]FieldDef
}

// Requirement lists fields that must be present in messages whose MTI matches
// a pattern: four characters, '.' matching any digit ("02.0": 0200 and 0220).
type Requirement struct {
	MTI   string
	All   []int // every one must be present
	OneOf []int // at least one must be present (none: no such rule)
}

func (r Requirement) matches(mti MTI) bool {
	for i := 0; i < 4; i++ {
		if r.MTI[i] != '.' && r.MTI[i] != mti[i] {
			return false
		}
	}
	return true
}

// Field returns the definition of field id, or nil if the dialect has none.
func (d *Dialect) Field(id int) *FieldDef {
	if id < 2 || id > MaxField || !d.defined[id] {
		return nil
	}
	return &d.fields[id]
}

// FieldIDs lists the defined fields in ascending order.
func (d *Dialect) FieldIDs() []int {
	var ids []int
	for id := 2; id <= MaxField; id++ {
		if d.defined[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// Compile builds a dialect from a moov spec. classes states the content
// class of fields whose moov type cannot (a String that holds digits).
func Compile(name, description string, spec *iso8583.MessageSpec, headerLen int, classes map[int]Class) (*Dialect, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("dialect %s: %w", name, err)
	}
	d := &Dialect{Name: name, Description: description, Spec: spec, HeaderLen: headerLen}
	if err := d.compileHead(spec); err != nil {
		return nil, fmt.Errorf("dialect %s: %w", name, err)
	}
	for id, f := range spec.Fields {
		if id < 2 {
			continue
		}
		if id == 65 || id > MaxField {
			return nil, fmt.Errorf("dialect %s: field %d: only fields 2 to 128 other than 65 are supported", name, id)
		}
		class, set := classes[id]
		def, err := compileField(id, f, class, set)
		if err != nil {
			return nil, fmt.Errorf("dialect %s: %w", name, err)
		}
		d.fields[id], d.defined[id] = def, true
	}
	return d, nil
}

func (d *Dialect) compileHead(spec *iso8583.MessageSpec) error {
	mti := spec.Fields[0].Spec()
	switch {
	case mti.Length == 4 && mti.Enc == encoding.ASCII:
	case mti.Length == 4 && mti.Enc == encoding.BCD:
		d.mtiBCD = true
	case mti.Length == 4 && ebcdicFor(mti.Enc) != nil:
		d.mtiEBCDIC = true
	default:
		return fmt.Errorf("MTI: length %d, encoding %s: must be 4 digits in ASCII, BCD, EBCDIC or EBCDIC1047", mti.Length, encodingName(mti.Enc))
	}
	bm := spec.Fields[1].Spec()
	switch {
	case bm.Length == 16:
		// moov's Spec87ASCII: fields 2 to 128 in one bitmap. Bit 1 is
		// refused as announcing a third, expanding or not.
		d.bitmap128 = true
	case bm.DisableAutoExpand:
		return fmt.Errorf("bitmap: a fixed 8-byte bitmap is not supported; bit 1 must announce the secondary bitmap")
	case bm.Length != 8:
		return fmt.Errorf("bitmap: length %d: must be 8 bytes (bit 1 announcing the secondary) or 16 (fields 2 to 128)", bm.Length)
	}
	switch bm.Enc {
	case encoding.Binary:
	case encoding.BytesToASCIIHex:
		d.bitmapHex = true
	default:
		return fmt.Errorf("bitmap: encoding %s: must be Binary or HexToASCII", encodingName(bm.Enc))
	}
	return nil
}

// Builtin dialect names.
const (
	ISO87ASCII        = "iso87ascii"
	ISO87ASCIIBBitmap = "iso87ascii-bbitmap"
	ISO87Binary       = "iso87binary"
	CUPPOS            = "cup-pos"
)

var builtins = map[string]*Dialect{}

func register(d *Dialect, err error) {
	if err != nil {
		panic(err) // a broken built-in dialect is a programming error caught by every test
	}
	builtins[d.Name] = d
}

// Builtins lists the names of the built-in dialects.
func Builtins() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup finds a dialect by built-in name, or loads a moov JSON spec when
// nameOrPath ends in ".json".
func Lookup(nameOrPath string) (*Dialect, error) {
	if d, ok := builtins[nameOrPath]; ok {
		return d, nil
	}
	if strings.HasSuffix(nameOrPath, ".json") {
		return LoadJSON(nameOrPath)
	}
	return nil, fmt.Errorf("codec: unknown dialect %q (built in: %s; or a moov-io/iso8583 JSON spec file ending in .json)",
		nameOrPath, strings.Join(Builtins(), ", "))
}

// LoadJSON compiles a dialect from a moov-io/iso8583 JSON spec file. Content
// classes follow the moov field types (Numeric: digits; String: text, or
// digits when carried as BCD; Binary, Hex and Composite: bytes).
func LoadJSON(path string) (*Dialect, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	spec, err := importJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("codec: %s: %w", path, err)
	}
	if spec.Fields[0] == nil || spec.Fields[1] == nil {
		return nil, fmt.Errorf("codec: %s: the spec needs field 0 (MTI) and field 1 (bitmap)", path)
	}
	name := spec.Name
	if name == "" {
		name = path
	}
	d, err := Compile(name, "loaded from "+path, spec, 0, switchNumericClasses(spec))
	if err != nil {
		return nil, err
	}
	if err := checkSwitchNumerics(d); err != nil {
		return nil, fmt.Errorf("codec: %s: %w", path, err)
	}
	d.Requirements = genericRequirements(d)
	return d, nil
}

// switchNumerics are the fields the switch reads as numbers (amount, dates
// and times, STAN, codes; see the accessors). moov's own Spec87ASCII types
// most of them String, so a JSON dialect carries them as digits whatever
// their moov type: a non-digit there is a format error at decode, not a
// zero amount or STAN later.
var switchNumerics = [...]int{
	FieldProcessingCode, FieldAmount, FieldTransmission, FieldSTAN, FieldLocalTime, FieldLocalDate,
	FieldExpiry, FieldMCC, FieldEntryMode, FieldConditionCode, FieldNetworkCode, FieldOriginal,
}

// switchNumericClasses states ClassN for the switch's numeric fields that
// a spec types String (Numeric already is; other types are refused by
// checkSwitchNumerics).
func switchNumericClasses(spec *iso8583.MessageSpec) map[int]Class {
	classes := map[int]Class{}
	for _, id := range switchNumerics {
		if _, ok := spec.Fields[id].(*field.String); ok {
			classes[id] = ClassN
		}
	}
	return classes
}

// checkSwitchNumerics refuses a dialect in which a field the switch reads
// as a number cannot hold digits (a Binary, Hex or Track2 type).
func checkSwitchNumerics(d *Dialect) error {
	for _, id := range switchNumerics {
		if def := d.Field(id); def != nil && def.Class != ClassN {
			return fmt.Errorf("field %d (%s): the switch reads it as a number; its type %s cannot hold digits (use Numeric or String)",
				id, def.Description, typeName(d.Spec.Fields[id]))
		}
	}
	return nil
}

// importJSON is moov's specs.ImportJSON, which panics on some malformed
// specs (a Composite with neither a bitmap nor a tag): a bad file is an
// error, never a crash.
func importJSON(raw []byte) (spec *iso8583.MessageSpec, err error) {
	defer func() {
		if p := recover(); p != nil {
			spec, err = nil, fmt.Errorf("moov-io/iso8583 refuses the spec: %v", p)
		}
	}()
	return specs.ImportJSON(raw)
}

// genericRequirements keeps the ISO 8583:1987 requirements whose fields the
// dialect defines.
func genericRequirements(d *Dialect) []Requirement {
	var out []Requirement
	for _, r := range iso87Requirements {
		ok := true
		for _, id := range append(append([]int(nil), r.All...), r.OneOf...) {
			ok = ok && d.defined[id]
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}
