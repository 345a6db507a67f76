package codec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moov-io/iso8583/specs"
)

func mustDialect(t testing.TB, name string) *Dialect {
	t.Helper()
	d, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func build(t *testing.T, d *Dialect, mti string, fields map[string]string) []byte {
	t.Helper()
	msg, err := d.Encode(Message{MTI: mti, Fields: fields})
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return msg
}

func wantFieldErr(t *testing.T, err error, field int, reason error) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(err, reason) || fe.Field != field {
		t.Fatalf("got %v, want field %d: %v", err, field, reason)
	}
}

func TestDecodeRejects(t *testing.T) {
	ascii := mustDialect(t, ISO87ASCII)
	bin := mustDialect(t, ISO87Binary)
	base := build(t, ascii, "0200", map[string]string{"2": "4761739001010010", "3": "000000", "4": "000000000100", "11": "000001", "41": "T1"})
	// offsets in base: MTI 0..4, bitmap 4..20, 2: 20..38 (LL 16), 3: 38..44, 4: 44..56, 11: 56..62, 41: 62..70
	mut := func(at int, b string) []byte {
		m := append([]byte(nil), base...)
		copy(m[at:], b)
		return m
	}
	cases := []struct {
		name   string
		d      *Dialect
		msg    []byte
		field  int
		reason error
	}{
		{"empty", ascii, nil, 0, ErrTruncated},
		{"mti letters", ascii, mut(0, "02X0"), 0, ErrBadMTI},
		{"bitmap not hex", ascii, mut(4, "G"), 1, ErrBadBitmap},
		{"bitmap short", ascii, base[:12], 1, ErrTruncated},
		{"LL prefix not digits", ascii, mut(20, "1A"), 2, ErrBadPrefix},
		{"LL over maximum", ascii, mut(20, "20"), 2, ErrTooLong},
		{"numeric with letter", ascii, mut(40, "A"), 3, ErrNotNumeric},
		{"field cut short", ascii, base[:50], 4, ErrTruncated},
		{"trailing bytes", ascii, append(append([]byte(nil), base...), 'X'), 41, ErrTrailingData},
		{"non-ASCII text", ascii, mut(65, "\xC3"), 41, ErrNotASCII},
		{"undefined field 65", ascii, build(t, ascii, "0800", map[string]string{"70": "301"})[:4], 1, ErrTruncated},
	}
	// secondary bitmap announced but empty; tertiary bit 65; a bit with no field (field 65 is undefined)
	sec := []byte("0800" + "8000000000000000" + "0000000000000000")
	ter := []byte("0800" + "8000000000000000" + "8000000000000000")
	cases = append(cases,
		struct {
			name   string
			d      *Dialect
			msg    []byte
			field  int
			reason error
		}{"empty secondary", ascii, sec, 1, ErrEmptySecondary},
		struct {
			name   string
			d      *Dialect
			msg    []byte
			field  int
			reason error
		}{"tertiary bitmap", ascii, ter, 65, ErrTertiaryBitmap},
	)
	// binary: BCD digit A in field 3; PAN pad nibble not zero; BCD LL prefix with a letter
	bmsg := build(t, bin, "0200", map[string]string{"2": "4000001234562", "3": "000000", "11": "000001", "41": "T1"})
	// layout: MTI 0..2, bitmap 2..10, 2: prefix 10, data 11..18, 3: 18..21, 11: 21..24, 41: 24..32
	bmut := func(at int, b byte) []byte {
		m := append([]byte(nil), bmsg...)
		m[at] = b
		return m
	}
	type tc = struct {
		name   string
		d      *Dialect
		msg    []byte
		field  int
		reason error
	}
	cases = append(cases,
		tc{"bcd letter", bin, bmut(19, 0x0A), 3, ErrNotNumeric},
		tc{"bcd pad nibble", bin, bmut(17, 0x21), 2, ErrBadPadding},
		tc{"bcd prefix", bin, bmut(10, 0x1A), 2, ErrBadPrefix},
		tc{"bcd mti", bin, bmut(0, 0xF2), 0, ErrBadMTI},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v View
			err := c.d.Decode(&v, c.msg)
			wantFieldErr(t, err, c.field, c.reason)
		})
	}
}

func TestBuilderPadsAndRefuses(t *testing.T) {
	d := mustDialect(t, ISO87ASCII)
	var b Builder
	b.Begin(d, nil, MTI{'0', '2', '1', '0'}, nil)
	b.String(3, "1")        // fixed numeric: zero-padded on the left
	b.Uint(11, 42)          // zero-padded to 6
	b.String(41, "T1")      // fixed text: space-padded on the right
	b.Binary(52, []byte{1}) // wrong length for an 8-byte field
	if _, err := b.Finish(); !errors.Is(err, ErrWrongLength) {
		t.Fatalf("short binary: %v", err)
	}
	b.Begin(d, nil, MTI{'0', '2', '1', '0'}, nil)
	b.String(3, "1")
	b.Uint(11, 42)
	b.String(41, "T1")
	b.String(70, "301") // a secondary-bitmap field: the secondary bitmap is inserted
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	want := "0210" + "A020000000800000" + "0400000000000000" + "000001" + "000042" + "T1      " + "301"
	if string(msg) != want {
		t.Fatalf("got  %s\nwant %s", msg, want)
	}

	for _, c := range []struct {
		name   string
		do     func(b *Builder)
		reason error
	}{
		{"out of order", func(b *Builder) { b.Uint(11, 1); b.Uint(3, 0) }, ErrOutOfOrder},
		{"duplicate", func(b *Builder) { b.Uint(11, 1); b.Uint(11, 2) }, ErrOutOfOrder},
		{"undefined", func(b *Builder) { b.String(65, "1") }, ErrUndefinedField},
		{"too long", func(b *Builder) { b.String(39, "000") }, ErrWrongLength},
		{"LL too long", func(b *Builder) { b.String(2, strings.Repeat("1", 20)) }, ErrWrongLength},
		{"letter in numeric", func(b *Builder) { b.String(3, "00000A") }, ErrNotNumeric},
		{"bad hex", func(b *Builder) { b.String(52, "ZZ23456789ABCDEF") }, ErrBadHex},
		{"non-ASCII", func(b *Builder) { b.String(43, "caf\xc3\xa9") }, ErrNotASCII},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b Builder
			b.Begin(d, nil, MTI{'0', '2', '0', '0'}, nil)
			c.do(&b)
			if _, err := b.Finish(); !errors.Is(err, c.reason) {
				t.Fatalf("got %v, want %v", err, c.reason)
			}
		})
	}
}

func TestBuilderBinaryLayouts(t *testing.T) {
	d := mustDialect(t, ISO87Binary)
	msg := build(t, d, "0200", map[string]string{
		"2": "123", "3": "1", "22": "51", "28": "C00000100", "35": "1234=56", "52": "00FF00FF00FF00FF",
	})
	// PAN: BCD LL 03, then 12 30 (left-aligned, 0 pad). 3: 00 00 01. 22: 00 51
	// (right-aligned). 28: 'C' 00 00 01 00. 35: LL 07, 12 34 D5 60.
	want := "0200" + "6000041020001000" + "03" + "1230" + "000001" + "0051" + "43" + "00000100" + "07" + "1234D560" + "00FF00FF00FF00FF"
	if got := strings.ToUpper(hex.EncodeToString(msg)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var v View
	if err := d.Decode(&v, msg); err != nil {
		t.Fatal(err)
	}
	if got := string(v.AppendText(nil, 35)); got != "1234=56" {
		t.Fatalf("track 2 text %q", got)
	}
	if got := string(v.AppendText(nil, 28)); got != "C00000100" {
		t.Fatalf("amount text %q", got)
	}
	if got := string(v.PAN(nil)); got != "123" {
		t.Fatalf("PAN %q", got)
	}
}

func TestBuilderCopyAcrossDialects(t *testing.T) {
	_, src := goldenMsg(t, "iso87ascii_0200")
	a, bn := mustDialect(t, ISO87ASCII), mustDialect(t, ISO87Binary)
	var v View
	if err := a.Decode(&v, src); err != nil {
		t.Fatal(err)
	}
	var b Builder
	b.Begin(bn, nil, v.MTI(), nil)
	for id := 2; id <= MaxField; id++ {
		b.Copy(&v, id)
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	var w View
	if err := bn.Decode(&w, out); err != nil {
		t.Fatal(err)
	}
	ve, _ := v.EMV(nil) // text in the ASCII dialect, bytes in the binary one
	we, _ := w.EMV(nil)
	if !bytes.Equal(ve, we) || len(ve) == 0 {
		t.Fatalf("EMV % X -> % X", ve, we)
	}
	for id := 2; id <= MaxField; id++ {
		if id == FieldEMV {
			continue
		}
		if v.Has(id) != w.Has(id) || !bytes.Equal(v.AppendBytes(nil, id), w.AppendBytes(nil, id)) {
			t.Fatalf("field %d: %q -> %q", id, v.AppendBytes(nil, id), w.AppendBytes(nil, id))
		}
	}
}

func TestAccessors(t *testing.T) {
	d := mustDialect(t, ISO87ASCII)
	msg := build(t, d, "0420", map[string]string{
		"3": "310000", "4": "000000012345", "11": "000042", "12": "235959", "13": "1231", "18": "5411",
		"22": "071", "25": "08", "35": "4761739001010010=2812201", "37": "ABC123456789", "41": "TERM0001",
		"42": "MERCHANT0000001", "52": "0123456789ABCDEF", "55": "9F02060000000123459F360200AB",
		"64": "1122334455667788", "70": "301", "90": "020000010211212045010000012345600000000000",
	})
	var v View
	if err := d.Decode(&v, msg); err != nil {
		t.Fatal(err)
	}
	num := func(got uint32, ok bool, want uint32) {
		t.Helper()
		if !ok || got != want {
			t.Fatalf("got %d %v, want %d", got, ok, want)
		}
	}
	pc, ok := v.ProcessingCode()
	num(pc, ok, 310000)
	s, ok := v.STAN()
	num(s, ok, 42)
	lt, ok := v.LocalTime()
	num(lt, ok, 235959)
	ld, ok := v.LocalDate()
	num(ld, ok, 1231)
	mcc, ok := v.MCC()
	num(mcc, ok, 5411)
	em, ok := v.EntryMode()
	num(em, ok, 71)
	cc, ok := v.ConditionCode()
	num(cc, ok, 8)
	nc, ok := v.NetworkCode()
	num(nc, ok, 301)
	if a, ok := v.Amount(); !ok || a != 12345 {
		t.Fatalf("amount %d", a)
	}
	if got := string(v.PAN(nil)); got != "4761739001010010" {
		t.Fatalf("PAN from track 2: %q", got)
	}
	if got := string(v.RRN(nil)); got != "ABC123456789" {
		t.Fatalf("RRN %q", got)
	}
	if got := string(v.TerminalID(nil)) + "|" + string(v.MerchantID(nil)); got != "TERM0001|MERCHANT0000001" {
		t.Fatalf("ids %q", got)
	}
	if got := hex.EncodeToString(v.PINBlock(nil)); got != "0123456789abcdef" {
		t.Fatalf("PIN block %s", got)
	}
	if got := hex.EncodeToString(v.MAC(nil)); got != "1122334455667788" {
		t.Fatalf("MAC %s", got)
	}
	in, ok := v.MACInput()
	start, _, _ := v.Span(64)
	if !ok || !bytes.Equal(in, msg[:start]) {
		t.Fatalf("MAC input %q", in)
	}
	o, ok := v.Original()
	if !ok || o.MTI.String() != "0200" || o.STAN != 102 || o.Transmission != 1121204501 || o.Acquirer != 123456 || o.Forwarder != 0 {
		t.Fatalf("original %+v", o)
	}
	emv, err := v.EMV(nil)
	if err != nil {
		t.Fatal(err)
	}
	var tags []uint32
	for len(emv) > 0 {
		tag, val, rest, err := NextTLV(emv)
		if err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tag)
		if tag == 0x9F02 && hex.EncodeToString(val) != "000000012345" {
			t.Fatalf("9F02 = %x", val)
		}
		emv = rest
	}
	if len(tags) != 2 || tags[0] != 0x9F02 || tags[1] != 0x9F36 {
		t.Fatalf("tags %X", tags)
	}
	if _, err := v.Uint(2); !errors.Is(err, ErrNotPresent) {
		t.Fatalf("absent field: %v", err)
	}
	if _, err := v.Uint(41); !errors.Is(err, ErrNotDigits) {
		t.Fatalf("text field: %v", err)
	}
}

func TestNextTLV(t *testing.T) {
	for _, c := range []struct {
		in   string
		tag  uint32
		val  string
		fail bool
	}{
		{"5A0847617390010100109F", 0x5A, "4761739001010010", false},
		{"9F1A020840", 0x9F1A, "0840", false},
		{"DF8101020102", 0xDF8101, "0102", false},
		{"70820003010203", 0x70, "010203", false},
		{"9F", 0, "", true},
		{"9F02", 0, "", true},
		{"5A05AABB", 0, "", true},
		{"70830000", 0, "", true},
	} {
		in, _ := hex.DecodeString(c.in)
		tag, val, _, err := NextTLV(in)
		if c.fail {
			if err == nil {
				t.Errorf("%s: no error", c.in)
			}
			continue
		}
		if err != nil || tag != c.tag || strings.ToUpper(hex.EncodeToString(val)) != c.val {
			t.Errorf("%s: tag %X val %X err %v", c.in, tag, val, err)
		}
	}
}

func TestValidate(t *testing.T) {
	d := mustDialect(t, ISO87ASCII)
	for _, c := range []struct {
		mti    string
		fields map[string]string
		field  int
	}{
		{"0200", map[string]string{"2": "4761739001010010", "3": "000000", "41": "T1"}, 11},
		{"0200", map[string]string{"3": "000000", "11": "000001", "41": "T1"}, 2},
		{"0400", map[string]string{"2": "4761739001010010", "3": "000000", "4": "1", "11": "000001", "41": "T1"}, 90},
		{"0800", map[string]string{"11": "000001"}, 70},
		{"0210", map[string]string{"11": "000001"}, 39},
	} {
		var v View
		if err := d.Decode(&v, build(t, d, c.mti, c.fields)); err != nil {
			t.Fatal(err)
		}
		wantFieldErr(t, v.Validate(), c.field, ErrMissingField)
	}
}

func TestFramingNext(t *testing.T) {
	msg := []byte("0800822000000000000004000000000000001121204400000001301")
	for _, c := range []struct {
		framing string
		head    string
	}{
		{"binary2", "0037"},
		{"ascii4", "30303535"},
		{"bcd2", "0055"},
		{"binary2+tpdu", "003C6000030000"},
	} {
		f, err := ParseFraming(c.framing)
		if err != nil {
			t.Fatal(err)
		}
		var tpdu []byte
		if f.TPDU {
			tpdu = []byte{0x60, 0x00, 0x03, 0x00, 0x00}
		}
		frame, err := f.Append(nil, tpdu, msg)
		if err != nil {
			t.Fatal(err)
		}
		head, _ := hex.DecodeString(c.head)
		if !bytes.HasPrefix(frame, head) {
			t.Fatalf("%s: head % X, want % X", c.framing, frame[:len(head)], head)
		}
		for i := 0; i < len(frame); i++ { // any prefix is incomplete
			if _, _, err := f.Next(frame[:i]); err != ErrNeedMore {
				t.Fatalf("%s: %d bytes: %v", c.framing, i, err)
			}
		}
		got, n, err := f.Next(append(frame, 0xFF))
		if err != nil || n != len(frame) || !bytes.Equal(got.Msg, msg) || !bytes.Equal(got.TPDU, tpdu) {
			t.Fatalf("%s: n=%d err=%v", c.framing, n, err)
		}
	}
}

func TestFramingRefusesBeforeBuffering(t *testing.T) {
	f := Framing{Header: LenBinary2, MaxFrame: 1000}
	if _, _, err := f.Next([]byte{0x03, 0xE9}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("1001 announced: %v", err)
	}
	if _, _, err := (Framing{Header: LenASCII4}).Next([]byte("00A1")); !errors.Is(err, ErrBadLengthHeader) {
		t.Fatalf("ascii header: %v", err)
	}
	if _, _, err := (Framing{Header: LenBCD2}).Next([]byte{0x0A, 0x00}); !errors.Is(err, ErrBadLengthHeader) {
		t.Fatalf("bcd header: %v", err)
	}
	if _, _, err := (Framing{Header: LenBinary2, TPDU: true}).Next([]byte{0, 3, 1, 2, 3}); !errors.Is(err, ErrShortFrame) {
		t.Fatalf("short tpdu frame: %v", err)
	}
	fr, n, err := (Framing{Header: LenBinary2}).Next([]byte{0, 0, 0, 5})
	if err != nil || n != 2 || fr.Msg != nil {
		t.Fatalf("keep-alive: %v %d %v", fr, n, err)
	}
}

func TestReaderAnyChunking(t *testing.T) {
	f, _ := ParseFraming("bcd2+tpdu")
	var stream []byte
	var want [][]byte
	for i := 0; i < 5; i++ {
		msg := bytes.Repeat([]byte{byte('a' + i)}, 10*i+1)
		want = append(want, msg)
		stream, _ = f.Append(stream, []byte{0x60, 0, 1, 0, 2}, msg)
		stream = append(stream, 0, 0) // a keep-alive between frames
	}
	for chunk := 1; chunk <= len(stream); chunk++ {
		r := NewReader(&chunker{b: stream, n: chunk}, f)
		for i, w := range want {
			fr, err := r.Next()
			if err != nil || !bytes.Equal(fr.Msg, w) {
				t.Fatalf("chunk %d frame %d: %q %v", chunk, i, fr.Msg, err)
			}
		}
		if _, err := r.Next(); err == nil {
			t.Fatalf("chunk %d: no end of stream", chunk)
		}
	}
}

type chunker struct {
	b []byte
	n int
}

func (c *chunker) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, errEOF
	}
	n := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[n:]
	return n, nil
}

var errEOF = errors.New("EOF")

func TestReplyTPDU(t *testing.T) {
	var out [TPDULen]byte
	ReplyTPDU(&out, []byte{0x60, 0x00, 0x03, 0x00, 0x00})
	if out != [5]byte{0x60, 0x00, 0x00, 0x00, 0x03} {
		t.Fatalf("% X", out)
	}
}

func TestMTI(t *testing.T) {
	for _, c := range []struct{ in, resp, orig string }{
		{"0200", "0210", "0200"}, {"0201", "0210", "0200"}, {"0420", "0430", "0420"},
		{"0421", "0430", "0420"}, {"0800", "0810", "0800"}, {"0100", "0110", "0100"},
	} {
		m, ok := ParseMTI(c.in)
		if !ok || m.Response().String() != c.resp || m.Original().String() != c.orig {
			t.Errorf("%s: response %s original %s", c.in, m.Response(), m.Original())
		}
	}
	if _, ok := ParseMTI("02x0"); ok {
		t.Error("letters accepted")
	}
}

func TestMasking(t *testing.T) {
	for in, want := range map[string]string{
		"4761739001010010":    "476173******0010",
		"6228480402564890018": "622848*********0018",
		"4000001234562":       "400000***4562",
		"12345678":            "12****78",
	} {
		if got := MaskPAN(in); got != want {
			t.Errorf("MaskPAN(%s) = %s, want %s", in, got, want)
		}
	}
	if got := MaskField(35, "4761739001010010=28122011758928889"); got != "476173******0010=****" {
		t.Errorf("track 2: %s", got)
	}
	if got := MaskField(45, "B4761739001010010^CARDHOLDER/TEST^2812201"); got != "476173******0010=****" {
		t.Errorf("track 1: %s", got)
	}
	if got := MaskField(52, "0123456789ABCDEF"); strings.Contains(got, "0123") {
		t.Errorf("PIN block shown: %s", got)
	}
	if got := MaskField(4, "000000000100"); got != "000000000100" {
		t.Errorf("amount masked: %s", got)
	}
}

func TestLoadJSONDialect(t *testing.T) {
	d := mustDialect(t, ISO87ASCII)
	raw, err := specs.ExportJSON(d.Spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "custom.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	custom, err := Lookup(path)
	if err != nil {
		t.Fatal(err)
	}
	_, msg := goldenMsg(t, "iso87ascii_0200")
	var v, w View
	if err := d.Decode(&v, msg); err != nil {
		t.Fatal(err)
	}
	if err := custom.Decode(&w, msg); err != nil {
		t.Fatal(err)
	}
	// The JSON spec carries moov types only: String fields are text, so the
	// text form agrees even where content classes are not known.
	if a, b := v.ToMessage(false), w.ToMessage(false); len(a.Fields) != len(b.Fields) {
		t.Fatalf("%v vs %v", a, b)
	}
	for id := 2; id <= MaxField; id++ {
		if !bytes.Equal(v.AppendText(nil, id), w.AppendText(nil, id)) {
			t.Fatalf("field %d differs", id)
		}
	}
	if len(custom.Requirements) == 0 {
		t.Fatal("custom dialect has no requirements")
	}

	// A spec with moov Spec87ASCII's 16-byte bitmap loads (see
	// TestMoovSpec87ASCII); an 8-byte one that cannot expand is refused.
	fixed := strings.Replace(string(raw), `"length": 8,`+"\n\t\t\t\"description\": \"Bitmap\"", `"length": 8,`+"\n\t\t\t\"description\": \"Bitmap\",\n\t\t\t\"disableAutoExpand\": true", 1)
	if fixed == string(raw) {
		t.Fatalf("bitmap not found in exported spec:\n%s", raw[:400])
	}
	if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = LoadJSON(path); err == nil || !strings.Contains(err.Error(), "bitmap") {
		t.Fatalf("16-byte bitmap: %v", err)
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), "iso87ascii") {
		t.Fatalf("unknown dialect: %v", err)
	}
}

func TestDecodeErrorKeepsWhatCameBefore(t *testing.T) {
	d := mustDialect(t, ISO87ASCII)
	msg := build(t, d, "0200", map[string]string{"3": "000000", "11": "000042", "41": "TERM0001", "70": "301"})
	bad := append([]byte(nil), msg...)
	i := bytes.Index(bad, []byte("TERM0001"))
	bad[i] = 0xC3 // field 41 is no longer 7-bit
	var v View
	wantFieldErr(t, d.Decode(&v, bad), 41, ErrNotASCII)
	if v.MTI().String() != "0200" || !v.Has(3) || !v.Has(11) || v.Has(41) || v.Has(70) || v.Has(1) {
		t.Fatalf("kept %016X %016X", v.Bitmap()[0], v.Bitmap()[1])
	}
	if s, ok := v.STAN(); !ok || s != 42 {
		t.Fatalf("STAN %d", s)
	}
	// a failure in the secondary part keeps every primary field
	j := bytes.LastIndex(msg, []byte("301"))
	bad = append(append([]byte(nil), msg[:j]...), "3X1"...)
	wantFieldErr(t, d.Decode(&v, bad), 70, ErrNotNumeric)
	if !v.Has(41) || v.Has(70) || v.Has(1) {
		t.Fatalf("kept %016X %016X", v.Bitmap()[0], v.Bitmap()[1])
	}
}

func TestReserveSeal(t *testing.T) {
	msg := []byte("0800822000000000000004000000000000001121204400000001301")
	for _, name := range []string{"binary2", "ascii4", "bcd2+tpdu"} {
		f, _ := ParseFraming(name)
		tpdu := []byte{0x60, 0, 1, 0, 2}
		want, err := f.Append([]byte("x"), tpdu, msg)
		if err != nil {
			t.Fatal(err)
		}
		got := f.Reserve([]byte("x"), tpdu)
		got, err = f.Seal(append(got, msg...), 1)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: % X\nwant % X", name, got, want)
		}
	}
}

func TestBuilderMACInput(t *testing.T) {
	for _, name := range []string{ISO87ASCII, CUPPOS} {
		d := mustDialect(t, name)
		var b Builder
		b.Begin(d, []byte("xx"), MTI{'0', '2', '1', '0'}, nil)
		b.String(3, "000000")
		b.String(11, "000001")
		b.String(39, "00")
		in, err := b.MACInput(64)
		if err != nil {
			t.Fatal(err)
		}
		in = append([]byte(nil), in...)
		b.Binary(64, []byte("ABCDEFGH"))
		msg, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		var v View
		if err := d.Decode(&v, msg[2:]); err != nil {
			t.Fatal(err)
		}
		want, ok := v.MACInput()
		if !ok || !bytes.Equal(in, want) {
			t.Fatalf("%s: MAC input % X, the decoder sees % X", name, in, want)
		}
	}
}
