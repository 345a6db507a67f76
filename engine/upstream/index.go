package upstream

import (
	"bytes"
	"hash/maphash"
)

// index finds a slot by its key: open addressing with linear probing over
// a fixed power-of-two array kept at most half full, and deletion by
// backward shift (no tombstones), so that it never grows, rehashes or
// allocates after it is made, and a probe rarely passes two cells. The
// keys themselves live in the owner's slots (key returns slot i's); a cell
// holds the key's hash, to pass most non-matching cells without touching
// the key, and the slot number. A hit compares the key's full bytes: two
// keys with one hash are two keys.
type index struct {
	cells []cell
	mask  uint32
	key   func(slot int32) *Key
}

type cell struct {
	hash uint32 // the key hash's low half
	ref  int32  // slot + 1; 0: empty
}

// seed is the process's hash seed: a peer cannot choose STANs that all
// land in one cell.
var seed = maphash.MakeSeed()

// hashKey hashes a key's bytes.
func hashKey(k *Key) uint32 { return uint32(maphash.Bytes(seed, k.b[:k.n])) }

// newIndex makes an index for up to n keys.
func newIndex(n int, key func(int32) *Key) index {
	size := 2
	for size < 2*n {
		size <<= 1
	}
	return index{cells: make([]cell, size), mask: uint32(size - 1), key: key}
}

// find returns the cell holding k, or the empty cell where it would go.
func (x *index) find(k *Key, h uint32) (pos uint32, found bool) {
	for p := h & x.mask; ; p = (p + 1) & x.mask {
		c := x.cells[p]
		if c.ref == 0 {
			return p, false
		}
		if c.hash == h && equal(x.key(c.ref-1), k) {
			return p, true
		}
	}
}

// get returns k's slot.
func (x *index) get(k *Key, h uint32) (int32, bool) {
	p, ok := x.find(k, h)
	return x.cells[p].ref - 1, ok
}

// put records k (absent, and fewer than n keys held) at slot.
func (x *index) put(k *Key, h uint32, slot int32) {
	p, _ := x.find(k, h)
	x.cells[p] = cell{hash: h, ref: slot + 1}
}

// del forgets k and returns its slot.
func (x *index) del(k *Key, h uint32) (int32, bool) {
	p, ok := x.find(k, h)
	if !ok {
		return 0, false
	}
	slot := x.cells[p].ref - 1
	// backward shift: pull each following cell of the run back into the
	// hole unless that would put it before its home cell
	for q := (p + 1) & x.mask; x.cells[q].ref != 0; q = (q + 1) & x.mask {
		home := x.cells[q].hash & x.mask
		if (q-home)&x.mask >= (q-p)&x.mask {
			x.cells[p] = x.cells[q]
			p = q
		}
	}
	x.cells[p] = cell{}
	return slot, true
}

func equal(a, b *Key) bool { return a.n == b.n && bytes.Equal(a.b[:a.n], b.b[:b.n]) }
