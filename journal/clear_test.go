package journal

import (
	"errors"
	"strings"
	"testing"
)

// A record whose clear-text fields hold card data is refused before it is
// written: no sequence number used, the error names the field only.
func TestAppendRefusesCardDataInClearFields(t *testing.T) {
	j := open(t, t.TempDir(), nil)
	defer j.Close()
	commitOne(t, j, testRecord(1))
	for _, c := range []struct {
		field string
		set   func(r *Record)
	}{
		{"rrn", func(r *Record) { r.RRN = "34476173\x0101" }},
		{"terminal", func(r *Record) { r.Terminal = "010010=2" }},
		{"merchant", func(r *Record) { r.Merchant = "4761739001010010" }},
		{"merchant", func(r *Record) { r.Merchant = "\x12\x10\x124Vx61" }},
		{"acquirer", func(r *Record) { r.Acquirer = "4000001234562" }},
		{"original", func(r *Record) { r.Original = "4761739001010010=2812" }},
		{"pan_masked", func(r *Record) { r.PANMasked = "4761739001010010" }},
		{"destination", func(r *Record) { r.Destination = "4761739001010010" }},
		{"up_rrn", func(r *Record) { r.UpRRN = "4761739001010010" }},
	} {
		r := testRecord(2)
		c.set(r)
		w := newWaiter()
		j.Append(r, w)
		err := w.wait(t)
		if !errors.Is(err, ErrCardData) || !strings.HasSuffix(err.Error(), ": "+c.field) {
			t.Errorf("%s: %v, want ErrCardData naming the field", c.field, err)
		}
		if strings.ContainsAny(err.Error(), "0123456789") {
			t.Errorf("%s: the error shows digits: %v", c.field, err)
		}
		w = newWaiter()
		if !j.TryAppend(r, w) || !errors.Is(w.wait(t), ErrCardData) {
			t.Errorf("%s: TryAppend took it", c.field)
		}
	}
	commitOne(t, j, testRecord(3))
	if got := j.LastSeq(); got != 2 {
		t.Fatalf("last sequence %d: a refused record used one", got)
	}
	r := testRecord(4)
	if n := testing.AllocsPerRun(100, func() { _ = r.CheckClear() }); n != 0 {
		t.Errorf("CheckClear allocates %.0f on a clean record", n)
	}
}
