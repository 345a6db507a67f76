package auth

import (
	"bytes"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
)

// balanceOf asks a for the demo card's available funds (a balance inquiry
// of its own STAN, which changes nothing).
func balanceOf(t *testing.T, a *Authorizer, stan uint32) int64 {
	t.Helper()
	q := benchRequest()
	q.Proc, q.STAN, q.Amount = 310000, stan, 0
	d := a.Decide(&q, nil, testApproval)
	if d.Code != Approved {
		t.Fatalf("balance inquiry: %s", d.Code)
	}
	return d.Balance
}

func TestAbortTakesTheEffectBack(t *testing.T) {
	data := benchData(t)
	a := newAuth(t, data, Limits{})
	r := benchRequest()
	r.Amount, r.STAN = 700, 9
	before := balanceOf(t, a, 1000)
	d := a.Decide(&r, nil, testApproval)
	out := a.Abort(d.Outcome)
	if got := balanceOf(t, a, 1001); got != before {
		t.Fatalf("balance %d after abort, %d before", got, before)
	}
	if st := a.Stats(); st.Transactions != 2 { // the two inquiries; the purchase's entry is gone
		t.Fatalf("%d entries after the abort, want 2", st.Transactions)
	}
	r.MTI = codec.MTI{'0', '2', '0', '1'}
	if rep := a.Decide(&r, nil, testApproval); rep.Code != Approved || rep.Repeat() {
		t.Fatalf("resend of an aborted approval: %s (repeat %v), want decided afresh", rep.Code, rep.Repeat())
	}
	b := newAuth(t, data, Limits{}) // the journal holds the 96 with no effect and no entry
	if err := b.Replay(out, [2]byte{'9', '6'}); err != nil {
		t.Fatal(err)
	}
	if got := balanceOf(t, b, 1002); got != before {
		t.Fatalf("replayed balance %d, want %d", got, before)
	}
	if st := b.Stats(); st.Transactions != 1 {
		t.Fatalf("replay of the aborted outcome left %d entries, want only the inquiry's", st.Transactions)
	}
}

// TestAbortIsSafeOnAnyOutcome: Abort of an outcome that does not parse, of
// none, of an aborted one and twice of the same one changes nothing more.
func TestAbortIsSafeOnAnyOutcome(t *testing.T) {
	a := newAuth(t, benchData(t), Limits{})
	r := benchRequest()
	r.Amount, r.STAN = 500, 1
	d := a.Decide(&r, nil, testApproval)
	before := balanceOf(t, a, 100)
	for _, junk := range [][]byte{nil, {}, {2}, {9, 9, 9, 9, 9, 9}, d.Outcome[:len(d.Outcome)/2]} {
		if got := a.Abort(junk); !bytes.Equal(got, junk) {
			t.Errorf("Abort(%x) = %x, want it unchanged", junk, got)
		}
	}
	if got := balanceOf(t, a, 101); got != before {
		t.Fatalf("junk aborts moved the balance: %d, want %d", got, before)
	}
	out := a.Abort(d.Outcome)
	if again := a.Abort(out); !bytes.Equal(again, out) {
		t.Errorf("an aborted outcome aborted again changed: %x, want %x", again, out)
	}
	a.Abort(d.Outcome) // twice: the entry is gone, nothing is undone twice
	if got := balanceOf(t, a, 102); got != before+500 {
		t.Fatalf("balance %d after aborting twice, want %d", got, before+500)
	}
	d1 := a.Decide(&r, nil, func() [6]byte { return [6]byte{'7', '7', '7', '7', '7', '7'} }) // the resend, decided afresh
	a.Abort(d.Outcome)                                                                       // the first decision's outcome again: not this entry's
	if got := balanceOf(t, a, 103); got != before || d1.Code != Approved {
		t.Fatalf("balance %d, want %d: a stale outcome aborted a newer decision", got, before)
	}
}
