package engine

import (
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/journal"
)

// inFlight10k parks n forwarded requests at a destination that never
// answers, through the journal, and returns the goroutines the server
// held with all of them in flight beyond those it held idle, and how late
// after its deadline (arrival + timeout) each 91 reached the terminal.
func inFlight10k(tb testing.TB, n int, timeout time.Duration) (extra int, lateness []time.Duration, within5ms float64) {
	tb.Helper()
	is := startSim(tb, "", sim.Config{Rules: sim.Rules{Default: "00", Rules: []sim.Rule{{Name: "silent", Fault: "no_answer"}}}})
	_, jst := journalFor(tb)
	dc := dest("visa", Endpoint{Address: is.Addr()})
	dc.Timeout, dc.MaxInFlight = timeout, n
	ts := forwarding(tb, []DestinationConfig{dc}, func(c *Config) {
		c.testJournal = jst
		c.Links[0].MaxInFlight = n
	})
	d := waitUp(tb, ts, "visa", 1)
	c := ts.dial(tb)
	runtime.GC()
	idle := runtime.NumGoroutine()
	sent := make([]time.Time, n+1) // by STAN
	for i := 1; i <= n; i++ {
		sent[i] = time.Now()
		if err := c.Write(card0200(tb, "4761739001010010", i, 100)); err != nil {
			tb.Fatal(err)
		}
	}
	waitUntil(tb, "every request in flight upstream", func() bool { return d.table.Len()+int(testutil.ToFloat64(d.m.timeouts)) == n })
	if d.table.Len() == n { // none expired yet: the count is of n in flight
		extra = runtime.NumGoroutine() - idle
	} else {
		extra = -1
	}
	for i := 0; i < n; i++ {
		r, err := c.Read(time.Now().Add(timeout + 10*time.Second))
		if err != nil {
			tb.Fatalf("reply %d of %d: %v", i+1, n, err)
		}
		if got := field(r, 39); got != "91" {
			tb.Fatalf("39 = %s, want 91", got)
		}
		stan, _ := r.View.STAN()
		lateness = append(lateness, time.Since(sent[stan].Add(timeout)))
	}
	return extra, lateness, expiredWithin(tb, ts, 0.005)
}

// expiredWithin is the share of the expiries handed out within bound
// seconds of their deadline, from cardswitch_upstream_expiry_lateness_seconds.
func expiredWithin(tb testing.TB, ts *testServer, bound float64) float64 {
	tb.Helper()
	mfs, err := ts.reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cardswitch_upstream_expiry_lateness_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == bound {
				return float64(b.GetCumulativeCount()) / float64(h.GetSampleCount())
			}
		}
	}
	tb.Fatalf("no bucket %v s in cardswitch_upstream_expiry_lateness_seconds", bound)
	return 0
}

// TestForward10kInFlightCostNoGoroutines: 10,000 requests waiting for a
// host cost the table's entries, never a goroutine or a timer each.
func TestForward10kInFlightCostNoGoroutines(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 journaled requests")
	}
	extra, late, within := inFlight10k(t, 10_000, 3*time.Second)
	if extra < 0 {
		t.Skip("some requests expired before all were in flight: this machine is too slow for the count")
	}
	// the journal's and the loops' goroutines may wake; a goroutine per
	// request would be 10,000
	if extra > 64 {
		t.Fatalf("%d more goroutines with 10,000 requests in flight upstream", extra)
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	t.Logf("goroutines +%d; expiries within 5 ms of the deadline: %.2f%%; 91 at the terminal after its send + timeout: p50 %v, p99 %v, max %v",
		extra, 100*within, late[len(late)/2], late[len(late)*99/100], late[len(late)-1])
}

// BenchmarkForwardTimeoutLateness measures, with 10,000 requests in flight
// that their host never answers, the share of expiries handed to the
// workers within 5 ms of their deadline (the server's histogram), and how
// late after its send + timeout each 91 reaches the terminal (the expiry,
// the worker, the final record's fsync, the write, and the terminal's own
// lag: its send time is before the switch's arrival time the deadline
// counts from). A measurement: run with -benchtime 1x.
func BenchmarkForwardTimeoutLateness(b *testing.B) {
	var all []time.Duration
	extra, within := 0, 1.0
	for i := 0; i < b.N; i++ {
		e, late, w := inFlight10k(b, 10_000, 2*time.Second)
		all, extra, within = append(all, late...), max(extra, e), min(within, w)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(q(1), "max-µs")
	b.ReportMetric(float64(extra), "goroutines")
	b.ReportMetric(100*within, "%expired-within-5ms")
}

// TestForwardBurstOfLateApprovalsAllJournaled: a host that answers 5,000
// expired requests at once (more than the old fixed queue of 4,096 held)
// gets every late approval journaled to be reversed, none dropped.
func TestForwardBurstOfLateApprovalsAllJournaled(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 journaled requests")
	}
	const n = 5000
	is := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "00", Rules: []sim.Rule{{Name: "late", Fault: "late", Delay: 1500 * time.Millisecond}}}})
	j, jst := journalFor(t)
	dc := dest("visa", Endpoint{Address: is.Addr()})
	dc.Timeout, dc.MaxInFlight = time.Second, n
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) {
		c.testJournal = jst
		c.Links[0].MaxInFlight = n
	})
	d := waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	for i := 1; i <= n; i++ {
		if err := c.Write(card0200(t, "4761739001010010", i, 100)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		if _, err := c.Read(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatalf("reply %d: %v", i+1, err)
		}
	}
	waitUntil(t, "every late approval counted", func() bool { return testutil.ToFloat64(d.m.lateReverse) == n })
	late := 0
	waitUntil(t, "every late approval journaled", func() bool {
		late = 0
		if _, err := j.Walk(journal.Point{}, j.LastSeq(), func(r *journal.Record) error {
			if r.UpState == journal.UpLateReversal {
				late++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return late == n
	})
}
