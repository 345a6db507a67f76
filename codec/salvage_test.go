package codec

import (
	"bytes"
	"errors"
	"testing"
)

// A bad PAN leaves its length sound: the salvage reads the fields after it,
// which a peer matches replies by; a bad length prefix stops it.
func TestDecodeSalvage(t *testing.T) {
	d := mustDialect(t, ISO87ASCII)
	good, err := d.Encode(Message{MTI: "0200", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": "100", "7": "1121204500", "11": "000042",
		"37": "000000000042", "41": "TERM0001", "49": "840"}})
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(good, []byte("4761739001010010"))
	badPAN := append([]byte(nil), good...)
	badPAN[i+3] = 'X'
	var v View
	err = d.DecodeSalvage(&v, badPAN)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != 2 || !errors.Is(err, ErrNotNumeric) {
		t.Fatalf("error %v", err)
	}
	if v.Has(2) {
		t.Fatal("the bad PAN is in the view")
	}
	for id, want := range map[int]string{3: "000000", 4: "000000000100", 7: "1121204500", 11: "000042", 37: "000000000042", 41: "TERM0001", 49: "840"} {
		if got := string(v.AppendText(nil, id)); got != want {
			t.Fatalf("field %d = %q, want %q", id, got, want)
		}
	}
	// Decode itself keeps only what came before.
	if err := d.Decode(&v, badPAN); err == nil || v.Has(11) {
		t.Fatalf("Decode: %v, has 11: %v", err, v.Has(11))
	}
	// Two bad fields: the first error, both dropped, the rest kept.
	two := append([]byte(nil), badPAN...)
	j := bytes.Index(two, []byte("1121204500"))
	two[j] = 'Y'
	if err := d.DecodeSalvage(&v, two); !errors.As(err, &fe) || fe.Field != 2 || v.Has(7) || !v.Has(11) || !v.Has(41) {
		t.Fatalf("two bad fields: %v, 7 %v 11 %v 41 %v", err, v.Has(7), v.Has(11), v.Has(41))
	}
	// A bad length prefix: nothing after it can be found.
	badLen := append([]byte(nil), good...)
	badLen[i-1] = 'Z'
	if err := d.DecodeSalvage(&v, badLen); !errors.Is(err, ErrBadPrefix) || v.Has(3) || v.Has(11) {
		t.Fatalf("bad prefix: %v, has 3 %v 11 %v", err, v.Has(3), v.Has(11))
	}
	// A good message reads the same either way.
	if err := d.DecodeSalvage(&v, good); err != nil || !v.Has(2) {
		t.Fatalf("good: %v", err)
	}
	// The salvage allocates what Decode does: the one error value.
	plain := testing.AllocsPerRun(100, func() { _ = d.Decode(&v, two) })
	if n := testing.AllocsPerRun(100, func() { _ = d.DecodeSalvage(&v, two) }); n != plain || n > 1 {
		t.Fatalf("%.1f allocations per salvage, %.1f per decode", n, plain)
	}
	if n := testing.AllocsPerRun(100, func() { _ = d.DecodeSalvage(&v, good) }); n != 0 {
		t.Fatalf("%.1f allocations per good salvage", n)
	}
}
