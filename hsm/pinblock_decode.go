package hsm

// decodePINBlock validates a clear block and extracts the PIN.
func decodePINBlock(f PINBlockFormat, block []byte, pan string) (PIN, error) {
	size := f.BlockLen()
	if size == 0 {
		return PIN{}, ErrPINBlockFormat
	}
	if len(block) != size {
		return PIN{}, ErrPINBlockLength
	}
	var clear [16]byte
	copy(clear[:], block)
	if f != ISO4 {
		if err := xorPANField(f, pan, &clear); err != nil {
			return PIN{}, err
		}
	}
	var n nibbles
	n.unpack(clear[:8])
	if f == Diebold {
		return decodeDiebold(&n)
	}
	if n[0] != controlNibble(f) {
		return PIN{}, ErrPINBlockFormat
	}
	length := int(n[1])
	if length < pinDigitsMin || length > pinDigitsMax {
		return PIN{}, ErrPINLength
	}
	p, err := pinDigits(n[2 : 2+length])
	if err != nil {
		return PIN{}, err
	}
	if !validFill(f, n[2+length:16]) {
		return PIN{}, ErrPINBlockFill
	}
	return p, nil
}

// decodeDiebold reads digits up to the first F, then requires F fill.
func decodeDiebold(n *nibbles) (PIN, error) {
	length := 0
	for length < 16 && n[length] <= 9 {
		length++
	}
	if length < pinDigitsMin || length > pinDigitsMax {
		return PIN{}, ErrPINLength
	}
	for _, v := range n[length:16] {
		if v != 0x0F {
			return PIN{}, ErrPINBlockFill
		}
	}
	return pinDigits(n[:length])
}

// pinDigits builds a PIN from nibbles that must all be 0-9.
func pinDigits(d []byte) (PIN, error) {
	var p PIN
	for i, v := range d {
		if v > 9 {
			return PIN{}, ErrPINDigits
		}
		p.d[i] = v
	}
	p.n = uint8(len(d))
	return p, nil
}

// validFill checks the fill nibbles after the PIN.
func validFill(f PINBlockFormat, fill []byte) bool {
	for _, v := range fill {
		switch {
		case f == ISO1:
			// any nibble
		case f == ISO3 && v < 0x0A:
			return false
		case f == ISO4 && v != 0x0A:
			return false
		case (f == ISO0 || f == ISO2 || f == PLUS) && v != 0x0F:
			return false
		}
	}
	return true
}
