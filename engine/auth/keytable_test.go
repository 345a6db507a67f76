package auth

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestKeyTableAgainstMap: random sets, removals and gets on a keyTable
// agree with a Go map, through growth and runs of colliding homes (keys
// from few terminals and STANs, so runs are long).
func TestKeyTableAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var kt keyTable
	ref := map[txnKey]uint32{}
	key := func() txnKey {
		return txnKey{term: uint64(rng.IntN(3)), stan: uint32(rng.IntN(700)), ldate: 1121, class: "124"[rng.IntN(3)]}
	}
	for i := 0; i < 200_000; i++ {
		k := key()
		switch op := rng.IntN(10); {
		case op < 5:
			_, had := ref[k]
			if isNew := kt.set(k, uint32(i)); isNew == had {
				t.Fatalf("op %d: set of %+v reports new %v, the map had it %v", i, k, isNew, had)
			}
			ref[k] = uint32(i)
		case op < 8:
			kt.remove(k)
			delete(ref, k)
		default:
			got, ok := kt.get(k)
			if want, had := ref[k]; ok != had || got != want {
				t.Fatalf("op %d: get %+v = %d %v, want %d %v", i, k, got, ok, want, had)
			}
		}
		if kt.len() != len(ref) {
			t.Fatalf("op %d: %d keys, want %d", i, kt.len(), len(ref))
		}
	}
	seen := 0
	for p := 0; p < kt.places(); p++ {
		if k, slot, ok := kt.at(p); ok {
			if ref[k] != slot {
				t.Fatalf("place %d holds %+v -> %d, want %d", p, k, slot, ref[k])
			}
			seen++
		}
	}
	if seen != len(ref) {
		t.Fatalf("%d keys in the places, want %d", seen, len(ref))
	}
}

// TestPurgeKeepsExactlyTheLive: a purge drops every dead entry and only
// those, though each removal moves the keys after it back (the purge looks
// at a place again when a key moved into it).
func TestPurgeKeepsExactlyTheLive(t *testing.T) {
	a := newAuth(t, benchData(t), Limits{DeclineWindow: time.Minute, Retention: time.Hour})
	r := benchRequest()
	t0 := r.Received
	for stan := uint32(1); stan <= 6000; stan++ {
		r.STAN, r.Amount = stan, 1
		if stan%3 != 0 {
			r.Amount = 600_000 // over the per-transaction maximum: a decline
		}
		a.Decide(&r, nil, testApproval)
	}
	a.bg.Wait()
	a.purge(t0 + 61)
	if st := a.Stats(); st.Transactions != 2000 {
		t.Fatalf("%d entries after the purge, want the 2000 approvals", st.Transactions)
	}
	for stan := uint32(3); stan <= 6000; stan += 3 {
		k, _ := keyOf(Ref{Terminal: r.Terminal, STAN: stan, LocalDate: r.LocalDate}, '2')
		sh := &a.index.shards[shardOf(k)]
		if e := sh.get(k); e == nil || e.code != [2]byte{'0', '0'} {
			t.Fatalf("approval %d lost by the purge", stan)
		}
	}
}
