// Package wire reads the project's compact binary encodings (journal
// records, authorization outcomes): fixed-width fields, varints and
// length-prefixed bytes, as encoding/binary appends them.
package wire

import "encoding/binary"

// Reader reads fields off B in order. A read past the end or a malformed
// varint sets Bad; Bad is sticky and every later read returns a zero
// value, so a decoder reads all its fields and checks once at the end.
type Reader struct {
	B   []byte
	Bad bool
}

// Take returns the next n bytes, aliasing B (nil once Bad).
func (r *Reader) Take(n int) []byte {
	if r.Bad || n < 0 || n > len(r.B) {
		r.Bad = true
		return nil
	}
	v := r.B[:n:n]
	r.B = r.B[n:]
	return v
}

// Fixed64 reads 8 bytes big-endian.
func (r *Reader) Fixed64() uint64 {
	if b := r.Take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.Bad {
		return 0
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.Bad = true
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Varint reads a signed (zig-zag) varint.
func (r *Reader) Varint() int64 {
	if r.Bad {
		return 0
	}
	v, n := binary.Varint(r.B)
	if n <= 0 {
		r.Bad = true
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Raw reads a length-prefixed (uvarint) field, aliasing B; nil when the
// field is empty or the Reader is Bad.
func (r *Reader) Raw() []byte {
	n := r.Uvarint()
	if n > uint64(len(r.B)) {
		r.Bad = true
		return nil
	}
	if v := r.Take(int(n)); len(v) > 0 {
		return v
	}
	return nil
}
