package engine

import "testing"

func TestPlanFDs(t *testing.T) {
	for _, c := range []struct {
		want        int64
		soft, hard  uint64
		setSoft     uint64
		maxConns    int64
		shortOfWant bool
	}{
		{30000, 1024, 1048576, 30000 + fdReserve, 30000, false}, // raised to what is needed
		{30000, 1024, 4096, 4096, 4096 - fdReserve, true},       // raised to the hard limit, still short
		{100, 65536, 65536, 0, 100, false},                      // enough already
		{100, 256, 256, 0, 1, true},                             // next to nothing
	} {
		p := planFDs(c.want, c.soft, c.hard)
		if p.soft != c.setSoft || p.maxConns != c.maxConns || (p.warning != "") != c.shortOfWant {
			t.Errorf("planFDs(%d, %d, %d) = %+v", c.want, c.soft, c.hard, p)
		}
	}
}
