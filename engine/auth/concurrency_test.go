package auth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
)

// Bounds of the concurrency tests: 16 goroutines x 500 requests each over
// 4 accounts of 3 cards, 4 terminals at 2 merchants and 2 business dates:
// enough that every account, card, terminal and shard is contended, and
// quick (under a second with -race).
const (
	concWorkers  = 16
	concPerG     = 500
	concAccounts = 4
	concCards    = 3 // per account
	concTerms    = 4
	concBalance  = 60_000 // per account: the daily limits of its cards bind on the first date, the funds on the second
	concDaily    = 15_000 // per card and business date
)

func concPAN(acc, c int) []byte { return luhn(fmt.Sprintf("41111%03d%06d", acc, c)) }

func concIssuer(t *testing.T) *Authorizer {
	t.Helper()
	var y strings.Builder
	fmt.Fprintf(&y, "profiles: [{name: standard, daily_amount: %d}]\naccounts:\n", concDaily)
	for a := 0; a < concAccounts; a++ {
		fmt.Fprintf(&y, "  - {id: ACC-%d, currency: \"840\", balance: %d}\n", a, concBalance)
	}
	y.WriteString("cards:\n")
	for a := 0; a < concAccounts; a++ {
		for c := 0; c < concCards; c++ {
			fmt.Fprintf(&y, "  - {pan: \"%s\", expiry: \"2812\", status: active, account: ACC-%d}\n", concPAN(a, c), a)
		}
	}
	y.WriteString("merchants: [{id: M0, name: A, mcc: \"5411\", status: active}, {id: M1, name: B, mcc: \"5411\", status: active}]\nterminals:\n")
	for i := 0; i < concTerms; i++ {
		fmt.Fprintf(&y, "  - {id: T%d, merchant: M%d, status: active}\n", i, i%2)
	}
	d, err := issuer.Parse([]byte(y.String()))
	if err != nil {
		t.Fatal(err)
	}
	return newAuth(t, d, Limits{})
}

// concRequest is request i of goroutine g: a purchase or a
// pre-authorization of a random card at a random terminal, on the first
// business date for the first half of the goroutine's requests and the
// next one after, so that decisions of both dates run at once.
func concRequest(g, i int, rng *rand.Rand) (*Request, int) {
	acc, c := rng.IntN(concAccounts), rng.IntN(concCards)
	pan := concPAN(acc, c)
	date := uint32(20260115)
	if i >= concPerG/2 {
		date++
	}
	r := &Request{PAN: pan, PANHash: sha256PAN(pan), Amount: 1 + rng.Int64N(600), Terminal: fmt.Sprintf("T%d", rng.IntN(concTerms)),
		EntryMode: 50, STAN: uint32(g*concPerG + i + 1), LocalDate: 115, BusinessDate: date, Today: 2601,
		Received: dayStart(20260115) + 43200 + int64(i)}
	r.Merchant = fmt.Sprintf("M%d", (r.Terminal[1]-'0')%2)
	r.MTI = codec.MTI{'0', '2', '0', '0'}
	if rng.IntN(4) == 0 {
		r.MTI = codec.MTI{'0', '1', '0', '0'}
	}
	return r, acc*concCards + c
}

func noPIN(*issuer.Card) (bool, error) { panic("no PIN block: the verifier must not be called") }

// decided is what the test knows of one decision.
type decided struct {
	r    *Request
	card int
	d    Decision
}

// TestConcurrentDecisions: purchases and pre-authorizations from many
// goroutines over accounts shared by several cards, terminals and two
// business dates never take more than an account's funds or a card's daily
// limit on the date they counted in, and the state holds exactly what the
// approvals took; then every approval is reversed by many goroutines at
// once (with repeats and duplicates of the reversals), and every account,
// card and acceptor is back where it began.
func TestConcurrentDecisions(t *testing.T) {
	a := concIssuer(t)
	all := make([][]decided, concWorkers)
	var wg sync.WaitGroup
	for g := 0; g < concWorkers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := 0; i < concPerG; i++ {
				r, card := concRequest(g, i, rng)
				d := a.Decide(r, noPIN, testApproval)
				if d.Code != Approved && d.Code != NoFunds && d.Code != OverAmount {
					t.Errorf("%s %d: %s", r.Kind(), r.STAN, d.Code)
				}
				all[g] = append(all[g], decided{r, card, d})
			}
		}()
	}
	wg.Wait()
	checkApprovals(t, a, all)
	var purchases [concTerms]Count // each terminal's batch: its approved purchases
	for _, ds := range all {
		for _, x := range ds {
			if x.d.Approved && x.r.Kind() == KindPurchase {
				purchases[x.r.Terminal[1]-'0'].add(1, x.r.Amount)
			}
		}
	}
	for i, want := range purchases {
		if b := a.Batch(fmt.Sprintf("T%d", i)); b.Open.Debits != want || b.Open.DebitReversals != (Count{}) {
			t.Errorf("T%d's batch %+v, want debits %+v", i, b.Open, want)
		}
	}
	reverseAll(t, a, all)
	for i, want := range purchases { // every one reversed, once
		if b := a.Batch(fmt.Sprintf("T%d", i)); b.Open.Debits != want || b.Open.DebitReversals != want {
			t.Errorf("T%d's batch after the reversals %+v, want debits and their reversals %+v", i, b.Open, want)
		}
	}
	for acc := 0; acc < concAccounts; acc++ {
		if avail, held, delta := accountState(a, fmt.Sprintf("ACC-%d", acc)); avail != concBalance || held != 0 || delta != 0 {
			t.Errorf("ACC-%d after reversing everything: avail %d held %d delta %d", acc, avail, held, delta)
		}
	}
	for acc := 0; acc < concAccounts; acc++ {
		for c := 0; c < concCards; c++ {
			if u, _, _ := cardState(a, sha256PAN(concPAN(acc, c)), 20260116); u.amount != 0 || u.count != 0 {
				t.Errorf("card %d/%d usage after reversals %+v", acc, c, u)
			}
		}
	}
	for i := 0; i < 2; i++ {
		if m := acceptorState(a.merchants, fmt.Sprintf("M%d", i), 20260116); m.amount != 0 || m.count != 0 {
			t.Errorf("merchant M%d usage after reversals %+v", i, m)
		}
	}
}

// checkApprovals: funds and daily limits held, and the state is what the
// approvals took.
func checkApprovals(t *testing.T, a *Authorizer, all [][]decided) {
	t.Helper()
	var debit, held [concAccounts]int64
	var usage [concAccounts * concCards]map[uint32]int64
	for i := range usage {
		usage[i] = map[uint32]int64{}
	}
	approved, codes := 0, map[string]int{}
	for _, list := range all {
		for _, x := range list {
			if codes[x.d.Code]++; !x.d.Approved {
				continue
			}
			approved++
			if x.r.Kind() == KindPreauth {
				held[x.card/concCards] += x.r.Amount
			} else {
				debit[x.card/concCards] += x.r.Amount
			}
			usage[x.card][x.d.Date] += x.r.Amount
		}
	}
	if approved < 500 || codes[NoFunds] == 0 || codes[OverAmount] == 0 {
		t.Fatalf("answers %v: the test does not contend on both funds and daily limits", codes)
	}
	for acc := 0; acc < concAccounts; acc++ {
		avail, h, delta := accountState(a, fmt.Sprintf("ACC-%d", acc))
		if avail < 0 || delta != -debit[acc] || h != held[acc] {
			t.Errorf("ACC-%d: avail %d held %d delta %d; the approvals took %d and hold %d", acc, avail, h, delta, debit[acc], held[acc])
		}
	}
	for card, byDate := range usage {
		for date, sum := range byDate {
			if sum > concDaily {
				t.Errorf("card %d approved %d on %d, over its daily limit %d", card, sum, date, concDaily)
			}
		}
		u, _, _ := cardState(a, sha256PAN(concPAN(card/concCards, card%concCards)), 20260116)
		if u.amount != byDate[20260116] {
			t.Errorf("card %d counts %d on the newest date, its approvals %d", card, u.amount, byDate[20260116])
		}
	}
}

// reverseAll reverses every approval from many goroutines at once, each
// with its own reversal Ref, then repeats (0401) and duplicates (0400) it.
func reverseAll(t *testing.T, a *Authorizer, all [][]decided) {
	t.Helper()
	var wg sync.WaitGroup
	for g := 0; g < concWorkers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for owner, list := range all {
				if owner != g && owner%3 != g%3 {
					continue // each approval: its own goroutine's reversal, and a few others'
				}
				for _, x := range list {
					if !x.d.Approved {
						continue
					}
					for j, mti := range []string{"0400", "0401", "0400"} {
						r := *x.r
						r.STAN, r.Amount = 1_000_000+uint32(g)*100_000+x.r.STAN, 0
						r.MTI, _ = codec.ParseMTI(mti)
						r.Original, r.OriginalClass, r.HasOriginal = x.r.Ref(), x.r.MTI.Class(), true
						want := [...]string{Approved, Approved, Duplicate}[j]
						if d := a.Decide(&r, noPIN, testApproval); d.Code != want {
							t.Errorf("reversal %s of %d: %s, want %s", mti, x.r.STAN, d.Code, want)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestConcurrentReversalRacesOriginal: an original and its reversal sent
// at once from two goroutines, for many originals over several terminals
// and cards of one account: whichever arrives first, the net effect is
// nothing (approved and reversed, or declined 05 as late), and a repeat of
// the original agrees with its first answer.
func TestConcurrentReversalRacesOriginal(t *testing.T) {
	a := concIssuer(t)
	const n = concWorkers * concPerG / 2
	var wg sync.WaitGroup
	codes := make([]string, n)
	original := func(i int) *Request {
		pan := concPAN(0, i%concCards)
		term := fmt.Sprintf("T%d", i%concTerms)
		r := &Request{MTI: codec.MTI{'0', '2', '0', '0'}, PAN: pan, PANHash: sha256PAN(pan), Amount: int64(1 + i%7),
			Terminal: term, Merchant: fmt.Sprintf("M%d", i%concTerms%2), EntryMode: 50, STAN: uint32(i + 1),
			LocalDate: 115, BusinessDate: 20260115, Today: 2601, Received: dayStart(20260115) + 43200}
		return r
	}
	for g := 0; g < concWorkers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g / 2; i < n; i += concWorkers / 2 {
				r := original(i)
				if g%2 == 0 {
					d := a.Decide(r, noPIN, testApproval)
					if d.Code != Approved && d.Code != DoNotHonour && d.Code != OverAmount && d.Code != NoFunds {
						t.Errorf("original %d: %s", r.STAN, d.Code)
					}
					codes[i] = d.Code
					continue
				}
				rev := *r
				rev.MTI, rev.STAN, rev.Amount = codec.MTI{'0', '4', '0', '0'}, 500_000+r.STAN, 0
				rev.Original, rev.OriginalClass, rev.HasOriginal = r.Ref(), '2', true
				if d := a.Decide(&rev, noPIN, testApproval); d.Code != Approved {
					t.Errorf("reversal of %d: %s", r.STAN, d.Code)
				}
			}
		}()
	}
	wg.Wait()
	if avail, held, delta := accountState(a, "ACC-0"); avail != concBalance || held != 0 || delta != 0 {
		t.Fatalf("avail %d held %d delta %d, want nothing taken", avail, held, delta)
	}
	for i, c := range codes {
		r := original(i)
		r.MTI = codec.MTI{'0', '2', '0', '1'}
		if d := a.Decide(r, noPIN, testApproval); d.Code != c {
			t.Fatalf("repeat of %d: %s, first answer %s", i+1, d.Code, c)
		}
	}
}
