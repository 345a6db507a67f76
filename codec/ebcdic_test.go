package codec

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"
)

// ebcdicFields is an 0200 for the EBCDIC host spec: text in moov's EBCDIC
// table and in code page 1047 (fields 37, 43 and 48), whose '[' and '^'
// differ between the two, EBCDIC length prefixes, a binary field (55) with
// an EBCDIC prefix.
var ebcdicFields = map[string]string{
	"2":  "4761739001010010",
	"3":  "000000",
	"4":  "000000012500",
	"7":  "1121204501",
	"11": "000102",
	"12": "204501",
	"13": "1121",
	"22": "051",
	"32": "123456",
	"35": "4761739001010010=28121010000012300000",
	"37": "632520000102",
	"41": "TERM0001",
	"42": "MERCHANT0000001",
	"43": "IBM [HOST] ^ STORE           ARMONK   US",
	"48": "[1047] a~b{c}d|e!f^g",
	"49": "840",
	"52": "0123456789ABCDEF",
	"55": "9F2608C2C12B098F3DA6E3",
	"62": "[moov] a~b{c}d|e!f^g",
}

func ebcdicDialect(t testing.TB) *Dialect {
	t.Helper()
	d, err := LoadJSON("testdata/specs/ebcdic-host.json")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEBCDICDialectMatchesMoov(t *testing.T) {
	d := ebcdicDialect(t)
	if d.Field(37).Charset() != "EBCDIC1047" || d.Field(41).Charset() != "EBCDIC" || d.Field(55).Prefix != PrefixEBCDIC {
		t.Fatalf("compiled: 37 %q, 41 %q, 55 prefix %d", d.Field(37).Charset(), d.Field(41).Charset(), d.Field(55).Prefix)
	}
	packed := moovPack(t, d, "0200", ebcdicFields)
	// the MTI is EBCDIC digits: F0 F2 F0 F0; the PAN's prefix is F1 F6
	if !bytes.HasPrefix(packed, []byte{0xF0, 0xF2, 0xF0, 0xF0}) || !bytes.Contains(packed, []byte{0xF1, 0xF6, 0xF4, 0xF7, 0xF6, 0xF1}) {
		t.Fatalf("moov packed % X", packed)
	}
	// '[' is 4A in moov's table and AD in code page 1047
	if !bytes.Contains(packed, []byte{0x4A, 0x94, 0x96, 0x96, 0xA5}) || !bytes.Contains(packed, []byte{0xAD, 0xF1, 0xF0, 0xF4, 0xF7}) {
		t.Fatalf("code pages not told apart: % X", packed)
	}

	var v View
	if err := d.Decode(&v, packed); err != nil {
		t.Fatalf("decode moov's frame: %v", err)
	}
	got := v.ToMessage(false)
	if got.MTI != "0200" || !reflect.DeepEqual(got.Fields, ebcdicFields) {
		t.Fatalf("decoded %v\nwant %v", got, ebcdicFields)
	}
	if a, ok := v.Amount(); !ok || a != 12500 {
		t.Fatalf("amount %d %v", a, ok)
	}
	if s, ok := v.STAN(); !ok || s != 102 {
		t.Fatalf("stan %d %v", s, ok)
	}
	if p := v.PAN(nil); string(p) != "4761739001010010" {
		t.Fatalf("pan %q", p)
	}

	enc, err := d.Encode(Message{MTI: "0200", Fields: ebcdicFields})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, packed) {
		t.Fatalf("encode:\n got % X\nwant % X", enc, packed)
	}

	// a reply built field by field (padding, numbers) is what moov reads
	var b Builder
	b.Begin(d, nil, v.MTI().Response(), nil)
	b.Copy(&v, 11)
	b.String(38, "A1")
	b.String(39, "00")
	b.String(41, "T1")
	reply, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	m := iso8583.NewMessage(d.Spec)
	if err := m.Unpack(reply); err != nil {
		t.Fatalf("moov unpack of our reply: %v", err)
	}
	for id, want := range map[int]string{0: "0210", 11: "102", 38: "A1", 39: "00", 41: "T1"} {
		s, err := m.GetString(id)
		if err != nil || s != want {
			t.Errorf("moov field %d = %q (%v), want %q", id, s, err, want)
		}
	}
	// and our view reads it back, padding included
	if err := d.Decode(&v, reply); err != nil {
		t.Fatal(err)
	}
	if s := string(v.AppendText(nil, 41)); s != "T1      " {
		t.Fatalf("41 = %q", s)
	}
}

func TestEBCDICRefusals(t *testing.T) {
	d := ebcdicDialect(t)
	good := moovPack(t, d, "0800", map[string]string{"7": "1121204501", "11": "000001", "70": "301"})
	at := bytes.Index(good, []byte{0xF3, 0xF0, 0xF1}) // field 70
	if at < 0 {
		t.Fatalf("% X", good)
	}
	stanAt := at - 6
	for _, c := range []struct {
		name  string
		off   int
		b     byte
		field int
		want  error
	}{
		{"ASCII digit in the MTI", 0, '0', 0, ErrBadMTI},
		{"a letter in a numeric", stanAt, 0xC1, 11, ErrNotNumeric}, // EBCDIC 'A'
		{"an ASCII digit in a numeric", stanAt, '1', 11, ErrNotNumeric},
	} {
		msg := append([]byte(nil), good...)
		msg[c.off] = c.b
		var v View
		err := d.Decode(&v, msg)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// text that is not 7-bit in the code page (moov's EBCDIC 04 is 9C)
	msg := moovPack(t, d, "0200", map[string]string{"3": "000000", "11": "000001", "41": "TERM0001", "2": "4761739001010010"})
	at = bytes.Index(msg, []byte{0xE3, 0xC5, 0xD9, 0xD4}) // "TERM"
	msg[at] = 0x04
	var v View
	if err := d.Decode(&v, msg); !errors.Is(err, ErrNotASCII) {
		t.Fatalf("non-7-bit EBCDIC text: %v", err)
	}
	// the builder refuses what it could not carry
	var b Builder
	b.Begin(d, nil, MTI{'0', '8', '1', '0'}, nil)
	b.String(11, "12345A")
	if _, err := b.Finish(); !errors.Is(err, ErrNotNumeric) {
		t.Fatalf("builder: %v", err)
	}
	b.Begin(d, nil, MTI{'0', '8', '1', '0'}, nil)
	b.String(41, "T\xc3\xa9")
	if _, err := b.Finish(); !errors.Is(err, ErrNotASCII) {
		t.Fatalf("builder, 8-bit text: %v", err)
	}
}

// Every byte of both code pages: the view reads it as moov does, or refuses
// it as text; and the builder writes back the same byte.
func TestEBCDICTablesAgreeWithMoov(t *testing.T) {
	for _, tab := range []*ebcdicTable{ebcdicMoov, ebcdic1047} {
		accepted := 0
		for b := 0; b < 256; b++ {
			if tab.kind[b]&ebcText == 0 {
				continue
			}
			accepted++
			c := tab.toASCII[b]
			if tab.fromASC[c] != byte(b) {
				t.Errorf("%s %02X -> %q -> %02X", tab.name, b, c, tab.fromASC[c])
			}
		}
		if accepted != 128 {
			t.Errorf("%s: %d bytes read as 7-bit text, want 128", tab.name, accepted)
		}
	}
	// moov's own decoders, byte by byte, on a field of each code page
	d := ebcdicDialect(t)
	for _, id := range []int{62, 48} {
		tab := d.Field(id).ebcdic
		for b := 0; b < 256; b++ {
			if tab.kind[b]&ebcText == 0 {
				continue
			}
			out, _, err := d.Spec.Fields[id].Spec().Enc.Decode([]byte{byte(b)}, 1)
			if err != nil || len(out) != 1 || out[0] != tab.toASCII[b] {
				t.Errorf("field %d byte %02X: moov %q %v, codec %q", id, b, out, err, tab.toASCII[b])
			}
		}
	}
}

func TestEBCDICDecodeAllocatesNothing(t *testing.T) {
	d := ebcdicDialect(t)
	msg := moovPack(t, d, "0200", ebcdicFields)
	var v View
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(200, func() {
		if err := d.Decode(&v, msg); err != nil {
			t.Fatal(err)
		}
		buf = v.AppendText(buf[:0], 43)
		buf = v.AppendText(buf, 48)
		buf = v.PAN(buf)
		if _, ok := v.Amount(); !ok {
			t.Fatal("amount")
		}
		if _, err := v.EMV(buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per decode", allocs)
	}
}

// ICC data carried as hex text in EBCDIC: EMV decodes the text, not the wire.
func TestEBCDICHexTextEMV(t *testing.T) {
	spec := &iso8583.MessageSpec{Fields: map[int]field.Field{
		0:  field.NewString(&field.Spec{Length: 4, Enc: encoding.EBCDIC1047, Pref: prefix.EBCDIC1047.Fixed}),
		1:  field.NewBitmap(&field.Spec{Length: 8, Enc: encoding.Binary, Pref: prefix.Binary.Fixed}),
		55: field.NewString(&field.Spec{Length: 999, Enc: encoding.EBCDIC1047, Pref: prefix.EBCDIC1047.LLL}),
	}}
	d, err := Compile("ebcdic-emv", "", spec, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := moovPack(t, d, "0100", map[string]string{"55": "9F2608C2C12B098F3DA6E3"})
	var v View
	if err := d.Decode(&v, msg); err != nil {
		t.Fatal(err)
	}
	raw, err := v.EMV(nil)
	if err != nil || !bytes.Equal(raw, []byte{0x9F, 0x26, 0x08, 0xC2, 0xC1, 0x2B, 0x09, 0x8F, 0x3D, 0xA6, 0xE3}) {
		t.Fatalf("EMV % X %v", raw, err)
	}
}
