package auth

// keyTable maps index keys to slots: open addressing with linear probing
// and backward-shift deletion (no tombstones), at most 3/4 full. Go's map
// would do, but its hash is seeded per map, so the order of its buckets
// cannot be known; here a key's home is keyHash(k), known to the snapshot
// writer, which writes entries in home order so that a start fills the
// table from front to back instead of touching a random cache line (and
// page) per entry: 10 million entries load in a third of the time. Keys
// 16 bytes and slots 4 bytes, in two arrays: 20 bytes a place, no pointer.
type keyTable struct {
	keys  []txnKey
	slots []uint32 // slot+1; 0: the place is empty
	n     int
	mask  uint64
	shift uint // 64 - log2(places): a key's home is the top bits of its hash
}

// keyHash is a key's hash; the top bits of it are its home in a table, so
// keys in hash order have their homes in order, whatever the table's size.
func keyHash(k txnKey) uint64 {
	h := k.term*0x9E3779B97F4A7C15 ^ uint64(k.stan)<<16 ^ uint64(k.ldate) ^ uint64(k.class)<<56
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (t *keyTable) home(k txnKey) uint64 { return keyHash(k) >> t.shift }

func (t *keyTable) len() int { return t.n }

// sized makes the table ready for n keys without growing.
func (t *keyTable) sized(n int) {
	c, bits := 8, uint(3)
	for c*3/4 < n {
		c, bits = c*2, bits+1
	}
	t.keys, t.slots, t.n, t.mask, t.shift = make([]txnKey, c), make([]uint32, c), 0, uint64(c-1), 64-bits
}

// get finds k's slot.
func (t *keyTable) get(k txnKey) (uint32, bool) {
	if t.n == 0 {
		return 0, false
	}
	for i := t.home(k); ; i = (i + 1) & t.mask {
		switch {
		case t.slots[i] == 0:
			return 0, false
		case t.keys[i] == k:
			return t.slots[i] - 1, true
		}
	}
}

// set stores k's slot; it reports whether k was new.
func (t *keyTable) set(k txnKey, slot uint32) bool {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	for i := t.home(k); ; i = (i + 1) & t.mask {
		switch {
		case t.slots[i] == 0:
			t.keys[i], t.slots[i] = k, slot+1
			t.n++
			return true
		case t.keys[i] == k:
			t.slots[i] = slot + 1
			return false
		}
	}
}

func (t *keyTable) grow() {
	keys, slots := t.keys, t.slots
	t.sized(max(2*len(slots)*3/4, 6))
	for i, s := range slots {
		if s != 0 {
			t.set(keys[i], s-1)
		}
	}
}

// remove deletes k: the keys after it in its run move back, so that
// every key stays reachable from its home without tombstones.
func (t *keyTable) remove(k txnKey) {
	if t.n == 0 {
		return
	}
	i := t.home(k)
	for ; t.keys[i] != k || t.slots[i] == 0; i = (i + 1) & t.mask {
		if t.slots[i] == 0 {
			return
		}
	}
	t.removeAt(i)
}

func (t *keyTable) removeAt(i uint64) {
	for j := (i + 1) & t.mask; t.slots[j] != 0; j = (j + 1) & t.mask {
		// The key at j may fill the hole at i unless its home lies
		// cyclically in (i, j].
		if h := t.home(t.keys[j]); (j-h)&t.mask >= (j-i)&t.mask {
			t.keys[i], t.slots[i] = t.keys[j], t.slots[j]
			i = j
		}
	}
	t.keys[i], t.slots[i] = txnKey{}, 0
	t.n--
}

// at reads place i: its key and slot, ok false when it is empty.
func (t *keyTable) at(i int) (txnKey, uint32, bool) {
	if t.slots[i] == 0 {
		return txnKey{}, 0, false
	}
	return t.keys[i], t.slots[i] - 1, true
}

// places is how many places the table has (for at).
func (t *keyTable) places() int { return len(t.slots) }
