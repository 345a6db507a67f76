package upstream

import (
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/internal/clock"
)

// Run expires every table at each tick, to the tick's time, and stops when
// the ticks stop. The test sends a fake clock's times: nothing sleeps.
func TestRun(t *testing.T) {
	clk := clock.NewFake(epoch)
	a := newTable(t, Config{Cap: 4})
	b := newTable(t, Config{Cap: 4})
	a.Put(Key{n: 1, b: [KeyBytesMax]byte{'a'}}, 1, 0, epoch.Add(10*time.Millisecond))
	b.Put(Key{n: 1, b: [KeyBytesMax]byte{'b'}}, 2, 0, epoch.Add(20*time.Millisecond))
	ticks := make(chan time.Time)
	var fired []string // written by Run, read after done
	done := make(chan struct{})
	go func() {
		Run(ticks, func(e Expired[req]) { fired = append(fired, string(e.Key.Bytes())) }, a, b)
		close(done)
	}()
	for _, step := range []time.Duration{5, 10, 4, 1, 100} { // 5, 15, 19, 20, 120 ms
		clk.Advance(step * time.Millisecond)
		ticks <- clk.Now()
	}
	close(ticks)
	<-done
	if len(fired) != 2 || fired[0] != "a" || fired[1] != "b" {
		t.Fatalf("fired %q, want [a b]", fired)
	}
	if a.Len()+b.Len() != 0 {
		t.Fatal("requests left in flight")
	}
}
