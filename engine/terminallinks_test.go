package engine

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/internal/client"
)

// The attack: TERM0001 belongs to pos and acquirer (issuer data
// terminals[].links); its ID is no secret, so a peer of another link
// sends requests naming it. Over loopback, on the authorizer and journal
// the switch runs: every financial request TERM0001 makes from the other
// link is declined 58 with no effect (no debit, no hold, its completion
// and reversals release nothing of the purchases it made on pos) and is
// journaled with its link and code; the same reversal from pos then
// releases.
func TestRequestsFromAnotherLinkAreDeclined(t *testing.T) {
	a, err := auth.New(demoData(t), func(p []byte) [32]byte { return sha256.Sum256(p) }, auth.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	j := newScripted()
	var kioskAddr string
	ts := startServer(t, AuthStage{A: a}, func(c *Config) {
		kioskAddr = freeAddr(t)
		c.Links = append(c.Links, LinkConfig{Name: "kiosk", Listen: kioskAddr, Dialect: codec.ISO87ASCII, Framing: "binary2"})
		c.testJournal = j
	})
	pos := ts.dial(t)
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	kiosk, err := client.Dial(kioskAddr, d, f, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kiosk.Close() })

	send := func(c *client.Conn, mti, proc string, stan int, amount string, orig string) *client.Reply {
		t.Helper()
		fields := map[string]string{"2": "4761739001010010", "3": proc, "7": "1121204500", "11": itoa6(stan),
			"12": "204500", "13": "1121", "14": "2812", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}
		if amount != "" {
			fields["4"] = amount
		}
		if orig != "" { // field 90: the original's MTI and STAN, its transmission date and time
			fields["90"] = orig + "1121204500" + "00000000000" + "00000000000"
		}
		msg, err := d.Encode(codec.Message{MTI: mti, Fields: fields})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.RoundTrip(msg, 5*time.Second)
		if err != nil {
			t.Fatalf("%s %d: %v", mti, stan, err)
		}
		return r
	}
	balance := func(stan int) string {
		t.Helper()
		r := send(pos, "0200", "310000", stan, "", "")
		if field(r, 39) != "00" {
			t.Fatalf("balance inquiry on pos: %s", field(r, 39))
		}
		return field(r, 54)
	}

	before := balance(900)
	if r := send(pos, "0200", "000000", 1, "000000001000", ""); field(r, 39) != "00" {
		t.Fatalf("purchase on pos: %s", field(r, 39))
	}
	if r := send(pos, "0100", "000000", 2, "000000002000", ""); field(r, 39) != "00" {
		t.Fatalf("pre-authorization on pos: %s", field(r, 39))
	}
	taken := balance(901)
	if taken == before {
		t.Fatal("the purchase and the hold on pos took nothing")
	}

	j0 := len(j.recorded())
	for _, c := range []struct {
		name, mti, proc string
		stan            int
		amount, orig    string
	}{
		{"purchase", "0200", "000000", 11, "000000001000", ""},
		{"pre-authorization", "0100", "000000", 12, "000000002000", ""},
		{"cash", "0200", "010000", 13, "000000000500", ""},
		{"refund", "0200", "200000", 14, "000000000500", ""},
		{"balance inquiry", "0100", "310000", 15, "", ""},
		{"completion of pos's pre-authorization", "0220", "000000", 16, "000000002000", "0100000002"},
		{"void of pos's purchase", "0200", "020000", 17, "000000001000", "0200000001"},
		{"reversal of pos's purchase", "0400", "000000", 18, "000000001000", "0200000001"},
		{"advice reversal of pos's pre-authorization", "0420", "000000", 19, "000000002000", "0100000002"},
		{"repeat of that reversal", "0401", "000000", 18, "000000001000", "0200000001"},
	} {
		r := send(kiosk, c.mti, c.proc, c.stan, c.amount, c.orig)
		if field(r, 39) != "58" || r.View.Has(codec.FieldApproval) || r.View.Has(codec.FieldAdditionalAmounts) {
			t.Errorf("%s from kiosk: %s (approval %v, balance %v), want 58 and nothing else", c.name, field(r, 39),
				r.View.Has(codec.FieldApproval), r.View.Has(codec.FieldAdditionalAmounts))
		}
	}
	if after := balance(902); after != taken {
		t.Fatalf("available %s after kiosk's requests, %s before: they had an effect", after, taken)
	}
	recs := j.recorded()[j0:]
	kioskRecs := 0
	for _, rec := range recs {
		if rec.Link != "kiosk" {
			continue
		}
		kioskRecs++
		if rec.RespCode != [2]byte{'5', '8'} || rec.Terminal != "TERM0001" {
			t.Errorf("kiosk's STAN %d journaled %s by %q, want 58 by TERM0001", rec.STAN, rec.RespCode, rec.Terminal)
		}
		if e, ok := auth.DescribeOutcome(rec.Outcome); ok && (e.Applied || e.Undid || e.Remembered) {
			t.Errorf("kiosk's STAN %d journaled an effect: %+v", rec.STAN, e)
		}
	}
	if kioskRecs != 10 {
		t.Fatalf("%d of kiosk's 10 requests journaled", kioskRecs)
	}

	// the same reversals from pos are decided afresh, and release
	if r := send(pos, "0400", "000000", 18, "000000001000", "0200000001"); field(r, 39) != "00" {
		t.Fatalf("reversal on pos: %s", field(r, 39))
	}
	if r := send(pos, "0420", "000000", 19, "000000002000", "0100000002"); field(r, 39) != "00" {
		t.Fatalf("advice reversal on pos: %s", field(r, 39))
	}
	if after := balance(903); after != before {
		t.Fatalf("available %s after pos's reversals, %s at the start", after, before)
	}
}
