package codec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"
)

// writeSpec writes a moov JSON spec with an MTI, a bitmap and the given
// fields (JSON objects by field number) and returns its path.
func writeSpec(t *testing.T, fields map[string]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"name":"test","fields":{` +
		`"0":{"type":"String","length":4,"enc":"ASCII","prefix":"ASCII.Fixed"},` +
		`"1":{"type":"Bitmap","length":8,"enc":"HexToASCII","prefix":"Hex.Fixed"}`)
	for id, f := range fields {
		b.WriteString(`,"` + id + `":` + f)
	}
	b.WriteString(`}}`)
	path := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Errors about a spec name encodings and types as moov's JSON spec does,
// with the field, never by Go type (*encoding.asciiToHexEncoder).
func TestSpecErrorsNameEncodingsAsTheJSONDoes(t *testing.T) {
	for _, c := range []struct {
		field, want string
	}{
		{`{"type":"String","length":5,"enc":"ASCIIToHex","prefix":"ASCII.Fixed"}`, "field 5: encoding ASCIIToHex is not supported"},
		{`{"type":"String","length":5,"enc":"BerTLVTag","prefix":"ASCII.Fixed"}`, "field 5: encoding BerTLVTag is not supported"},
		{`{"type":"Track1","length":76,"enc":"ASCII","prefix":"ASCII.LL"}`, "field 5: type Track1 is not supported"},
	} {
		_, err := LoadJSON(writeSpec(t, map[string]string{"5": c.field}))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.field, err, c.want)
			continue
		}
		for _, leak := range []string{"*", "encoding.", "Encoder", "field.", "ebcdic"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%q leaks a Go name (%q)", err, leak)
			}
		}
	}
	// an MTI in an encoding the codec does not read names it too
	spec := &iso8583.MessageSpec{Fields: map[int]field.Field{
		0: field.NewString(&field.Spec{Length: 4, Enc: encoding.ASCIIHexToBytes, Pref: prefix.ASCII.Fixed}),
		1: field.NewBitmap(&field.Spec{Length: 8, Enc: encoding.Binary, Pref: prefix.Binary.Fixed}),
	}}
	_, err := Compile("x", "", spec, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "MTI") || !strings.Contains(err.Error(), "ASCIIToHex") || strings.Contains(err.Error(), "*") {
		t.Errorf("MTI: %v", err)
	}
}

// moov's ImportJSON panics on a Composite with neither bitmap nor tag; the
// codec answers with an error naming the file.
func TestLoadJSONDoesNotPanic(t *testing.T) {
	path := writeSpec(t, map[string]string{"48": `{"type":"Composite","length":999,"prefix":"ASCII.LLL","subfields":{"1":{"type":"String","length":2,"enc":"ASCII","prefix":"ASCII.Fixed"}}}`})
	_, err := LoadJSON(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "Composite") {
		t.Fatalf("%v", err)
	}
}
