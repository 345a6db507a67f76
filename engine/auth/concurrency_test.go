package auth

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
)

// Bounds of the concurrency tests: 16 goroutines x 500 requests each,
// enough to contend on one account, card, merchant and terminal.
const (
	concWorkers = 16
	concPerG    = 500
)

func concIssuer(t *testing.T, balance, daily int64) *Authorizer {
	t.Helper()
	d, err := issuer.Parse([]byte(fmt.Sprintf(`
keys: {pvk: U1D3923B426280093FEABD1824D622FEB, pvki: 1}
profiles: [{name: standard, daily_amount: %d}]
accounts: [{id: ACC-1, currency: "840", balance: %d}]
cards: [{pan: "4111110000000013", expiry: "2812", status: active, account: ACC-1}]
merchants: [{id: M1, name: SHOP, mcc: "5411", status: active}]
terminals: [{id: T1, merchant: M1, status: active}]
`, daily, balance)))
	if err != nil {
		t.Fatal(err)
	}
	return newAuth(t, d, Limits{})
}

func concRequest(mti string, stan uint32, amount int64) *Request {
	pan := []byte("4111110000000013")
	r := &Request{Proc: 0, PAN: pan, PANHash: sha256PAN(pan), Amount: amount, Terminal: "T1", Merchant: "M1",
		EntryMode: 50, STAN: stan, LocalDate: 115, BusinessDate: 20260115, Today: 2601}
	r.MTI, _ = codec.ParseMTI(mti)
	return r
}

func noPIN(*issuer.Card) (bool, error) { panic("no PIN block: the verifier must not be called") }

// TestConcurrentPurchasesAndReversals: purchases from many goroutines never
// take more than the funds or the daily limit, whichever is lower; every
// decline is the right one and is not a decline with room left; then every
// approved purchase is reversed by many goroutines at once (with repeats
// and duplicates of the reversals) and the account is back exactly where
// it began.
func TestConcurrentPurchasesAndReversals(t *testing.T) {
	for _, c := range []struct {
		name           string
		balance, daily int64
		decline        string
	}{
		{"funds", 300_000, 0, NoFunds},
		{"daily-limit", 1 << 40, 300_000, OverAmount},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := concIssuer(t, c.balance, c.daily)
			bound := c.balance
			if c.daily > 0 {
				bound = c.daily
			}
			var (
				approved    [concWorkers * concPerG]int64 // amount by STAN-1, 0 if declined
				sum         atomic.Int64
				minDeclined atomic.Int64
				wg          sync.WaitGroup
			)
			minDeclined.Store(1 << 62)
			for g := 0; g < concWorkers; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 1))
					for i := 0; i < concPerG; i++ {
						stan := uint32(g*concPerG + i + 1)
						amt := 1 + rng.Int64N(200)
						d := a.Decide(concRequest("0200", stan, amt), noPIN, testApproval)
						switch d.Code {
						case Approved:
							approved[stan-1] = amt
							sum.Add(amt)
						case c.decline:
							for m := minDeclined.Load(); amt < m && !minDeclined.CompareAndSwap(m, amt); m = minDeclined.Load() {
							}
						default:
							t.Errorf("purchase %d: %s", stan, d.Code)
						}
					}
				}()
			}
			wg.Wait()
			avail, held, delta := accountState(a, "ACC-1")
			room := bound - sum.Load()
			switch {
			case sum.Load() > bound:
				t.Fatalf("approved %d > bound %d", sum.Load(), bound)
			case delta != -sum.Load() || held != 0 || avail != c.balance-sum.Load():
				t.Fatalf("account delta %d held %d avail %d; approved %d", delta, held, avail, sum.Load())
			case minDeclined.Load() <= room:
				t.Fatalf("declined %d with %d of room left", minDeclined.Load(), room)
			}
			u, _ := cardState(a, sha256PAN([]byte("4111110000000013")), 20260115)
			if u.amount != sum.Load() {
				t.Fatalf("card usage %d, approved %d", u.amount, sum.Load())
			}

			// Every goroutine reverses every approved purchase, each with its
			// own reversal Ref, then repeats (0401) and duplicates (0400) it.
			for g := 0; g < concWorkers; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for s := range approved {
						if approved[s] == 0 || s%concWorkers != g && s%3 != 0 {
							continue // each original: its own goroutine, and a third by all
						}
						rev := uint32(1_000_000 + g*len(approved) + s)
						for j, mti := range []string{"0400", "0401", "0400"} {
							r := concRequest(mti, rev, 0)
							r.Original, r.OriginalClass, r.HasOriginal = Ref{"T1", uint32(s + 1), 115}, '2', true
							want := [...]string{Approved, Approved, Duplicate}[j]
							if d := a.Decide(r, noPIN, testApproval); d.Code != want {
								t.Errorf("reversal %s of %d: %s, want %s", mti, s+1, d.Code, want)
							}
						}
					}
				}()
			}
			wg.Wait()
			avail, held, delta = accountState(a, "ACC-1")
			if avail != c.balance || held != 0 || delta != 0 {
				t.Fatalf("after reversing everything: avail %d held %d delta %d, want %d 0 0", avail, held, delta, c.balance)
			}
			if u, _ := cardState(a, sha256PAN([]byte("4111110000000013")), 20260115); u.amount != 0 || u.count != 0 {
				t.Fatalf("card usage after reversals %+v", u)
			}
			if m := acceptorState(a.merchants, "M1", 20260115); m.amount != 0 || m.count != 0 {
				t.Fatalf("merchant usage after reversals %+v", m)
			}
		})
	}
}

// TestConcurrentReversalRacesOriginal: an original and its reversal sent
// at once from two goroutines, for many originals: whichever arrives
// first, the net effect is nothing (approved and reversed, or declined 05
// as late), and a repeat of the original agrees with its first answer.
func TestConcurrentReversalRacesOriginal(t *testing.T) {
	a := concIssuer(t, 1<<40, 0)
	const n = concWorkers * concPerG / 2
	var wg sync.WaitGroup
	codes := make([]string, n)
	for g := 0; g < concWorkers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g / 2; i < n; i += concWorkers / 2 {
				stan := uint32(i + 1)
				if g%2 == 0 {
					d := a.Decide(concRequest("0200", stan, int64(1+i%97)), noPIN, testApproval)
					if d.Code != Approved && d.Code != DoNotHonour {
						t.Errorf("original %d: %s", stan, d.Code)
					}
					codes[i] = d.Code
					continue
				}
				r := concRequest("0400", 500_000+stan, 0)
				r.Original, r.OriginalClass, r.HasOriginal = Ref{"T1", stan, 115}, '2', true
				if d := a.Decide(r, noPIN, testApproval); d.Code != Approved {
					t.Errorf("reversal of %d: %s", stan, d.Code)
				}
			}
		}()
	}
	wg.Wait()
	avail, held, delta := accountState(a, "ACC-1")
	if avail != 1<<40 || held != 0 || delta != 0 {
		t.Fatalf("avail %d held %d delta %d, want nothing taken", avail, held, delta)
	}
	for i, c := range codes {
		if d := a.Decide(concRequest("0201", uint32(i+1), int64(1+i%97)), noPIN, testApproval); d.Code != c {
			t.Fatalf("repeat of %d: %s, first answer %s", i+1, d.Code, c)
		}
	}
}
