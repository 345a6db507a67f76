package codec

import (
	"errors"
	"strconv"
)

// Sentinel reasons. A decode or validation failure is a *FieldError whose
// Reason is one of these, so callers can test with errors.Is and still log
// the field number and offset.
var (
	// ErrNeedMore means the input ends before the frame or message does.
	// For a stream it is not a failure: read more bytes and try again.
	ErrNeedMore = errors.New("codec: need more bytes")
	// ErrFrameTooLarge means a length header announces more than the link allows.
	ErrFrameTooLarge = errors.New("codec: frame larger than the link maximum")
	// ErrBadLengthHeader means the length header is not valid in its encoding.
	ErrBadLengthHeader = errors.New("codec: bad length header")
	// ErrShortFrame means a frame is too short to hold its TPDU or header.
	ErrShortFrame = errors.New("codec: frame too short")

	ErrTruncated      = errors.New("message ends inside the field")
	ErrBadMTI         = errors.New("MTI is not 4 digits")
	ErrBadBitmap      = errors.New("bitmap is not valid")
	ErrEmptySecondary = errors.New("secondary bitmap flagged but empty")
	ErrTertiaryBitmap = errors.New("tertiary bitmap (bit 65, or bit 1 of a 16-byte bitmap) is not supported")
	ErrUndefinedField = errors.New("field is not defined in the dialect")
	ErrBadPrefix      = errors.New("length prefix is not valid")
	ErrTooLong        = errors.New("length exceeds the field maximum")
	ErrNotNumeric     = errors.New("numeric field holds a non-digit")
	ErrBadTrack       = errors.New("track data holds a character other than a digit or separator")
	ErrBadAmountSign  = errors.New("amount must start with C or D")
	ErrNotASCII       = errors.New("text field holds a byte above 0x7F")
	ErrBadHex         = errors.New("hex text is not valid")
	ErrBadPadding     = errors.New("BCD pad nibble is not 0 or F")
	ErrTrailingData   = errors.New("bytes follow the last field")
	ErrMissingField   = errors.New("mandatory field is missing")
	ErrWrongLength    = errors.New("value does not fit the field length")
	ErrOutOfOrder     = errors.New("fields must be appended in ascending order")
	ErrNotPresent     = errors.New("field is not present")
	ErrNotAlnum       = errors.New("field must be 12 letters and digits")
	ErrControlChar    = errors.New("text field holds a control character")
	ErrCardData       = errors.New("text field holds card data (a card number or track data)")
)

// FieldError reports which field of a message failed and why. Field 0 is the
// MTI and field 1 the bitmap. Offset is the byte offset inside the message
// where the problem was found (or -1 when it does not apply).
type FieldError struct {
	Field  int
	Offset int
	Reason error
}

func (e *FieldError) Error() string {
	return "codec: field " + strconv.Itoa(e.Field) + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason.Error()
}

// Unwrap lets errors.Is match the reason.
func (e *FieldError) Unwrap() error { return e.Reason }

func fieldErr(id, off int, reason error) error {
	return &FieldError{Field: id, Offset: off, Reason: reason}
}
