package engine

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/journal"
)

// BenchmarkSAFDrain is the store-and-forward's throughput after an
// outage: the destination is down while SAF_ENTRIES reversals (default
// 100,000) are owed, then its simulator starts and the benchmark times
// until every entry is delivered and its final record journaled. It
// reports entries delivered per second, and the window (SAF_WINDOW,
// default the queue's) it ran with. One run per b.N: the figure is the
// drain, not a loop.
func BenchmarkSAFDrain(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("SAF_ENTRIES")); err == nil && v > 0 {
		n = v
	}
	window, _ := strconv.Atoi(os.Getenv("SAF_WINDOW"))
	for range b.N {
		addr := freeAddr(b)
		j, jst := journalFor(b)
		dc := dest("visa", Endpoint{Address: addr})
		dc.SAF = SAFConfig{Window: window, Timeout: 5 * time.Second}
		ts := forwarding(b, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
		p := jst.(JournalStage).P
		d := ts.dests["visa"]
		for i := 1; i <= n; i++ {
			r := journal.Record{Seq: uint64(i), BusinessDate: 20261202, Received: time.Now().UnixNano(), Decided: time.Now().UnixNano(),
				Link: "pos", MTI: [4]byte{'0', '2', '0', '0'}, ProcCode: 0, STAN: uint32(i % 1000000), Amount: 100, Currency: 840,
				Terminal: "TERM0001", Merchant: "MERCHANT0000001", RespCode: [2]byte{'9', '1'}, RRNSeq: uint64(i),
				Destination: "visa", UpSTAN: upstream.STAN(uint64(i)), UpRRN: fmt.Sprintf("6336%08d", i), UpState: journal.UpTimeout}
			if err := p.Protect(&r, []byte("4761739001010010")); err != nil {
				b.Fatal(err)
			}
			ts.ObserveRecord(&r)
		}
		waitUntil(b, "every entry queued", func() bool {
			st, err := ts.SAF("visa", 0)
			return err == nil && st[0].Depth == n
		})
		before := j.LastSeq()
		is := startSim(b, addr, sim.Config{Rules: sim.Rules{Default: "00"}})
		start := time.Now()
		for deadline := start.Add(10 * time.Minute); d.saf.m.delivered != nil; time.Sleep(time.Millisecond) {
			st, err := ts.SAF("visa", 0)
			if err == nil && st[0].Depth == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("not drained: %+v", st)
			}
		}
		waitUntil(b, "every final record journaled", func() bool { return j.LastSeq()-before >= uint64(n) })
		took := time.Since(start)
		if got := is.Stats().Answered["00"]; got < uint64(n) {
			b.Fatalf("the simulator approved %d of %d", got, n)
		}
		b.ReportMetric(float64(n)/took.Seconds(), "entries/s")
		b.ReportMetric(float64(n), "entries")
	}
}

// BenchmarkObserveRecord is what following the journal costs its
// committer per record: an on-us record (nothing owed) and a forwarded
// request's answered record (remembered for the originators' reversals).
func BenchmarkObserveRecord(b *testing.B) {
	ts := forwarding(b, []DestinationConfig{dest("visa", Endpoint{Address: freeAddr(b)})}, nil)
	for _, c := range []struct {
		name string
		st   journal.UpState
	}{{"on-us", journal.UpNone}, {"answered", journal.UpAnswered}} {
		b.Run(c.name, func(b *testing.B) {
			r := journal.Record{MTI: [4]byte{'0', '2', '0', '0'}, Terminal: "TERM0001", STAN: 1, LocalDate: 1202,
				Destination: "visa", UpState: c.st, RRNSeq: 1, UpSTAN: 1}
			b.ReportAllocs()
			for i := range b.N {
				r.STAN = uint32(i % 1000000)
				ts.ObserveRecord(&r)
			}
		})
	}
}
