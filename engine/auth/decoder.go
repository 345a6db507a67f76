package auth

import (
	"encoding/binary"
	"math"

	"github.com/cardswitch/cardswitch/internal/wire"
)

// decoder reads a snapshot chunk's fields: wire.Reader (a read past the
// end or a malformed varint sets Bad, sticky; the caller checks once) with
// the bounds a snapshot needs, so that a value over its bound is Bad too.
type decoder struct{ wire.Reader }

func newDecoder(b []byte) *decoder { return &decoder{wire.Reader{B: b}} }

func (d *decoder) more() bool { return !d.Bad && len(d.B) > 0 }

func (d *decoder) byte() byte {
	if b := d.Take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.Take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// uvarint reads an unsigned varint of at most max.
func (d *decoder) uvarint(max uint64) uint64 {
	v := d.Uvarint()
	if v > max {
		d.Bad = true
		return 0
	}
	return v
}

// id reads a length-prefixed ID of at most idMax bytes, as a string.
func (d *decoder) id() string {
	n := d.uvarint(idMax)
	return string(d.Take(int(n)))
}

func (d *decoder) counter() counter {
	c := counter{date: uint32(d.uvarint(math.MaxUint32))}
	count := d.Varint()
	if count < math.MinInt32 || count > math.MaxInt32 {
		d.Bad = true
	}
	c.count, c.amount = int32(count), d.Varint()
	return c
}
