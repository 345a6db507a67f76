package codec

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
