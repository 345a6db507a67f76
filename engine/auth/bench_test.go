package auth

import (
	"crypto/sha256"
	"runtime"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
)

// benchData is the demo issuer data without limits or want of funds, so a
// benchmark measures decisions, not declines.
func benchData(t testing.TB) *issuer.Data {
	t.Helper()
	data, err := issuer.Parse(issuer.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	data.Profile("standard").DailyCount = 0
	data.Profile("standard").DailyAmount = 0
	data.Acceptor = issuer.Acceptor{}
	data.Accounts[0].Balance = 1 << 60
	return data
}

// benchRequest is an approved purchase of the demo card at the demo terminal.
func benchRequest() Request {
	pan := []byte("4761739001010010")
	return Request{MTI: codec.MTI{'0', '2', '0', '0'}, PAN: pan, PANHash: sha256.Sum256(pan), Amount: 1,
		Terminal: "TERM0001", Merchant: "MERCHANT0000001", EntryMode: 51, LocalDate: 1121,
		BusinessDate: 20261121, Today: 2611, Received: dayStart(20261121) + 3600}
}

// BenchmarkDecide: one purchase decision (card, acceptor and limit checks,
// funds, the effect, the transaction index) per op; run with -cpu 1 for
// decisions per second on one core.
func BenchmarkDecide(b *testing.B) {
	a := newAuth(b, benchData(b), Limits{MaxTransactions: 1 << 30, MaxPlaceholders: 1})
	r := benchRequest()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.STAN = uint32(i)
		if i%1000000 == 999999 {
			r.LocalDate++ // STANs wrap: a new day keeps Refs unique
		}
		if d := a.Decide(&r, nil, testApproval); d.Code != Approved {
			b.Fatalf("decision %d: %s", i, d.Code)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkRetainedBytes measures the heap each retained transaction
// costs: memRetained approved purchases into a fresh authorizer, the live
// heap (after a GC) before and after, divided by the count. The terminal
// and merchant IDs are fresh strings per request, as the engine's adapter
// makes them.
func BenchmarkRetainedBytes(b *testing.B) {
	const memRetained = 1_000_000
	data := benchData(b)
	term, merch := []byte("TERM0001"), []byte("MERCHANT0000001")
	var perEntry float64
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		a := newAuth(b, data, Limits{})
		r := benchRequest()
		for n := 0; n < memRetained; n++ {
			r.STAN, r.LocalDate = uint32(n%1000000), uint32(1121+n/1000000)
			r.Terminal, r.Merchant = string(term), string(merch)
			if d := a.Decide(&r, nil, testApproval); d.Code != Approved {
				b.Fatalf("decision %d: %s", n, d.Code)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / memRetained
		runtime.KeepAlive(a)
	}
	b.ReportMetric(perEntry, "B/entry")
}
