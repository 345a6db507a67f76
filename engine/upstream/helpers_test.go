package upstream

import (
	"testing"

	"github.com/cardswitch/cardswitch/codec"
)

// field is one field of a test message, in its text form.
type field struct {
	id  int
	val string
}

// build makes a message of dialect d (header zeros) and decodes it.
func build(t testing.TB, d *codec.Dialect, mti string, fields ...field) *codec.View {
	t.Helper()
	m, ok := codec.ParseMTI(mti)
	if !ok {
		t.Fatalf("bad MTI %q", mti)
	}
	var b codec.Builder
	b.Begin(d, nil, m, nil)
	for _, f := range fields {
		if c := d.Field(f.id).Class; c == codec.ClassB {
			b.Binary(f.id, []byte(f.val))
		} else {
			b.Text(f.id, []byte(f.val))
		}
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatalf("build %s: %v", mti, err)
	}
	var v codec.View
	if err := d.Decode(&v, msg); err != nil {
		t.Fatalf("decode %s: %v", mti, err)
	}
	return &v
}

func dialect(t testing.TB, name string) *codec.Dialect {
	t.Helper()
	d, err := codec.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func keyOf(t testing.TB, ks KeySpec, v *codec.View) Key {
	t.Helper()
	var k Key
	if err := ks.Extract(v, &k); err != nil {
		t.Fatalf("extract: %v", err)
	}
	return k
}
