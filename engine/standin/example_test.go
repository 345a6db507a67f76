package standin_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"

	"github.com/cardswitch/cardswitch/engine/standin"
)

// keyed is the keyed hash the switch keeps of a PAN (the key is the
// switch's; a fixed one here).
func keyed(pan string) (h [32]byte) {
	m := hmac.New(sha256.New, []byte("example key"))
	m.Write([]byte(pan))
	copy(h[:], m.Sum(nil))
	return h
}

func Example() {
	neg, err := standin.NewNegative(map[[32]byte]string{keyed("4111111111111111"): "43"})
	if err != nil {
		panic(err)
	}
	cfg := standin.Config{Enabled: true, Currency: 840, MaxAmount: 100_00, DailyAmount: 150_00, DailyCount: 3}
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	st := standin.New(cfg, neg)

	card := keyed("4000000000000002")
	r := standin.Request{MTI: [4]byte{'0', '2', '0', '0'}, Amount: 80_00, Currency: 840, PAN: card, Day: 20261202}
	for _, amount := range []int64{80_00, 80_00, 70_00, 120_00} {
		r.Amount = amount
		d := st.Authorize(r) // the live path: decide and count in one step
		fmt.Println(amount, d.Code, standin.Indicator(d.Reason))
	}
	r.Amount = 80_00
	st.Reverse(r) // the first approval reversed: its amount and count are free again
	fmt.Println(st.Authorize(r).Code)

	stolen := r
	stolen.PAN = keyed("4111111111111111")
	fmt.Println(st.Decide(stolen).Code, standin.Indicator(st.Decide(stolen).Reason))

	// a restart: the journaled stand-in approvals and reversals, in order
	replayed := standin.New(cfg, neg)
	for _, amount := range []int64{80_00, 70_00} {
		r.Amount = amount
		replayed.Apply(r, standin.Decision{Code: standin.Approved, Approved: true})
	}
	r.Amount = 1
	fmt.Println(replayed.Decide(r).Code, replayed.Cards())
	// Output:
	// 8000 00 STIP:approved
	// 8000 61 STIP:dailyamount
	// 7000 00 STIP:approved
	// 12000 61 STIP:amount
	// 00
	// 43 STIP:negative
	// 61 1
}
