package codec

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"

	"github.com/cardswitch/cardswitch/internal/pan"
)

// Message is the text form of a message, used by people and tools (not the
// hot path): `{"mti":"0200","fields":{"2":"...","3":"000000"}}`, field numbers
// as string keys, values in the dialect's text form, binary fields as
// upper-case hex. Header is the dialect's message header as hex, if it has one.
type Message struct {
	MTI    string            `json:"mti"`
	Header string            `json:"header,omitempty"`
	Fields map[string]string `json:"fields"`
}

// ToMessage converts a view to its text form. mask, when set, rewrites
// sensitive fields (see Sensitive).
func (v *View) ToMessage(mask bool) Message {
	m := Message{MTI: v.mti.String(), Fields: map[string]string{}}
	if v.d.HeaderLen > 0 {
		m.Header = string(appendHex(nil, v.Header()))
	}
	for id := 2; id <= MaxField; id++ {
		if !v.Has(id) {
			continue
		}
		text := string(v.AppendText(nil, id))
		if mask {
			text = MaskField(id, text)
		}
		m.Fields[strconv.Itoa(id)] = text
	}
	return m
}

// Encode builds the wire form of a text message.
func (d *Dialect) Encode(m Message) ([]byte, error) { return d.EncodeMAC(m, 0, nil) }

// EncodeMAC is Encode that adds field macField (64 or 128) last, with the
// MAC mac computes over the message before it (see Builder.MACInput).
func (d *Dialect) EncodeMAC(m Message, macField int, mac func([]byte) ([]byte, error)) ([]byte, error) {
	mti, ok := ParseMTI(m.MTI)
	if !ok {
		return nil, fmt.Errorf("codec: mti %q: %w", m.MTI, ErrBadMTI)
	}
	header, err := hex.DecodeString(m.Header)
	if err != nil {
		return nil, fmt.Errorf("codec: header: %w", ErrBadHex)
	}
	if d.HeaderLen == 0 && len(header) > 0 {
		return nil, fmt.Errorf("codec: dialect %s has no message header", d.Name)
	}
	if d.HeaderLen > 0 && len(header) != 0 && len(header) != d.HeaderLen {
		return nil, fmt.Errorf("codec: header must be %d bytes", d.HeaderLen)
	}
	ids := make([]int, 0, len(m.Fields))
	for k := range m.Fields {
		id, err := strconv.Atoi(k)
		if err != nil || id < 2 || id > MaxField {
			return nil, fmt.Errorf("codec: field %q: not a field number from 2 to 128", k)
		}
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var b Builder
	b.Begin(d, nil, mti, header)
	for _, id := range ids {
		if id == macField {
			continue
		}
		b.String(id, m.Fields[strconv.Itoa(id)])
	}
	if mac != nil {
		in, err := b.MACInput(macField)
		if err != nil {
			return nil, err
		}
		sum, err := mac(in)
		if err != nil {
			return nil, err
		}
		b.Binary(macField, sum[:min(len(sum), 8)])
	}
	return b.Finish()
}

// Sensitive reports fields that carry cardholder secrets or full card data:
// the PAN (2, and 34, the extended PAN), track data (35, 36, 45), the PIN
// block (52) and ICC data (55, which may hold track 2 equivalent data).
// It is the one list MaskField masks by.
func Sensitive(id int) bool {
	switch id {
	case FieldPAN, 34, FieldTrack2, 36, 45, FieldPINBlock, FieldEMV:
		return true
	}
	return false
}

// MaskField returns the text of field id fit for a log or a screen: a PAN
// with all but its first 6 and last 4 digits masked, track data reduced to
// the masked PAN, any other sensitive field (PIN block, ICC data) replaced
// by its length, and any other field that holds card data (pan.CardData)
// with its digits masked.
func MaskField(id int, text string) string {
	if !Sensitive(id) {
		if pan.CardData([]byte(text)) { // card data where it does not belong (a misaligned track)
			return pan.MaskDigits(text)
		}
		return text
	}
	switch id {
	case FieldPAN, 34:
		return MaskPAN(text)
	case FieldTrack2, 36, 45:
		return maskTrack(text)
	}
	return fmt.Sprintf("[%d characters hidden]", len(text))
}

// MaskPAN keeps the first 6 and last 4 digits of a PAN (PCI DSS).
func MaskPAN(p string) string { return pan.Mask(p) }

// maskTrack shows a track as its masked PAN and hides the rest (expiry,
// service code, discretionary data, CVV).
func maskTrack(t string) string {
	for i := 0; i < len(t); i++ {
		if t[i] == '=' || t[i] == 'D' || t[i] == '^' {
			pan := t[:i]
			if pan != "" && (pan[0] == 'B' || pan[0] == '%') { // track 1 format code
				pan = pan[1:]
			}
			return MaskPAN(pan) + "=****"
		}
	}
	return fmt.Sprintf("[%d characters hidden]", len(t))
}
