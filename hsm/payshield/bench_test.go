package payshield

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/hsm"
)

// latencyHist counts latencies in 1µs buckets up to latencyBucketsMax µs
// (slower ones land in the last bucket), lock-free, so recording does not
// allocate or serialise the goroutines.
type latencyHist struct{ buckets []atomic.Int64 }

const latencyBucketsMax = 200_000 // 200 ms

func newLatencyHist() *latencyHist {
	return &latencyHist{buckets: make([]atomic.Int64, latencyBucketsMax+1)}
}

func (h *latencyHist) record(d time.Duration) {
	us := min(int(d/time.Microsecond), latencyBucketsMax)
	h.buckets[us].Add(1)
}

// quantile returns the latency at quantile q (0..1) in microseconds.
func (h *latencyHist) quantile(q float64) float64 {
	var total int64
	for i := range h.buckets {
		total += h.buckets[i].Load()
	}
	want := int64(float64(total)*q + 0.5)
	var seen int64
	for i := range h.buckets {
		if seen += h.buckets[i].Load(); seen >= want && seen > 0 {
			return float64(i)
		}
	}
	return 0
}

// benchClient runs op from 16 goroutines over a pool of 2 connections to
// the simulator on 127.0.0.1 and reports ops/s and p50/p99 latency.
func benchClient(b *testing.B, op func(ctx context.Context, c *Client) error) {
	c, _ := newPair(b, Config{Conns: 2})
	ctx := context.Background()
	if err := op(ctx, c); err != nil {
		b.Fatal(err)
	}
	h := newLatencyHist()
	b.ReportAllocs()
	b.SetParallelism(8) // 8 x GOMAXPROCS callers
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			if err := op(ctx, c); err != nil {
				b.Error(err)
				return
			}
			h.record(time.Since(t0))
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(h.quantile(0.50), "p50-µs")
	b.ReportMetric(h.quantile(0.99), "p99-µs")
}

// BenchmarkVerifyPINDC is a Visa PVV verification (DC) over TCP.
func BenchmarkVerifyPINDC(b *testing.B) {
	chk := hsm.PINCheck{PINKey: tpkU, Format: hsm.Diebold, Block: blockTPKDiebold, PAN: vecPAN,
		PVV: &hsm.PVVData{PVK: pvkX, PVKI: 1, PVV: "4402"}}
	benchClient(b, func(ctx context.Context, c *Client) error { return c.VerifyPIN(ctx, chk) })
}

// BenchmarkTranslatePINCA is a TPK to ZPK translation (CA) over TCP.
func BenchmarkTranslatePINCA(b *testing.B) {
	tr := hsm.PINTranslation{From: tpkU, To: zpkU, FromFormat: hsm.ISO0, ToFormat: hsm.ISO0, Block: blockTPKISO0, PAN: vecPAN}
	benchClient(b, func(ctx context.Context, c *Client) error { _, err := c.TranslatePIN(ctx, tr); return err })
}

// BenchmarkVerifyMACM8 is an X9.19 MAC verification (M8) of 200 bytes over TCP.
func BenchmarkVerifyMACM8(b *testing.B) {
	data := make([]byte, 200)
	soft := &hsm.Soft{LMK: hsm.ThalesTestLMK()}
	mac, err := soft.GenerateMAC(context.Background(), takU, hsm.MACISO9797Alg3, hsm.MACPadding1, data)
	if err != nil {
		b.Fatal(err)
	}
	benchClient(b, func(ctx context.Context, c *Client) error {
		return c.VerifyMAC(ctx, takU, hsm.MACISO9797Alg3, hsm.MACPadding1, data, mac[:4])
	})
}

// BenchmarkSoftVerifyPIN is the same DC work in process, for comparison.
func BenchmarkSoftVerifyPIN(b *testing.B) {
	soft := &hsm.Soft{LMK: hsm.ThalesTestLMK()}
	chk := hsm.PINCheck{PINKey: tpkU, Format: hsm.Diebold, Block: blockTPKDiebold, PAN: vecPAN,
		PVV: &hsm.PVVData{PVK: pvkX, PVKI: 1, PVV: "4402"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := soft.VerifyPIN(context.Background(), chk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyARQCKQ is an M/Chip CVN 16 ARQC verification with its
// ARPC (KQ mode 1, EMV_VECTORS.md M16-2) over TCP.
func BenchmarkVerifyARQCKQ(b *testing.B) {
	chk := m162(b)
	chk.ARPC = &hsm.ARPCData{ARC: [2]byte{0x00, 0x12}}
	benchClient(b, func(ctx context.Context, c *Client) error { _, err := c.VerifyARQC(ctx, mkacU, chk); return err })
}
