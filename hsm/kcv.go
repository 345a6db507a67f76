package hsm

// KCVMethod is how a key check value is computed. Always record it with the
// value: the same AES key has different KCVs under the two methods.
type KCVMethod uint8

const (
	// KCVDefault is KCVZeroBlock for TDES keys and KCVCMAC for AES keys, the
	// methods payShield 10k and X9.24-1:2017 use.
	KCVDefault KCVMethod = iota
	// KCVZeroBlock encrypts one block of zero bytes (ECB). The TDES standard
	// (Thales, AWS); for AES it is the legacy method.
	KCVZeroBlock
	// KCVCMAC is the CMAC of one block of zero bytes (ANSI X9.24-1:2017, TR-31).
	KCVCMAC
)

// CheckValue returns the full check-value block (8 bytes for TDES, 16 for
// AES). A KCV is its leftmost 3 bytes; Thales BU answers with 8.
func (k Key) CheckValue(m KCVMethod) ([]byte, error) {
	if !k.Valid() {
		return nil, ErrKeyInvalid
	}
	if m > KCVCMAC {
		return nil, ErrKeyAlgorithm
	}
	var out [16]byte
	n := k.checkValue(m, &out)
	return append([]byte(nil), out[:n]...), nil
}

// KCV returns the 6 hex-character check value by the key's default method.
func (k Key) KCV() string {
	if !k.Valid() {
		return ""
	}
	var out [16]byte
	k.checkValue(KCVDefault, &out)
	return upperHex(out[:3])
}

// checkValue writes the check-value block into out and returns its length.
// k must be valid and m known.
func (k Key) checkValue(m KCVMethod, out *[16]byte) int {
	if m == KCVDefault {
		m = KCVZeroBlock
		if k.alg == AlgorithmAES {
			m = KCVCMAC
		}
	}
	bs := k.block.BlockSize()
	var zero [16]byte
	if m == KCVCMAC {
		cmac(k.block, zero[:bs], out)
		return bs
	}
	k.block.Encrypt(out[:bs], zero[:bs])
	return bs
}
