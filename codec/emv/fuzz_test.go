package emv

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// FuzzTLV feeds arbitrary bytes to Parse, which must never panic and,
// when it accepts them, must give back objects that rebuild the input byte
// for byte (a strict parser has exactly one encoding per value). Then it
// builds a field from the fuzz input, split into tagged values, and
// checks parse(build(x)) returns every value.
func FuzzTLV(f *testing.F) {
	seed, _ := hex.DecodeString(field55V101)
	f.Add(seed)
	f.Add([]byte{0x9F, 0x26, 0x81, 0x08})
	f.Add([]byte{0x9F, 0x10, 0x81, 0x01, 0x06}) // overlong length: refused
	f.Add([]byte{0x71, 0x03, 0x86, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		var c ICC
		if err := c.Parse(in); err == nil {
			if got := rebuild(t, &c, -1); !bytes.Equal(got, in) {
				t.Fatalf("accepted %X but rebuilds %X", in, got)
			}
		}
		// build: each chunk of the input becomes the value of a distinct
		// proprietary primitive tag DF01, DF02, ... (no length checks apply)
		var built []byte
		var values [][]byte
		for i := 0; len(in) > 0 && i < ObjectsMax; i++ {
			n := min(int(in[0]), len(in)-1)
			v := in[1 : 1+n]
			in = in[1+n:]
			var err error
			if built, err = AppendTLV(built, Tag(0xDF01+i), v); err != nil {
				t.Fatal(err)
			}
			values = append(values, v)
		}
		if len(built) > DataBytesMax {
			return
		}
		if err := c.Parse(built); err != nil {
			t.Fatalf("parse(build) of %X: %v", built, err)
		}
		for i, v := range values {
			got, ok := c.Get(Tag(0xDF01 + i))
			if !ok || !bytes.Equal(got, v) {
				t.Fatalf("DF%02X = %X %v, want %X", i+1, got, ok, v)
			}
		}
	})
}

// rebuild encodes the children of parent again with AppendTLV.
func rebuild(t *testing.T, c *ICC, parent int) []byte {
	var out []byte
	for i := 0; i < c.Len(); i++ {
		tag, v, p := c.Object(i)
		if p != parent {
			continue
		}
		if tag.Constructed() {
			v = rebuild(t, c, i)
		}
		var err error
		if out, err = AppendTLV(out, tag, v); err != nil {
			t.Fatalf("rebuild %s: %v", tag, err)
		}
	}
	return out
}
