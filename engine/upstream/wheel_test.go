package upstream

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/internal/clock"
)

var epoch = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

// Every handle fires once, in deadline order, never before its deadline
// and less than a tick after it when the wheel is advanced every tick;
// deadlines beyond the wheel's span wait their laps.
func TestWheelFiresOnceInOrder(t *testing.T) {
	clk := clock.NewFake(epoch)
	const n = 2000
	w := NewWheel(n, 64, time.Millisecond, clk.Now()) // a 64 ms span: most deadlines take laps
	rng := rand.New(rand.NewPCG(1, 2))
	deadline := make([]time.Time, n)
	for h := range deadline {
		deadline[h] = epoch.Add(time.Duration(rng.Int64N(int64(500 * time.Millisecond))))
		if !w.Add(int32(h), deadline[h]) {
			t.Fatalf("add %d refused", h)
		}
	}
	if w.Add(0, epoch) {
		t.Fatal("a handle added twice")
	}
	seen := make([]bool, n)
	var order []int32
	var fired []int32
	for w.Len() > 0 {
		clk.Advance(time.Millisecond)
		now := clk.Now()
		fired = w.Advance(now, fired[:0])
		for _, h := range fired {
			if seen[h] {
				t.Fatalf("handle %d fired twice", h)
			}
			seen[h] = true
			if now.Before(deadline[h]) {
				t.Fatalf("handle %d fired at %v, before its deadline %v", h, now.Sub(epoch), deadline[h].Sub(epoch))
			}
			if late := now.Sub(deadline[h]); late >= time.Millisecond {
				t.Fatalf("handle %d fired %v after its deadline", h, late)
			}
			order = append(order, h)
		}
	}
	if len(order) != n {
		t.Fatalf("%d fired, want %d", len(order), n)
	}
	if !sort.SliceIsSorted(order, func(i, j int) bool {
		return deadline[order[i]].Sub(epoch)/time.Millisecond < deadline[order[j]].Sub(epoch)/time.Millisecond
	}) {
		t.Fatal("fired out of deadline order")
	}
}

// Within one tick, handles fire in the order they were added; a removed
// handle never fires; a handle can be reused once it fired.
func TestWheelTiesRemoveReuse(t *testing.T) {
	w := NewWheel(4, 8, time.Millisecond, epoch)
	d := epoch.Add(3 * time.Millisecond)
	for _, h := range []int32{2, 0, 3, 1} {
		w.Add(h, d)
	}
	if !w.Remove(3) || w.Remove(3) {
		t.Fatal("remove: want true then false")
	}
	got := w.Advance(epoch.Add(2*time.Millisecond), nil)
	if len(got) != 0 {
		t.Fatalf("fired %v before the deadline", got)
	}
	got = w.Advance(d, nil)
	if len(got) != 3 || got[0] != 2 || got[1] != 0 || got[2] != 1 {
		t.Fatalf("fired %v, want [2 0 1]", got)
	}
	if !w.Add(2, epoch) { // already due: fires at the next tick
		t.Fatal("reuse refused")
	}
	if got = w.Advance(d, nil); len(got) != 0 {
		t.Fatalf("fired %v in the tick it was added", got)
	}
	if got = w.Advance(d.Add(time.Millisecond), nil); len(got) != 1 || got[0] != 2 {
		t.Fatalf("fired %v, want [2]", got)
	}
	if w.Add(4, d) || w.Add(-1, d) {
		t.Fatal("a handle out of range accepted")
	}
}

// A pause longer than the span (a stalled driver) fires everything due, in
// order, in one call.
func TestWheelCatchUp(t *testing.T) {
	w := NewWheel(3, 4, time.Millisecond, epoch)
	w.Add(0, epoch.Add(9*time.Millisecond))
	w.Add(1, epoch.Add(2*time.Millisecond))
	w.Add(2, epoch.Add(time.Hour))
	got := w.Advance(epoch.Add(10*time.Millisecond), nil)
	if len(got) != 2 || got[0] != 1 || got[1] != 0 {
		t.Fatalf("fired %v, want [1 0]", got)
	}
	if got = w.Advance(epoch.Add(2*time.Hour), nil); len(got) != 1 || got[0] != 2 {
		t.Fatalf("fired %v, want [2]", got)
	}
	if w.Len() != 0 {
		t.Fatalf("%d left", w.Len())
	}
}
