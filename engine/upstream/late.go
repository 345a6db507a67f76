package upstream

import "time"

// lateSet remembers the keys of requests that expired, so that a response
// arriving after its deadline is reported as late (and the approval in it
// reversed), not as unknown. It is a ring: bounded by its size, the oldest
// forgotten first. A forgotten key's response is unknown, still logged
// and counted by the caller; the size (Config.LateKeep) says how many
// expiries back the switch can still recognise.
type lateSet struct {
	ring  []tombstone
	next  int // the ring slot the next expiry takes
	index map[Key]int32
}

type tombstone struct {
	key      Key
	ref      uint64
	deadline time.Time
	on       bool
}

func newLateSet(n int) lateSet {
	return lateSet{ring: make([]tombstone, n), index: make(map[Key]int32, n)}
}

// add remembers an expired request, forgetting the oldest when full.
func (l *lateSet) add(k Key, ref uint64, deadline time.Time) {
	if len(l.ring) == 0 {
		return
	}
	if i, ok := l.index[k]; ok { // not expected (Put forgets a key it reuses), but never two entries for one key
		l.ring[i] = tombstone{}
	}
	if old := &l.ring[l.next]; old.on {
		delete(l.index, old.key)
	}
	l.ring[l.next] = tombstone{key: k, ref: ref, deadline: deadline, on: true}
	l.index[k] = int32(l.next)
	l.next = (l.next + 1) % len(l.ring)
}

// take forgets k and returns what was remembered of it: a late response is
// reported once.
func (l *lateSet) take(k Key) (tombstone, bool) {
	i, ok := l.index[k]
	if !ok {
		return tombstone{}, false
	}
	t := l.ring[i]
	delete(l.index, k)
	l.ring[i] = tombstone{}
	return t, true
}
