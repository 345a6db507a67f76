package wire

import (
	"encoding/binary"
	"testing"
)

func TestReader(t *testing.T) {
	b := binary.BigEndian.AppendUint64(nil, 0x0102030405060708)
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = binary.AppendUvarint(b, 3)
	b = append(b, "abc"...)
	b = binary.AppendUvarint(b, 0)
	b = append(b, 0xAA, 0xBB)
	r := Reader{B: b}
	if v := r.Fixed64(); v != 0x0102030405060708 {
		t.Errorf("fixed64 %x", v)
	}
	if v := r.Uvarint(); v != 300 {
		t.Errorf("uvarint %d", v)
	}
	if v := r.Varint(); v != -5 {
		t.Errorf("varint %d", v)
	}
	if v := r.Raw(); string(v) != "abc" {
		t.Errorf("raw %q", v)
	}
	if v := r.Raw(); v != nil {
		t.Errorf("empty raw %q", v)
	}
	if v := r.Take(2); len(v) != 2 || v[0] != 0xAA || r.Bad || len(r.B) != 0 {
		t.Errorf("take %x bad %v rest %d", v, r.Bad, len(r.B))
	}
	// past the end: Bad, and it stays so with zero values
	if v := r.Take(1); v != nil || !r.Bad {
		t.Errorf("take past end: %x %v", v, r.Bad)
	}
	r.B = binary.AppendUvarint(nil, 7)
	if r.Uvarint() != 0 || r.Fixed64() != 0 || r.Raw() != nil {
		t.Error("reads after Bad return values")
	}
	for _, in := range [][]byte{{0x80}, {5, 'a'}, {1, 2, 3}} { // unterminated varint, short raw, short fixed64
		r := Reader{B: in}
		if in[0] == 1 {
			r.Fixed64()
		} else if in[0] == 5 {
			r.Raw()
		} else {
			r.Uvarint()
		}
		if !r.Bad {
			t.Errorf("%x: not Bad", in)
		}
	}
}
