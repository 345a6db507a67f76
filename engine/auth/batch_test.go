package auth

import (
	"strings"
	"testing"
)

// settle runs one settle line of a scenario (see the format in
// scenario_test.go) and checks its answer.
func (w *world) settle(line string) {
	w.t.Helper()
	lhs, rhs, ok := strings.Cut(line, "->")
	want := strings.Fields(rhs)
	if !ok || len(want) == 0 {
		w.fatalf("a settle line needs -> <code>")
	}
	m := attrs(w, strings.Fields(lhs))
	s := Settlement{Op: SettleTotals, Terminal: "T1", Merchant: "M1", Link: "pos", BusinessDate: w.date, Received: w.now}
	if v, ok := m["op"]; ok {
		s.Op = map[string]SettleOp{"totals": SettleTotals, "upload": SettleUpload, "end": SettleUploadEnd}[v]
		if s.Op == 0 {
			w.fatalf("op=%s: totals, upload or end", v)
		}
	}
	for k, p := range map[string]*string{"term": &s.Terminal, "merch": &s.Merchant, "link": &s.Link} {
		if v, ok := m[k]; ok {
			*p = v
		}
	}
	s.Batch = uint32(w.num(m["batch"]))
	s.UploadOnMismatch = m["upload"] == "1"
	var claim Totals
	for k, c := range totalsFields(&claim) {
		if v, ok := m[k[0]]; ok {
			c.N = w.num(v)
		}
		if v, ok := m[k[1]]; ok {
			c.Amount = w.num(v)
		}
	}
	d := w.a.Settle(&s, func(own Totals) bool { return own == claim })
	if len(d.Outcome) > 0 {
		var c [2]byte
		copy(c[:], d.Code)
		w.journal = append(w.journal, journalEntry{d.Outcome, c})
	}
	if d.Code != want[0] {
		w.errorf("settle %s: got %s, want %s (the switch's totals %+v)", strings.TrimSpace(lhs), d.Code, want[0], d.Own)
	}
	for k, v := range attrs(w, want[1:]) {
		var got bool
		switch k {
		case "closed":
			got = d.Closed
		case "balanced":
			got = d.Balanced
		default:
			w.fatalf("unknown expectation %q", k)
		}
		if got != (v == "1") {
			w.errorf("%s %v, want %s", k, got, v)
		}
	}
}

// totalsFields names each count of t as the scenarios do: its count and
// amount keys.
func totalsFields(t *Totals) map[[2]string]*Count {
	return map[[2]string]*Count{{"dn", "da"}: &t.Debits, {"rn", "ra"}: &t.DebitReversals, {"vn", "va"}: &t.DebitVoids,
		{"cn", "ca"}: &t.Credits, {"crn", "cra"}: &t.CreditReversals}
}

// batchNames puts a terminal's batch in a scenario's state names.
func batchNames(b Batch, got map[string]int64) {
	for k, c := range totalsFields(&b.Open) {
		got[k[0]], got[k[1]] = c.N, c.Amount
	}
	got["gen"], got["closed"] = int64(b.Generation), int64(b.ClosedNumber)
	got["uploading"] = map[bool]int64{false: 0, true: 1}[b.Uploading]
}

func TestDescribeSettlement(t *testing.T) {
	b := encodeSettle(SettleTotals, settleClosed, "T1", 7, when{date: 20260115, now: 1})
	e, ok := DescribeOutcome(b)
	if !ok || e != (Effect{Kind: "settlement", Date: 20260115, Terminal: "T1", Batch: 7, Closed: true}) {
		t.Fatalf("%+v %v", e, ok)
	}
	if _, ok := DescribeOutcome(b[:len(b)-1]); ok {
		t.Fatal("a truncated settlement outcome described")
	}
}
