package upstream

import (
	"errors"
	"testing"
	"time"
)

func TestPrimarySecondary(t *testing.T) {
	// connections 0, 1: primary; 2, 3: secondary
	p, err := NewPool(PrimarySecondary, []uint8{0, 0, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Pick(); !errors.Is(err, ErrAllDown) {
		t.Fatalf("all down: %v", err)
	}
	for i := 0; i < 4; i++ {
		p.SetUp(i, true)
	}
	counts := pickCounts(t, p, 100)
	if counts[0] != 50 || counts[1] != 50 || counts[2]+counts[3] != 0 {
		t.Fatalf("primary up: %v, want the primary's two only, evenly", counts)
	}
	p.SetUp(0, false)
	if counts = pickCounts(t, p, 100); counts[1] != 100 {
		t.Fatalf("one primary connection down: %v", counts)
	}
	p.SetUp(1, false) // the primary is gone: fail over
	if counts = pickCounts(t, p, 100); counts[2] != 50 || counts[3] != 50 {
		t.Fatalf("primary down: %v, want the secondary's two", counts)
	}
	p.SetUp(0, true) // back: fail back
	if counts = pickCounts(t, p, 10); counts[0] != 10 {
		t.Fatalf("primary back: %v", counts)
	}
	for i := 0; i < 4; i++ {
		p.SetUp(i, false)
	}
	if _, err := p.Pick(); !errors.Is(err, ErrAllDown) {
		t.Fatalf("every connection down: %v", err)
	}
}

func TestRoundRobin(t *testing.T) {
	p, _ := NewPool(RoundRobin, []uint8{0, 0, 1})
	for i := 0; i < 3; i++ {
		p.SetUp(i, true)
	}
	if counts := pickCounts(t, p, 300); counts[0] != 100 || counts[1] != 100 || counts[2] != 100 {
		t.Fatalf("round robin: %v", counts)
	}
	p.SetUp(1, false)
	p.SetUp(1, false) // idempotent
	if counts := pickCounts(t, p, 300); counts[0] != 150 || counts[2] != 150 {
		t.Fatalf("one down: %v", counts)
	}
	p.SetUp(-1, true) // out of range: nothing
	p.SetUp(3, true)
	if p.Up(1) || !p.Up(0) || p.Up(-1) || p.Up(3) {
		t.Fatal("Up")
	}
}

func pickCounts(t *testing.T, p *Pool, n int) map[int]int {
	t.Helper()
	counts := map[int]int{}
	for k := 0; k < n; k++ {
		i, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		counts[i]++
	}
	return counts
}

func TestPoolBounds(t *testing.T) {
	if _, err := NewPool(RoundRobin, nil); err == nil {
		t.Error("no connections accepted")
	}
	if _, err := NewPool(RoundRobin, make([]uint8, ConnsMax+1)); err == nil {
		t.Error("too many connections accepted")
	}
	p, err := NewPool(PrimarySecondary, make([]uint8, ConnsMax))
	if err != nil {
		t.Fatal(err)
	}
	p.SetUp(ConnsMax-1, true)
	if i, err := p.Pick(); err != nil || i != ConnsMax-1 {
		t.Fatalf("last connection: %d %v", i, err)
	}
	for _, s := range []string{"", "primary-secondary", "round-robin"} {
		if st, err := ParseStrategy(s); err != nil || (s != "" && st.String() != s) {
			t.Errorf("%q: %v %v", s, st, err)
		}
	}
	if _, err := ParseStrategy("random"); err == nil {
		t.Error("unknown strategy accepted")
	}
}

func TestPickAllocs(t *testing.T) {
	p, _ := NewPool(RoundRobin, []uint8{0, 1})
	p.SetUp(1, true)
	if n := testing.AllocsPerRun(100, func() { _, _ = p.Pick() }); n != 0 {
		t.Fatalf("Pick allocates %v", n)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.5}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for a, w := range want {
		w *= time.Millisecond
		if got := b.Delay(a, 0); got != w {
			t.Errorf("attempt %d, no jitter: %v, want %v", a, got, w)
		}
		if got := b.Delay(a, 0.999); got <= w/2 || got > w {
			t.Errorf("attempt %d, most jitter: %v, want in (%v, %v]", a, got, w/2, w)
		}
	}
	if got := b.Delay(1000, 0.5); got != 3750*time.Millisecond {
		t.Errorf("attempt 1000: %v, want the cap with jitter", got)
	}
	if got := b.Delay(-3, 0); got != b.Base {
		t.Errorf("negative attempt: %v", got)
	}
	if got := b.Delay(0, 7); got != b.Base { // r outside [0,1): no jitter
		t.Errorf("bad r: %v", got)
	}
	for _, bad := range []Backoff{{}, {Base: time.Second, Max: time.Millisecond}, {Base: 1, Max: 2, Jitter: 1.5}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if DefaultBackoff.Validate() != nil {
		t.Error("default invalid")
	}
}
