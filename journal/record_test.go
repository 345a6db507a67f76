package journal

import (
	"encoding/hex"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	r := testRecord(42)
	r.Seq = 9
	r.Original = "0200:000041:1121"
	r.SessionKeys = []byte("U1234567890ABCDEF1234567890ABCDEF")
	r.Destination, r.UpSTAN, r.UpRRN, r.UpCode, r.UpState = "visa-host", 999999, "6336000000AB", [2]byte{'0', '5'}, UpLateReversal
	enc := r.AppendEncoding(nil)
	if enc[0] != Version {
		t.Fatalf("version %d", enc[0])
	}
	if len(enc)+HashLen > r.sizeBound() {
		t.Fatalf("stored size %d above its bound %d", len(enc)+HashLen, r.sizeBound())
	}
	enc = append(enc, make([]byte, HashLen)...)
	var got Record
	if err := Decode(enc, &got); err != nil {
		t.Fatal(err)
	}
	r.Hash = got.Hash
	if !reflect.DeepEqual(got, *r) {
		t.Fatalf("got  %+v\nwant %+v", got, *r)
	}
	var borrowed Record
	if err := decodeBorrowed(enc, &borrowed); err != nil || !reflect.DeepEqual(borrowed, *r) {
		t.Fatalf("borrowed: %v\n%+v", err, borrowed)
	}
	for i := 0; i < len(enc); i++ { // no truncation decodes silently
		if err := Decode(enc[:i], &got); err == nil && i < len(enc)-HashLen {
			t.Fatalf("truncated at %d decoded", i)
		}
	}
}

// goldenV1 is a version 1 record as the journal stored it before version 2
// (testdata/record-v1.hex, written by the version 1 encoder).
func goldenV1(t testing.TB) []byte {
	raw, err := os.ReadFile("testdata/record-v1.hex")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeVersion1: records written before version 2 still decode, the
// fields version 2 added read as zero.
func TestDecodeVersion1(t *testing.T) {
	b := goldenV1(t)
	var got Record
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	want := testRecord(42)
	want.Seq, want.Original = 9, "0200:000041:1121"
	want.PANSealed = []byte("sealed-pan-bytes-for-the-golden-record")
	want.Transmission, want.Acquirer, want.RRNSeq, want.ApprovalSeq = 0, "", 0, 0
	want.Hash = got.Hash
	if !reflect.DeepEqual(got, *want) {
		t.Fatalf("got  %+v\nwant %+v", got, *want)
	}
	if date, ok := storedDate(b); !ok || date != 20261121 {
		t.Fatalf("stored date %d %v", date, ok)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := testRecord(1)
	r.SessionKeys = []byte{0xAA, 0xBB}
	f.Add(append(r.AppendEncoding(nil), make([]byte, HashLen)...))
	f.Add(goldenV1(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rec Record
		if Decode(b, &rec) != nil {
			return
		}
		// what decodes encodes (as version 2) into bytes that decode the same
		var again Record
		if err := Decode(append(rec.AppendEncoding(nil), rec.Hash[:]...), &again); err != nil || !reflect.DeepEqual(again, rec) {
			t.Fatalf("re-encoded: %v\n%+v\n%+v", err, again, rec)
		}
	})
}

// A version 2 record (the encoding before the upstream leg) decodes with
// the upstream fields zero, and its trailing bytes are not taken for them.
func TestRecordVersion2Decodes(t *testing.T) {
	r := testRecord(5)
	r.Seq = 3
	enc := r.AppendEncoding(nil)
	// version 3 appends, for an empty leg: "" (1), 0 (1), "" (1), the code (2), the state (1);
	// version 4 the replacement and follows (1 each, zero)
	v2 := append([]byte(nil), enc[:len(enc)-8]...)
	v2[0] = 2
	var got Record
	if err := Decode(append(v2, make([]byte, HashLen)...), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, *r) {
		t.Fatalf("got  %+v\nwant %+v", got, *r)
	}
	v2[0] = 3 // read as version 3, the same bytes are short
	if err := Decode(append(v2, make([]byte, HashLen)...), &got); err == nil {
		t.Fatal("a truncated version 3 record decoded")
	}
	bad := append([]byte(nil), enc...)
	bad[len(bad)-3] = byte(upStateEnd) // no such state
	if err := Decode(append(bad, make([]byte, HashLen)...), &got); err == nil {
		t.Fatal("an upstream state out of range decoded")
	}
}

// Version 4's fields round-trip, a version 3 record reads them as zero,
// and a replacement amount that is not below the original's is refused
// (a partial reversal leaves less than the whole).
func TestRecordVersion4(t *testing.T) {
	r := testRecord(6)
	r.Seq, r.Amount, r.Replacement, r.Follows = 4, 5000, 1200, 77
	enc := r.AppendEncoding(nil)
	var got Record
	if err := Decode(append(append([]byte(nil), enc...), make([]byte, HashLen)...), &got); err != nil || got.Replacement != 1200 || got.Follows != 77 {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	v3 := append([]byte(nil), enc[:len(enc)-3]...) // 1200 is two bytes as a varint, 77 one
	v3[0] = 3
	if err := Decode(append(v3, make([]byte, HashLen)...), &got); err != nil || got.Replacement != 0 || got.Follows != 0 {
		t.Fatalf("version 3: %v %+v", err, got)
	}
	for _, rep := range []int64{5000, 6000, -1} {
		r.Replacement = rep
		if err := Decode(append(r.AppendEncoding(nil), make([]byte, HashLen)...), &got); err == nil {
			t.Fatalf("replacement %d of 5000 decoded", rep)
		}
	}
}
