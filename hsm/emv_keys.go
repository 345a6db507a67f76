package hsm

import "crypto/sha1"

// EMV card key derivation (EMV 4.x Book 2 Annex A1.3 and A1.4): the
// issuer master key for application cryptograms (IMK-AC, held under the
// LMK as key type KeyTypeMKAC) gives each card its ICC master key, and the
// ICC master key a session key per transaction. The ICC master key is
// what the issuer personalised into the card; the switch re-derives it for
// every verification and never stores it.

// ICCKeyMethod selects how the ICC master key is derived from the PAN.
type ICCKeyMethod uint8

const (
	// ICCKeyDefault is the method the cryptogram version calls for: option
	// B for Visa CVN 18 (as EMV 4.x and pyemv), option A for the others.
	ICCKeyDefault ICCKeyMethod = iota
	// ICCKeyOptionA (A1.4.1): the rightmost 16 digits of PAN‖PSN.
	ICCKeyOptionA
	// ICCKeyOptionB (A1.4.2): for a PAN of more than 16 digits, 16 decimal
	// digits drawn from SHA-1 of PAN‖PSN; for 16 digits or fewer, option A.
	ICCKeyOptionB
)

// ICCMasterKey derives the ICC master key from the issuer master key imk
// (a double-length TDES key), the PAN (12 to 19 digits) and the PAN
// sequence number psn, as tag 5F34 carries it (one BCD byte, 0x00-0x99;
// 0x00 when the card has none): MK = TDES(imk)[Y] ‖ TDES(imk)[Y ⊕ FF…FF]
// with odd parity, Y the 8-byte block method m makes from PAN‖PSN.
func ICCMasterKey(imk Key, pan string, psn byte, m ICCKeyMethod) (Key, error) {
	if err := imk.requireAlg(AlgorithmTDES); err != nil {
		return Key{}, err
	}
	if imk.n != 16 {
		return Key{}, ErrKeyLength
	}
	y, err := ICCKeyInput(pan, psn, m)
	if err != nil {
		return Key{}, err
	}
	return ICCMasterKeyFromInput(imk, y)
}

// ICCMasterKeyFromInput is ICCMasterKey from the derivation block Y
// ICCKeyInput makes (what a payShield KQ takes, "pre-formatted").
func ICCMasterKeyFromInput(imk Key, y [8]byte) (Key, error) {
	if err := imk.requireAlg(AlgorithmTDES); err != nil {
		return Key{}, err
	}
	if imk.n != 16 {
		return Key{}, ErrKeyLength
	}
	var mk [16]byte
	imk.block.Encrypt(mk[:8], y[:])
	for i := range y {
		y[i] ^= 0xFF
	}
	imk.block.Encrypt(mk[8:], y[:])
	FixParity(mk[:])
	return NewTDESKey(mk[:], ParityIgnore)
}

// emvPANDigitsMin is the shortest PAN a card is issued with (ISO/IEC 7812).
const emvPANDigitsMin = 12

// ICCKeyInput returns Y, the 8-byte derivation block method m makes from
// the PAN and the PAN sequence number (a BCD byte, as in ICCMasterKey).
func ICCKeyInput(pan string, psn byte, m ICCKeyMethod) ([8]byte, error) {
	var y [8]byte
	if len(pan) < emvPANDigitsMin || len(pan) > panDigitsMax || !isDigits(pan) {
		return y, ErrPAN
	}
	if psn>>4 > 9 || psn&0x0F > 9 {
		return y, ErrEMVData
	}
	var digits [panDigitsMax + 2]byte // PAN‖PSN as digit values
	n := 0
	for i := 0; i < len(pan); i++ {
		digits[n] = pan[i] - '0'
		n++
	}
	digits[n], digits[n+1] = psn>>4, psn&0x0F
	n += 2
	var d [16]byte // the 16 digits of Y
	switch {
	case m == ICCKeyOptionB && len(pan) > 16:
		d = optionBDigits(digits[:n])
	case m == ICCKeyOptionA || m == ICCKeyOptionB:
		// rightmost 16 digits, left-padded with zeros when shorter
		for i := 0; i < 16 && i < n; i++ {
			d[15-i] = digits[n-1-i]
		}
	default:
		return y, ErrEMVData
	}
	for i := range y {
		y[i] = d[2*i]<<4 | d[2*i+1]
	}
	return y, nil
}

// optionBDigits is A1.4.2 steps 1-3: SHA-1 over PAN‖PSN packed as BCD
// (left-padded with a zero digit to a whole byte), then the digest's
// decimal nibbles in order, then, if fewer than 16, its A-F nibbles as 0-5.
func optionBDigits(digits []byte) [16]byte {
	var bcd [(panDigitsMax + 3) / 2]byte
	odd := len(digits) % 2
	nb := (len(digits) + odd) / 2
	for i, v := range digits {
		j := i + odd
		if j%2 == 0 {
			bcd[j/2] = v << 4
		} else {
			bcd[j/2] |= v
		}
	}
	return decimaliseDigest(sha1.Sum(bcd[:nb]))
}

// decimaliseDigest is A1.4.2 step 2: the digest's decimal nibbles, left to
// right, then (if fewer than 16) its nibbles A-F as 0-5, left to right.
func decimaliseDigest(sum [sha1.Size]byte) [16]byte {
	var d [16]byte
	n := 0
	for pass := 0; pass < 2 && n < 16; pass++ {
		for i := 0; i < 2*len(sum) && n < 16; i++ {
			v := sum[i/2] >> 4
			if i%2 == 1 {
				v = sum[i/2] & 0x0F
			}
			switch {
			case pass == 0 && v <= 9:
				d[n] = v
				n++
			case pass == 1 && v > 9:
				d[n] = v - 10
				n++
			}
		}
	}
	return d
}

// EMVSessionKey is the EMV common session key derivation (Book 2
// A1.3.1) from the ICC master key mk and the diversification value r:
// SK = TDES(mk)[r0 r1 F0 r3…r7] ‖ TDES(mk)[r0 r1 0F r3…r7], odd parity.
// EMV 4.x and Visa CVN 18 use r = ATC‖000000000000; the Mastercard
// proprietary SKD (M/Chip CVN 16/17) r = ATC‖0000‖UN.
func EMVSessionKey(mk Key, r [8]byte) (Key, error) {
	if err := mk.requireAlg(AlgorithmTDES); err != nil {
		return Key{}, err
	}
	if mk.n != 16 {
		return Key{}, ErrKeyLength
	}
	var sk [16]byte
	r[2] = 0xF0
	mk.block.Encrypt(sk[:8], r[:])
	r[2] = 0x0F
	mk.block.Encrypt(sk[8:], r[:])
	FixParity(sk[:])
	return NewTDESKey(sk[:], ParityIgnore)
}

// SessionKeyInputCSK is r for the EMV common session key: ATC‖000000000000.
func SessionKeyInputCSK(atc [2]byte) [8]byte { return [8]byte{atc[0], atc[1]} }

// SessionKeyInputMastercard is r for the Mastercard SKD: ATC‖0000‖UN.
func SessionKeyInputMastercard(atc [2]byte, un [4]byte) [8]byte {
	return [8]byte{atc[0], atc[1], 0, 0, un[0], un[1], un[2], un[3]}
}
