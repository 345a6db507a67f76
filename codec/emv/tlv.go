package emv

import (
	"errors"
	"strconv"
	"strings"
)

// Tag is a BER-TLV tag as its bytes read big-endian: 0x9F26 for tag 9F26,
// 0x95 for tag 95. EMV tags are one or two bytes; three are accepted (ISO
// 7816-4 allows them), four are not.
type Tag uint32

// String returns the tag in upper-case hex, as EMV prints it ("9F26").
func (t Tag) String() string {
	s := strconv.FormatUint(uint64(t), 16)
	if len(s)%2 != 0 {
		s = "0" + s
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// Constructed reports whether the tag is a template (bit 6 of its first
// byte): its value is itself a sequence of data objects.
func (t Tag) Constructed() bool { return t.firstByte()&0x20 != 0 }

// firstByte returns the tag's first byte.
func (t Tag) firstByte() byte {
	switch {
	case t > 0xFFFF:
		return byte(t >> 16)
	case t > 0xFF:
		return byte(t >> 8)
	}
	return byte(t)
}

// Tags of the data elements a switch reads from field 55 or writes to it.
const (
	TagAIP             Tag = 0x82   // application interchange profile (2)
	TagDFName          Tag = 0x84   // dedicated file name (AID, 5-16)
	TagARPCResponse    Tag = 0x91   // issuer authentication data: ARPC and ARC or CSU (8-16)
	TagTVR             Tag = 0x95   // terminal verification results (5)
	TagTxnDate         Tag = 0x9A   // transaction date YYMMDD (3)
	TagTxnType         Tag = 0x9C   // transaction type (1)
	TagCurrency        Tag = 0x5F2A // transaction currency code (2)
	TagPANSequence     Tag = 0x5F34 // PAN sequence number (1)
	TagAmount          Tag = 0x9F02 // amount authorised (6)
	TagAmountOther     Tag = 0x9F03 // amount other, cashback (6)
	TagAppVersion      Tag = 0x9F09 // application version number, terminal (2)
	TagIAD             Tag = 0x9F10 // issuer application data (1-32)
	TagTermCountry     Tag = 0x9F1A // terminal country code (2)
	TagIFDSerial       Tag = 0x9F1E // interface device serial number (8)
	TagARQC            Tag = 0x9F26 // application cryptogram (8)
	TagCID             Tag = 0x9F27 // cryptogram information data (1)
	TagTermCaps        Tag = 0x9F33 // terminal capabilities (3)
	TagCVMResults      Tag = 0x9F34 // CVM results (3)
	TagTermType        Tag = 0x9F35 // terminal type (1)
	TagATC             Tag = 0x9F36 // application transaction counter (2)
	TagUnpredictable   Tag = 0x9F37 // unpredictable number (4)
	TagTxnSeqCounter   Tag = 0x9F41 // transaction sequence counter (2-4)
	TagIssuerScript1   Tag = 0x71   // issuer script template 1 (constructed)
	TagIssuerScript2   Tag = 0x72   // issuer script template 2 (constructed)
	TagIssuerScriptCmd Tag = 0x86   // issuer script command (inside 71/72)
)

// valueBytes returns the value lengths EMV Book 3 Annex A allows for a
// known tag; ok is false for a tag this package does not check.
func valueBytes(t Tag) (lo, hi int, ok bool) {
	switch t {
	case TagTxnType, TagPANSequence, TagCID, TagTermType:
		return 1, 1, true
	case TagAIP, TagCurrency, TagAppVersion, TagTermCountry, TagATC:
		return 2, 2, true
	case TagTxnDate, TagTermCaps, TagCVMResults:
		return 3, 3, true
	case TagUnpredictable:
		return 4, 4, true
	case TagTVR:
		return 5, 5, true
	case TagAmount, TagAmountOther:
		return 6, 6, true
	case TagARQC, TagIFDSerial:
		return 8, 8, true
	case TagIAD:
		return 1, 32, true
	case TagDFName:
		return 5, 16, true
	case TagARPCResponse:
		return 8, 16, true
	case TagTxnSeqCounter:
		return 2, 4, true
	}
	return 0, 0, false
}

// Bounds. Field 55 is an LLLVAR of at most 999 bytes in ISO 8583:1987 (the
// card networks allow 255); a data object is at least 2 bytes, and real
// field 55s carry about 20 of them, so 64 is generous and keeps ICC small
// (512 bytes) for a stack or a pooled request. Templates nest one deep in
// practice (71 holding 86); 4 levels bounds the recursion.
const (
	// DataBytesMax is the longest ICC data Parse accepts.
	DataBytesMax = 999
	// ObjectsMax is the number of data objects, templates and their
	// contents included, one ICC holds.
	ObjectsMax = 64
	// depthMax is how deep templates may nest.
	depthMax = 4
	// tagBytesMax is the longest tag.
	tagBytesMax = 3
	// valueBytesMax is the longest value AppendTLV encodes (a 2-byte length).
	valueBytesMax = 0xFFFF
)

// Sentinel errors; a parse failure is an *Error wrapping one of them.
var (
	// ErrTruncated means the data ends inside a tag, a length or a value.
	ErrTruncated = errors.New("emv: data ends inside a data object")
	// ErrTag means a tag is malformed: longer than 3 bytes, a padding byte
	// (00 or FF) where a tag should start, or a continuation byte of 80.
	ErrTag = errors.New("emv: malformed tag")
	// ErrLength means a length is indefinite (80), takes more than 2 bytes
	// (83 and up), or uses more bytes than it needs (81 05, 82 00 7F).
	ErrLength = errors.New("emv: malformed length")
	// ErrDuplicate means a tag appears twice in the same template.
	ErrDuplicate = errors.New("emv: duplicate tag")
	// ErrValueLength means a known tag has a value of a size EMV does not allow.
	ErrValueLength = errors.New("emv: value length not allowed for the tag")
	// ErrTooMany means more than ObjectsMax data objects.
	ErrTooMany = errors.New("emv: too many data objects")
	// ErrTooDeep means templates nested more than 4 deep.
	ErrTooDeep = errors.New("emv: templates nested too deep")
	// ErrMissing means a data object the caller needs is absent (ICC.Need).
	ErrMissing = errors.New("emv: data object missing")
	// ErrTooLong means the data is longer than DataBytesMax, or a value
	// given to AppendTLV is longer than a 2-byte length can say.
	ErrTooLong = errors.New("emv: data too long")
)

// Error is a parse failure: where it happened and why.
type Error struct {
	Offset int // byte offset of the data object's tag in the parsed data
	Tag    Tag // the tag, when it could be read (0 otherwise)
	Err    error
}

// Error returns e.g. "emv: tag 9F26 at byte 12: value length not allowed for the tag".
func (e *Error) Error() string {
	why := strings.TrimPrefix(e.Err.Error(), "emv: ")
	if e.Tag == 0 {
		return "emv: at byte " + strconv.Itoa(e.Offset) + ": " + why
	}
	return "emv: tag " + e.Tag.String() + " at byte " + strconv.Itoa(e.Offset) + ": " + why
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// readTag reads the tag at the start of b; n is its length in bytes.
func readTag(b []byte) (t Tag, n int, err error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	if b[0] == 0x00 || b[0] == 0xFF {
		return 0, 0, ErrTag // padding, or a tag no EMV object has
	}
	t = Tag(b[0])
	n = 1
	if b[0]&0x1F != 0x1F {
		return t, n, nil
	}
	for {
		if n >= len(b) {
			return 0, 0, ErrTruncated
		}
		if n >= tagBytesMax {
			return 0, 0, ErrTag
		}
		c := b[n]
		if n == 1 && c == 0x80 {
			return 0, 0, ErrTag // a leading zero group: not minimal
		}
		t = t<<8 | Tag(c)
		n++
		if c&0x80 == 0 {
			return t, n, nil
		}
	}
}

// readLength reads a definite length in its minimal form: 00-7F, 81 80-FF
// or 82 0100-FFFF. n is the number of bytes it took.
func readLength(b []byte) (v, n int, err error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	switch c := b[0]; {
	case c < 0x80:
		return int(c), 1, nil
	case c == 0x81:
		if len(b) < 2 {
			return 0, 0, ErrTruncated
		}
		if b[1] < 0x80 {
			return 0, 0, ErrLength
		}
		return int(b[1]), 2, nil
	case c == 0x82:
		if len(b) < 3 {
			return 0, 0, ErrTruncated
		}
		v = int(b[1])<<8 | int(b[2])
		if v < 0x100 {
			return 0, 0, ErrLength
		}
		return v, 3, nil
	}
	return 0, 0, ErrLength
}

// validTag reports whether t encodes as a well-formed tag of at most 3 bytes.
func validTag(t Tag) bool {
	var buf [4]byte
	n := putTag(&buf, t)
	if n == 0 {
		return false
	}
	got, m, err := readTag(buf[:n])
	return err == nil && m == n && got == t
}

// putTag writes t's bytes into buf and returns how many (0 for t == 0 or
// a tag of 4 bytes).
func putTag(buf *[4]byte, t Tag) int {
	switch {
	case t == 0 || t > 0xFFFFFF:
		return 0
	case t > 0xFFFF:
		buf[0], buf[1], buf[2] = byte(t>>16), byte(t>>8), byte(t)
		return 3
	case t > 0xFF:
		buf[0], buf[1] = byte(t>>8), byte(t)
		return 2
	}
	buf[0] = byte(t)
	return 1
}

// AppendTLV appends one data object, tag, minimal length and value, to
// dst. It refuses a malformed tag (ErrTag) and a value longer than 65535
// bytes (ErrTooLong). For a template (a constructed tag) value must itself
// be data objects, built with AppendTLV; ICC.Parse checks that, this does not.
func AppendTLV(dst []byte, t Tag, value []byte) ([]byte, error) {
	if !validTag(t) {
		return dst, ErrTag
	}
	if len(value) > valueBytesMax {
		return dst, ErrTooLong
	}
	var buf [4]byte
	n := putTag(&buf, t)
	dst = append(dst, buf[:n]...)
	switch v := len(value); {
	case v < 0x80:
		dst = append(dst, byte(v))
	case v <= 0xFF:
		dst = append(dst, 0x81, byte(v))
	default:
		dst = append(dst, 0x82, byte(v>>8), byte(v))
	}
	return append(dst, value...), nil
}
