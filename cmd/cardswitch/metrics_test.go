package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape reads the admin endpoint's /metrics as series -> value.
func scrape(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	res, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		i := strings.LastIndexByte(l, ' ')
		if l == "" || l[0] == '#' || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// TestMetricsRuntimeJournalAndWorkers scrapes a running switch: the Go
// runtime and process collectors are there, with the queue and worker
// series, and the commit histograms move with traffic (one observation
// per commit, so their sum of records grows by the purchases journaled).
func TestMetricsRuntimeJournalAndWorkers(t *testing.T) {
	addrs := serveDefault(t)
	before := scrape(t, addrs["8580"])
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds_count",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
		"cardswitch_queue_depth", "cardswitch_queue_capacity", "cardswitch_workers", "cardswitch_workers_busy",
		"cardswitch_worker_busy_seconds_total", "cardswitch_journal_queue_depth",
		"cardswitch_journal_commit_seconds_count", `cardswitch_journal_commit_seconds_bucket{le="0.001"}`,
		"cardswitch_journal_commit_records_count", `cardswitch_journal_commit_records_bucket{le="16384"}`} {
		if _, ok := before[name]; !ok {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if before["cardswitch_queue_capacity"] != 65536 || before["cardswitch_workers"] < 1 {
		t.Errorf("capacity %v, workers %v", before["cardswitch_queue_capacity"], before["cardswitch_workers"])
	}
	const purchases = 5
	for i := range purchases {
		code, out, errOut := cli(t, "", "send", "--addr", addrs["8583"], "--stan", strconv.Itoa(900001+i), "--json")
		if code != 0 || !strings.Contains(out, `"39":"00"`) {
			t.Fatalf("purchase %d: %d %s %s", i, code, out, errOut)
		}
	}
	// a commit is observed just after its replies are released: wait for it
	var after map[string]float64
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) { // a hang guard, not a bound
		after = scrape(t, addrs["8580"])
		idle := after["cardswitch_queue_depth"] == 0 && after["cardswitch_workers_busy"] == 0 && after["cardswitch_journal_queue_depth"] == 0
		if idle && after["cardswitch_journal_commit_records_sum"] >= before["cardswitch_journal_commit_records_sum"]+purchases {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("commit records %v -> %v after %d purchases; queue %v, busy workers %v, journal queue %v",
				before["cardswitch_journal_commit_records_sum"], after["cardswitch_journal_commit_records_sum"], purchases,
				after["cardswitch_queue_depth"], after["cardswitch_workers_busy"], after["cardswitch_journal_queue_depth"])
		}
	}
	commits := after["cardswitch_journal_commit_seconds_count"] - before["cardswitch_journal_commit_seconds_count"]
	if commits < 1 || commits > purchases || after["cardswitch_journal_commit_records_count"]-before["cardswitch_journal_commit_records_count"] != commits {
		t.Errorf("%v commits observed for %d purchases sent one at a time", commits, purchases)
	}
	if after["cardswitch_journal_commit_seconds_sum"] <= before["cardswitch_journal_commit_seconds_sum"] {
		t.Errorf("commit time did not grow: %v", after["cardswitch_journal_commit_seconds_sum"])
	}
	if after["cardswitch_worker_busy_seconds_total"] <= before["cardswitch_worker_busy_seconds_total"] {
		t.Errorf("worker busy time did not grow: %v", after["cardswitch_worker_busy_seconds_total"])
	}
}
