package codec

import (
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

func readHexFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The 0200 published in moov-io/iso8583 issue 327: track 2 of 37 digits
// padded with F, as VisaNet and many terminals send it.
func TestPublishedFPadded0200Decodes(t *testing.T) {
	d := mustDialect(t, ISO87Binary)
	msg := readHexFile(t, "testdata/realworld/moov-iso8583-issue327-0200.hex")
	var v View
	if err := d.Decode(&v, msg); err != nil {
		t.Fatalf("decode: %s", DescribeError(d, err))
	}
	want := map[int]string{3: "000000", 4: "000000001500", 11: "107989", 22: "071", 24: "021", 25: "00",
		35: "5111111211111111=11110000000000000000", 41: "TEST0001"}
	for id := 2; id <= MaxField; id++ {
		if got := string(v.AppendText(nil, id)); got != want[id] {
			t.Errorf("field %d = %q, want %q", id, got, want[id])
		}
	}
	if err := v.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	// Echoed, the track reads back with the builder's pad: 0 by default, F
	// when the link pads with F.
	for _, pad := range []PadNibble{PadZero, PadF} {
		var b Builder
		b.SetBCDPad(pad)
		b.Begin(d, nil, v.MTI().Response(), nil)
		b.Copy(&v, 35)
		out, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		if last := out[len(out)-1]; last&0x0F != byte(pad) {
			t.Fatalf("pad %X: track 2 ends in %02X", pad, last)
		}
	}
}

// Every odd-length BCD value accepts an F pad nibble on decode and reads
// back as the same text; anything else in the pad nibble is still refused.
func TestBCDPadNibbleDecode(t *testing.T) {
	cases := []struct {
		dialect string
		id      int
		wire    string                   // the field's bytes with its pad nibble as 0
		pad     func(b []byte, pad byte) // sets the pad nibble
		text    string
	}{
		// LL numeric, left-aligned: a trailing pad
		{ISO87Binary, 2, "1947617390010100100100", func(b []byte, p byte) { b[len(b)-1] = b[len(b)-1]&0xF0 | p }, "4761739001010010010"},
		// LL track, left-aligned: a trailing pad
		{ISO87Binary, 35, "0947617390D0", func(b []byte, p byte) { b[len(b)-1] = b[len(b)-1]&0xF0 | p }, "47617390="},
		// fixed n3, right-aligned: a leading pad
		{ISO87Binary, 22, "0051", func(b []byte, p byte) { b[0] = b[0]&0x0F | p<<4 }, "051"},
		// cup-pos fixed n3 left-aligned: a trailing pad
		{CUPPOS, 22, "0510", func(b []byte, p byte) { b[len(b)-1] = b[len(b)-1]&0xF0 | p }, "051"},
	}
	for _, c := range cases {
		d := mustDialect(t, c.dialect)
		for _, p := range []byte{0x0, 0xF, 0x1, 0xA} {
			field, _ := hex.DecodeString(c.wire)
			c.pad(field[d.Field(c.id).pbytes:], p)
			msg := oneFieldMessage(t, d, c.id, field)
			var v View
			err := d.Decode(&v, msg)
			if p == 0 || p == 0xF {
				if err != nil {
					t.Fatalf("%s field %d pad %X: %v", c.dialect, c.id, p, err)
				}
				if got := string(v.AppendText(nil, c.id)); got != c.text {
					t.Fatalf("%s field %d pad %X: %q, want %q", c.dialect, c.id, p, got, c.text)
				}
				continue
			}
			if !errors.Is(err, ErrBadPadding) {
				t.Fatalf("%s field %d pad %X: %v, want ErrBadPadding", c.dialect, c.id, p, err)
			}
		}
	}
}

// oneFieldMessage is an 0200 of dialect d carrying only field id (its wire
// bytes, prefix included).
func oneFieldMessage(t *testing.T, d *Dialect, id int, field []byte) []byte {
	t.Helper()
	var b Builder
	b.Begin(d, nil, MTI{'0', '2', '0', '0'}, nil)
	b.insertField(id, field)
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// insertField appends raw wire bytes as field id (tests only).
func (b *Builder) insertField(id int, wire []byte) {
	if b.next(id) != nil {
		b.buf = append(b.buf, wire...)
	}
}

// The builder writes the pad nibble of odd-length variable BCD values (and
// track data) with the link's pad, and keeps 0 in fixed fields (ISO 8583:
// fixed numerics are right-justified with leading zeros), whether the
// value comes as text or is copied from a request padded otherwise.
func TestBuilderBCDPad(t *testing.T) {
	d := mustDialect(t, ISO87Binary)
	cup := mustDialect(t, CUPPOS)
	type fld struct {
		d    *Dialect
		id   int
		text string
		zero string // wire with pad 0
		f    string // wire with pad F
	}
	for _, c := range []fld{
		{d, 2, "4761739001010010010", "1947617390010100100100", "194761739001010010010F"},
		{d, 35, "47617390=", "0947617390D0", "0947617390DF"},
		{d, 32, "12345", "05123450", "0512345F"},
		{d, 22, "051", "0051", "0051"},
		{cup, 22, "051", "0510", "0510"},
		{cup, 60, "22000001003", "0011220000010030", "001122000001003F"},
	} {
		for _, pad := range []PadNibble{PadZero, PadF} {
			want := c.zero
			if pad == PadF {
				want = c.f
			}
			var b Builder
			b.SetBCDPad(pad)
			b.Begin(c.d, nil, MTI{'0', '2', '1', '0'}, nil)
			b.String(c.id, c.text)
			out, err := b.Finish()
			if err != nil {
				t.Fatalf("%s %d: %v", c.d.Name, c.id, err)
			}
			got := strings.ToUpper(hex.EncodeToString(out[c.d.HeaderLen+2+8:]))
			if got != want {
				t.Fatalf("%s field %d pad %X: %s, want %s", c.d.Name, c.id, pad, got, want)
			}
			// Copied from a request padded the other way, it is re-padded.
			other := PadF
			if pad == PadF {
				other = PadZero
			}
			var rb Builder
			rb.SetBCDPad(other)
			rb.Begin(c.d, nil, MTI{'0', '2', '0', '0'}, nil)
			rb.String(c.id, c.text)
			req, _ := rb.Finish()
			var v View
			if err := c.d.Decode(&v, req); err != nil {
				t.Fatal(err)
			}
			b.SetBCDPad(pad)
			b.Begin(c.d, nil, MTI{'0', '2', '1', '0'}, nil)
			b.Copy(&v, c.id)
			out, _ = b.Finish()
			if got := strings.ToUpper(hex.EncodeToString(out[c.d.HeaderLen+2+8:])); got != want {
				t.Fatalf("%s field %d copied with pad %X: %s, want %s", c.d.Name, c.id, pad, got, want)
			}
		}
	}
}

func TestParsePadNibble(t *testing.T) {
	for s, want := range map[string]PadNibble{"0": PadZero, "F": PadF, "f": PadF} {
		if p, ok := ParsePadNibble(s); !ok || p != want {
			t.Fatalf("%q: %X %v", s, p, ok)
		}
	}
	for _, s := range []string{"", "1", "FF", "00", "x"} {
		if _, ok := ParsePadNibble(s); ok {
			t.Fatalf("%q accepted", s)
		}
	}
}
