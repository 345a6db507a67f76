package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// emvTLV is an ICC data element as a terminal packs it: 9F26 (ARQC, 8
// bytes) and 9F27 (1 byte).
var emvTLV = []byte{0x9F, 0x26, 0x08, 0xC2, 0xC1, 0x2B, 0x09, 0x8F, 0x3D, 0xA6, 0xE3, 0x9F, 0x27, 0x01, 0x80}

// asciiWith55 is an iso87ascii 0200 whose field 55 carries wire bytes w
// (LLL counting them), as jPOS's ISO87APackager packs raw bytes.
func asciiWith55(t *testing.T, w []byte) []byte {
	t.Helper()
	d := mustDialect(t, ISO87ASCII)
	var b Builder
	b.Begin(d, nil, MTI{'0', '2', '0', '0'}, nil)
	b.String(3, "000000")
	b.String(11, "000001")
	b.String(41, "TERM0001")
	b.insertField(55, append([]byte(fmt.Sprintf("%03d", len(w))), w...))
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Raw bytes in field 55 of an ASCII dialect are accepted, shown as hex in
// the text forms, and read by EMV as the bytes they are; hex text reads
// as the bytes it spells, as before.
func TestRawICCDataInASCIIDialect(t *testing.T) {
	d := mustDialect(t, ISO87ASCII)
	hexText := "9F2608C2C12B098F3DA6E39F270180"
	for _, wire := range [][]byte{emvTLV, []byte(hexText), []byte(strings.ToLower(hexText))} {
		msg := asciiWith55(t, wire)
		var v View
		if err := d.Decode(&v, msg); err != nil {
			t.Fatalf("%q: %s", wire, DescribeError(d, err))
		}
		if got := string(v.AppendText(nil, 55)); got != hexText {
			t.Fatalf("%q: text %q", wire, got)
		}
		js, _ := json.Marshal(v.ToMessage(false))
		if !strings.Contains(string(js), `"55":"`+hexText+`"`) {
			t.Fatalf("%q: JSON %s", wire, js)
		}
		var desc bytes.Buffer
		if err := Describe(&desc, &v, false); err != nil || !strings.Contains(desc.String(), hexText) {
			t.Fatalf("%q: describe %v\n%s", wire, err, desc.String())
		}
		desc.Reset()
		if err := Describe(&desc, &v, true); err != nil || strings.Contains(strings.ToUpper(desc.String()), hexText) {
			t.Fatalf("%q: masked describe shows ICC data:\n%s", wire, desc.String())
		}
		emv, err := v.EMV(nil)
		if err != nil || !bytes.Equal(emv, emvTLV) {
			t.Fatalf("%q: EMV %X %v", wire, emv, err)
		}
		if tag, val, _, err := NextTLV(emv); err != nil || tag != 0x9F26 || len(val) != 8 {
			t.Fatalf("%q: first TLV %X %X %v", wire, tag, val, err)
		}
		// The text form encodes as hex text, which reads back the same.
		enc, err := d.Encode(v.ToMessage(false))
		if err != nil {
			t.Fatal(err)
		}
		if want := asciiWith55(t, []byte(hexText)); !bytes.Equal(enc, want) {
			t.Fatalf("%q: encoded\n %q\nwant %q", wire, enc, want)
		}
		// Into a binary dialect, the bytes are copied as bytes.
		var b Builder
		bin := mustDialect(t, ISO87Binary)
		b.Begin(bin, nil, v.MTI(), nil)
		b.Copy(&v, 55)
		out, err := b.Finish()
		if err != nil || !bytes.HasSuffix(out, append([]byte{0x00, 0x15}, emvTLV...)) {
			t.Fatalf("%q: copied to iso87binary: %X %v", wire, out, err)
		}
	}
}

// The builder writes ansb bytes as hex text while that fits the field, raw
// beyond; raw bytes that would read as hex text and do not fit as hex are
// refused.
func TestBuilderANSB(t *testing.T) {
	d := mustDialect(t, ISO87ASCII)
	build := func(raw []byte) ([]byte, error) {
		var b Builder
		b.Begin(d, nil, MTI{'0', '2', '0', '0'}, nil)
		b.Binary(55, raw)
		return b.Finish()
	}
	out, err := build(emvTLV)
	if err != nil || !bytes.HasSuffix(out, []byte("0309F2608C2C12B098F3DA6E39F270180")) {
		t.Fatalf("short: %q %v", out, err)
	}
	long := bytes.Repeat([]byte{0x9F}, 600)
	out, err = build(long)
	if err != nil || !bytes.HasSuffix(out, append([]byte("600"), long...)) {
		t.Fatalf("long: %v", err)
	}
	var v View
	if err := d.Decode(&v, out); err != nil || !bytes.Equal(v.AppendBytes(nil, 55), long) {
		t.Fatalf("long read back: %v", err)
	}
	if _, err = build(bytes.Repeat([]byte("AB"), 300)); err == nil {
		t.Fatal("600 bytes of hex-looking raw data accepted")
	}
	if _, err = build(bytes.Repeat([]byte{0x9F}, 1000)); err == nil {
		t.Fatal("1000 bytes accepted in a field of 999")
	}
}
