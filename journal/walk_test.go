package journal

import (
	"errors"
	"sync"
	"testing"
)

func pointOf(r *Record) Point { return Point{Seq: r.Seq, Hash: r.Hash, Date: r.BusinessDate} }

// TestOpenAfter: Open verifies and replays only the records after a
// snapshot's point, and refuses a point that is not in the journal.
func TestOpenAfter(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	recs := commitDays(t, j, []uint32{20261121, 20261122, 20261123}, 10)
	j.Close()
	for _, at := range []int{0, 9, 14, 29} {
		var seqs []uint64
		j = open(t, dir, func(o *Options) {
			o.After = pointOf(recs[at])
			o.Replay = func(r *Record) error { seqs = append(seqs, r.Seq); return nil }
		})
		j.Close()
		if len(seqs) != 29-at || (len(seqs) > 0 && seqs[0] != uint64(at+2)) {
			t.Fatalf("after %d: replayed %v", at+1, seqs)
		}
	}
	bad := map[string]Point{}
	p := pointOf(recs[14])
	p.Hash[3] ^= 1
	bad["other hash"] = p
	p = pointOf(recs[14])
	p.Date = 20261121
	bad["other date"] = p
	p = pointOf(recs[29])
	p.Seq = 31
	bad["beyond the end"] = p
	bad["the anchor with a hash"] = Point{Hash: [HashLen]byte{1}}
	for name, p := range bad {
		if _, err := Open(Options{Dir: dir, After: p}); !errors.Is(err, ErrPointMismatch) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestWalkLive: walks from point to point while records are committed
// (run under -race) read every acknowledged record once, chained.
func TestWalkLive(t *testing.T) {
	j := open(t, t.TempDir(), nil)
	defer j.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			appendN(t, j, 50, i*50)
		}
	}()
	var p Point
	seen := uint64(0)
	for done := false; !done; {
		done = j.Last().Seq == 1000
		next, err := j.Walk(p, j.Last().Seq, func(r *Record) error {
			seen++
			if r.Seq != seen || r.Terminal != "TERM0001" {
				t.Errorf("record %d read as %d (%q)", seen, r.Seq, r.Terminal)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		p = next
	}
	wg.Wait()
	if p != j.Last() || seen != 1000 {
		t.Fatalf("walked to %v (%d records), last %v", p, seen, j.Last())
	}
	// a walk that stops early, and bad starting points
	n := 0
	if q, err := j.Walk(Point{}, 10, func(*Record) error { n++; return nil }); err != nil || q.Seq != 10 || n != 10 {
		t.Fatalf("walk to 10: %v %v %d", q, err, n)
	}
	wrong := p
	wrong.Hash[0] ^= 1
	if _, err := j.Walk(wrong, 1000, nil); !errors.Is(err, ErrPointMismatch) {
		t.Fatalf("wrong point: %v", err)
	}
}
