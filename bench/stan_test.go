package bench

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Runs one after the other, and runs at the same time through two
// ledgers on one file (two processes, two links), never send a terminal's
// STAN twice: the ledger carries each terminal's counter on. (New
// terminals start at 000001 here, not at random, so that a ledger that
// forgot would repeat STANs for sure.)
func TestSTANsUniqueAcrossRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stans.json")
	srv := newRecorder(t)
	addr := srv.listen(t)
	run := func(mix Mix) {
		opts := Options{Addr: addr, Framing: srv.framing, Conns: 3, InFlight: 2, Duration: 200 * time.Millisecond,
			Traffic: testTraffic(t, mix), STANs: &Ledger{Path: path, start: func() uint32 { return 0 }}}
		if _, err := Run(context.Background(), opts); err != nil {
			t.Error(err)
		}
	}
	run(PurchaseOnly)
	run(Mix{Purchase: 5, Preauth: 2, Reversal: 2})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); run(PurchaseOnly) }()
	}
	wg.Wait()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.seen) == 0 {
		t.Fatal("the server saw nothing")
	}
	for key, n := range srv.seen {
		if n != 1 {
			t.Errorf("%s sent %d times", key, n)
		}
	}
}

// A block never runs past 999999, the next starts at 000001, a terminal
// given more than 999,999 in a day is reported exhausted, and a release
// hands back the unused end unless another reservation came since.
func TestSTANBook(t *testing.T) {
	day := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	b := stanBook{"T1": {Next: 999990, Day: "20261202"}}
	first, got, ex := b.reserve("T1", 100, day, nil)
	if first != 999990 || got != 10 || ex || b["T1"].Next != 1 {
		t.Fatalf("at the end: %d %d %v next %d", first, got, ex, b["T1"].Next)
	}
	if first, got, _ = b.reserve("T1", 100, day, nil); first != 1 || got != 100 {
		t.Fatalf("after the wrap: %d %d", first, got)
	}
	b.release("T1", first, got, 40)
	if b["T1"].Next != 41 || b["T1"].Used != 50 {
		t.Fatalf("released: %+v", *b["T1"])
	}
	b.reserve("T1", 10, day, nil)
	b.release("T1", first, got, 0) // stale: T1 reserved since
	if b["T1"].Next != 51 {
		t.Fatalf("a stale release moved the counter: %+v", *b["T1"])
	}
	b["T1"].Used = stanMax - 5
	if _, _, ex := b.reserve("T1", 10, day, nil); !ex {
		t.Error("more than 999,999 in a day not reported")
	}
	if _, _, ex := b.reserve("T1", 10, day.Add(24*time.Hour), nil); ex || b["T1"].Used != 10 {
		t.Errorf("the next day: exhausted %v, %+v", ex, *b["T1"])
	}
	b.reserve("new", 1, day, func() uint32 { return 41 })
	if b["new"].Next != 43 {
		t.Errorf("a new terminal starts at random: %+v", *b["new"])
	}
}
