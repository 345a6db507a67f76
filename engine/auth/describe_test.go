package auth

import (
	"testing"

	"github.com/cardswitch/cardswitch/codec"
)

// A journaled purchase and its reversal read back as what they did.
func TestDescribeOutcome(t *testing.T) {
	a := concIssuer(t)
	pan := concPAN(0, 0)
	req := func(mti string, stan uint32) *Request {
		r := &Request{PAN: pan, PANHash: sha256PAN(pan), Amount: 2500, Terminal: "T1", Merchant: "M1", EntryMode: 50,
			STAN: stan, LocalDate: 115, BusinessDate: 20260115, Today: 2601, Received: dayStart(20260115) + 3600}
		r.MTI, _ = codec.ParseMTI(mti)
		return r
	}
	d := a.Decide(req("0200", 1), noPIN, func() [6]byte { return [6]byte{'A', '1'} })
	e, ok := DescribeOutcome(d.Outcome)
	if !ok || e.Kind != "purchase" || !e.Applied || e.Debit != 2500 || e.Usage != 2500 || e.Count != 1 ||
		e.Account != "ACC-0" || e.Merchant != "M1" || e.Terminal != "T1" || e.Date != 20260115 {
		t.Fatalf("purchase: %v %+v", ok, e)
	}
	rev := req("0400", 2)
	rev.Original, rev.OriginalClass, rev.HasOriginal = Ref{Terminal: "T1", STAN: 1, LocalDate: 115}, '2', true
	d = a.Decide(rev, noPIN, nil)
	if e, ok = DescribeOutcome(d.Outcome); !ok || e.Kind != "reversal" || !e.Undid || e.OrigSTAN != 1 || e.OrigDate != 115 || e.OrigClass != "2" {
		t.Fatalf("reversal: %v %+v", ok, e)
	}
	if _, ok := DescribeOutcome([]byte{9, 9, 9}); ok {
		t.Fatal("junk described")
	}
}

// A chip decision reads back with the counter it recorded, and a wrong
// cryptogram's decline says so.
func TestDescribeChipOutcome(t *testing.T) {
	a := newAuth(t, benchData(t), Limits{})
	data := a.Data()
	pan := []byte("4761739001010119") // the demo chip card, profile chip-cvn10
	r := benchRequest()
	r.PAN, r.PANHash, r.ATC, r.ARQC = pan, sha256PAN(pan), 0x1234, ARQCVerified
	r.ARQCFor = data.Profile("chip-cvn10").EMV
	d := a.Decide(&r, noPIN, testApproval)
	e, ok := DescribeOutcome(d.Outcome)
	if d.Code != Approved || !ok || e.ATC == nil || *e.ATC != 0x1234 || e.ARQCWrong {
		t.Fatalf("approved chip purchase %s: %+v", d.Code, e)
	}
	r.STAN, r.ATC, r.ARQC = 2, 0x1235, ARQCWrong
	d = a.Decide(&r, noPIN, testApproval)
	if e, ok = DescribeOutcome(d.Outcome); d.Code != DoNotHonour || !ok || !e.ARQCWrong || e.ATC != nil || e.Applied {
		t.Fatalf("wrong cryptogram %s: %+v", d.Code, e)
	}
}
