package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/codec/emv"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/chipcard"
	"github.com/cardswitch/cardswitch/internal/client"
)

// The demo chip cards (engine/issuer/demo.yaml), with the clear test IMK
// their profiles hold under the LMK.
const (
	chipCVN10 = "4761739001010119"
	chipCVN18 = "4761739001010127"
)

func demoIMK(t testing.TB) hsm.Key {
	t.Helper()
	k, err := hsm.ParseTDESKey("0123456789ABCDEFFEDCBA9876543210", hsm.ParityIgnore)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func chipCard(t testing.TB, pan string) chipcard.Card {
	cvn := hsm.VisaCVN10
	if pan == chipCVN18 {
		cvn = hsm.VisaCVN18
	}
	return chipcard.Card{PAN: pan, PSN: 0x01, CVN: cvn, IMK: demoIMK(t)}
}

func chipTxn(amount int64, atc uint16) chipcard.Txn {
	return chipcard.Txn{Amount: amount, Currency: 840, Date: [3]byte{0x26, 0x01, 0x15}, UN: [4]byte{0x12, 0x34, 0x56, byte(atc)}, ATC: atc}
}

// chipPurchase is an iso87ascii 0200 read from the chip (22 = 051) with
// field 55 as given (hex text; "" leaves it out).
func chipPurchase(t testing.TB, pan string, stan int, amount int64, icc string) []byte {
	t.Helper()
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f := map[string]string{"2": pan, "3": "000000", "4": itoa6(int(amount)), "7": "1121204500",
		"11": itoa6(stan), "12": "204500", "13": "1121", "14": "2812", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}
	if icc != "" {
		f["55"] = icc
	}
	msg, err := d.Encode(codec.Message{MTI: "0200", Fields: f})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func iccHex(t testing.TB, c chipcard.Card, tx chipcard.Txn) (string, hsm.ARQCCheck) {
	t.Helper()
	raw, err := chipcard.ICC(c, tx)
	if err != nil {
		t.Fatal(err)
	}
	chk, err := chipcard.Check(c, tx)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(hex.EncodeToString(raw)), chk
}

// wantARPC is tag 91 as the card expects it for code: computed here from
// the clear keys, apart from the switch's HSM path.
func wantARPC(t testing.TB, c chipcard.Card, chk hsm.ARQCCheck, code string) []byte {
	t.Helper()
	keys, err := hsm.DeriveARQCKeys(c.IMK, &chk)
	if err != nil {
		t.Fatal(err)
	}
	if c.CVN == hsm.VisaCVN18 {
		csu := [4]byte{}
		if code == "00" {
			csu[1] = 0x80
		}
		arpc, err := hsm.ARPCMethod2(keys.Session, chk.ARQC, csu, nil)
		if err != nil {
			t.Fatal(err)
		}
		return append(append([]byte{}, arpc[:]...), csu[:]...)
	}
	arpc, err := hsm.ARPCMethod1(keys.ICCMaster, chk.ARQC, [2]byte{code[0], code[1]})
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte{}, arpc[:]...), code...)
}

// replyARPC reads tag 91 from the reply's field 55 (nil: no field 55).
func replyARPC(t testing.TB, r *client.Reply) []byte {
	t.Helper()
	if !r.View.Has(codec.FieldEMV) {
		return nil
	}
	raw, err := r.View.EMV(nil)
	if err != nil {
		t.Fatal(err)
	}
	var icc emv.ICC
	if err := icc.Parse(raw); err != nil {
		t.Fatalf("reply field 55: %v", err)
	}
	v, ok := icc.Get(emv.TagARPCResponse)
	if !ok || icc.Len() != 1 {
		t.Fatalf("reply field 55 %X: want tag 91 alone", raw)
	}
	return v
}

func chipServer(t *testing.T, h HSM) (*testServer, *auth.Authorizer) {
	t.Helper()
	data := demoData(t)
	a, err := auth.New(data, func(p []byte) [32]byte { return sha256.Sum256(p) }, auth.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, AuthStage{A: a}, func(c *Config) {
		c.testHSM, c.testKeys = h, &Keys{Data: data}
	}), a
}

// TestChipPurchaseOverLoopback: chip purchases of the demo chip cards
// through the engine with the software HSM. A good ARQC is approved with
// tag 91 (CVN 10: ARPC method 1 and the ARC; CVN 18: method 2 and the
// CSU); the same counter again is declined with the ARPC of its decline;
// a wrong ARQC is declined without one and takes nothing; a missing or
// unreadable field 55 is 30 with the fields a peer matches on.
func TestChipPurchaseOverLoopback(t *testing.T) {
	ts, a := chipServer(t, &hsm.Soft{LMK: hsm.ThalesTestLMK()})
	c := ts.dial(t)
	send := func(msg []byte) *client.Reply {
		t.Helper()
		r, err := c.RoundTrip(msg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	stan := 100
	for _, pan := range []string{chipCVN10, chipCVN18} {
		card := chipCard(t, pan)
		icc, chk := iccHex(t, card, chipTxn(1000, 7))
		stan++
		r := send(chipPurchase(t, pan, stan, 1000, icc))
		if got := field(r, 39); got != "00" {
			t.Fatalf("%s: good ARQC answered %s", pan, got)
		}
		if got, want := replyARPC(t, r), wantARPC(t, card, chk, "00"); !bytes.Equal(got, want) {
			t.Errorf("%s: approval's tag 91 %X, want %X", pan, got, want)
		}
		// the same cryptogram again under a new STAN: a replay of ATC 7
		stan++
		r = send(chipPurchase(t, pan, stan, 1000, icc))
		if got := field(r, 39); got != "05" {
			t.Fatalf("%s: replayed ATC answered %s", pan, got)
		}
		if got, want := replyARPC(t, r), wantARPC(t, card, chk, "05"); !bytes.Equal(got, want) {
			t.Errorf("%s: the replay's decline carries tag 91 %X, want %X", pan, got, want)
		}
	}
	// a wrong cryptogram: the last byte of 9F26 changed
	card := chipCard(t, chipCVN10)
	icc, _ := iccHex(t, card, chipTxn(1000, 8))
	bad := icc[:len(icc)-2] + map[bool]string{true: "00", false: "01"}[strings.HasSuffix(icc, "01")]
	before := balanceOf(t, a, chipCVN10)
	stan++
	r := send(chipPurchase(t, chipCVN10, stan, 1000, bad))
	if got := field(r, 39); got != "05" {
		t.Fatalf("wrong ARQC answered %s", got)
	}
	if r.View.Has(codec.FieldEMV) {
		t.Error("a wrong ARQC's decline carries field 55")
	}
	if after := balanceOf(t, a, chipCVN10); after != before {
		t.Errorf("a wrong ARQC moved the balance from %d to %d", before, after)
	}
	// the genuine one with that counter still goes through: nothing was recorded
	stan++
	if r := send(chipPurchase(t, chipCVN10, stan, 1000, icc)); field(r, 39) != "00" {
		t.Errorf("the genuine ATC 8 after a forged one answered %s", field(r, 39))
	}
	for name, f55 := range map[string]string{"missing": "", "not BER-TLV": "9F0206000000", "no 9F26": icc[:strings.Index(icc, "9F2608")]} {
		stan++
		r := send(chipPurchase(t, chipCVN10, stan, 1000, f55))
		if got := field(r, 39); got != "30" {
			t.Errorf("field 55 %s answered %s", name, got)
		}
		if field(r, 11) != itoa6(stan) || field(r, 41) != "TERM0001" || field(r, 7) != "1121204500" {
			t.Errorf("field 55 %s: the 30 lacks 7, 11 or 41", name)
		}
		if r.View.Has(codec.FieldEMV) {
			t.Errorf("field 55 %s: the 30 carries field 55", name)
		}
	}
}

// balanceOf reads an account's available funds through a balance inquiry
// on the authorizer (not chip: entry mode 01).
func balanceOf(t testing.TB, a *auth.Authorizer, pan string) int64 {
	t.Helper()
	r := &auth.Request{MTI: codec.MTI([]byte("0100")), Proc: 300000, PAN: []byte(pan), PANHash: a.HashPAN([]byte(pan)),
		Terminal: "TERM0001", Merchant: "MERCHANT0000001", Link: "pos", EntryMode: 12, STAN: 999999, LocalDate: 1121,
		BusinessDate: 20261121, Today: 2611, Received: time.Now().Unix()}
	d := a.Decide(r, nil, nil)
	if d.Code != "00" {
		t.Fatalf("balance inquiry: %s", d.Code)
	}
	a.Abort(d.Outcome) // so the next inquiry is not a duplicate
	return d.Balance
}

// failingARQC is an HSM whose ARQC verification fails.
type failingARQC struct{ HSM }

func (failingARQC) VerifyARQC(context.Context, hsm.KeyRef, hsm.ARQCCheck) ([]byte, error) {
	return nil, errors.New("test: HSM down")
}

// TestChipHSMFailure: an HSM that cannot verify the ARQC answers 96,
// without field 55, and takes nothing.
func TestChipHSMFailure(t *testing.T) {
	ts, a := chipServer(t, failingARQC{&hsm.Soft{LMK: hsm.ThalesTestLMK()}})
	c := ts.dial(t)
	icc, _ := iccHex(t, chipCard(t, chipCVN18), chipTxn(1000, 3))
	before := balanceOf(t, a, chipCVN18)
	r, err := c.RoundTrip(chipPurchase(t, chipCVN18, 1, 1000, icc), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(r, 39); got != "96" || r.View.Has(codec.FieldEMV) {
		t.Errorf("HSM down: %s, field 55 %v; want 96 without it", got, r.View.Has(codec.FieldEMV))
	}
	if after := balanceOf(t, a, chipCVN18); after != before {
		t.Errorf("a 96 moved the balance from %d to %d", before, after)
	}
}

// TestCheckEMVKeys: the demo data's IMKs have the check values it gives;
// a wrong imk_kcv is refused, naming the profile.
func TestCheckEMVKeys(t *testing.T) {
	h := &hsm.Soft{LMK: hsm.ThalesTestLMK()}
	d := demoData(t)
	if err := CheckEMVKeys(context.Background(), h, d); err != nil {
		t.Fatalf("the demo data: %v", err)
	}
	d.Profile("chip-cvn18").EMV.IMKKCV = "08D7B5"
	if err := CheckEMVKeys(context.Background(), h, d); !errors.Is(err, ErrKCV) || !strings.Contains(err.Error(), "chip-cvn18") {
		t.Errorf("a wrong imk_kcv: %v", err)
	}
}

// TestChipNoARPCOn96: a verified ARQC whose decision is 96 (the index is
// full) gets no field 55: a 96 never carries an ARPC.
func TestChipNoARPCOn96(t *testing.T) {
	data := demoData(t)
	a, err := auth.New(data, func(p []byte) [32]byte { return sha256.Sum256(p) }, auth.Limits{MaxTransactions: 1, MaxPlaceholders: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, AuthStage{A: a}, func(c *Config) {
		c.testHSM, c.testKeys = &hsm.Soft{LMK: hsm.ThalesTestLMK()}, &Keys{Data: data}
	})
	c := ts.dial(t)
	card := chipCard(t, chipCVN10)
	for i, want := range []string{"00", "96"} {
		icc, _ := iccHex(t, card, chipTxn(1000, uint16(20+i)))
		r, err := c.RoundTrip(chipPurchase(t, chipCVN10, 200+i, 1000, icc), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := field(r, 39); got != want {
			t.Fatalf("purchase %d: %s, want %s", i, got, want)
		}
		if has := r.View.Has(codec.FieldEMV); has != (want == "00") {
			t.Errorf("purchase %d (%s): field 55 present %v", i, want, has)
		}
	}
}

// slowARQC is an HSM whose ARQC verification answers only when the call's
// context ends, telling how far off its deadline was (MaxInt64: none).
type slowARQC struct {
	HSM
	deadlines chan time.Duration
	quit      chan struct{}
}

func (h slowARQC) VerifyARQC(ctx context.Context, _ hsm.KeyRef, _ hsm.ARQCCheck) ([]byte, error) {
	left := time.Duration(math.MaxInt64)
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	select {
	case h.deadlines <- left:
	default:
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.quit:
		return nil, errors.New("slow HSM: the test ended")
	}
}

// TestChipSlowHSM: the ARQC verification is bounded by the link's
// hsm_timeout (the call's deadline), and answers 96 when it passes.
func TestChipSlowHSM(t *testing.T) {
	const hsmTimeout = 10 * time.Millisecond
	slow := slowARQC{HSM: &hsm.Soft{LMK: hsm.ThalesTestLMK()}, deadlines: make(chan time.Duration, 1), quit: make(chan struct{})}
	data := demoData(t)
	a, err := auth.New(data, func(p []byte) [32]byte { return sha256.Sum256(p) }, auth.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, AuthStage{A: a}, func(c *Config) {
		c.testHSM, c.testKeys = slow, &Keys{Data: data}
		c.Links[0].HSMTimeout = hsmTimeout
	})
	t.Cleanup(func() { close(slow.quit) })
	icc, _ := iccHex(t, chipCard(t, chipCVN10), chipTxn(1000, 1))
	r, err := ts.dial(t).RoundTrip(chipPurchase(t, chipCVN10, 1, 1000, icc), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(r, 39); got != "96" || r.View.Has(codec.FieldEMV) {
		t.Fatalf("slow HSM: %s, field 55 %v", got, r.View.Has(codec.FieldEMV))
	}
	if left := <-slow.deadlines; left > hsmTimeout {
		t.Fatalf("the ARQC call's deadline was %v away, or none: want at most hsm_timeout %v", left, hsmTimeout)
	}
}
