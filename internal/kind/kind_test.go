package kind

import "testing"

func TestOf(t *testing.T) {
	for _, c := range []struct {
		mti      string
		proc     uint32
		original bool
		want     Kind
	}{
		{"0200", 0, false, Purchase}, {"0200", 0, true, Completion}, {"0220", 0, false, Completion},
		{"0200", 10000, false, Cash}, {"0200", 20000, true, Void}, {"0200", 200000, false, Refund},
		{"0200", 300000, false, Balance}, {"0100", 310000, false, Balance}, {"0100", 0, false, Preauth},
		{"0400", 0, true, Reversal}, {"0420", 200000, true, Reversal}, {"0100", 200000, false, Unknown},
		{"0800", 0, false, Unknown}, {"0200", 400000, false, Unknown},
	} {
		if got := Of([4]byte([]byte(c.mti)), c.proc, c.original); got != c.want {
			t.Errorf("%s %06d original %v: %v, want %v", c.mti, c.proc, c.original, got, c.want)
		}
	}
}
