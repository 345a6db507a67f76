package codec

import (
	"errors"
	"testing"

	"github.com/cardswitch/cardswitch/internal/pan"
)

func TestCheckClearText(t *testing.T) {
	d, err := Lookup(ISO87ASCII)
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"3": "000000", "11": "000001", "37": "612345000001", "41": "TERM0001",
		"42": "MERCHANT0000001", "43": "ACME STORE             SPRINGFIELD   US"}
	for _, c := range []struct {
		field, value string
		want         error // nil: accepted
	}{
		{"", "", nil},
		{"37", "A1b2C3d4E5f6", nil},
		{"37", "3447617390 1", ErrNotAlnum},
		{"37", "3447617390=1", ErrNotAlnum},
		{"41", "12345678", nil},
		{"41", "010010=2", ErrCardData},
		{"41", "TERM\x12001", ErrControlChar},
		{"42", "812101123456789", nil}, // digits, Luhn fails
		{"42", "400000000000006", nil}, // a numeric merchant ID that passes Luhn: masked when stored, not refused
		{"42", "11111111=251210", ErrCardData},
		{"42", "=25121011234567", ErrCardData},
		{"42", "MERCH\x7f00000001", ErrControlChar},
		{"43", "ACME 4761739001010010 SPRINGFIELD US", ErrCardData},
		{"43", "ACME STORE TEL 0123456789 SPRINGFIELD", nil},
	} {
		if c.field == "42" && c.value == "400000000000006" && !pan.Valid(c.value) {
			t.Fatal("the numeric merchant ID case must pass Luhn")
		}
		fields := map[string]string{}
		for k, v := range base {
			fields[k] = v
		}
		if c.field != "" {
			fields[c.field] = c.value
		}
		msg, err := d.Encode(Message{MTI: "0200", Fields: fields})
		if err != nil {
			t.Fatalf("%s=%q: %v", c.field, c.value, err)
		}
		var v View
		if err := d.Decode(&v, msg); err != nil {
			t.Fatalf("%s=%q: %v", c.field, c.value, err)
		}
		err = v.CheckClearText()
		var fe *FieldError
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s=%q: refused: %v", c.field, c.value, err)
		case c.want != nil && (!errors.Is(err, c.want) || !errors.As(err, &fe) || fe.Field != atoi(c.field)):
			t.Errorf("%s=%q: got %v, want %v on field %s", c.field, c.value, err, c.want, c.field)
		}
		if n := testing.AllocsPerRun(100, func() { _ = v.CheckClearText() }); n != 0 && c.want == nil {
			t.Errorf("%s=%q: %.0f allocations", c.field, c.value, n)
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// What people see of a clear-text field that holds card data (decode,
// send, Describe) has its digits masked; other text shows as it is.
func TestMaskFieldHidesCardDataInClearText(t *testing.T) {
	for _, c := range []struct {
		id         int
		text, want string
	}{
		{FieldTerminal, "010010=2", "******=*"},
		{FieldMerchant, "ACME 4761739001010010", "ACME ****************"},
		{FieldMerchant, "MERCHANT0000001", "MERCHANT0000001"},
		{FieldAcceptorName, "ACME STORE TEL 0123456789", "ACME STORE TEL 0123456789"},
	} {
		if got := MaskField(c.id, c.text); got != c.want {
			t.Errorf("MaskField(%d, %q) = %q, want %q", c.id, c.text, got, c.want)
		}
	}
}

func BenchmarkCheckClearText(b *testing.B) {
	d, _ := Lookup(ISO87ASCII)
	msg, err := d.Encode(Message{MTI: "0200", Fields: map[string]string{"3": "000000", "11": "000001",
		"37": "612345000001", "41": "TERM0001", "42": "MERCHANT0000001", "43": "ACME STORE             SPRINGFIELD   US"}})
	if err != nil {
		b.Fatal(err)
	}
	var v View
	if err := d.Decode(&v, msg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if v.CheckClearText() != nil {
			b.Fatal("refused")
		}
	}
}
