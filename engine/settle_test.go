package engine

import (
	"bytes"
	"crypto/sha256"
	"strconv"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/internal/client"
	"github.com/cardswitch/cardswitch/internal/cuptest"
)

func settleServer(t *testing.T, change func(*Config)) (*testServer, *auth.Authorizer) {
	t.Helper()
	a, err := auth.New(demoData(t), func(p []byte) [32]byte { return sha256.Sum256(p) }, auth.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, AuthStage{A: a}, change), a
}

// iso87Settlement is an iso87ascii 0500 of TERM0001 for batch 60 with the
// given fields over the defaults (an empty value drops the field).
func iso87Settlement(t *testing.T, mti string, stan int, batch string, totals map[string]string) []byte {
	t.Helper()
	f := map[string]string{"7": "1121235900", "11": strconv.Itoa(stan), "32": "123456", "41": "TERM0001",
		"42": "MERCHANT0000001", "60": batch}
	for _, id := range []string{"74", "75", "76", "77"} {
		f[id] = "0"
	}
	for _, id := range []string{"86", "87", "88", "89"} {
		f[id] = "0"
	}
	f["97"] = "C0000000000000000"
	for k, v := range totals {
		if v == "" {
			delete(f, k)
			continue
		}
		f[k] = v
	}
	d, _ := codec.Lookup(codec.ISO87ASCII)
	msg, err := d.Encode(codec.Message{MTI: mti, Fields: f})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// matches checks the fields a peer matches a settlement's answer on.
func matches(t *testing.T, r *client.Reply, stan int, batch string) {
	t.Helper()
	for id, want := range map[int]string{11: itoa6(stan), 41: "TERM0001", 42: "MERCHANT0000001", 7: "1121235900", 32: "123456", 60: batch} {
		if got := field(r, id); got != want {
			t.Errorf("reply field %d = %q, want %q", id, got, want)
		}
	}
}

func roundTrip(t *testing.T, c *client.Conn, msg []byte) *client.Reply {
	t.Helper()
	r, err := c.RoundTrip(msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A terminal's settlement over iso87ascii: out of balance it is answered
// 95 with the switch's totals, in balance 00; the batch then closes and
// the next purchase counts in the next batch. A reversal counts in the
// debit reversals of its original's batch.
func TestSettleISO87(t *testing.T) {
	ts, a := settleServer(t, nil)
	c := ts.dial(t)
	for i, amt := range []int64{1000, 2500, 400} {
		if r := roundTrip(t, c, purchase(t, 10+i, amt)); field(r, 39) != "00" {
			t.Fatalf("purchase %d: %s", i, field(r, 39))
		}
	}
	d, _ := codec.Lookup(codec.ISO87ASCII)
	rev, err := d.Encode(codec.Message{MTI: "0400", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": "000000000400", "7": "1121204500", "11": "000020", "12": "204500",
		"13": "1121", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
		"90": "0200" + "000012" + "1121204500" + "00000000000" + "00000000000"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := roundTrip(t, c, rev); field(r, 39) != "00" {
		t.Fatalf("reversal: %s", field(r, 39))
	}
	// the terminal missed the reversal
	r := roundTrip(t, c, iso87Settlement(t, "0500", 30, "000007", map[string]string{"76": "3", "88": "3900", "97": "D0000000000003900"}))
	if r.View.MTI().String() != "0510" || field(r, 39) != "95" {
		t.Fatalf("out of balance: %s 39=%s, want 0510 95", r.View.MTI(), field(r, 39))
	}
	matches(t, r, 30, "000007")
	for id, want := range map[int]string{74: "0000000000", 75: "0000000000", 76: "0000000003", 77: "0000000001",
		86: "0000000000000000", 87: "0000000000000000", 88: "0000000000003900", 89: "0000000000000400", 97: "D0000000000003500"} {
		if got := field(r, id); got != want {
			t.Errorf("the switch's totals: field %d = %q, want %q", id, got, want)
		}
	}
	if b := a.Batch("TERM0001"); b.Generation != 0 || b.Open.Debits.N != 3 {
		t.Fatalf("after 95 the batch stays open: %+v", b)
	}
	ok := map[string]string{"76": "3", "88": "3900", "77": "1", "89": "400", "97": "D0000000000003500"}
	r = roundTrip(t, c, iso87Settlement(t, "0520", 31, "000007", ok))
	if r.View.MTI().String() != "0530" || field(r, 39) != "00" {
		t.Fatalf("in balance: %s 39=%s, want 0530 00", r.View.MTI(), field(r, 39))
	}
	matches(t, r, 31, "000007")
	if b := a.Batch("TERM0001"); b.Generation != 1 || b.ClosedNumber != 7 || b.Open != (auth.Totals{}) {
		t.Fatalf("after 00 the batch is closed: %+v", b)
	}
	// its repeat (the answer was lost) is answered from the closed batch
	if r := roundTrip(t, c, iso87Settlement(t, "0521", 31, "000007", ok)); field(r, 39) != "00" || field(r, 76) != "0000000003" {
		t.Fatalf("repeat: 39=%s 76=%s", field(r, 39), field(r, 76))
	}
	if r := roundTrip(t, c, purchase(t, 40, 700)); field(r, 39) != "00" {
		t.Fatal(field(r, 39))
	}
	next := map[string]string{"76": "1", "88": "700", "97": "D0000000000000700"}
	if r := roundTrip(t, c, iso87Settlement(t, "0500", 41, "000008", next)); field(r, 39) != "00" {
		t.Fatalf("the next batch: 39=%s 76=%s 88=%s", field(r, 39), field(r, 76), field(r, 88))
	}
}

// A settlement with a total missing or unreadable is a format error (30)
// that still carries the fields the peer matches on, the batch field too;
// one of a terminal the switch does not know is 58. Neither closes a batch.
func TestSettleBadTotals(t *testing.T) {
	ts, a := settleServer(t, nil)
	c := ts.dial(t)
	if r := roundTrip(t, c, purchase(t, 10, 1000)); field(r, 39) != "00" {
		t.Fatal(field(r, 39))
	}
	for name, totals := range map[string]map[string]string{
		"97 missing":      {"76": "1", "88": "1000", "97": ""},
		"88 missing":      {"76": "1", "97": "D0000000000001000", "88": ""},
		"batch not digit": {"76": "1", "88": "1000", "97": "D0000000000001000", "60": "B7"},
	} {
		batch := "000007"
		if b, ok := totals["60"]; ok {
			batch = b
		}
		r := roundTrip(t, c, iso87Settlement(t, "0500", 20, batch, totals))
		if field(r, 39) != "30" {
			t.Errorf("%s: 39=%s, want 30", name, field(r, 39))
		}
		matches(t, r, 20, batch)
		if r.View.Has(76) {
			t.Errorf("%s: a 30 carries the switch's totals", name)
		}
	}
	// letters in a numeric total: refused by the decoder, on the loop
	// letters in a numeric total, 97's sign not C or D: refused by the
	// decoder, on the loop
	for name, spoil := range map[string]func([]byte){
		"a letter in 76": func(raw []byte) { raw[bytes.Index(raw, []byte("00000000000000000000"+"0000000001"))+20] = 'A' },
		"97's sign":      func(raw []byte) { raw[len(raw)-17] = 'X' }, // 97 is the last field
	} {
		raw := iso87Settlement(t, "0500", 21, "000007", map[string]string{"76": "1", "88": "1000", "97": "D0000000000001000"})
		spoil(raw)
		r := roundTrip(t, c, raw)
		if field(r, 39) != "30" {
			t.Fatalf("%s: 39=%s, want 30", name, field(r, 39))
		}
		matches(t, r, 21, "000007")
	}
	r := roundTrip(t, c, iso87Settlement(t, "0500", 22, "000007", map[string]string{"41": "NOTERM01"}))
	if field(r, 39) != "58" {
		t.Fatalf("an unknown terminal: 39=%s, want 58", field(r, 39))
	}
	if b := a.Batch("TERM0001"); b.Generation != 0 || b.Open.Debits.N != 1 {
		t.Fatalf("the batch changed: %+v", b)
	}
}

// cupMessage builds a UnionPay terminal's message (terminal 12345678).
func cupMessage(t *testing.T, mti string, f map[string]string) []byte {
	t.Helper()
	d, _ := codec.Lookup(codec.CUPPOS)
	base := map[string]string{"41": "12345678", "42": "123456789012345"}
	for k, v := range f {
		base[k] = v
	}
	msg, err := d.Encode(codec.Message{MTI: mti, Header: cuptest.Header, Fields: base})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// cup48 is a settlement's field 48: domestic debits and credits, then
// foreign ones (zero), with result code 0.
func cup48(debit, debitN, credit, creditN int64) string {
	return string((cupScope{}).append(cupScope{debit, debitN, credit, creditN}.append(nil, '0'), '0'))
}

// A UnionPay terminal's batch settlement out of balance (48's result code
// 2), then its batch upload (0320 per transaction, then the closing
// 0320), after which the batch is closed; the next batch balances (1).
func TestSettleCUPUploadThenBalance(t *testing.T) {
	ts, a := settleServer(t, func(c *Config) {
		c.Links[0].Name, c.Links[0].Dialect, c.Links[0].Framing = "cup", codec.CUPPOS, "binary2+tpdu"
	})
	c := cuptest.Dial(t, ts.addr)
	for i := range 2 {
		p := cupMessage(t, "0200", map[string]string{"2": "6228480402564890018", "3": "000000", "4": "000000001000",
			"11": itoa6(i + 1), "22": "021", "25": "00", "49": "156", "60": "22000001000"})
		if r := roundTrip(t, c, p); field(r, 39) != "00" {
			t.Fatalf("purchase: %s", field(r, 39))
		}
	}
	// the terminal counts one of two
	r := roundTrip(t, c, cupMessage(t, "0500", map[string]string{"11": "000010", "48": cup48(1000, 1, 0, 0), "60": "00000001201"}))
	if r.View.MTI().String() != "0510" || field(r, 39) != "00" {
		t.Fatalf("settlement: %s 39=%s", r.View.MTI(), field(r, 39))
	}
	if got, want := field(r, 48), cup48(2000, 2, 0, 0)[:30]+"2"+cup48(0, 0, 0, 0)[31:]; got[:31] != want[:31] || got[61] != '1' {
		t.Fatalf("48 = %s, want the switch's totals with result 2 (not balanced), foreign 1: %s", got, want)
	}
	if field(r, 60) != "00000001201" || field(r, 11) != "000010" || field(r, 41) != "12345678" {
		t.Fatalf("the reply's 60/11/41: %s %s %s", field(r, 60), field(r, 11), field(r, 41))
	}
	if b := a.Batch("12345678"); !b.Uploading || b.Generation != 0 {
		t.Fatalf("out of balance: %+v, want an upload awaited", b)
	}
	for i := range 2 {
		up := cupMessage(t, "0320", map[string]string{"2": "6228480402564890018", "3": "000000", "4": "000000001000",
			"11": itoa6(20 + i), "22": "021", "25": "00", "49": "156", "60": "00000001201"})
		if r := roundTrip(t, c, up); r.View.MTI().String() != "0330" || field(r, 39) != "00" {
			t.Fatalf("upload %d: %s %s", i, r.View.MTI(), field(r, 39))
		}
	}
	if b := a.Batch("12345678"); !b.Uploading {
		t.Fatal("the batch closed before the upload's end")
	}
	end := cupMessage(t, "0320", map[string]string{"11": "000022", "48": "0002", "60": "00000001207"})
	if r := roundTrip(t, c, end); field(r, 39) != "00" || field(r, 48) != "0002" {
		t.Fatalf("upload end: %s 48=%s", field(r, 39), field(r, 48))
	}
	if b := a.Batch("12345678"); b.Uploading || b.Generation != 1 || b.ClosedNumber != 1 {
		t.Fatalf("after the upload's end: %+v, want batch 1 closed", b)
	}
	// batch 2, which balances
	p := cupMessage(t, "0200", map[string]string{"2": "6228480402564890018", "3": "000000", "4": "000000000500",
		"11": "000030", "22": "021", "25": "00", "49": "156", "60": "22000002000"})
	if r := roundTrip(t, c, p); field(r, 39) != "00" {
		t.Fatalf("purchase: %s", field(r, 39))
	}
	r = roundTrip(t, c, cupMessage(t, "0500", map[string]string{"11": "000031", "48": cup48(500, 1, 0, 0), "60": "00000002201"}))
	if got := field(r, 48); field(r, 39) != "00" || got[30] != '1' || got[61] != '1' {
		t.Fatalf("batch 2: 39=%s 48=%s, want balanced", field(r, 39), got)
	}
	if b := a.Batch("12345678"); b.Generation != 2 || b.ClosedNumber != 2 {
		t.Fatalf("batch 2 not closed: %+v", b)
	}
	// 48 missing or short: 30, echoing 60
	r = roundTrip(t, c, cupMessage(t, "0500", map[string]string{"11": "000032", "48": "0001", "60": "00000003201"}))
	if field(r, 39) != "30" || field(r, 60) != "00000003201" || field(r, 11) != "000032" {
		t.Fatalf("short 48: 39=%s 60=%s", field(r, 39), field(r, 60))
	}
}

// The same settlement over iso87binary (BCD counts and amounts, 97 as a
// sign and BCD): the acquirer link's layout.
func TestSettleISO87Binary(t *testing.T) {
	ts, _ := settleServer(t, func(c *Config) { c.Links[0].Dialect = codec.ISO87Binary })
	c := ts.dial(t)
	d, _ := codec.Lookup(codec.ISO87Binary)
	var v codec.View
	a, _ := codec.Lookup(codec.ISO87ASCII)
	if err := a.Decode(&v, purchase(t, 10, 1200)); err != nil {
		t.Fatal(err)
	}
	msg, err := d.Encode(v.ToMessage(false))
	if err != nil {
		t.Fatal(err)
	}
	if r := roundTrip(t, c, msg); field(r, 39) != "00" {
		t.Fatalf("purchase: %s", field(r, 39))
	}
	settle := func(stan int, n, amount string, want string) {
		t.Helper()
		f := map[string]string{"7": "1121235900", "11": itoa6(stan), "41": "TERM0001", "42": "MERCHANT0000001", "60": "000003",
			"74": "0", "75": "0", "76": n, "77": "0", "86": "0", "87": "0", "88": amount, "89": "0", "97": "D" + amount}
		msg, err := d.Encode(codec.Message{MTI: "0500", Fields: f})
		if err != nil {
			t.Fatal(err)
		}
		r := roundTrip(t, c, msg)
		if field(r, 39) != want || field(r, 60) != "000003" || field(r, 88) != "0000000000001200" || field(r, 97) != "D0000000000001200" {
			t.Fatalf("settlement %s/%s: 39=%s 60=%s 88=%s 97=%s, want %s with the switch's totals", n, amount, field(r, 39), field(r, 60), field(r, 88), field(r, 97), want)
		}
	}
	settle(20, "1", "0000000000001000", "95")
	settle(21, "1", "0000000000001200", "00")
}
