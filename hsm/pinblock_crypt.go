package hsm

import "io"

// EncryptPINBlock builds the PIN block of format f and encrypts it under k:
// TDES-ECB for the 8-byte formats (DES or TDES key), and for ISO4 the
// two-pass C = AES_K(AES_K(PIN field) XOR PAN field) with an AES key.
// rnd supplies random fill; nil means crypto/rand.
func EncryptPINBlock(k Key, f PINBlockFormat, p PIN, pan string, rnd io.Reader) ([]byte, error) {
	var out [16]byte
	n, err := encryptPINBlock(k, f, p, pan, rnd, &out)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), out[:n]...), nil
}

// DecryptPINBlock decrypts an encrypted PIN block of format f under k and
// returns the PIN after full validation (control nibble, length, digits,
// fill). A wrong key almost always shows as ErrPINBlockFormat or
// ErrPINBlockFill.
func DecryptPINBlock(k Key, f PINBlockFormat, block []byte, pan string) (PIN, error) {
	if err := pinKeyFits(k, f); err != nil {
		return PIN{}, err
	}
	if len(block) != f.BlockLen() {
		return PIN{}, ErrPINBlockLength
	}
	var clear [16]byte
	if f == ISO4 {
		var pf [16]byte
		if err := iso4PANField(pan, &pf); err != nil {
			return PIN{}, err
		}
		k.block.Decrypt(clear[:], block)
		xorBytes(clear[:], clear[:], pf[:])
		k.block.Decrypt(clear[:], clear[:])
	} else {
		k.block.Decrypt(clear[:8], block)
	}
	return decodePINBlock(f, clear[:len(block)], pan)
}

// TranslatePINBlock decrypts block (format srcFormat under src) and
// re-encrypts the same PIN as dstFormat under dst, without the PIN leaving
// the package. Both formats use the same PAN.
func TranslatePINBlock(src Key, srcFormat PINBlockFormat, dst Key, dstFormat PINBlockFormat, block []byte, pan string, rnd io.Reader) ([]byte, error) {
	p, err := DecryptPINBlock(src, srcFormat, block, pan)
	if err != nil {
		return nil, err
	}
	return EncryptPINBlock(dst, dstFormat, p, pan, rnd)
}

// encryptPINBlock writes the encrypted block into out.
func encryptPINBlock(k Key, f PINBlockFormat, p PIN, pan string, rnd io.Reader, out *[16]byte) (int, error) {
	if err := pinKeyFits(k, f); err != nil {
		return 0, err
	}
	n, err := encodePINBlock(f, p, pan, rnd, out)
	if err != nil {
		return 0, err
	}
	if f != ISO4 {
		k.block.Encrypt(out[:8], out[:8])
		return n, nil
	}
	var pf [16]byte
	if err := iso4PANField(pan, &pf); err != nil {
		*out = [16]byte{}
		return 0, err
	}
	k.block.Encrypt(out[:], out[:])
	xorBytes(out[:], out[:], pf[:])
	k.block.Encrypt(out[:], out[:])
	return n, nil
}

// pinKeyFits checks the key against the format: AES for ISO4, DES/TDES
// for the 8-byte formats.
func pinKeyFits(k Key, f PINBlockFormat) error {
	switch {
	case f.BlockLen() == 0:
		return ErrPINBlockFormat
	case f == ISO4:
		return k.requireAlg(AlgorithmAES)
	}
	return k.requireAlg(AlgorithmTDES)
}
