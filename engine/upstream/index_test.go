package upstream

import (
	"math/rand/v2"
	"testing"
)

// The index against a Go map, with hashes chosen to collide (7 distinct
// values over 16 cells), so that runs wrap around the end of the array and
// deletions shift cells back across it.
func TestIndexAgainstMap(t *testing.T) {
	const slots = 8
	keys := make([]Key, slots)
	x := newIndex(slots, func(i int32) *Key { return &keys[i] })
	model := map[uint8]int32{} // key byte -> slot
	free := []int32{0, 1, 2, 3, 4, 5, 6, 7}
	hashOf := func(b uint8) uint32 { return uint32(b%7) + 12 } // homes 12..18: across the end of 16 cells
	rng := rand.New(rand.NewPCG(7, 8))
	for op := 0; op < 20000; op++ {
		b := uint8(rng.IntN(20))
		k := Key{n: 1}
		k.b[0] = b
		h := hashOf(b)
		slot, inModel := model[b]
		got, found := x.get(&k, h)
		if found != inModel || (found && got != slot) {
			t.Fatalf("op %d: get %d = %d %v, model %d %v", op, b, got, found, slot, inModel)
		}
		switch {
		case inModel && rng.IntN(2) == 0:
			if s, ok := x.del(&k, h); !ok || s != slot {
				t.Fatalf("op %d: del %d = %d %v", op, b, s, ok)
			}
			delete(model, b)
			free = append(free, slot)
		case !inModel && len(free) > 0:
			s := free[len(free)-1]
			free = free[:len(free)-1]
			keys[s] = k
			x.put(&k, h, s)
			model[b] = s
		}
	}
	for b, slot := range model {
		k := Key{n: 1}
		k.b[0] = b
		if got, ok := x.get(&k, hashOf(b)); !ok || got != slot {
			t.Fatalf("key %d lost", b)
		}
	}
}

// Keys of one hash and different bytes are different keys; a key is its
// first n bytes, whatever follows.
func TestIndexFullCompare(t *testing.T) {
	keys := make([]Key, 2)
	x := newIndex(2, func(i int32) *Key { return &keys[i] })
	keys[0] = Key{n: 2, b: [KeyBytesMax]byte{'a', 'b'}}
	x.put(&keys[0], 5, 0)
	other := Key{n: 2, b: [KeyBytesMax]byte{'a', 'c'}}
	if _, ok := x.get(&other, 5); ok {
		t.Fatal("a key of the same hash matched")
	}
	tail := Key{n: 2, b: [KeyBytesMax]byte{'a', 'b', 'z'}}
	if s, ok := x.get(&tail, 5); !ok || s != 0 {
		t.Fatal("bytes past n changed the key")
	}
}
