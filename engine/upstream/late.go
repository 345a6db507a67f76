package upstream

import "time"

// lateSet remembers the keys of requests that expired, so that a response
// arriving after its deadline is reported as late (and the approval in it
// reversed), not as unknown. It is a ring of the last Config.LateKeep
// expiries (those already reported keep their place until overwritten):
// bounded by its size, the oldest forgotten first. A forgotten key's
// response is unknown, still logged and counted by the caller.
type lateSet struct {
	ring  []tombstone
	next  int32 // the ring slot the next expiry takes
	index index
}

type tombstone struct {
	key      Key
	hash     uint32
	ref      uint64
	deadline time.Time
	on       bool
}

func newLateSet(n int) *lateSet {
	l := &lateSet{ring: make([]tombstone, n)}
	l.index = newIndex(n, func(i int32) *Key { return &l.ring[i].key })
	return l
}

// add remembers an expired request, forgetting the oldest when full.
func (l *lateSet) add(k *Key, h uint32, ref uint64, deadline time.Time) {
	if len(l.ring) == 0 {
		return
	}
	l.take(k, h) // not expected (Put forgets a key it reuses), but never two entries for one key
	if old := &l.ring[l.next]; old.on {
		l.index.del(&old.key, old.hash)
	}
	l.ring[l.next] = tombstone{key: *k, hash: h, ref: ref, deadline: deadline, on: true}
	l.index.put(k, h, l.next)
	l.next = (l.next + 1) % int32(len(l.ring))
}

// take forgets k and returns what was remembered of it: a late response is
// reported once.
func (l *lateSet) take(k *Key, h uint32) (tombstone, bool) {
	i, ok := l.index.del(k, h)
	if !ok {
		return tombstone{}, false
	}
	t := l.ring[i]
	l.ring[i] = tombstone{}
	return t, true
}
