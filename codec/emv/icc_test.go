package emv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// field55V101 is the ICC data of EMV_VECTORS.md §1.3 V10-1 (pyemv
// test_cvn_hsm.py::test_visa_cvn10) as a terminal packs it, with a
// template 71 holding an issuer script command to exercise nesting.
const field55V101 = "9F2608" + "29CCA15AE665FA2E" + "9F270180" + "9F100706010A03A06010" +
	"9F37" + "0452BF4585" + "9F3602001C" + "950580000480009A031911059C0101" +
	"9F0206000000004000" + "9F0306000000000000" + "5F2A020124" + "9F1A020124" +
	"82021800" + "5F340100" + "9F3303E0F8C8" + "9F3403420300" + "9F350122" +
	"710A" + "8608" + "8424000003AABBCC"

func TestParseField55(t *testing.T) {
	b := unhex(t, field55V101)
	var c ICC
	if err := c.Parse(b); err != nil {
		t.Fatal(err)
	}
	want := map[Tag]string{
		TagARQC: "29CCA15AE665FA2E", TagCID: "80", TagIAD: "06010A03A06010", TagUnpredictable: "52BF4585",
		TagATC: "001C", TagTVR: "8000048000", TagTxnDate: "191105", TagTxnType: "01",
		TagAmount: "000000004000", TagAmountOther: "000000000000", TagCurrency: "0124",
		TagTermCountry: "0124", TagAIP: "1800", TagPANSequence: "00", TagTermCaps: "E0F8C8",
		TagCVMResults: "420300", TagTermType: "22", TagIssuerScript1: "86088424000003AABBCC",
	}
	for tag, w := range want {
		v, ok := c.Get(tag)
		if !ok || hex.EncodeToString(v) != hex.EncodeToString(unhex(t, w)) {
			t.Errorf("%s = %X %v, want %s", tag, v, ok, w)
		}
	}
	if _, ok := c.Get(TagIssuerScriptCmd); ok {
		t.Error("86 inside 71 is not a top-level object")
	}
	if c.Len() != len(want)+1 {
		t.Errorf("Len %d, want %d", c.Len(), len(want)+1)
	}
	tag, v, parent := c.Object(c.Len() - 1)
	if tag != TagIssuerScriptCmd || parent != c.Len()-2 || !bytes.Equal(v, unhex(t, "8424000003AABBCC")) {
		t.Errorf("last object %s %X parent %d", tag, v, parent)
	}
}

func TestNeed(t *testing.T) {
	var c ICC
	b := unhex(t, "9F3602001C")
	if err := c.Parse(b); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Need(TagATC); err != nil || len(v) != 2 {
		t.Errorf("Need(9F36) = %X %v", v, err)
	}
	_, err := c.Need(TagARQC)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrMissing) || e.Tag != TagARQC || err.Error() != "emv: tag 9F26 at byte 5: data object missing" {
		t.Errorf("Need(9F26) = %v", err)
	}
}

func TestParseRefuses(t *testing.T) {
	long := "9F10" + "81" + "20" + hex.EncodeToString(make([]byte, 32)) // 81 20: not minimal
	tests := []struct {
		name, in string
		err      error
		off      int
		tag      Tag
	}{
		{"empty tag byte 00", "00", ErrTag, 0, 0},
		{"padding FF", "9F360200FFFF", ErrTag, 5, 0},
		{"tag cut", "9F", ErrTruncated, 0, 0},
		{"tag of 4 bytes", "9F818101" + "00", ErrTag, 0, 0},
		{"tag continuation 80", "9F800100", ErrTag, 0, 0},
		{"no length", "9F26", ErrTruncated, 0, 0x9F26},
		{"value past end", "9F260829CCA15AE665FA", ErrTruncated, 0, 0x9F26},
		{"length 81 cut", "9F2681", ErrTruncated, 0, 0x9F26},
		{"overlong 81 08", "9F26810829CCA15AE665FA2E", ErrLength, 0, 0x9F26},
		{"overlong 82 0008", "9F2682000829CCA15AE665FA2E", ErrLength, 0, 0x9F26},
		{"overlong 81 20 for 9F10", long, ErrLength, 0, 0x9F10},
		{"indefinite 80", "9F2680", ErrLength, 0, 0x9F26},
		{"3-byte length 83", "9F2683000008", ErrLength, 0, 0x9F26},
		{"duplicate 9F36", "9F3602001C9F3602001D", ErrDuplicate, 5, 0x9F36},
		{"9F26 of 7 bytes", "9F260729CCA15AE665FA", ErrValueLength, 0, 0x9F26},
		{"9F36 of 3 bytes", "9F3603001C00", ErrValueLength, 0, 0x9F36},
		{"9F10 empty", "9F1000", ErrValueLength, 0, 0x9F10},
		{"template content past its end", "71038608AA", ErrTruncated, 2, 0x86},
		{"duplicate inside template", "710486008600", ErrDuplicate, 4, 0x86},
		{"nested too deep", "7108" + "7106" + "7104" + "7102" + "7100", ErrTooDeep, 6, 0x71},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c ICC
			err := c.Parse(unhex(t, tc.in))
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, tc.err) {
				t.Fatalf("Parse(%s) = %v, want %v", tc.in, err, tc.err)
			}
			if e.Offset != tc.off || e.Tag != tc.tag {
				t.Errorf("error at %d tag %s, want %d %s (%v)", e.Offset, e.Tag, tc.off, tc.tag, err)
			}
			if c.Len() != 0 {
				t.Errorf("a refused parse left %d objects", c.Len())
			}
		})
	}
}

func TestParseBounds(t *testing.T) {
	var c ICC
	if err := c.Parse(make([]byte, DataBytesMax+1)); !errors.Is(err, ErrTooLong) {
		t.Errorf("%d bytes: %v", DataBytesMax+1, err)
	}
	// ObjectsMax distinct proprietary tags DF01..DF40 are fine; one more is not
	var b []byte
	for i := 1; i <= ObjectsMax+1; i++ {
		b, _ = AppendTLV(b, Tag(0xDF00|i), nil)
	}
	if err := c.Parse(b[:len(b)-3]); err != nil {
		t.Errorf("%d objects: %v", ObjectsMax, err)
	}
	if err := c.Parse(b); !errors.Is(err, ErrTooMany) {
		t.Errorf("%d objects: %v", ObjectsMax+1, err)
	}
	// a long value with the long-form lengths
	for _, n := range []int{0x7F, 0x80, 0xFF, 0x100, 0x3D0} {
		b, err := AppendTLV(nil, 0xDF01, make([]byte, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Parse(b); err != nil {
			t.Errorf("value of %d bytes: %v", n, err)
		}
		if v, _ := c.Get(0xDF01); len(v) != n {
			t.Errorf("value of %d bytes read as %d", n, len(v))
		}
	}
}

func TestAppendTLV(t *testing.T) {
	tests := []struct {
		tag  Tag
		n    int
		want string // header
	}{
		{0x91, 10, "910A"}, {0x9F26, 8, "9F2608"}, {0x9F26, 0x80, "9F268180"},
		{0xDF8101, 0xFF, "DF810181FF"}, {0x71, 0x100, "71820100"}, {0x5F2A, 0, "5F2A00"},
	}
	for _, tc := range tests {
		got, err := AppendTLV([]byte{0xAA}, tc.tag, make([]byte, tc.n))
		if err != nil || hex.EncodeToString(got[1:len(got)-tc.n]) != hex.EncodeToString(unhex(t, tc.want)) || got[0] != 0xAA {
			t.Errorf("AppendTLV(%s, %d bytes) = %X %v, want header %s", tc.tag, tc.n, got, err, tc.want)
		}
	}
	for _, bad := range []Tag{0, 0x1F, 0x9F, 0x9F80, 0x9F8000, 0xDF818101, 0x9F81} {
		if _, err := AppendTLV(nil, bad, nil); !errors.Is(err, ErrTag) {
			t.Errorf("tag %X: %v, want ErrTag", uint32(bad), err)
		}
	}
	if _, err := AppendTLV(nil, 0x9F10, make([]byte, 0x10000)); !errors.Is(err, ErrTooLong) {
		t.Errorf("64 KiB value: %v", err)
	}
}

func TestTagString(t *testing.T) {
	for tag, want := range map[Tag]string{0x9F26: "9F26", 0x95: "95", 0x5F2A: "5F2A", 0xDF8101: "DF8101", 0x0A: "0A"} {
		if got := tag.String(); got != want {
			t.Errorf("%d: %q, want %q", uint32(tag), got, want)
		}
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	b := unhex(t, field55V101)
	var c ICC
	allocs := testing.AllocsPerRun(100, func() {
		if err := c.Parse(b); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Get(TagARQC); !ok {
			t.Fatal("no ARQC")
		}
	})
	if allocs != 0 {
		t.Errorf("Parse allocates %.1f times", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	data := unhex(b, field55V101)
	var c ICC
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
