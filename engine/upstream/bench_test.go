package upstream

import (
	"sort"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// BenchmarkPutTake is one request's life in the table when answered: a
// Put on send, a Take on the response, with 10,000 others in flight.
func BenchmarkPutTake(b *testing.B) {
	const inFlight = 10_000
	tb, _ := NewTable[req](Config{Cap: inFlight + 1}, epoch)
	for i := 0; i < inFlight; i++ {
		tb.Put(benchKey(uint32(i)), req(i), 0, epoch.Add(30*time.Second))
	}
	k := benchKey(inFlight)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tb.Put(k, 1, 0, epoch.Add(10*time.Second)); err != nil {
			b.Fatal(err)
		}
		if tb.Take(k).Match != Matched {
			b.Fatal("no match")
		}
	}
}

// BenchmarkPutTakeExtract adds the keys' extraction from a decoded request
// and response, as the engine will do.
func BenchmarkPutTakeExtract(b *testing.B) {
	d := dialect(b, codec.ISO87ASCII)
	ks := DefaultKeySpec()
	rq := build(b, d, "0200", field{7, "1202034501"}, field{11, "000123"}, field{41, "TERM0001"})
	rs := build(b, d, "0210", field{7, "1202034501"}, field{11, "000123"}, field{39, "00"}, field{41, "TERM0001"})
	tb, _ := NewTable[req](Config{Cap: 1024}, epoch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var k Key
		_ = ks.Extract(rq, &k)
		if err := tb.Put(k, 1, 0, epoch.Add(10*time.Second)); err != nil {
			b.Fatal(err)
		}
		if r, _ := TakeResponse(tb, &ks, rs, DefaultApprovals); r.Match != Matched {
			b.Fatal("no match")
		}
	}
}

// BenchmarkExpireTick10k is the cost of one 1 ms tick of a table with
// 10,000 requests in flight, deadlines spread over 30 s, none due:
// what the driving goroutine pays a millisecond per destination.
func BenchmarkExpireTick10k(b *testing.B) {
	const n = 10_000
	tb, _ := NewTable[req](Config{Cap: n}, epoch)
	for i := 0; i < n; i++ {
		// due after the benchmark's last tick, 3 ms apart (30 s for all)
		tb.Put(benchKey(uint32(i)), req(i), 0, epoch.Add(time.Duration(b.N+1+3*i)*time.Millisecond))
	}
	now := epoch
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(time.Millisecond)
		if len(tb.Expire(now)) != 0 {
			b.Fatal("expired")
		}
	}
}

// BenchmarkExpireSteady10k is a table holding 10,000 in flight at a 10 s
// timeout, a request expiring and another put every tick: the steady
// state of a host that has stopped answering at 1,000 requests a second.
func BenchmarkExpireSteady10k(b *testing.B) {
	const n = 10_000
	tb, _ := NewTable[req](Config{Cap: n + 1}, epoch)
	for i := 0; i < n; i++ {
		tb.Put(benchKey(uint32(i)), req(i), 0, epoch.Add(time.Duration(i+1)*time.Millisecond))
	}
	now := epoch
	next := uint32(n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(time.Millisecond)
		if len(tb.Expire(now)) != 1 {
			b.Fatal("want one expiry a tick")
		}
		tb.Put(benchKey(next), req(next), 0, now.Add(10*time.Second))
		next++
	}
}

func BenchmarkPick(b *testing.B) {
	p, _ := NewPool(PrimarySecondary, []uint8{0, 0, 1, 1})
	for i := 1; i < 4; i++ {
		p.SetUp(i, true)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, _ = p.Pick()
	}
}

func BenchmarkForwardBack(b *testing.B) {
	cup, host := dialect(b, codec.CUPPOS), dialect(b, codec.ISO87ASCII)
	plan, _ := Compile(cupToHost(), cup, host)
	orig := cupRequest(b)
	resp := build(b, host, "0210", field{7, "1202034501"}, field{11, "000001"}, field{37, "634512000001"},
		field{38, "A1B2C3"}, field{39, "00"}, field{41, "TERM0001"})
	vals := []Value{{7, []byte("1202034501")}, {11, []byte("000001")}, {37, []byte("634512000001")}, {52, []byte("FEDCBA9876543210")}}
	var bl codec.Builder
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		bl.Begin(host, buf[:0], orig.MTI(), nil)
		_ = plan.Forward(&bl, orig, vals)
		_, _ = bl.Finish()
		bl.Begin(cup, buf[:0], orig.MTI().Response(), orig.Header())
		_ = plan.Back(&bl, resp, orig)
		_, _ = bl.Finish()
	}
}

func benchKey(i uint32) Key {
	var k Key
	k.n = 4
	k.b[0], k.b[1], k.b[2], k.b[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	return k
}

// BenchmarkExpireCatchUpMinute is a driver that stalled for a minute with
// 10,000 requests in flight, none due yet: one Expire walks the 60,000
// ticks it missed.
func BenchmarkExpireCatchUpMinute(b *testing.B) {
	const n = 10_000
	tb, _ := NewTable[req](Config{Cap: n}, epoch)
	for i := 0; i < n; i++ {
		// due after the benchmark's last minute, spread over an hour
		due := epoch.Add(time.Duration(b.N+1)*time.Minute + time.Duration(i)*360*time.Millisecond)
		tb.Put(benchKey(uint32(i)), req(i), 0, due)
	}
	now := epoch
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(time.Minute)
		if len(tb.Expire(now)) != 0 {
			b.Fatal("expired early")
		}
	}
}

// BenchmarkRealTimeLateness runs the real thing for a second per
// iteration: 10,000 requests in flight with deadlines spread over one
// second, Run on a 1 ms time.Ticker, and reports how late after its
// deadline each expiry was handed out (the median, the 99th percentile
// and the worst, in µs) on this machine as it is. A measurement, not an
// assertion: run it with -benchtime 1x.
func BenchmarkRealTimeLateness(b *testing.B) {
	const n = 10_000
	var lateness []time.Duration
	for it := 0; it < b.N; it++ {
		start := time.Now()
		tb, _ := NewTable[req](Config{Cap: n}, start)
		for i := 0; i < n; i++ {
			tb.Put(benchKey(uint32(i)), req(i), 0, start.Add(10*time.Millisecond+time.Duration(i)*100*time.Microsecond))
		}
		ticker := time.NewTicker(time.Millisecond)
		ticks := make(chan time.Time)
		done := make(chan struct{})
		go func() {
			Run(ticks, func(e Expired[req]) { lateness = append(lateness, time.Since(e.Deadline)) }, tb)
			close(done)
		}()
		for tb.Len() > 0 {
			<-ticker.C
			ticks <- time.Now() // the time of handing out, not the ticker's (which may be stale)
		}
		ticker.Stop()
		close(ticks)
		<-done
	}
	sort.Slice(lateness, func(i, j int) bool { return lateness[i] < lateness[j] })
	q := func(p float64) float64 { return float64(lateness[int(p*float64(len(lateness)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(q(1), "max-µs")
}
