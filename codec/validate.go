package codec

import "github.com/cardswitch/cardswitch/internal/pan"

// Validate checks what decoding cannot: the fields the dialect makes
// mandatory for the message's MTI. It returns a *FieldError naming the first
// missing field (for a one-of rule, the first of its fields).
func (v *View) Validate() error {
	for _, r := range v.d.Requirements {
		if !r.matches(v.mti) {
			continue
		}
		for _, id := range r.All {
			if !v.Has(id) {
				return fieldErr(id, -1, ErrMissingField)
			}
		}
		if len(r.OneOf) == 0 {
			continue
		}
		found := false
		for _, id := range r.OneOf {
			found = found || v.Has(id)
		}
		if !found {
			return fieldErr(r.OneOf[0], -1, ErrMissingField)
		}
	}
	return nil
}

// clearTextFields are the request fields the switch keeps, logs or echoes
// as they came, in clear: the retrieval reference number, the terminal and
// merchant IDs, the acceptor's name and location.
var clearTextFields = [...]int{FieldRRN, FieldTerminal, FieldMerchant, FieldAcceptorName}

// ClearText reports whether field id is one CheckClearText checks.
func ClearText(id int) bool {
	for _, c := range clearTextFields {
		if c == id {
			return true
		}
	}
	return false
}

// CheckClearText checks the clear-text fields by content, where decoding
// checks only their class: 37 must be 12 letters and digits; 41, 42 and 43
// printable ASCII holding no track 2 separator next to a digit, and 41 and
// 43 no Luhn-valid run of 13 to 19 digits (pan.CardData). A merchant ID
// (42) of 13 to 15 digits that passes Luhn is not refused: numeric merchant
// IDs are common and one in ten passes; the journal stores it masked. A
// failure means the message is misaligned (bitmap bit 35 off with the
// track's bytes present reads them as 37, 41 and 42) or carries card data
// where it does not belong: it is a *FieldError naming the field, never
// its content. It allocates nothing.
func (v *View) CheckClearText() error {
	var buf [64]byte // 43 is 40 characters (a custom dialect's longer field allocates)
	for _, id := range clearTextFields {
		if !v.Has(id) {
			continue
		}
		text := v.AppendText(buf[:0], id)
		if reason := clearTextReason(id, text); reason != nil {
			return fieldErr(id, -1, reason)
		}
	}
	return nil
}

func clearTextReason(id int, text []byte) error {
	if id == FieldRRN {
		if len(text) != 12 {
			return ErrNotAlnum
		}
		for _, c := range text {
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return ErrNotAlnum
			}
		}
		return nil
	}
	f := pan.Inspect(text)
	switch {
	case f&pan.Control != 0:
		return ErrControlChar
	case f&pan.Separator != 0, f&pan.Luhn != 0 && id != FieldMerchant:
		return ErrCardData
	}
	return nil
}
