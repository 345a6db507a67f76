package hsm

// parseCryptogram splits a cryptogram into its scheme and hex part and
// checks that they agree in length.
func parseCryptogram(c string) (KeyScheme, string, error) {
	if c == "" {
		return 0, "", ErrKeyScheme
	}
	s, body := KeyScheme(c[0]), c[1:]
	if _, isHex := hexNibble(c[0]); isHex {
		s, body = SchemeNone, c
	}
	want := 0
	switch s {
	case SchemeZ:
		want = 16
	case SchemeU, SchemeX:
		want = 32
	case SchemeT, SchemeY:
		want = 48
	case SchemeNone:
		if len(body) == 16 || len(body) == 32 || len(body) == 48 {
			want = len(body)
		}
	}
	if want == 0 || len(body) != want {
		return 0, "", ErrKeyScheme
	}
	return s, body, nil
}

// lengthVariants returns the per-part variants of a scheme (nil if none).
func lengthVariants(s KeyScheme) []byte {
	switch s {
	case SchemeU:
		return doubleVariants[:]
	case SchemeT:
		return tripleVariants[:]
	}
	return nil
}

// partKey returns the encryption key for part i: the wrapping key with the
// scheme's length variant XORed into the first byte of its right half
// (byte 8), or unchanged for schemes without one.
func partKey(wrap []byte, s KeyScheme, i int) (Key, error) {
	var b [24]byte
	copy(b[:], wrap)
	if v := lengthVariants(s); v != nil {
		b[8] ^= v[i]
	}
	return NewTDESKey(b[:len(wrap)], ParityIgnore)
}

// decryptUnder decrypts a cryptogram part by part under wrap.
func decryptUnder(wrap [16]byte, cryptogram string) (Key, error) {
	s, body, err := parseCryptogram(cryptogram)
	if err != nil {
		return Key{}, err
	}
	var enc, clear [24]byte
	if _, err := decodeHexInto(enc[:], body); err != nil {
		return Key{}, err
	}
	n := len(body) / 2
	for i := 0; i*8 < n; i++ {
		pk, err := partKey(wrap[:], s, i)
		if err != nil {
			return Key{}, err
		}
		pk.block.Decrypt(clear[8*i:8*i+8], enc[8*i:8*i+8])
	}
	k, err := NewTDESKey(clear[:n], ParityOdd)
	clear = [24]byte{}
	return k, err
}

// encryptUnder encrypts k part by part under wrap and tags the result.
func encryptUnder(wrap [16]byte, s KeyScheme, k Key) (string, error) {
	if err := k.requireAlg(AlgorithmTDES); err != nil {
		return "", err
	}
	if !HasOddParity(k.bytes()) {
		return "", ErrKeyParity
	}
	if schemeKeyLen(s, int(k.n)) != int(k.n) {
		return "", ErrKeyScheme
	}
	var enc [24]byte
	for i := 0; i*8 < int(k.n); i++ {
		pk, err := partKey(wrap[:], s, i)
		if err != nil {
			return "", err
		}
		pk.block.Encrypt(enc[8*i:8*i+8], k.b[8*i:8*i+8])
	}
	out := make([]byte, 0, 1+2*k.n)
	if s != SchemeNone {
		out = append(out, byte(s))
	}
	h := make([]byte, 2*k.n)
	encodeUpperHex(h, enc[:k.n])
	return string(append(out, h...)), nil
}

// schemeKeyLen returns the key length scheme s encrypts (n for SchemeNone).
func schemeKeyLen(s KeyScheme, n int) int {
	switch s {
	case SchemeZ:
		return 8
	case SchemeU, SchemeX:
		return 16
	case SchemeT, SchemeY:
		return 24
	case SchemeNone:
		return n
	}
	return 0
}

// SplitKeyCryptogram cuts the leading key cryptogram off a host-command
// field: a scheme tag gives its length (Z 17, U/X 33, T/Y 49 characters);
// an untagged key is taken as single length (16), since only the command
// layout can say whether 32 untagged characters are one key.
func SplitKeyCryptogram(s string) (cryptogram, rest string, err error) {
	if s == "" {
		return "", "", ErrKeyScheme
	}
	n := 16
	switch KeyScheme(s[0]) {
	case SchemeZ:
		n = 17
	case SchemeU, SchemeX:
		n = 33
	case SchemeT, SchemeY:
		n = 49
	}
	if len(s) < n {
		return "", "", ErrKeyScheme
	}
	return s[:n], s[n:], nil
}

// DecryptUnderZMK decrypts a key exchanged under a zone master key
// (Thales A6/FA import). Scheme U and T apply the length variant to the
// ZMK's right half as under the LMK; X and untagged use the plain ZMK.
func DecryptUnderZMK(zmk Key, cryptogram string) (Key, error) {
	wrap, err := zmkBytes(zmk)
	if err != nil {
		return Key{}, err
	}
	return decryptUnder(wrap, cryptogram)
}

// EncryptUnderZMK encrypts a key under a zone master key for export
// (Thales A8/GC), with the same scheme rules as DecryptUnderZMK.
func EncryptUnderZMK(zmk Key, s KeyScheme, k Key) (string, error) {
	wrap, err := zmkBytes(zmk)
	if err != nil {
		return "", err
	}
	return encryptUnder(wrap, s, k)
}

// zmkBytes checks that zmk is a double-length TDES key and returns it.
func zmkBytes(zmk Key) ([16]byte, error) {
	var b [16]byte
	if err := zmk.requireAlg(AlgorithmTDES); err != nil {
		return b, err
	}
	if zmk.n != 16 {
		return b, ErrKeyLength
	}
	copy(b[:], zmk.bytes())
	return b, nil
}
