package hsm

import "crypto/subtle"

// IBM3624 holds the parameters of the IBM 3624 PIN method: the natural PIN
// is the decimalised encryption of the validation data under the PVK, and
// a customer PIN is stored as an offset (PIN - natural PIN, digit by digit,
// mod 10).
type IBM3624 struct {
	// PVK is the PIN verification key (DES or TDES).
	PVK Key
	// DecimalisationTable maps hex digits 0-F to decimal: 16 digits,
	// e.g. "0123456789012345".
	DecimalisationTable string
	// ValidationData is 16 hex characters, already padded (see
	// IBM3624ValidationData and ThalesValidationData).
	ValidationData string
}

// NaturalPIN returns the natural PIN of the given length (4-12).
func (m IBM3624) NaturalPIN(length int) (PIN, error) {
	if length < pinDigitsMin || length > pinDigitsMax {
		return PIN{}, ErrPINLength
	}
	var nat [16]byte
	if err := m.natural(&nat); err != nil {
		return PIN{}, err
	}
	return pinDigits(nat[:length])
}

// Offset returns the offset of p: one digit per PIN digit.
func (m IBM3624) Offset(p PIN) (string, error) {
	if !p.Valid() {
		return "", ErrPINLength
	}
	var nat [16]byte
	if err := m.natural(&nat); err != nil {
		return "", err
	}
	var out [pinDigitsMax]byte
	for i := 0; i < int(p.n); i++ {
		out[i] = '0' + (p.d[i]+10-nat[i])%10
	}
	return string(out[:p.n]), nil
}

// PINFromOffset returns the customer PIN of an offset (natural + offset).
func (m IBM3624) PINFromOffset(offset string) (PIN, error) {
	digits, err := offsetDigits(offset)
	if err != nil {
		return PIN{}, err
	}
	var nat [16]byte
	if err := m.natural(&nat); err != nil {
		return PIN{}, err
	}
	for i := range digits {
		nat[i] = (nat[i] + digits[i] - '0') % 10
	}
	return pinDigits(nat[:len(digits)])
}

// Verify checks p against offset. The offset's digit count is the check
// length: the leftmost that many PIN digits are verified, as a payShield
// does. Trailing F pad characters (Thales 12H offsets) are ignored.
func (m IBM3624) Verify(p PIN, offset string) error {
	digits, err := offsetDigits(offset)
	if err != nil {
		return err
	}
	if len(digits) > int(p.n) {
		return ErrPINMismatch
	}
	var nat [16]byte
	if err := m.natural(&nat); err != nil {
		return err
	}
	var got, want [pinDigitsMax]byte
	for i := range digits {
		got[i] = (p.d[i] + 10 - nat[i]) % 10
		want[i] = digits[i] - '0'
	}
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return ErrPINMismatch
	}
	return nil
}

// natural writes the 16 decimalised digits (values 0-9) into nat.
func (m IBM3624) natural(nat *[16]byte) error {
	if err := m.PVK.requireAlg(AlgorithmTDES); err != nil {
		return err
	}
	if len(m.DecimalisationTable) != 16 || !isDigits(m.DecimalisationTable) {
		return ErrPINParams
	}
	var block [8]byte
	if _, err := decodeHexInto(block[:], m.ValidationData); err != nil || len(m.ValidationData) != 16 {
		return ErrPINParams
	}
	m.PVK.block.Encrypt(block[:], block[:])
	var n nibbles
	n.unpack(block[:])
	for i := 0; i < 16; i++ {
		nat[i] = m.DecimalisationTable[n[i]] - '0'
	}
	return nil
}

// offsetDigits strips trailing F pad and checks 4-12 digits remain.
func offsetDigits(offset string) (string, error) {
	end := len(offset)
	for end > 0 && (offset[end-1] == 'F' || offset[end-1] == 'f') {
		end--
	}
	d := offset[:end]
	if len(offset) > pinDigitsMax || len(d) < pinDigitsMin || !isDigits(d) {
		return "", ErrPINParams
	}
	return d, nil
}

// IBM3624ValidationData takes length digits of pan from start and pads
// them on the right with pad (one hex character) to 16 characters.
func IBM3624ValidationData(pan string, start, length int, pad byte) (string, error) {
	if _, ok := hexNibble(pad); !ok || !isDigits(pan) || len(pan) > panDigitsMax {
		return "", ErrPINParams
	}
	if start < 0 || length < 1 || length > 16 || start+length > len(pan) {
		return "", ErrPINParams
	}
	var out [16]byte
	copy(out[:], pan[start:start+length])
	for i := length; i < 16; i++ {
		out[i] = pad
	}
	return string(out[:]), nil
}

// ThalesValidationData expands payShield PIN validation data (12
// characters, hex digits and one 'N') by replacing N with the last 5
// digits of the 12-digit account number, giving 16 characters.
func ThalesValidationData(data, account string) (string, error) {
	if len(data) != 12 || len(account) != 12 || !isDigits(account) {
		return "", ErrPINParams
	}
	var out [16]byte
	k, seen := 0, false
	for i := 0; i < len(data); i++ {
		if data[i] == 'N' && !seen {
			seen = true
			k += copy(out[k:], account[7:])
			continue
		}
		if _, ok := hexNibble(data[i]); !ok {
			return "", ErrPINParams
		}
		out[k] = data[i]
		k++
	}
	if !seen {
		return "", ErrPINParams
	}
	return string(out[:]), nil
}
