package engine

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/auth"
)

func TestCheckMTI(t *testing.T) {
	for mti, want := range map[string]error{
		"0100": nil, "0101": nil, "0200": nil, "0201": nil, "0220": nil, "0221": nil,
		"0400": nil, "0401": nil, "0420": nil, "0421": nil, "0800": nil, "0801": nil,
		"1200": ErrFormat, "2200": ErrFormat, "9200": ErrFormat, "0208": ErrFormat, "0206": ErrFormat, "0209": ErrFormat,
		"0120": ErrInvalidTxn, "0121": ErrInvalidTxn, "0202": ErrInvalidTxn, "0203": ErrInvalidTxn, "0205": ErrInvalidTxn,
		"0300": ErrInvalidTxn, "0320": ErrInvalidTxn, "0600": ErrInvalidTxn, "0700": ErrInvalidTxn, "0820": ErrInvalidTxn,
		"0900": ErrInvalidTxn, "0500": nil, "0501": nil, "0520": nil, "0521": nil, "0502": ErrInvalidTxn, "0540": ErrInvalidTxn,
		"0508": ErrFormat,
	} {
		if got := checkMTI(codec.MTI([]byte(mti)), false); got != want {
			t.Errorf("%s: %v, want %v", mti, got, want)
		}
	}
	// UnionPay's batch upload, on its links only
	for mti, want := range map[string]error{"0320": nil, "0321": nil, "0300": ErrInvalidTxn, "0340": ErrInvalidTxn} {
		if got := checkMTI(codec.MTI([]byte(mti)), true); got != want {
			t.Errorf("%s on a UnionPay link: %v, want %v", mti, got, want)
		}
	}
}

// MTIs of another version, an undefined origin, or a class the switch does
// not serve are answered 30 or 12 and change nothing: before, 1200, 9200
// and 0208 were approved as purchases and debited the account, and 0120
// placed a hold.
func TestUnservedMTIsHaveNoEffect(t *testing.T) {
	a, err := auth.New(demoData(t), func(p []byte) [32]byte { return sha256.Sum256(p) }, auth.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, AuthStage{A: a}, nil)
	c := ts.dial(t)
	d, _ := codec.Lookup(codec.ISO87ASCII)
	balance := func(stan int) string {
		t.Helper()
		msg, err := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
			"2": "4761739001010010", "3": "310000", "7": "1121204500", "11": itoa6(stan), "12": "204500", "13": "1121",
			"14": "2812", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.RoundTrip(msg, 5*time.Second)
		if err != nil || field(r, 39) != "00" {
			t.Fatalf("balance inquiry: %v %s", err, field(r, 39))
		}
		return field(r, 54)
	}
	before := balance(900)
	for i, c2 := range []struct{ mti, code string }{
		{"1200", "30"}, {"9200", "30"}, {"0208", "30"}, {"0120", "12"}, {"0202", "12"}, {"0300", "12"},
	} {
		msg, err := d.Encode(codec.Message{MTI: c2.mti, Fields: map[string]string{
			"2": "4761739001010010", "3": "000000", "4": "000000001000", "7": "1121204500", "11": itoa6(i + 1),
			"12": "204500", "13": "1121", "14": "2812", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.RoundTrip(msg, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", c2.mti, err)
		}
		if field(r, 39) != c2.code || field(r, 11) != itoa6(i+1) || field(r, 41) != "TERM0001" || r.View.Has(codec.FieldApproval) {
			t.Errorf("%s: answered %s %s, want %s with the request's STAN and terminal, no approval code", c2.mti, r.View.MTI(), field(r, 39), c2.code)
		}
	}
	if after := balance(901); after != before {
		t.Fatalf("balance %s after the unserved MTIs, %s before", after, before)
	}
}

func itoa6(n int) string {
	b := []byte("000000")
	for i := 5; i >= 0 && n > 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b)
}
