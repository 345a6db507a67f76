package codec

import "encoding/binary"

// decodeBitmap128 reads moov's 16-byte bitmap (Spec87ASCII): 128 bits, as
// 32 hex characters or 16 raw bytes, fields 2 to 128. Bit 1 would announce
// a third bitmap (fields 129 to 192), which the codec refuses.
func (d *Dialect) decodeBitmap128(v *View, msg []byte, off int) (int, error) {
	n := 16
	if d.bitmapHex {
		n = 32
	}
	if len(msg) < off+n {
		return 0, fieldErr(1, off, ErrTruncated)
	}
	for w := 0; w < 2; w++ {
		if d.bitmapHex {
			word, ok := parseHex64(msg[off : off+16])
			if !ok {
				return 0, fieldErr(1, off, ErrBadBitmap)
			}
			v.bitmap[w] = word
			off += 16
		} else {
			v.bitmap[w] = binary.BigEndian.Uint64(msg[off : off+8])
			off += 8
		}
	}
	if v.bitmap[0]&(1<<63) != 0 {
		return 0, fieldErr(1, off-n, ErrTertiaryBitmap)
	}
	return off, nil
}
