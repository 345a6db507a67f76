package upstream

import (
	"sort"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// FuzzTable runs the bytes as a sequence of puts, responses, cancels and
// clock steps on a small table, and holds every answer to a plain model:
// a map of the requests in flight, deadlines fired by (tick, arrival), a
// list of the last expiries. Any disagreement (a reply matched twice, an expiry
// lost or early, a late response reported twice, the cap or a duplicate
// let through) fails, whatever the order of events.
func FuzzTable(f *testing.F) {
	f.Add([]byte{0, 1, 5, 0, 1, 9, 1, 1, 0, 3, 20, 3, 30, 1, 3, 2, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0, 3, 1, 1, 0, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const capacity, lateKeep = 4, 3
		tb, err := NewTable[req](Config{Cap: capacity, LateKeep: lateKeep, Slots: 8}, epoch)
		if err != nil {
			t.Fatal(err)
		}
		m := newModel(capacity, lateKeep)
		now := epoch
		for len(ops) >= 2 {
			op, arg := ops[0]%4, ops[1]
			ops = ops[2:]
			k := Key{n: 1}
			k.b[0] = arg % 6
			switch op {
			case 0: // put, timeout 0 to 31 ms
				timeout := time.Duration(arg>>3) * time.Millisecond
				m.seq++
				err := tb.Put(k, req(m.seq), uint64(m.seq), now.Add(timeout))
				if want := m.put(k.b[0], now, now.Add(timeout)); err != want {
					t.Fatalf("put %d: %v, model %v", k.b[0], err, want)
				}
			case 1: // a response
				got := tb.Take(k)
				want := m.take(k.b[0])
				if got.Match != want.Match || got.Pending != want.Pending || got.Ref != want.Ref {
					t.Fatalf("take %d: %+v, model %+v", k.b[0], got, want)
				}
			case 2: // cancel
				p, ok := tb.Cancel(k)
				wp, wok := m.cancel(k.b[0])
				if ok != wok || p != wp {
					t.Fatalf("cancel %d: %v %v, model %v %v", k.b[0], p, ok, wp, wok)
				}
			case 3: // the clock moves 0 to 63 ms, then the tick
				now = now.Add(time.Duration(arg>>2) * time.Millisecond)
				var got []req
				for _, e := range tb.Expire(now) {
					got = append(got, e.Pending)
				}
				want := m.expire(now)
				if len(got) != len(want) {
					t.Fatalf("expire at %v: %v, model %v", now.Sub(epoch), got, want)
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("expire at %v: %v, model %v", now.Sub(epoch), got, want)
					}
				}
			}
			if tb.Len() != len(m.live) {
				t.Fatalf("len %d, model %d", tb.Len(), len(m.live))
			}
		}
		invariants(t, tb)
	})
}

// model is the table as the simplest code that could be right. The late
// set remembers the last lateKeep expiries, reported ones included.
type model struct {
	capacity, lateKeep int
	seq                int
	live               map[byte]modelReq
	late               []modelLate // oldest first
	expiredTo          int64       // the last tick expired
}

type modelReq struct {
	p    req
	tick int64 // the tick it fires at
	seq  int   // order of arrival
}

type modelLate struct {
	key  byte
	ref  uint64
	gone bool // reported, or its key put again
}

func newModel(capacity, lateKeep int) *model {
	return &model{capacity: capacity, lateKeep: lateKeep, live: map[byte]modelReq{}}
}

func tickOf(t time.Time) int64 { return int64(t.Sub(epoch) / time.Millisecond) }

func (m *model) put(k byte, now, deadline time.Time) error {
	if _, ok := m.live[k]; ok {
		return ErrDuplicate
	}
	if len(m.live) == m.capacity {
		return ErrFull
	}
	tick := int64((deadline.Sub(epoch) + time.Millisecond - 1) / time.Millisecond)
	if tick <= m.lastTick(now) {
		tick = m.lastTick(now) + 1 // due already: the next tick
	}
	m.live[k] = modelReq{p: req(m.seq), tick: tick, seq: m.seq}
	m.forget(k)
	return nil
}

// lastTick is the last tick expired; puts happen after the last Expire,
// whose tick the model keeps.
func (m *model) lastTick(time.Time) int64 { return m.expiredTo }

func (m *model) take(k byte) Taken[req] {
	if r, ok := m.live[k]; ok {
		delete(m.live, k)
		return Taken[req]{Match: Matched, Pending: r.p, Ref: uint64(r.p)}
	}
	for i, l := range m.late {
		if l.key == k && !l.gone {
			m.late[i].gone = true
			return Taken[req]{Match: Late, Ref: l.ref}
		}
	}
	return Taken[req]{}
}

func (m *model) cancel(k byte) (req, bool) {
	r, ok := m.live[k]
	delete(m.live, k)
	return r.p, ok
}

func (m *model) forget(k byte) {
	for i, l := range m.late {
		if l.key == k {
			m.late[i].gone = true
		}
	}
}

func (m *model) expire(now time.Time) []req {
	to := tickOf(now)
	if to > m.expiredTo {
		m.expiredTo = to
	}
	type due struct {
		k byte
		r modelReq
	}
	var ds []due
	for k, r := range m.live {
		if r.tick <= m.expiredTo {
			ds = append(ds, due{k, r})
		}
	}
	sort.Slice(ds, func(i, j int) bool {
		if ds[i].r.tick != ds[j].r.tick {
			return ds[i].r.tick < ds[j].r.tick
		}
		return ds[i].r.seq < ds[j].r.seq
	})
	var out []req
	for _, d := range ds {
		delete(m.live, d.k)
		out = append(out, d.r.p)
		m.late = append(m.late, modelLate{key: d.k, ref: uint64(d.r.p)})
		if len(m.late) > m.lateKeep {
			m.late = m.late[1:]
		}
	}
	return out
}

// FuzzKey extracts keys from whatever decodes: never a panic, a key
// within its bound, and the same key from the same message twice.
func FuzzKey(f *testing.F) {
	d := dialect(f, codec.ISO87ASCII)
	f.Add(build(f, d, "0200", field{7, "1202034501"}, field{11, "000123"}, field{41, "TERM0001"}).Bytes())
	f.Add(build(f, d, "0210", field{11, "000123"}, field{44, "a\x00b"}, field{48, "c"}).Bytes())
	specs := []KeySpec{DefaultKeySpec(), {Fields: []int{44, 48}}, {MTI: true, Fields: []int{37, 32, 11}}, {Fields: []int{55}}}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var v codec.View
		_ = d.DecodeSalvage(&v, msg)
		for i := range specs {
			var a, b Key
			errA, errB := specs[i].Extract(&v, &a), specs[i].Extract(&v, &b)
			if (errA == nil) != (errB == nil) || a != b || int(a.n) > KeyBytesMax {
				t.Fatalf("spec %d: %q %v, then %q %v", i, a.Bytes(), errA, b.Bytes(), errB)
			}
		}
	})
}
