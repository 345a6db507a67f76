package hsm

import "io"

// EncodePINBlock returns the clear PIN block of format f. For ISO4 it
// returns the 16-byte clear PIN field (the PAN enters at encipherment).
// pan is the full PAN (with check digit) for ISO0, ISO3, PLUS and ISO4 and
// is ignored otherwise. rnd supplies random fill (ISO1, ISO3, ISO4); nil
// means crypto/rand.
func EncodePINBlock(f PINBlockFormat, p PIN, pan string, rnd io.Reader) ([]byte, error) {
	var out [16]byte
	n, err := encodePINBlock(f, p, pan, rnd, &out)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), out[:n]...), nil
}

// DecodePINBlock validates a clear PIN block (for ISO4, the clear PIN
// field) and returns its PIN. It checks the block length, control nibble,
// PIN length (4-12), digits and fill.
func DecodePINBlock(f PINBlockFormat, block []byte, pan string) (PIN, error) {
	return decodePINBlock(f, block, pan)
}

// encodePINBlock writes the clear block (ISO4: PIN field) into out.
func encodePINBlock(f PINBlockFormat, p PIN, pan string, rnd io.Reader, out *[16]byte) (int, error) {
	if f.BlockLen() == 0 {
		return 0, ErrPINBlockFormat
	}
	if !p.Valid() {
		return 0, ErrPINLength
	}
	if f == ISO4 {
		var r [8]byte
		if _, err := io.ReadFull(randomSource(rnd), r[:]); err != nil {
			return 0, ErrRandom
		}
		encodeISO4Field(p, r, out)
		return 16, nil
	}
	var n nibbles
	start := 2
	if f == Diebold {
		start = 0
	}
	n[0], n[1] = controlNibble(f), byte(p.n)
	for i := 0; i < int(p.n); i++ {
		n[start+i] = p.d[i]
	}
	if err := fillNibbles(f, n[start+int(p.n):16], randomSource(rnd)); err != nil {
		return 0, err
	}
	n.pack(out[:8])
	return 8, xorPANField(f, pan, out)
}

// encodeISO4Field writes 4 | N | PIN | A fill | 8 random bytes.
func encodeISO4Field(p PIN, r [8]byte, out *[16]byte) {
	var n nibbles
	n[0], n[1] = 4, byte(p.n)
	for i := 0; i < 14; i++ {
		n[2+i] = 0x0A
	}
	for i := 0; i < int(p.n); i++ {
		n[2+i] = p.d[i]
	}
	n.pack(out[:8])
	copy(out[8:], r[:])
}

// controlNibble returns the format's first nibble.
func controlNibble(f PINBlockFormat) byte {
	switch f {
	case ISO1:
		return 1
	case ISO2:
		return 2
	case ISO3:
		return 3
	case ISO4:
		return 4
	}
	return 0
}

// fillNibbles writes the format's fill into dst.
func fillNibbles(f PINBlockFormat, dst []byte, rnd io.Reader) error {
	switch f {
	case ISO1:
		return randomNibbles(rnd, dst, 0)
	case ISO3:
		return randomNibbles(rnd, dst, 0x0A)
	}
	for i := range dst {
		dst[i] = 0x0F
	}
	return nil
}

// xorPANField XORs the PAN field into out[:8] for formats that use one.
func xorPANField(f PINBlockFormat, pan string, out *[16]byte) error {
	if f != ISO0 && f != ISO3 && f != PLUS {
		return nil
	}
	var pf [8]byte
	if err := panField(f, pan, &pf); err != nil {
		return err
	}
	xorBytes(out[:8], out[:8], pf[:])
	return nil
}
