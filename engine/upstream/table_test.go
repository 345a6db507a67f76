package upstream

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/clock"
)

// req is a pending request in the tests: its number.
type req int

func newTable(t testing.TB, c Config) *Table[req] {
	t.Helper()
	tb, err := NewTable[req](c, epoch)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func stanKey(t testing.TB, d *codec.Dialect, mti string, stan int) Key {
	return keyOf(t, DefaultKeySpec(), build(t, d, mti,
		field{7, "1202034501"}, field{11, fmt.Sprintf("%06d", stan)}, field{41, "TERM0001"}))
}

func TestTableDuplicateRefused(t *testing.T) {
	d := dialect(t, codec.ISO87ASCII)
	tb := newTable(t, Config{Cap: 8})
	k := stanKey(t, d, "0200", 1)
	if err := tb.Put(k, 1, 0, epoch.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := tb.Put(k, 2, 0, epoch.Add(time.Second)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second put: %v, want ErrDuplicate", err)
	}
	// the refused request did not replace the first: its response is the first's
	if got := tb.Take(stanKey(t, d, "0210", 1)); got.Match != Matched || got.Pending != 1 {
		t.Fatalf("take: %+v, want request 1", got)
	}
	if got := tb.Take(stanKey(t, d, "0210", 1)); got.Match != Unknown {
		t.Fatalf("second response: %v, want unknown", got.Match)
	}
	// a repeat (0201) of a request in flight is the same key: refused too
	if err := tb.Put(stanKey(t, d, "0200", 2), 3, 0, epoch.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := tb.Put(stanKey(t, d, "0201", 2), 4, 0, epoch.Add(time.Second)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("repeat in flight: %v, want ErrDuplicate", err)
	}
	invariants(t, tb)
}

func TestTableOutOfOrder(t *testing.T) {
	d := dialect(t, codec.ISO87ASCII)
	tb := newTable(t, Config{Cap: 64})
	const n = 50
	for i := 0; i < n; i++ {
		if err := tb.Put(stanKey(t, d, "0200", i), req(i), uint64(1000+i), epoch.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range rand.New(rand.NewPCG(3, 4)).Perm(n) {
		got := tb.Take(stanKey(t, d, "0210", i))
		if got.Match != Matched || got.Pending != req(i) || got.Ref != uint64(1000+i) {
			t.Fatalf("response %d: %+v", i, got)
		}
	}
	if tb.Len() != 0 {
		t.Fatalf("%d left in flight", tb.Len())
	}
	invariants(t, tb)
}

func TestTableCap(t *testing.T) {
	d := dialect(t, codec.ISO87ASCII)
	tb := newTable(t, Config{Cap: 3})
	for i := 0; i < 3; i++ {
		if err := tb.Put(stanKey(t, d, "0200", i), req(i), 0, epoch.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Put(stanKey(t, d, "0200", 3), 3, 0, epoch.Add(time.Second)); !errors.Is(err, ErrFull) {
		t.Fatalf("put over the cap: %v, want ErrFull", err)
	}
	tb.Take(stanKey(t, d, "0210", 1)) // one answered: room for one
	if err := tb.Put(stanKey(t, d, "0200", 3), 3, 0, epoch.Add(time.Second)); err != nil {
		t.Fatalf("put after a response: %v", err)
	}
	if p, ok := tb.Cancel(stanKey(t, d, "0200", 3)); !ok || p != 3 {
		t.Fatalf("cancel: %v %v", p, ok)
	}
	if got := tb.Take(stanKey(t, d, "0210", 3)); got.Match != Unknown {
		t.Fatalf("a cancelled request matched: %v", got.Match)
	}
	if len(tb.Expire(epoch.Add(2*time.Second))) != 2 || tb.Len() != 0 {
		t.Fatal("want the two left to expire")
	}
	for i := 0; i < 3; i++ { // expired requests free their places
		if err := tb.Put(stanKey(t, d, "0200", 10+i), req(i), 0, epoch.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	invariants(t, tb)
}

func TestTableLateOnce(t *testing.T) {
	d := dialect(t, codec.ISO87ASCII)
	tb := newTable(t, Config{Cap: 8})
	dl := epoch.Add(5 * time.Second)
	tb.Put(stanKey(t, d, "0200", 7), 7, 77, dl)
	tb.Put(stanKey(t, d, "0200", 8), 8, 88, epoch.Add(6*time.Second))
	if ex := tb.Expire(dl.Add(-time.Millisecond)); len(ex) != 0 {
		t.Fatalf("expired before the deadline: %v", ex)
	}
	ex := tb.Expire(dl)
	if len(ex) != 1 || ex[0].Pending != 7 || ex[0].Ref != 77 || !ex[0].Deadline.Equal(dl) {
		t.Fatalf("expired %+v, want request 7", ex)
	}
	if ex = tb.Expire(dl.Add(time.Millisecond)); len(ex) != 0 {
		t.Fatalf("expired again: %+v", ex)
	}
	got := tb.Take(stanKey(t, d, "0210", 7))
	if got.Match != Late || got.Ref != 77 || got.Pending != 0 || !got.Deadline.Equal(dl) {
		t.Fatalf("late response: %+v", got)
	}
	if got = tb.Take(stanKey(t, d, "0210", 7)); got.Match != Unknown {
		t.Fatalf("second late copy: %v, want unknown", got.Match)
	}
	if got = tb.Take(stanKey(t, d, "0210", 8)); got.Match != Matched {
		t.Fatalf("request 8: %v", got.Match)
	}
	invariants(t, tb)
}

// The late set is bounded: the oldest expiry is forgotten first, and a key
// put again is this request's, not a late one's.
func TestTableLateBounded(t *testing.T) {
	d := dialect(t, codec.ISO87ASCII)
	tb := newTable(t, Config{Cap: 8, LateKeep: 2})
	for i := 0; i < 3; i++ {
		tb.Put(stanKey(t, d, "0200", i), req(i), uint64(i), epoch.Add(time.Duration(i+1)*time.Millisecond))
	}
	if n := len(tb.Expire(epoch.Add(time.Second))); n != 3 {
		t.Fatalf("%d expired", n)
	}
	if got := tb.Take(stanKey(t, d, "0210", 0)); got.Match != Unknown {
		t.Fatalf("the oldest expiry: %v, want forgotten", got.Match)
	}
	tb.Put(stanKey(t, d, "0200", 1), 11, 111, epoch.Add(2*time.Second))
	if got := tb.Take(stanKey(t, d, "0210", 1)); got.Match != Matched || got.Pending != 11 {
		t.Fatalf("reused key: %+v, want the new request", got)
	}
	if got := tb.Take(stanKey(t, d, "0210", 1)); got.Match != Unknown {
		t.Fatalf("reused key, second response: %v", got.Match)
	}
	if got := tb.Take(stanKey(t, d, "0210", 2)); got.Match != Late || got.Ref != 2 {
		t.Fatalf("request 2: %+v, want late", got)
	}
	invariants(t, tb)
}

// 10,000 requests in flight with timeouts of 1 to 30 s, advanced every
// millisecond by a fake clock: each expires once, never before its
// deadline and less than a tick (1 ms, inside the 5 ms the switch allows)
// after it, and the answered ones never expire.
func TestTableTenThousandInFlight(t *testing.T) {
	const n = 10_000
	clk := clock.NewFake(epoch)
	tb, err := NewTable[req](Config{Cap: n}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	deadline := make([]time.Time, n)
	keys := make([]Key, n)
	for i := range keys {
		keys[i].n = 4
		keys[i].b[0], keys[i].b[1], keys[i].b[2], keys[i].b[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		deadline[i] = epoch.Add(time.Second + time.Duration(rng.Int64N(int64(29*time.Second))))
		if i%2 == 0 { // half on a tick's boundary: due at that very tick
			deadline[i] = deadline[i].Truncate(time.Millisecond)
		}
		if err := tb.Put(keys[i], req(i), uint64(i), deadline[i]); err != nil {
			t.Fatal(err)
		}
	}
	if tb.Len() != n {
		t.Fatalf("%d in flight", tb.Len())
	}
	answered := map[int]bool{}
	for _, i := range rng.Perm(n)[:n/10] { // a tenth answered in time
		if got := tb.Take(keys[i]); got.Match != Matched || got.Pending != req(i) {
			t.Fatalf("take %d: %+v", i, got)
		}
		answered[i] = true
	}
	invariants(t, tb)
	expired := 0
	seen := make([]bool, n)
	for tb.Len() > 0 {
		clk.Advance(time.Millisecond)
		now := clk.Now()
		for _, e := range tb.Expire(now) {
			i := int(e.Pending)
			switch {
			case seen[i] || answered[i]:
				t.Fatalf("request %d expired twice or after its answer", i)
			case now.Before(deadline[i]):
				t.Fatalf("request %d expired %v early", i, deadline[i].Sub(now))
			case now.Sub(deadline[i]) >= time.Millisecond:
				t.Fatalf("request %d expired %v late", i, now.Sub(deadline[i]))
			}
			seen[i] = true
			expired++
		}
	}
	if expired != n-n/10 {
		t.Fatalf("%d expired, want %d", expired, n-n/10)
	}
	invariants(t, tb)
}

// Responses, expiries and cancels racing on many goroutines: every request
// leaves the table exactly once. Run with -race.
func TestTableExactlyOnceConcurrent(t *testing.T) {
	const n = 4000
	tb := newTable(t, Config{Cap: n})
	keys := make([]Key, n)
	for i := range keys {
		keys[i].n = 2
		keys[i].b[0], keys[i].b[1] = byte(i>>8), byte(i)
		tb.Put(keys[i], req(i), 0, epoch.Add(time.Duration(i%50)*time.Millisecond))
	}
	var left [n]atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < n; i += 2 { // two goroutines per key
				if got := tb.Take(keys[i]); got.Match == Matched {
					left[got.Pending].Add(1)
				}
				if p, ok := tb.Cancel(keys[i]); ok {
					left[p].Add(1)
				}
			}
		}(g % 2)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ms := 0; ms <= 50; ms++ {
			for _, e := range tb.Expire(epoch.Add(time.Duration(ms) * time.Millisecond)) {
				left[e.Pending].Add(1)
			}
		}
	}()
	wg.Wait()
	for _, e := range tb.Expire(epoch.Add(time.Second)) {
		left[e.Pending].Add(1)
	}
	for i := range left {
		if c := left[i].Load(); c != 1 {
			t.Fatalf("request %d left the table %d times", i, c)
		}
	}
	invariants(t, tb)
}

func TestTableConfig(t *testing.T) {
	for _, c := range []Config{{}, {Cap: -1}, {Cap: 1, LateKeep: -1}, {Cap: 1, Tick: -1}, {Cap: 1 << 21}} {
		if _, err := NewTable[req](c, epoch); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// invariants checks what the table's bookkeeping must agree on: every slot
// is free or in flight, once; the wheel holds exactly the requests in
// flight, each findable by its key.
func invariants(t *testing.T, tb *Table[req]) {
	t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.n < 0 || tb.n+len(tb.free) != len(tb.slots) || tb.wheel.Len() != tb.n {
		t.Fatalf("in flight %d, free %d, slots %d, on the wheel %d", tb.n, len(tb.free), len(tb.slots), tb.wheel.Len())
	}
	isFree := make([]bool, len(tb.slots))
	for _, i := range tb.free {
		if isFree[i] {
			t.Fatalf("slot %d free twice", i)
		}
		isFree[i] = true
	}
	for i := range tb.slots {
		if isFree[i] {
			continue
		}
		if got, ok := tb.live.get(&tb.slots[i].key, tb.slots[i].hash); !ok || got != int32(i) {
			t.Fatalf("slot %d in flight but not found by its key", i)
		}
		if !tb.wheel.node[i].on {
			t.Fatalf("slot %d in flight but not on the wheel", i)
		}
	}
}
