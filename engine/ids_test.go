package engine

import (
	"sync"
	"testing"
	"time"
)

// Identifiers never repeat, from many goroutines at once, and carry on
// after the counters a journal or snapshot restores.
func TestIDsAreUniqueAndResume(t *testing.T) {
	var ids IDs
	day := time.Date(2026, 12, 1, 23, 59, 0, 0, time.UTC)
	const goroutines, each = 8, 5000
	rrns, codes := make(chan [12]byte, goroutines*each), make(chan [6]byte, goroutines*each)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				var r [12]byte
				var a [6]byte
				ids.NextRRN(&r, day)
				ids.NextApproval(&a)
				rrns <- r
				codes <- a
			}
		}()
	}
	wg.Wait()
	close(rrns)
	close(codes)
	seenR, seenA := map[[12]byte]bool{}, map[[6]byte]bool{}
	for r := range rrns {
		if seenR[r] {
			t.Fatalf("RRN %s given twice", r)
		}
		seenR[r] = true
	}
	for a := range codes {
		if seenA[a] {
			t.Fatalf("approval code %s given twice", a)
		}
		seenA[a] = true
	}
	// a restart: the counters come back from the journal, the next ones follow
	rrn, appr := ids.Counters()
	var again IDs
	again.Observe(rrn, appr)
	again.Observe(1, 1) // an older record changes nothing
	var r [12]byte
	var a [6]byte
	again.NextRRN(&r, day)
	again.NextApproval(&a)
	if seenR[r] || seenA[a] {
		t.Fatalf("after a restart: RRN %s / approval %s given again", r, a)
	}
}

func TestIDFormats(t *testing.T) {
	var ids IDs
	ids.Observe(rrnSpace+34, approvalSpace-1)
	var r [12]byte
	var a [6]byte
	n := ids.NextRRN(&r, time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC))
	if string(r[:]) != "6034"+"0000000Z" || n != rrnSpace+35 {
		t.Fatalf("RRN %s (counter %d): want year digit, day of year 034, then base 36", r, n)
	}
	if ids.NextApproval(&a); string(a[:]) != "000000" { // 36^6 wraps to zero
		t.Fatalf("approval %s", a)
	}
	ids.NextApproval(&a)
	if string(a[:]) != "000001" {
		t.Fatalf("approval %s", a)
	}
}
