package router

import (
	"testing"

	"github.com/cardswitch/cardswitch/codec"
)

func mti(s string) codec.MTI { m, _ := codec.ParseMTI(s); return m }

func table(t *testing.T) *Table {
	t.Helper()
	tb, err := Compile([]Rule{
		{Name: "network", MTIClasses: []string{"8"}, Action: Local},
		{Name: "visa-on-us", PANPrefixes: []string{"476173"}, Action: Local},
		{Name: "visa-range", PANPrefixes: []string{"4761739"}, Action: Upstream, Destination: "visa-host"},
		{Name: "cup", PANPrefixes: []string{"62"}, Action: Upstream, Destination: "cup-host"},
		{Name: "cup-balance-local", PANPrefixes: []string{"62"}, ProcessingCodes: []string{"31"}, Action: Local},
		{Name: "blocked-terminal", Terminals: []string{"BADTERM1"}, Action: Decline, Code: "58"},
		{Name: "acq-link-amex", PANPrefixes: []string{"37"}, Links: []string{"acquirer"}, Action: Upstream, Destination: "amex"},
	}, "15")
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestRouteMostSpecificWins(t *testing.T) {
	tb := table(t)
	for _, c := range []struct {
		name string
		f    Facts
		want Decision
	}{
		{"longest prefix", Facts{MTI: mti("0200"), PAN: []byte("4761739001010010")}, Decision{Action: Upstream, Destination: "visa-host", Rule: "visa-range"}},
		{"shorter prefix", Facts{MTI: mti("0200"), PAN: []byte("4761731111111111")}, Decision{Action: Local, Rule: "visa-on-us"}},
		{"more criteria on same prefix", Facts{MTI: mti("0200"), PAN: []byte("6228480402564890018"), ProcessingCode: []byte("310000")}, Decision{Action: Local, Rule: "cup-balance-local"}},
		{"same prefix, other proc code", Facts{MTI: mti("0200"), PAN: []byte("6228480402564890018"), ProcessingCode: []byte("000000")}, Decision{Action: Upstream, Destination: "cup-host", Rule: "cup"}},
		{"terminal rule without PAN", Facts{MTI: mti("0200"), PAN: []byte("5413330089010012"), Terminal: []byte("BADTERM1")}, Decision{Action: Decline, Code: "58", Rule: "blocked-terminal"}},
		{"no route", Facts{MTI: mti("0200"), PAN: []byte("5413330089010012")}, Decision{Action: Decline, Code: "15"}},
		{"link criterion", Facts{MTI: mti("0100"), PAN: []byte("371449635398431"), Link: "acquirer"}, Decision{Action: Upstream, Destination: "amex", Rule: "acq-link-amex"}},
		{"link criterion, other link", Facts{MTI: mti("0100"), PAN: []byte("371449635398431"), Link: "pos"}, Decision{Action: Decline, Code: "15"}},
		{"network management", Facts{MTI: mti("0800")}, Decision{Action: Local, Rule: "network"}},
	} {
		if got := tb.Route(c.f); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, r := range []Rule{
		{Name: "no action"},
		{Name: "upstream without destination", Action: Upstream},
		{Name: "bad code", Action: Decline, Code: "5"},
		{Name: "letters", PANPrefixes: []string{"47A"}, Action: Local},
		{Name: "class", MTIClasses: []string{"02"}, Action: Local},
	} {
		if _, err := Compile([]Rule{r}, "15"); err == nil {
			t.Errorf("%s: accepted", r.Name)
		}
	}
	if _, err := Compile(nil, "1"); err == nil {
		t.Error("bad no-route code accepted")
	}
}

func TestSwapAndNoAllocation(t *testing.T) {
	r := New(table(t))
	f := Facts{MTI: mti("0200"), PAN: []byte("6228480402564890018"), ProcessingCode: []byte("310000"), Link: "pos", Terminal: []byte("T1"), Merchant: []byte("M1")}
	if a := testing.AllocsPerRun(100, func() { r.Route(f) }); a != 0 {
		t.Fatalf("%v allocations per route", a)
	}
	empty, _ := Compile(nil, "91")
	r.Swap(empty)
	if d := r.Route(f); d.Action != Decline || d.Code != "91" {
		t.Fatalf("after swap: %+v", d)
	}
}

func BenchmarkRoute(b *testing.B) {
	tb, _ := Compile([]Rule{{Name: "a", PANPrefixes: []string{"476173"}, Action: Local}, {Name: "b", PANPrefixes: []string{"62"}, Action: Local}}, "15")
	f := Facts{MTI: mti("0200"), PAN: []byte("6228480402564890018")}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tb.Route(f)
	}
}
