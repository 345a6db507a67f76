package upstream

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// cupToHost is a UnionPay terminal's traffic sent to an ISO 8583:1987 ASCII
// host: everything both dialects know is carried, UnionPay's 53 and 60 are
// not, the operator in 63 goes as 48, the switch names itself in 32 and
// numbers the leg itself (7, 11, 37) with the PIN block translated (52);
// back, the host's 37, 38 and 39, and the terminal's own fields restored.
func cupToHost() Mapping {
	return Mapping{
		Out: Side{
			CopyAll: true,
			Drop:    []int{53, 60},
			Rename:  []Rename{{From: 63, To: 48}},
			Set:     map[int]string{32: "00012345"},
		},
		Back:    Side{Copy: []int{37, 38, 39}},
		Assign:  []int{7, 11, 37, 52},
		Restore: []int{2, 3, 4, 11, 12, 13, 25, 41, 42, 49, 60},
	}
}

func cupRequest(t testing.TB) *codec.View {
	return build(t, dialect(t, codec.CUPPOS), "0200",
		field{2, "6225880123456789"}, field{3, "000000"}, field{4, "000000010000"}, field{11, "000777"},
		field{12, "103015"}, field{13, "1202"}, field{14, "2812"}, field{22, "021"}, field{25, "00"},
		field{26, "06"}, field{41, "TERM0001"}, field{42, "MERCHANT0000001"}, field{49, "156"},
		field{52, "\x01\x23\x45\x67\x89\xab\xcd\xef"}, field{53, "2600000000000000"},
		field{55, "\x9f\x26\x08\x11\x22\x33\x44\x55\x66\x77\x88"}, field{60, "22000001000"},
		field{63, "CUP"}, field{64, "\x00\x00\x00\x00\x00\x00\x00\x00"})
}

func TestMappingRoundTripCUPToISO87(t *testing.T) {
	cup, host := dialect(t, codec.CUPPOS), dialect(t, codec.ISO87ASCII)
	plan, err := Compile(cupToHost(), cup, host)
	if err != nil {
		t.Fatal(err)
	}
	orig := cupRequest(t)
	when := time.Date(2026, 12, 2, 3, 45, 1, 0, time.UTC)

	// out: the switch's numbers, the translated PIN block
	var b codec.Builder
	b.Begin(host, nil, orig.MTI(), nil)
	vals := []Value{
		{7, AppendTransmission(nil, when)},
		{11, AppendSTAN(nil, STAN(1))},
		{37, []byte("634512000001")},
		{52, []byte("FEDCBA9876543210")}, // what the HSM made under the destination's ZPK
	}
	if err := plan.Forward(&b, orig, vals); err != nil {
		t.Fatal(err)
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	var out codec.View
	if err := host.Decode(&out, msg); err != nil {
		t.Fatalf("outbound request does not decode: %v", err)
	}
	want := map[int]string{7: "1202034501", 11: "000001", 32: "00012345", 37: "634512000001", 48: "CUP", 52: "FEDCBA9876543210"}
	for _, id := range []int{2, 3, 4, 12, 13, 14, 22, 25, 26, 41, 42, 49, 55} {
		want[id] = string(orig.AppendText(nil, id))
	}
	checkFields(t, "outbound", &out, want)

	// the host answers with its own local time (12, 13) and its own 37, 38, 39
	resp := build(t, host, "0210", field{3, "000000"}, field{4, "000000010000"}, field{7, "1202034501"},
		field{11, "000001"}, field{12, "034501"}, field{13, "1202"}, field{32, "00012345"},
		field{37, "634512000001"}, field{38, "A1B2C3"}, field{39, "00"}, field{41, "TERM0001"},
		field{42, "MERCHANT0000001"}, field{49, "156"})
	ks := DefaultKeySpec()
	if keyOf(t, ks, &out) != keyOf(t, ks, resp) {
		t.Fatal("the host's response does not make the outbound request's key")
	}

	// back: the reply to the terminal in its dialect
	b.Begin(cup, nil, orig.MTI().Response(), orig.Header())
	if err := plan.Back(&b, resp, orig); err != nil {
		t.Fatal(err)
	}
	if msg, err = b.Finish(); err != nil {
		t.Fatal(err)
	}
	var reply codec.View
	if err := cup.Decode(&reply, msg); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	if reply.MTI().String() != "0210" || !bytes.Equal(reply.Header(), orig.Header()) {
		t.Fatalf("reply MTI %s header %x", reply.MTI(), reply.Header())
	}
	for _, id := range cupToHost().Restore {
		os, oe, ok1 := orig.Span(id)
		rs, re, ok2 := reply.Span(id)
		if !ok1 || !ok2 || !bytes.Equal(orig.Bytes()[os:oe], reply.Bytes()[rs:re]) {
			t.Errorf("field %d: reply % x, originator sent % x", id, reply.Bytes()[rs:re], orig.Bytes()[os:oe])
		}
	}
	wantReply := map[int]string{37: "634512000001", 38: "A1B2C3", 39: "00"}
	for _, id := range cupToHost().Restore {
		wantReply[id] = string(orig.AppendText(nil, id))
	}
	checkFields(t, "reply", &reply, wantReply)
}

// checkFields: v has exactly the fields of want, with those text forms.
func checkFields(t *testing.T, what string, v *codec.View, want map[int]string) {
	t.Helper()
	for id := 2; id <= codec.MaxField; id++ {
		w, ok := want[id]
		switch {
		case ok != v.Has(id):
			t.Errorf("%s: field %d present %v, want %v", what, id, v.Has(id), ok)
		case ok && string(v.AppendText(nil, id)) != w:
			t.Errorf("%s: field %d = %q, want %q", what, id, v.AppendText(nil, id), w)
		}
	}
}

func TestMappingRefused(t *testing.T) {
	cup, host := dialect(t, codec.CUPPOS), dialect(t, codec.ISO87ASCII)
	cases := map[string]Mapping{
		"PIN block copied by CopyAll":   {Out: Side{CopyAll: true}},
		"PIN block copied":              {Out: Side{Copy: []int{52}}},
		"MAC copied":                    {Out: Side{Copy: []int{64}}},
		"PIN block renamed":             {Out: Side{Rename: []Rename{{From: 52, To: 48}}}},
		"renamed into the MAC":          {Out: Side{Rename: []Rename{{From: 63, To: 64}}}},
		"field the target lacks":        {Out: Side{Copy: []int{53}}, Back: Side{Copy: []int{7}}},
		"field the source lacks":        {Out: Side{Copy: []int{7}}},
		"set value that cannot go":      {Out: Side{Set: map[int]string{32: "ABC"}}},
		"set and assigned":              {Out: Side{Set: map[int]string{11: "000001"}}, Assign: []int{11}},
		"two renames into one field":    {Out: Side{Rename: []Rename{{From: 63, To: 48}, {From: 62, To: 48}}}},
		"copied and dropped":            {Out: Side{Copy: []int{3}, Drop: []int{3}}},
		"restored MAC":                  {Restore: []int{64}},
		"restored and copied back":      {Back: Side{Copy: []int{11}}, Restore: []int{11}},
		"not a field":                   {Out: Side{Drop: []int{129}}},
		"bitmap 65":                     {Assign: []int{65}},
		"restore a field orig lacks":    {Restore: []int{7}},
		"assign a field the host lacks": {Assign: []int{62, 200}},
	}
	for name, m := range cases {
		_, err := Compile(m, cup, host)
		var me *MappingError
		if !errors.As(err, &me) {
			t.Errorf("%s: %v, want a MappingError", name, err)
		}
	}
	if _, err := Compile(Mapping{Out: Side{CopyAll: true, Drop: []int{52}}}, cup, host); err != nil {
		t.Errorf("PIN block dropped: %v", err)
	}
	plan, err := Compile(cupToHost(), cup, host)
	if err != nil {
		t.Fatal(err)
	}
	var b codec.Builder
	b.Begin(host, nil, codec.MTI{'0', '2', '0', '0'}, nil)
	if err := plan.Forward(&b, cupRequest(t), []Value{{ID: 3, Text: []byte("999999")}}); !errors.Is(err, ErrNotAssigned) {
		t.Fatalf("a value for a copied field: %v", err)
	}
}

func TestMappingAllocs(t *testing.T) {
	cup, host := dialect(t, codec.CUPPOS), dialect(t, codec.ISO87ASCII)
	plan, _ := Compile(cupToHost(), cup, host)
	orig := cupRequest(t)
	resp := build(t, host, "0210", field{7, "1202034501"}, field{11, "000001"}, field{37, "634512000001"},
		field{39, "00"}, field{41, "TERM0001"})
	vals := []Value{{7, []byte("1202034501")}, {11, []byte("000001")}, {37, []byte("634512000001")}, {52, []byte("FEDCBA9876543210")}}
	var b codec.Builder
	buf := make([]byte, 0, 1024)
	run := func() {
		b.Begin(host, buf[:0], orig.MTI(), nil)
		_ = plan.Forward(&b, orig, vals)
		_, _ = b.Finish()
		b.Begin(cup, buf[:0], orig.MTI().Response(), orig.Header())
		_ = plan.Back(&b, resp, orig)
		_, _ = b.Finish()
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("Forward and Back allocate %v times", n)
	}
}

func TestNumbers(t *testing.T) {
	for n, want := range map[uint64]uint32{1: 1, 2: 2, 999_999: 999_999, 1_000_000: 1, 1_999_998: 999_999, 1_999_999: 1} {
		if got := STAN(n); got != want {
			t.Errorf("STAN(%d) = %d, want %d", n, got, want)
		}
	}
	if s := string(AppendSTAN(nil, 42)); s != "000042" {
		t.Errorf("AppendSTAN: %q", s)
	}
	tm := time.Date(2026, 1, 9, 23, 5, 7, 0, time.FixedZone("x", 8*3600)) // 15:05:07 UTC
	if s := string(AppendTransmission(nil, tm)); s != "0109150507" {
		t.Errorf("AppendTransmission: %q", s)
	}
}
