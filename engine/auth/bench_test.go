package auth

import (
	"crypto/sha256"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
)

// BenchmarkDecide: one purchase decision (card, acceptor and limit checks,
// funds, the effect, the transaction index) per op; run with -cpu 1 for
// decisions per second on one core.
func BenchmarkDecide(b *testing.B) {
	data, err := issuer.Parse(issuer.DemoYAML())
	if err != nil {
		b.Fatal(err)
	}
	data.Profile("standard").DailyCount = 0 // measure decisions, not the daily count limit
	data.Profile("standard").DailyAmount = 0
	data.Acceptor = issuer.Acceptor{}
	data.Accounts[0].Balance = 1 << 60
	a := New(data, func(p []byte) [32]byte { return sha256.Sum256(p) })
	pan := []byte("4761739001010010")
	r := Request{MTI: codec.MTI{'0', '2', '0', '0'}, PAN: pan, PANHash: sha256.Sum256(pan), Amount: 1,
		Terminal: "TERM0001", Merchant: "MERCHANT0000001", EntryMode: 51, LocalDate: 1121,
		BusinessDate: 20261121, Today: 2611}
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

func TestRolloverDropsOldTransactions(t *testing.T) {
	data, err := issuer.Parse(issuer.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	a := New(data, func(p []byte) [32]byte { return sha256.Sum256(p) })
	pan := []byte("4761739001010010")
	r := Request{MTI: codec.MTI{'0', '2', '0', '0'}, PAN: pan, PANHash: sha256.Sum256(pan), Amount: 1,
		Terminal: "TERM0001", Merchant: "MERCHANT0000001", EntryMode: 51, LocalDate: 1121, BusinessDate: 20261121, Today: 2611}
	for _, day := range []uint32{20261121, 20261122, 20261123} {
		r.BusinessDate, r.STAN = day, day%100
		if d := a.Decide(&r, nil, testApproval); d.Code != Approved {
			t.Fatalf("%d: %s", day, d.Code)
		}
	}
	a.purge(20261130) // what the rollover to the 30th starts in the background
	count := 0
	for i := range a.txns {
		count += len(a.txns[i].m)
	}
	if count != 1 {
		t.Fatalf("%d transactions kept, want the 23rd's only (%d days of retention)", count, retentionDays)
	}
}

// testApproval is the approval code the tests offer.
var testApproval = [6]byte{'1', '2', '3', '4', '5', '6'}

func TestRepeatKeepsItsApprovalCode(t *testing.T) {
	data, err := issuer.Parse(issuer.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	hash := func(p []byte) [32]byte { return sha256.Sum256(p) }
	a := New(data, hash)
	pan := []byte("4761739001010010")
	r := Request{MTI: codec.MTI{'0', '2', '0', '0'}, PAN: pan, PANHash: hash(pan), Amount: 1, STAN: 7,
		Terminal: "TERM0001", Merchant: "MERCHANT0000001", EntryMode: 51, LocalDate: 1121, BusinessDate: 20261121, Today: 2611}
	first := a.Decide(&r, nil, [6]byte{'1', '1', '1', '1', '1', '1'})
	r.MTI = codec.MTI{'0', '2', '0', '1'}
	again := a.Decide(&r, nil, [6]byte{'2', '2', '2', '2', '2', '2'})
	if !first.Approved || again.Approval != first.Approval || !again.Repeat() {
		t.Fatalf("repeat approval %s, original %s", again.Approval, first.Approval)
	}
	b := New(data, hash) // after a restart
	if err := b.Replay(first.Outcome, [2]byte{'0', '0'}); err != nil {
		t.Fatal(err)
	}
	if d := b.Decide(&r, nil, [6]byte{'3', '3', '3', '3', '3', '3'}); d.Approval != first.Approval {
		t.Fatalf("repeat after replay: approval %s, original %s", d.Approval, first.Approval)
	}
}

func TestAbortTakesTheEffectBack(t *testing.T) {
	data, err := issuer.Parse(issuer.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	hash := func(p []byte) [32]byte { return sha256.Sum256(p) }
	a := New(data, hash)
	pan := []byte("4761739001010010")
	r := Request{MTI: codec.MTI{'0', '2', '0', '0'}, PAN: pan, PANHash: hash(pan), Amount: 700, STAN: 9,
		Terminal: "TERM0001", Merchant: "MERCHANT0000001", EntryMode: 51, LocalDate: 1121, BusinessDate: 20261121, Today: 2611}
	inquiry := uint32(1000)
	balance := func(a *Authorizer) int64 {
		q := r
		inquiry++
		q.Proc, q.STAN = 310000, inquiry
		return a.Decide(&q, nil, testApproval).Balance
	}
	before := balance(a)
	d := a.Decide(&r, nil, testApproval)
	out := a.Abort(d.Outcome)
	if got := balance(a); got != before {
		t.Fatalf("balance %d after abort, %d before", got, before)
	}
	r.MTI = codec.MTI{'0', '2', '0', '1'}
	if rep := a.Decide(&r, nil, testApproval); rep.Code != System {
		t.Fatalf("repeat of an aborted approval: %s", rep.Code)
	}
	b := New(data, hash) // the journal holds the 96 without an effect
	if err := b.Replay(out, [2]byte{'9', '6'}); err != nil || balance(b) != before {
		t.Fatalf("replayed balance %d, want %d (%v)", balance(b), before, err)
	}
}
