package auth

import (
	"testing"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
)

// TestApprovalAllocatedOnlyOnApproval: Decide calls the allocator once
// for an approval that carries a code, and never for a decline, a balance
// inquiry, a reversal, a repeat or a duplicate (a repeat gets the code of
// its original).
func TestApprovalAllocatedOnlyOnApproval(t *testing.T) {
	a := newAuth(t, benchData(t), Limits{})
	calls := 0
	alloc := func() [6]byte {
		calls++
		return [6]byte{'0', '0', '0', '0', '0', byte('0' + calls)}
	}
	r := benchRequest()
	for _, c := range []struct {
		name  string
		edit  func(*Request)
		code  string
		calls int
	}{
		{"purchase", func(r *Request) { r.STAN = 1 }, Approved, 1},
		{"repeat", func(r *Request) { r.MTI = codec.MTI{'0', '2', '0', '1'} }, Approved, 0},
		{"duplicate", func(r *Request) { r.MTI = codec.MTI{'0', '2', '0', '0'} }, Duplicate, 0},
		{"decline", func(r *Request) { r.STAN, r.Amount = 2, 600_000 }, OverAmount, 0},
		{"balance", func(r *Request) { r.STAN, r.Amount, r.Proc = 3, 0, 310000 }, Approved, 0},
		{"reversal", func(r *Request) {
			r.STAN, r.Proc, r.MTI = 4, 0, codec.MTI{'0', '4', '0', '0'}
			r.Original, r.OriginalClass, r.HasOriginal = Ref{"TERM0001", 1, 1121}, '2', true
		}, Approved, 0},
	} {
		before := calls
		c.edit(&r)
		d := a.Decide(&r, nil, alloc)
		if d.Code != c.code || calls-before != c.calls {
			t.Errorf("%s: %s with %d allocations, want %s with %d", c.name, d.Code, calls-before, c.code, c.calls)
		}
		if c.name == "repeat" && d.Approval != [6]byte{'0', '0', '0', '0', '0', '1'} {
			t.Errorf("repeat: approval %s, want its original's", d.Approval)
		}
		if c.code != Approved || c.name == "balance" || c.name == "reversal" {
			if d.Approval != ([6]byte{}) && c.name != "repeat" {
				t.Errorf("%s: approval %s, want none", c.name, d.Approval)
			}
		}
	}
}

// TestRepeatKeepsItsApprovalCode: a repeat, live and after a replay, gets
// its original's approval code, not a new one.
func TestRepeatKeepsItsApprovalCode(t *testing.T) {
	data := benchData(t)
	a := newAuth(t, data, Limits{})
	code := func(c byte) func() [6]byte { return func() [6]byte { return [6]byte{c, c, c, c, c, c} } }
	r := benchRequest()
	r.STAN = 7
	first := a.Decide(&r, nil, code('1'))
	r.MTI = codec.MTI{'0', '2', '0', '1'}
	again := a.Decide(&r, nil, code('2'))
	if !first.Approved || again.Approval != first.Approval || !again.Repeat() {
		t.Fatalf("repeat approval %s, original %s", again.Approval, first.Approval)
	}
	b := newAuth(t, data, Limits{}) // after a restart
	if err := b.Replay(first.Outcome, [2]byte{'0', '0'}); err != nil {
		t.Fatal(err)
	}
	if d := b.Decide(&r, nil, code('3')); d.Approval != first.Approval {
		t.Fatalf("repeat after replay: approval %s, original %s", d.Approval, first.Approval)
	}
}

// TestShardSpread: one terminal's requests of one date spread over the
// transaction shards (their locks), none of them taking more than twice
// its share.
func TestShardSpread(t *testing.T) {
	const n = shardCount * 100
	var per [shardCount]int
	for stan := uint32(1); stan <= n; stan++ {
		k, ok := keyOf(Ref{Terminal: "TERM0001", STAN: stan, LocalDate: 1121}, '2')
		if !ok {
			t.Fatal("TERM0001 does not key")
		}
		per[shardOf(k)]++
	}
	for i, c := range per {
		if c == 0 || c > 2*n/shardCount {
			t.Fatalf("shard %d holds %d of %d (share %d): %v", i, c, n, n/shardCount, per)
		}
	}
	// and the reversal that reuses its original's Ref (UnionPay) is in
	// the original's shard, so one lock covers both
	k, _ := keyOf(Ref{Terminal: "TERM0001", STAN: 5, LocalDate: 1121}, '2')
	if shardOf(k) != shardOf(k.withClass('4')) {
		t.Fatal("the classes of one Ref are in different shards")
	}
}

// TestDecideAllocs: a decision allocates its outcome and nothing else
// (slabs and map growth amortize below one allocation per decision); a
// repeat or a duplicate allocates nothing.
func TestDecideAllocs(t *testing.T) {
	a := newAuth(t, benchData(t), Limits{})
	r := benchRequest()
	stan := uint32(0)
	for _, c := range []struct {
		name string
		max  float64
		f    func()
	}{
		{"purchase", 1, func() { stan++; r.STAN = stan; a.Decide(&r, nil, testApproval) }},
		{"decline", 1, func() { stan++; r.STAN, r.Amount = stan, 600_000; a.Decide(&r, nil, testApproval); r.Amount = 1 }},
		{"reversal", 1, func() {
			stan++
			q := r
			q.STAN, q.MTI = stan, codec.MTI{'0', '4', '0', '0'}
			q.Original, q.OriginalClass, q.HasOriginal = Ref{"TERM0001", stan - 1, 1121}, '2', true
			a.Decide(&q, nil, testApproval)
		}},
		{"repeat", 0, func() { q := r; q.MTI = codec.MTI{'0', '2', '0', '1'}; a.Decide(&q, nil, testApproval) }},
		{"duplicate", 0, func() { a.Decide(&r, nil, testApproval) }},
	} {
		got := testing.AllocsPerRun(2000, c.f)
		t.Logf("%s: %.2f allocations per decision", c.name, got)
		if got > c.max {
			t.Errorf("%s: %.2f allocations per decision, want at most %.0f", c.name, got, c.max)
		}
	}
}

// TestPanicReleasesLocks: a panic inside Decide (here the PIN verifier's)
// leaves no lock held: every Lock has a deferred Unlock.
func TestPanicReleasesLocks(t *testing.T) {
	data := benchData(t)
	data.Cards[0].PVV = "1234"
	a := newAuth(t, data, Limits{})
	r := benchRequest()
	r.HasPIN = true
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the verifier's panic did not reach the caller")
			}
		}()
		a.Decide(&r, func(*issuer.Card) (bool, error) { panic("HSM client bug") }, testApproval)
	}()
	acc, _ := a.accounts.get(data.Cards[0].Account)
	k, _ := keyOf(r.Ref(), '2')
	sh := &a.index.shards[shardOf(k)]
	if !acc.mu.TryLock() {
		t.Fatal("the account's lock is still held")
	}
	acc.mu.Unlock()
	if !sh.mu.TryLock() {
		t.Fatal("the transaction shard's lock is still held")
	}
	sh.mu.Unlock()
}
