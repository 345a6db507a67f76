package engine

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/chipcard"
)

// benchChipCards is how many chip cards the benchmark spreads its
// decisions over: each card's ATC moves by one per decision, and an ATC
// has 16 bits.
const benchChipCards = 1000

// chipBenchData is the demo issuer data with benchChipCards more chip
// cards (profile chip-cvn10, or chip-cvn18) on an account without want of
// funds or limits.
func chipBenchData(tb testing.TB, profile string) (*issuer.Data, []string) {
	tb.Helper()
	y := string(issuer.DemoYAML())
	y = strings.Replace(y, "cards: 6,", fmt.Sprintf("cards: %d,", 6+benchChipCards), 1)
	y = strings.Replace(y, "balance: 500000        # minor units: 5000.00", "balance: 1000000000000000", 1)
	var b strings.Builder
	pans := make([]string, benchChipCards)
	for i := range pans {
		pans[i] = luhn(fmt.Sprintf("476173902%06d", i))
		fmt.Fprintf(&b, "  - {pan: %q, expiry: \"2812\", status: active, account: ACC-0001, profile: %s}\n", pans[i], profile)
	}
	y = strings.Replace(y, "merchants:\n", b.String()+"merchants:\n", 1)
	d, err := issuer.ParseCounted([]byte(y))
	if err != nil {
		tb.Fatal(err)
	}
	p := d.Profile(profile)
	p.PerTxnMax, p.DailyAmount, p.DailyCount = 0, 0, 0
	d.Acceptor = issuer.Acceptor{}
	return d, pans
}

// luhn appends the check digit.
func luhn(s string) string {
	sum := 0
	for i := len(s) - 1; i >= 0; i-- {
		n := int(s[i] - '0')
		if (len(s)-1-i)%2 == 0 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return s + string(rune('0'+(10-sum%10)%10))
}

// BenchmarkChipAuthorize: one chip purchase through the authorization
// stage per op, HSM cost included (the software HSM: the IMK unwrapped
// from the LMK, the ARQC verified and its ARPC made), from the decoded
// request to the decision and tag 91: field 55 read, the cryptogram
// verified, Decide with the ATC check, the reply field. The requests
// (each with its own valid ARQC) are built before the clock starts.
func BenchmarkChipAuthorize(b *testing.B) {
	for _, prof := range []string{"chip-cvn10", "chip-cvn18"} {
		b.Run(prof, func(b *testing.B) {
			data, pans := chipBenchData(b, prof)
			a, err := auth.New(data, func(p []byte) [32]byte { return sha256.Sum256(p) }, auth.Limits{MaxTransactions: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			ts := startServer(b, AuthStage{A: a}, func(c *Config) {
				c.testHSM, c.testKeys = &hsm.Soft{LMK: hsm.ThalesTestLMK()}, &Keys{Data: data}
			})
			l := ts.links[0]
			d, _ := codec.Lookup(codec.ISO87ASCII)
			imk := demoIMK(b)
			cvn := map[string]hsm.CVN{"chip-cvn10": hsm.VisaCVN10, "chip-cvn18": hsm.VisaCVN18}[prof]
			msgs := make([][]byte, b.N)
			for i := range msgs {
				pan := pans[i%benchChipCards]
				raw, err := chipcard.ICC(chipcard.Card{PAN: pan, PSN: 1, CVN: cvn, IMK: imk}, chipTxn(100, uint16(1+i/benchChipCards)))
				if err != nil {
					b.Fatal(err)
				}
				msg, err := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{"2": pan, "3": "000000",
					"4": "000000000100", "7": "1121204500", "11": fmt.Sprintf("%06d", i%1000000), "12": "204500",
					"13": fmt.Sprintf("%04d", 101+i/1000000), "14": "2812", "22": "051", "41": "TERM0001",
					"42": "MERCHANT0000001", "49": "840", "55": fmt.Sprintf("%X", raw)}})
				if err != nil {
					b.Fatal(err)
				}
				msgs[i] = msg
			}
			stage := AuthStage{A: a}
			now := time.Date(2026, 1, 21, 12, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t := getTxn(l, nil, now)
				t.frame = append(t.frame[:0], msgs[i]...)
				if err := l.dialect.Decode(&t.View, t.frame); err != nil {
					b.Fatal(err)
				}
				stage.Authorize(t)
				if !t.Approved() || !hasExtra(t, codec.FieldEMV) {
					b.Fatalf("decision %d: %s", i, t.Code)
				}
				t.release()
			}
		})
	}
}
