package upstream

import (
	"errors"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

func TestVerdict(t *testing.T) {
	d := dialect(t, codec.ISO87ASCII)
	for rc, want := range map[string]Verdict{"00": Approved, "08": Approved, "10": Approved, "11": Approved,
		"05": Declined, "51": Declined, "91": Declined} {
		v := build(t, d, "0210", field{11, "000001"}, field{39, rc})
		if got := VerdictOf(v, DefaultApprovals); got != want {
			t.Errorf("39=%s: %v, want %v", rc, got, want)
		}
	}
	if got := VerdictOf(build(t, d, "0210", field{11, "000001"}), DefaultApprovals); got != NoCode || !got.MustReverse() {
		t.Errorf("no 39: %v", got)
	}
	if Declined.MustReverse() || !Approved.MustReverse() {
		t.Error("MustReverse")
	}
}

// A late approval is reported late, as an approval, once; its second copy
// is unknown. A response without a key field matches nothing.
func TestTakeResponseLateApproval(t *testing.T) {
	d := dialect(t, codec.ISO87ASCII)
	ks := DefaultKeySpec()
	tb := newTable(t, Config{Cap: 4})
	req0 := build(t, d, "0200", field{7, "1202034501"}, field{11, "000042"}, field{41, "TERM0001"})
	if err := tb.Put(keyOf(t, ks, req0), 42, 4242, epoch.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if ex := tb.Expire(epoch.Add(time.Second)); len(ex) != 1 {
		t.Fatalf("expired %v", ex)
	}
	resp := build(t, d, "0210", field{7, "1202034501"}, field{11, "000042"}, field{38, "A1B2C3"}, field{39, "00"}, field{41, "TERM0001"})
	got, err := TakeResponse(tb, &ks, resp, DefaultApprovals)
	if err != nil || got.Match != Late || got.Verdict != Approved || got.Ref != 4242 {
		t.Fatalf("late approval: %+v %v", got, err)
	}
	if got, _ = TakeResponse(tb, &ks, resp, DefaultApprovals); got.Match != Unknown {
		t.Fatalf("second copy: %v", got.Match)
	}
	var ke *KeyError
	if _, err := TakeResponse(tb, &ks, build(t, d, "0210", field{11, "000042"}, field{39, "00"}), DefaultApprovals); !errors.As(err, &ke) {
		t.Fatalf("keyless response: %v", err)
	}
}
