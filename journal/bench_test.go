package journal

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/internal/proc"
)

// latencyWaiter records the time from Append to Committed.
type latencyWaiter struct {
	start time.Time
	out   *[]time.Duration
	mu    *sync.Mutex
	wg    *sync.WaitGroup
}

func (w *latencyWaiter) Committed(err error) {
	d := time.Since(w.start)
	w.mu.Lock()
	*w.out = append(*w.out, d)
	w.mu.Unlock()
	w.wg.Done()
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// BenchmarkAppend: closed loop, 512 producers appending as fast as commits
// allow, at several batch windows. Reports durable records per second.
func BenchmarkAppend(b *testing.B) {
	for _, window := range []time.Duration{0, 250 * time.Microsecond, time.Millisecond} {
		b.Run("window="+window.String(), func(b *testing.B) {
			j := open(b, b.TempDir(), func(o *Options) { o.Window = window; o.MemTableMB = benchMemTable })
			defer j.Close()
			recs := make([]*Record, 512)
			for i := range recs {
				recs[i] = testRecord(i)
			}
			var lat []time.Duration
			var mu sync.Mutex
			var wg sync.WaitGroup
			sem := make(chan struct{}, len(recs))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			cpu, _ := proc.CPU()
			for i := 0; i < b.N; i++ {
				sem <- struct{}{}
				wg.Add(1)
				r := *recs[i%len(recs)]
				w := &latencyWaiter{start: time.Now(), out: &lat, mu: &mu, wg: &wg}
				j.Append(&r, releasing{w, sem})
			}
			wg.Wait()
			el := time.Since(start)
			used, _ := proc.CPU()
			used -= cpu
			st := j.Stats()
			b.ReportMetric(float64(used.Nanoseconds())/1e3/float64(b.N), "cpu-us/rec") // the producers' share included
			b.ReportMetric(float64(b.N)/el.Seconds(), "rec/s")
			b.ReportMetric(float64(st.Records)/float64(max(st.Commits, 1)), "rec/commit")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-us")
		})
	}
}

type releasing struct {
	w   *latencyWaiter
	sem chan struct{}
}

func (r releasing) Committed(err error) { r.w.Committed(err); <-r.sem }

// BenchmarkCommitLatency offers 50k records/s (open loop) for one second
// and reports commit latency percentiles.
func BenchmarkCommitLatency(b *testing.B) {
	for i := 0; i < b.N; i++ {
		j := open(b, b.TempDir(), nil)
		var lat []time.Duration
		var mu sync.Mutex
		var wg sync.WaitGroup
		const rate, dur = 50000, time.Second
		recs := make([]Record, rate) // built before the clock starts: the generator must keep up
		proto := testRecord(0)
		for i := range recs {
			recs[i] = *proto
			recs[i].STAN = uint32(i)
		}
		waiters := make([]latencyWaiter, rate)
		tick := time.Second / rate
		start := time.Now()
		n := 0
		for time.Since(start) < dur {
			due := start.Add(time.Duration(n) * tick)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			// send every record that is due, timing each from its due time
			for ; start.Add(time.Duration(n)*tick).Before(time.Now()) && n < rate; n++ {
				wg.Add(1)
				waiters[n] = latencyWaiter{start: start.Add(time.Duration(n) * tick), out: &lat, mu: &mu, wg: &wg}
				j.Append(&recs[n], &waiters[n])
			}
		}
		wg.Wait()
		j.Close()
		b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "p50-us")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-us")
		b.ReportMetric(float64(percentile(lat, 0.999).Microseconds()), "p99.9-us")
		b.ReportMetric(float64(len(lat))/time.Since(start).Seconds(), "rec/s")
	}
}

// BenchmarkReplay: records verified and decoded per second.
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	j := open(b, dir, func(o *Options) { o.MaxBatch = 4096 })
	const n = 200000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lat []time.Duration
	for i := 0; i < n; i++ {
		wg.Add(1)
		j.Append(testRecord(i), &latencyWaiter{start: time.Now(), out: &lat, mu: &mu, wg: &wg})
	}
	wg.Wait()
	j.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		count := 0
		res, err := Replay(dir, func(*Record) error { count++; return nil })
		if err != nil || res.Problem != nil || count != n {
			b.Fatal(err, res.Problem, count)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rec/s")
	}
}

var benchMemTable = defaultMemTableMB

// BenchmarkOpen: a start that replays the whole journal against one that
// starts after a snapshot's point 1000 records from the end: the second
// does not grow with the journal's history.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	j := open(b, dir, nil)
	const n = 200000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lat []time.Duration
	recs := make([]*Record, n)
	for i := range recs {
		wg.Add(1)
		recs[i] = testRecord(i)
		j.Append(recs[i], &latencyWaiter{start: time.Now(), out: &lat, mu: &mu, wg: &wg})
	}
	wg.Wait()
	j.Close()
	snap := recs[n-1001]
	for _, c := range []struct {
		name  string
		after Point
	}{{"whole", Point{}}, {"after-snapshot", Point{Seq: snap.Seq, Hash: snap.Hash, Date: snap.BusinessDate}}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				count := 0
				start := time.Now()
				j := open(b, dir, func(o *Options) { o.After = c.after; o.Replay = func(*Record) error { count++; return nil } })
				took := time.Since(start)
				j.Close()
				b.ReportMetric(float64(took.Microseconds())/1000, "open-ms")
				b.ReportMetric(float64(count), "replayed")
			}
		})
	}
}
