package codec

import "errors"

// ErrBadTLV reports BER-TLV data that ends inside a tag, length or value.
var ErrBadTLV = errors.New("codec: malformed BER-TLV")

// NextTLV reads one BER-TLV item (EMV field 55) from b: its tag (up to 4 bytes,
// as an integer, 0x9F26 for tag 9F26), its value and the bytes after it.
// Walk a field with: for len(b) > 0 { tag, val, b, err = NextTLV(b) }.
func NextTLV(b []byte) (tag uint32, value, rest []byte, err error) {
	if len(b) == 0 {
		return 0, nil, nil, ErrBadTLV
	}
	i := 0
	tag = uint32(b[0])
	i++
	if b[0]&0x1f == 0x1f { // multi-byte tag: continue while bit 8 is set
		for {
			if i >= len(b) || i >= 4 {
				return 0, nil, nil, ErrBadTLV
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, nil, nil, ErrBadTLV
	}
	n := int(b[i])
	i++
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 3 || i+k > len(b) {
			return 0, nil, nil, ErrBadTLV
		}
		n = 0
		for j := 0; j < k; j++ {
			n = n<<8 | int(b[i+j])
		}
		i += k
	}
	if n > len(b)-i {
		return 0, nil, nil, ErrBadTLV
	}
	return tag, b[i : i+n], b[i+n:], nil
}
