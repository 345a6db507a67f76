package codec

import "errors"

// AppendText appends field id in its text form: characters as they are,
// BCD as digits (track separators as '='), amounts as sign and digits, and
// binary fields as upper-case hex. It appends nothing for an absent field.
func (v *View) AppendText(dst []byte, id int) []byte {
	if id < 2 || !v.Has(id) {
		return dst
	}
	def := &v.d.fields[id]
	w := v.Wire(id)
	n := int(v.units[id])
	switch def.Enc {
	case EncASCII:
		if def.Class == ClassANSB {
			if isHexText(w) {
				return appendUpper(dst, w)
			}
			return appendHex(dst, w)
		}
		return append(dst, w...)
	case EncEBCDIC:
		return def.ebcdic.appendASCII(dst, w)
	case EncBCD, EncLBCD:
		return appendBCD(dst, w, n, def.Enc == EncLBCD)
	case EncBinary:
		return appendHex(dst, w)
	case EncHexText:
		return appendUpper(dst, w)
	case EncAmountBCD:
		if n == 0 {
			return dst
		}
		return appendBCD(append(dst, w[0]), w[1:], n-1, false)
	}
	return dst
}

// AppendBytes appends the raw bytes of a binary or ansb field (hex text
// decoded). For a text field it appends the text form.
func (v *View) AppendBytes(dst []byte, id int) []byte {
	if id < 2 || !v.Has(id) {
		return dst
	}
	w := v.Wire(id)
	def := &v.d.fields[id]
	switch {
	case def.Enc == EncBinary, def.Class == ClassANSB && !isHexText(w):
		return append(dst, w...)
	case def.Enc == EncHexText, def.Class == ClassANSB:
		for i := 0; i+1 < len(w); i += 2 {
			hi, _ := unhex(w[i])
			lo, _ := unhex(w[i+1])
			dst = append(dst, hi<<4|lo)
		}
		return dst
	}
	return v.AppendText(dst, id)
}

func appendUpper(dst, w []byte) []byte {
	for _, c := range w {
		if c >= 'a' && c <= 'f' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// ErrNotDigits is returned by Uint for a field that holds more than digits.
var ErrNotDigits = errors.New("codec: field is not a number")

// Uint returns a numeric field of at most 19 digits as an integer.
func (v *View) Uint(id int) (uint64, error) {
	if !v.Has(id) || id < 2 {
		return 0, ErrNotPresent
	}
	def := &v.d.fields[id]
	n := int(v.units[id])
	if def.Class != ClassN || n > 19 || n == 0 {
		return 0, ErrNotDigits
	}
	w := v.Wire(id)
	var x uint64
	switch def.Enc {
	case EncASCII:
		for _, c := range w {
			x = x*10 + uint64(c-'0')
		}
	case EncEBCDIC:
		for _, c := range w {
			x = x*10 + uint64(c-ebcdicDigit0)
		}
	case EncBCD, EncLBCD:
		skipFirst := def.Enc == EncBCD && n%2 == 1
		for i := 0; i < n; i++ {
			k := i
			if skipFirst {
				k++
			}
			x = x*10 + uint64(nibble(w, k))
		}
	default:
		return 0, ErrNotDigits
	}
	return x, nil
}

func nibble(w []byte, k int) byte {
	if k%2 == 0 {
		return w[k/2] >> 4
	}
	return w[k/2] & 0xf
}

func appendBCD(dst, w []byte, n int, left bool) []byte {
	k := 0
	if !left && n%2 == 1 {
		k = 1
	}
	for i := 0; i < n; i++ {
		nib := nibble(w, k+i)
		if nib == 0xd {
			dst = append(dst, '=')
		} else {
			dst = append(dst, '0'+nib)
		}
	}
	return dst
}

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// The fields a switch reads, by their ISO 8583:1987 numbers.
const (
	FieldPAN               = 2
	FieldProcessingCode    = 3
	FieldAmount            = 4
	FieldTransmission      = 7
	FieldSTAN              = 11
	FieldLocalTime         = 12
	FieldLocalDate         = 13
	FieldExpiry            = 14
	FieldMCC               = 18
	FieldEntryMode         = 22
	FieldConditionCode     = 25
	FieldAcquirer          = 32
	FieldTrack2            = 35
	FieldRRN               = 37
	FieldApproval          = 38
	FieldResponseCode      = 39
	FieldTerminal          = 41
	FieldMerchant          = 42
	FieldAcceptorName      = 43 // card acceptor name and location
	FieldCurrency          = 49
	FieldPINBlock          = 52
	FieldAdditionalAmounts = 54
	FieldEMV               = 55
	FieldCUPOriginal       = 61 // UnionPay POS: original batch, STAN, date
	FieldMAC               = 64
	FieldNetworkCode       = 70
	FieldOriginal          = 90
	FieldMAC2              = 128
)

// PAN appends the primary account number: field 2, or the digits of track 2
// before its separator when field 2 is absent.
func (v *View) PAN(dst []byte) []byte {
	if v.Has(FieldPAN) {
		return v.AppendText(dst, FieldPAN)
	}
	if !v.Has(FieldTrack2) {
		return dst
	}
	start := len(dst)
	dst = v.AppendText(dst, FieldTrack2)
	for i := start; i < len(dst); i++ {
		if dst[i] == '=' || dst[i] == 'D' {
			return dst[:i]
		}
	}
	return dst
}

// ProcessingCode returns field 3 as a number (000000 purchase, 310000 balance).
func (v *View) ProcessingCode() (uint32, bool) { return v.uint32(FieldProcessingCode) }

// Amount returns field 4 in minor units.
func (v *View) Amount() (int64, bool) {
	x, err := v.Uint(FieldAmount)
	return int64(x), err == nil
}

// STAN returns field 11.
func (v *View) STAN() (uint32, bool) { return v.uint32(FieldSTAN) }

// LocalTime returns field 12 as hhmmss.
func (v *View) LocalTime() (uint32, bool) { return v.uint32(FieldLocalTime) }

// LocalDate returns field 13 as MMDD.
func (v *View) LocalDate() (uint32, bool) { return v.uint32(FieldLocalDate) }

// Expiry returns field 14 as YYMM.
func (v *View) Expiry() (uint32, bool) { return v.uint32(FieldExpiry) }

// MCC returns field 18, the merchant category code.
func (v *View) MCC() (uint32, bool) { return v.uint32(FieldMCC) }

// EntryMode returns field 22, the point of service entry mode.
func (v *View) EntryMode() (uint32, bool) { return v.uint32(FieldEntryMode) }

// ConditionCode returns field 25.
func (v *View) ConditionCode() (uint32, bool) { return v.uint32(FieldConditionCode) }

// NetworkCode returns field 70 (001 sign-on, 002 sign-off, 301 echo test).
func (v *View) NetworkCode() (uint32, bool) { return v.uint32(FieldNetworkCode) }

// RRN appends field 37.
func (v *View) RRN(dst []byte) []byte { return v.AppendText(dst, FieldRRN) }

// TerminalID appends field 41.
func (v *View) TerminalID(dst []byte) []byte { return v.AppendText(dst, FieldTerminal) }

// MerchantID appends field 42.
func (v *View) MerchantID(dst []byte) []byte { return v.AppendText(dst, FieldMerchant) }

// PINBlock appends the 8 bytes of field 52. Never log or store them.
func (v *View) PINBlock(dst []byte) []byte { return v.AppendBytes(dst, FieldPINBlock) }

// MAC appends the MAC from field 64, or 128 when the secondary bitmap is used.
func (v *View) MAC(dst []byte) []byte {
	if v.Has(FieldMAC2) {
		return v.AppendBytes(dst, FieldMAC2)
	}
	return v.AppendBytes(dst, FieldMAC)
}

// MACInput returns the bytes a MAC is computed over: from the MTI up to the
// MAC field (64 or 128), without the header. ok=false if no MAC is present.
func (v *View) MACInput() ([]byte, bool) {
	id := FieldMAC
	if v.Has(FieldMAC2) {
		id = FieldMAC2
	}
	start, _, ok := v.Span(id)
	if !ok {
		return nil, false
	}
	return v.msg[v.d.HeaderLen:start], true
}

// EMV appends the raw BER-TLV bytes of field 55 (hex text decoded when the
// dialect carries it as text). Walk them with NextTLV, or check and index
// them with codec/emv's ICC.Parse.
func (v *View) EMV(dst []byte) ([]byte, error) {
	if !v.Has(FieldEMV) {
		return dst, ErrNotPresent
	}
	if v.d.fields[FieldEMV].Class != ClassANS {
		return v.AppendBytes(dst, FieldEMV), nil
	}
	w := v.Wire(FieldEMV)
	if len(w)%2 != 0 {
		return dst, ErrBadHex
	}
	text := &asciiIdentity
	if t := v.d.fields[FieldEMV].ebcdic; t != nil {
		text = &t.toASCII
	}
	for i := 0; i < len(w); i += 2 {
		hi, ok1 := unhex(text[w[i]])
		lo, ok2 := unhex(text[w[i+1]])
		if !ok1 || !ok2 {
			return dst, ErrBadHex
		}
		dst = append(dst, hi<<4|lo)
	}
	return dst, nil
}

// OriginalData is field 90: what a reversal or advice refers to.
type OriginalData struct {
	MTI          MTI
	STAN         uint32
	Transmission uint64 // MMDDhhmmss of the original's field 7
	Acquirer     uint64 // original field 32, right-justified
	Forwarder    uint64 // original field 33, right-justified
}

// Original parses field 90 (n42: MTI 4, STAN 6, date and time 10,
// acquirer 11, forwarder 11).
func (v *View) Original() (OriginalData, bool) {
	var o OriginalData
	if !v.Has(FieldOriginal) || v.units[FieldOriginal] != 42 || v.d.fields[FieldOriginal].Class != ClassN {
		return o, false
	}
	var digits [42]byte
	v.AppendText(digits[:0], FieldOriginal)
	copy(o.MTI[:], digits[0:4])
	o.STAN = uint32(atou(digits[4:10]))
	o.Transmission = atou(digits[10:20])
	o.Acquirer = atou(digits[20:31])
	o.Forwarder = atou(digits[31:42])
	return o, true
}

func atou(b []byte) uint64 {
	var x uint64
	for _, c := range b {
		x = x*10 + uint64(c-'0')
	}
	return x
}

func (v *View) uint32(id int) (uint32, bool) {
	x, err := v.Uint(id)
	return uint32(x), err == nil && x <= 1<<32-1
}
