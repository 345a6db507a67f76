package auth

import (
	"errors"
	"testing"
	"time"
)

func TestLimitsDefaultsAndValidate(t *testing.T) {
	d := Limits{}.WithDefaults()
	if d != (Limits{Retention: 7 * 24 * time.Hour, DeclineWindow: 15 * time.Minute, MaxTransactions: 10_000_000, MaxPlaceholders: 100_000, MaxBatches: 1_000_000}) {
		t.Fatalf("defaults %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	if got := (Limits{MaxTransactions: 5}).WithDefaults(); got.MaxTransactions != 5 || got.Retention != d.Retention {
		t.Fatalf("a set field is kept, the others defaulted: %+v", got)
	}
	for _, bad := range []Limits{
		{DeclineWindow: time.Millisecond},
		{Retention: time.Minute, DeclineWindow: time.Hour},
		{Retention: 401 * 24 * time.Hour},
		{MaxTransactions: -1},
		{MaxTransactions: 1 << 32},
		{MaxTransactions: 10, MaxPlaceholders: 11},
		{MaxPlaceholders: -1},
		{MaxBatches: -1},
		{MaxBatches: 1 << 27},
	} {
		l := bad.WithDefaults()
		if err := l.Validate(); !errors.Is(err, ErrLimits) {
			t.Errorf("%+v: %v, want an ErrLimits", l, err)
		}
		if _, err := New(benchData(t), sha256PAN, bad); !errors.Is(err, ErrLimits) {
			t.Errorf("New with %+v: %v, want an ErrLimits", bad, err)
		}
	}
}
