package engine

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/internal/testlog"
)

// A full transaction index answers 96, and the operator sees it: the gauge
// cardswitch_auth_index_full is 1, the refusals are counted, and the
// watcher logs the alert (once per interval, not once per refusal).
func TestIndexFullIsSeen(t *testing.T) {
	a, err := auth.New(demoData(t), func(p []byte) [32]byte { return sha256.Sum256(p) },
		auth.Limits{MaxTransactions: 2, MaxPlaceholders: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, AuthStage{A: a}, nil)
	gauge := func(name string) float64 {
		t.Helper()
		mfs, err := ts.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				m := mf.GetMetric()[0]
				if g := m.GetGauge(); g != nil {
					return g.GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	if gauge("cardswitch_auth_index_full") != 0 || gauge("cardswitch_auth_index_capacity") != 2 {
		t.Fatalf("before: full %v capacity %v", gauge("cardswitch_auth_index_full"), gauge("cardswitch_auth_index_capacity"))
	}
	c := ts.dial(t)
	send := func(msg []byte) string {
		t.Helper()
		r, err := c.RoundTrip(msg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return field(r, 39)
	}
	for stan, want := range map[int]string{1: "00", 2: "00"} {
		if got := send(purchase(t, stan, 100)); got != want {
			t.Fatalf("stan %d: %s, want %s", stan, got, want)
		}
	}
	for stan := 3; stan <= 5; stan++ {
		if got := send(purchase(t, stan, 100)); got != "96" {
			t.Fatalf("stan %d at the cap: %s, want 96", stan, got)
		}
	}
	// the watcher starts after the burst, so its first tick sees all of it
	var logs testlog.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go WatchIndex(ctx, zerolog.New(&logs), a, 10*time.Millisecond)
	if gauge("cardswitch_auth_index_full") != 1 || gauge("cardswitch_auth_index_refusals_total") != 3 ||
		gauge("cardswitch_auth_index_entries") != 2 {
		t.Fatalf("full %v refusals %v entries %v", gauge("cardswitch_auth_index_full"),
			gauge("cardswitch_auth_index_refusals_total"), gauge("cardswitch_auth_index_entries"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "transaction index at its cap") {
		if time.Now().After(deadline) {
			t.Fatalf("no alert logged: %q", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // several intervals with no new refusal
	if n := strings.Count(logs.String(), "transaction index at its cap"); n != 1 {
		t.Errorf("%d alert lines for one burst of refusals, want 1: %s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"refused":3`) {
		t.Errorf("alert does not count the refusals: %s", logs.String())
	}
}
