package cardscan

import (
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	var s Scanner
	s.Track("4761739001010010=28121011234567890")
	s.Secret("PIN block", []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0})
	for _, c := range []struct {
		in   string
		kind string // "" for none
	}{
		{`{"pan":"476173******0010","rrn":"612345000001"}`, ""},
		{`go_gc_duration_seconds{quantile="0.5"} 4.000001234562e-05`, ""},       // digits of a decimal number
		{`"received":"2026-12-02T01:02:03.4000001234562Z"`, ""},                 // a fraction
		{`"merchant":"4000001234562"`, "luhn"},                                  // a PAN of another card
		{`x 5413330000000019=2512 y`, "track2"},                                 // another track
		{`"terminal":"010010=2","merchant":"812101123456789"`, "track 2 piece"}, // a piece of the track
		{`"rrn":"361234567890"`, ""},
		{`pin=123456789ABCDEF0`, "PIN block (HEX)"},
		{"raw \x47\x61\x73\x90\x01\x01\x00\x10 bytes", "PAN (BCD)"},
		{"terminal \x12\x10\x11\x23\x45\x67 bytes", "track 2 piece (BCD)"}, // the track's tail, packed
		{"terminal \x81\x21\x01\x12\x34\x56 bytes", "track 2 piece (BCD)"}, // at the other alignment
	} {
		got := s.Scan("test", []byte(c.in))
		switch {
		case c.kind == "" && len(got) > 0:
			t.Errorf("%q: found %v", c.in, got)
		case c.kind != "" && !has(got, c.kind):
			t.Errorf("%q: found %v, want %s", c.in, got, c.kind)
		}
		for _, f := range got {
			if strings.Contains(f.String(), "4761739001010010") || strings.Contains(f.String(), "812101") {
				t.Errorf("a finding shows what it found: %v", f)
			}
		}
	}
}

func has(fs []Finding, kind string) bool {
	for _, f := range fs {
		if strings.HasPrefix(f.Kind, kind) {
			return true
		}
	}
	return false
}
