package auth

import (
	"encoding/binary"
	"math"
)

// decoder reads a snapshot chunk's fields. Like wire.Reader, a read past
// the end, a malformed varint or a value over its bound sets bad, which is
// sticky: later reads return zero, and the caller checks once.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) more() bool { return !d.bad && len(d.b) > 0 }

func (d *decoder) take(n int) []byte {
	if d.bad || n > len(d.b) {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.bad || len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// uvarint reads an unsigned varint of at most max.
func (d *decoder) uvarint(max uint64) uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > max {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.bad {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

// id reads a length-prefixed ID of at most idMax bytes, as a string.
func (d *decoder) id() string {
	n := d.uvarint(idMax)
	return string(d.take(int(n)))
}

func (d *decoder) counter() counter {
	c := counter{date: uint32(d.uvarint(math.MaxUint32))}
	count := d.varint()
	if count < math.MinInt32 || count > math.MaxInt32 {
		d.bad = true
	}
	c.count, c.amount = int32(count), d.varint()
	return c
}
