package saf

// RecentMax bounds Recent: the entries delivered lately that a follow-up
// record (a late approval after its timeout's reversal, an originator's
// reversal of it) must not queue again. Follow-ups come within the
// in-flight table's memory of expired requests (seconds to minutes), so
// the last 65,536 deliveries cover them.
const RecentMax = 1 << 16

// Recent is the set of the last RecentMax values added (the RRN counters
// of entries delivered), oldest forgotten first. The zero value is ready.
// Not safe for concurrent use.
type Recent struct {
	set  map[uint64]struct{}
	ring []uint64
	next int
}

// Add remembers v.
func (r *Recent) Add(v uint64) {
	if r.set == nil {
		r.set = make(map[uint64]struct{})
	}
	if _, ok := r.set[v]; ok {
		return
	}
	if len(r.ring) < RecentMax {
		r.ring = append(r.ring, v)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = v
		r.next = (r.next + 1) % RecentMax
	}
	r.set[v] = struct{}{}
}

// Has reports whether v is remembered.
func (r *Recent) Has(v uint64) bool {
	_, ok := r.set[v]
	return ok
}

// Values are the values remembered, in no order (for a snapshot).
func (r *Recent) Values() []uint64 { return r.ring }
