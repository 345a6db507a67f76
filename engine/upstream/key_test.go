package upstream

import (
	"errors"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
)

func TestKeyRequestAndResponseAlike(t *testing.T) {
	d := dialect(t, codec.ISO87ASCII)
	ks := DefaultKeySpec()
	if err := ks.Check(d); err != nil {
		t.Fatal(err)
	}
	pairs := [][2]string{{"0100", "0110"}, {"0200", "0210"}, {"0201", "0210"}, {"0220", "0230"},
		{"0400", "0410"}, {"0401", "0410"}, {"0420", "0430"}, {"0800", "0810"}}
	for _, p := range pairs {
		req := build(t, d, p[0], field{7, "1202034501"}, field{11, "000123"}, field{41, "TERM0001"})
		resp := build(t, d, p[1], field{7, "1202034501"}, field{11, "000123"}, field{39, "00"}, field{41, "TERM0001"})
		if a, b := keyOf(t, ks, req), keyOf(t, ks, resp); a != b {
			t.Errorf("%s and %s make keys %q and %q", p[0], p[1], a.Bytes(), b.Bytes())
		}
	}
}

func TestKeyDiffers(t *testing.T) {
	d := dialect(t, codec.ISO87ASCII)
	ks := DefaultKeySpec()
	base := []field{{7, "1202034501"}, {11, "000123"}, {41, "TERM0001"}}
	k0 := keyOf(t, ks, build(t, d, "0200", base...))
	cases := map[string]*codec.View{
		"other class":    build(t, d, "0100", base...),
		"advice":         build(t, d, "0220", base...),
		"reversal":       build(t, d, "0400", base...),
		"other STAN":     build(t, d, "0200", field{7, "1202034501"}, field{11, "000124"}, field{41, "TERM0001"}),
		"other terminal": build(t, d, "0200", field{7, "1202034501"}, field{11, "000123"}, field{41, "TERM0002"}),
		"other time":     build(t, d, "0200", field{7, "1202034502"}, field{11, "000123"}, field{41, "TERM0001"}),
	}
	for name, v := range cases {
		if keyOf(t, ks, v) == k0 {
			t.Errorf("%s: same key as the original", name)
		}
	}
	// the length before each field keeps "1"+"23" apart from "12"+"3"
	ks2 := KeySpec{Fields: []int{32, 33}}
	a := keyOf(t, ks2, build(t, d, "0200", field{32, "1"}, field{33, "23"}))
	b := keyOf(t, ks2, build(t, d, "0200", field{32, "12"}, field{33, "3"}))
	if a == b {
		t.Error("fields 32+33 1|23 and 12|3 make one key")
	}
	// text may hold any 7-bit byte, NUL too: only the lengths keep
	// "a\x00b"|"c" apart from "a"|"b\x00c"
	ks3 := KeySpec{Fields: []int{44, 48}}
	a = keyOf(t, ks3, build(t, d, "0200", field{44, "a\x00b"}, field{48, "c"}))
	b = keyOf(t, ks3, build(t, d, "0200", field{44, "a"}, field{48, "b\x00c"}))
	if a == b {
		t.Error("fields 44+48 a\\0b|c and a|b\\0c make one key")
	}
}

// A BCD dialect's key is the digits, whatever the pad nibble: a host that
// pads with F matches a request the switch padded with 0.
func TestKeyTextForm(t *testing.T) {
	d := dialect(t, codec.ISO87Binary)
	ks := KeySpec{MTI: true, Fields: []int{11, 32}}
	v := build(t, d, "0200", field{11, "000123"}, field{32, "12345"})
	k := keyOf(t, ks, v)
	want := "020" + "\x06000123" + "\x0512345"
	if string(k.Bytes()) != want {
		t.Fatalf("key %q, want %q", k.Bytes(), want)
	}
	msg := append([]byte(nil), v.Bytes()...)
	s, e, _ := v.Span(32)
	if msg[e-1]&0xF != 0 {
		t.Fatalf("expected a 0 pad nibble in %x", msg[s:e])
	}
	msg[e-1] |= 0xF
	var f codec.View
	if err := d.Decode(&f, msg); err != nil {
		t.Fatal(err)
	}
	if keyOf(t, ks, &f) != k {
		t.Error("an F pad nibble changed the key")
	}
}

func TestKeyMissingField(t *testing.T) {
	d := dialect(t, codec.ISO87ASCII)
	ks := DefaultKeySpec()
	v := build(t, d, "0210", field{11, "000123"}, field{39, "00"}, field{41, "TERM0001"})
	var k Key
	var ke *KeyError
	if err := ks.Extract(v, &k); !errors.As(err, &ke) || ke.Field != 7 {
		t.Fatalf("err %v, want a KeyError for field 7", err)
	}
}

func TestKeySpecParseAndCheck(t *testing.T) {
	ks, err := ParseKeySpec("mti, 11 41 7")
	if err != nil || !ks.MTI || len(ks.Fields) != 3 || ks.Fields[0] != 11 || ks.Fields[2] != 7 {
		t.Fatalf("parse: %+v %v", ks, err)
	}
	for _, bad := range []string{"", "mti", "11 mti", "11 11", "2 11", "52", "x", "129", "11 64"} {
		if _, err := ParseKeySpec(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
	d := dialect(t, codec.ISO87ASCII)
	if err := (KeySpec{Fields: []int{11, 43}}).Check(d); err != nil { // 40 characters: fits
		t.Errorf("11 43: %v", err)
	}
	if err := (KeySpec{MTI: true, Fields: []int{11, 41, 7, 37, 42, 32}}).Check(d); err == nil {
		t.Error("a key over KeyBytesMax accepted")
	}
	if err := (KeySpec{Fields: []int{11, 61}}).Check(dialect(t, codec.CUPPOS)); err != nil {
		t.Errorf("cup-pos 11 61: %v", err)
	}
	if err := (KeySpec{Fields: []int{7}}).Check(dialect(t, codec.CUPPOS)); err == nil {
		t.Error("a field the dialect lacks accepted")
	}
}

func TestKeyExtractAllocs(t *testing.T) {
	d := dialect(t, codec.ISO87ASCII)
	ks := DefaultKeySpec()
	v := build(t, d, "0200", field{7, "1202034501"}, field{11, "000123"}, field{41, "TERM0001"})
	var k Key
	if n := testing.AllocsPerRun(100, func() { _ = ks.Extract(v, &k) }); n != 0 {
		t.Fatalf("Extract allocates %v times", n)
	}
}
