package auth

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/internal/pan"
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

// benchRequest is an approved purchase of the demo card at the demo
// terminal, on one of its links.
func benchRequest() Request {
	pan := []byte("4761739001010010")
	return Request{MTI: codec.MTI{'0', '2', '0', '0'}, PAN: pan, PANHash: sha256.Sum256(pan), Amount: 1,
		Terminal: "TERM0001", Merchant: "MERCHANT0000001", Link: "pos", EntryMode: 51, LocalDate: 1121,
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

// bigIssuer is issuer data for a large state: cards on accounts (two
// each), terminals at merchants, no limits, funds without end.
func bigIssuer(b *testing.B, cards, terminals int) (*issuer.Data, [][]byte) {
	b.Helper()
	var y strings.Builder
	y.WriteString("profiles: [{name: standard}]\naccounts:\n")
	for i := 0; i < cards/2; i++ {
		fmt.Fprintf(&y, "  - {id: A%d, currency: \"840\", balance: %d}\n", i, int64(1)<<50)
	}
	y.WriteString("cards:\n")
	pans := make([][]byte, cards)
	for i := range pans {
		pans[i] = luhn(fmt.Sprintf("4%014d", i))
		fmt.Fprintf(&y, "  - {pan: \"%s\", expiry: \"2812\", status: active, account: A%d}\n", pans[i], i/2)
	}
	y.WriteString("merchants:\n")
	for i := 0; i < terminals/10; i++ {
		fmt.Fprintf(&y, "  - {id: M%d, name: SHOP, mcc: \"5411\", status: active}\n", i)
	}
	y.WriteString("terminals:\n")
	for i := 0; i < terminals; i++ {
		fmt.Fprintf(&y, "  - {id: T%d, merchant: M%d, status: active}\n", i, i/10)
	}
	data, err := issuer.Parse([]byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	return data, pans
}

// luhn appends the check digit.
func luhn(s string) []byte { return []byte(pan.WithCheckDigit(s)) }

// BenchmarkReadState loads a snapshot of n approved purchases (20 000
// cards, 1000 terminals), the state a start reads before it replays the
// journal's suffix. Report: entries/s, and the snapshot's size.
func BenchmarkReadState(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			if n > 1_000_000 && testing.Short() {
				b.Skip("10 million entries: about 4 GB of memory")
			}
			data, pans := bigIssuer(b, 20_000, 1000)
			lim := Limits{MaxTransactions: n}
			a := newAuth(b, data, lim)
			hashes := make([][32]byte, len(pans))
			for i, p := range pans {
				hashes[i] = sha256.Sum256(p)
			}
			terms := make([]string, 1000)
			for i := range terms {
				terms[i] = fmt.Sprintf("T%d", i)
			}
			r := Request{MTI: codec.MTI{'0', '2', '0', '0'}, Amount: 1, EntryMode: 51, LocalDate: 1121,
				BusinessDate: 20261121, Today: 2611, Received: dayStart(20261121) + 3600}
			for i := 0; i < n; i++ {
				c := i % len(pans)
				r.PAN, r.PANHash = pans[c], hashes[c]
				r.Terminal, r.Merchant = terms[i%1000], fmt.Sprintf("M%d", i%1000/10)
				r.STAN = uint32(i / 1000)
				if d := a.Decide(&r, nil, testApproval); d.Code != Approved {
					b.Fatalf("decision %d: %s", i, d.Code)
				}
			}
			var snap bytes.Buffer
			snap.Grow(n * 50)
			start := time.Now()
			if err := a.WriteState(&snap); err != nil {
				b.Fatal(err)
			}
			wrote := time.Since(start)
			a = nil
			runtime.GC() // a start reads into a fresh process: not among the garbage of the writer
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				back := newAuth(b, data, lim)
				if err := back.ReadState(bytes.NewReader(snap.Bytes())); err != nil {
					b.Fatal(err)
				}
				if got := back.Stats().Transactions; got != int64(n) {
					b.Fatalf("%d entries read back, want %d", got, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(wrote.Seconds(), "write-s")
			b.ReportMetric(float64(snap.Len())/float64(n), "B/entry-in-snapshot")
		})
	}
}
