package engine

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// load drives n requests through addr over conns connections with up to
// inflight requests outstanding on each (closed loop), and returns when all
// are answered.
func load(tb testing.TB, addr string, frame []byte, conns, inflight, n int) {
	loadVia(tb, func() (net.Conn, error) { return net.Dial("tcp", addr) }, frame, conns, inflight, n)
}

// loadVia is load over the connections dial makes.
func loadVia(tb testing.TB, dial func() (net.Conn, error), frame []byte, conns, inflight, n int) {
	f, _ := codec.ParseFraming("binary2")
	f.MaxFrame = 65535
	per := n / conns
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		quota := per
		if i == 0 {
			quota += n - per*conns
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial()
			if err != nil {
				tb.Error(err)
				return
			}
			defer c.Close()
			r := codec.NewReader(c, f)
			sent, got := 0, 0
			burst := make([]byte, 0, len(frame)*inflight)
			send := func(k int) {
				burst = burst[:0]
				for j := 0; j < k; j++ {
					burst = append(burst, frame...)
				}
				if _, err := c.Write(burst); err != nil {
					tb.Error(err)
				}
				sent += k
			}
			send(min(inflight, quota))
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			for got < quota {
				if _, err := r.Next(); err != nil {
					tb.Errorf("after %d of %d: %v", got, quota, err)
					return
				}
				got++
				// refill in batches of a quarter window to keep writes few
				if gap := sent - got; gap <= inflight*3/4 && sent < quota {
					send(min(inflight-gap, quota-sent))
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkEngine sends 0200s through the switch over loopback TCP (demo
// authorizer; without and with the journal fsynced before each reply) and
// reports messages per second. The load
// generator shares the machine's CPUs with the switch.
func BenchmarkEngine(b *testing.B) {
	for _, shape := range []struct {
		name            string
		conns, inflight int
		journal         bool
	}{{"64x16", 64, 16, false}, {"8x1", 8, 1, false}, {"64x16/journal", 64, 16, true}, {"8x1/journal", 8, 1, true}} {
		b.Run(shape.name, func(b *testing.B) {
			ts := startServer(b, nil, func(c *Config) {
				if shape.journal {
					c.testJournalDir = b.TempDir()
				}
			})
			f, _ := codec.ParseFraming("binary2")
			frame, _ := f.Append(nil, nil, purchase(b, 1, 100))
			load(b, ts.addr, frame, shape.conns, shape.inflight, 2000) // warm up
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			load(b, ts.addr, frame, shape.conns, shape.inflight, b.N)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
		})
	}
}
