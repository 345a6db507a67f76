package hsm

import "crypto/subtle"

// pvvDigits is the length of a Visa PIN verification value.
const pvvDigits = 4

// GeneratePVV returns the Visa PVV of pin for pan (full PAN with check
// digit) and PVK index pvki (0-9) under the PVK pair pvk: the transformed
// security parameter (11 rightmost PAN digits excluding the check digit ||
// PVKI || 4 leftmost PIN digits) is TDES-encrypted and decimalised.
func GeneratePVV(pvk Key, pan string, pvki int, p PIN) (string, error) {
	var out [pvvDigits]byte
	if err := pvv(pvk, pan, pvki, p, &out); err != nil {
		return "", err
	}
	return string(out[:]), nil
}

// VerifyPVV recomputes the PVV and compares it with want in constant time
// (ErrPINMismatch if it differs).
func VerifyPVV(pvk Key, pan string, pvki int, p PIN, want string) error {
	var got [pvvDigits]byte
	if err := pvv(pvk, pan, pvki, p, &got); err != nil {
		return err
	}
	if len(want) != pvvDigits || !isDigits(want) {
		return ErrPINParams
	}
	if subtle.ConstantTimeCompare(got[:], []byte(want)) != 1 {
		return ErrPINMismatch
	}
	return nil
}

// pvv computes the 4 PVV digits into out.
func pvv(pvk Key, pan string, pvki int, p PIN, out *[pvvDigits]byte) error {
	if err := pvk.requireAlg(AlgorithmTDES); err != nil {
		return err
	}
	if len(pan) < 13 || len(pan) > panDigitsMax || !isDigits(pan) {
		return ErrPAN
	}
	if pvki < 0 || pvki > 9 {
		return ErrPINParams
	}
	if !p.Valid() {
		return ErrPINLength
	}
	var n nibbles
	tsp := pan[len(pan)-12 : len(pan)-1]
	for i := 0; i < 11; i++ {
		n[i] = tsp[i] - '0'
	}
	n[11] = byte(pvki)
	copy(n[12:16], p.d[:4])
	var block [8]byte
	n.pack(block[:])
	pvk.block.Encrypt(block[:], block[:])
	n.unpack(block[:])
	decimalise(n[:16], out[:])
	return nil
}

// decimalise fills out with the decimal nibbles of src in order, then, if
// short, with the hex nibbles A-F minus 10 (the Visa PVV and CVV rule).
func decimalise(src []byte, out []byte) {
	k := 0
	for _, v := range src {
		if v <= 9 && k < len(out) {
			out[k] = '0' + v
			k++
		}
	}
	for _, v := range src {
		if v > 9 && k < len(out) {
			out[k] = '0' + v - 10
			k++
		}
	}
}
