package codec

// Native fuzz targets for the codec (go test -fuzz):
//
//	FuzzFraming       Framing.Next against an independent model of the
//	                  length header, Reader against Next under any chunking
//	                  of the stream, Append against the frames it cut.
//	FuzzDecode        Decode never panics; an accepted message has sound
//	                  spans and valid content, and goes back to the same
//	                  bytes through its text form and through the Builder;
//	                  a rejection is a *FieldError with a decode reason that
//	                  the raw bytes bear out.
//	FuzzDifferential  the View against moov-io/iso8583, the reference the
//	                  dialects are compiled from.
//
// `go test ./codec/ -run Fuzz` runs the seed corpus (every golden message,
// hand-made malformed variants and testdata/fuzz/Fuzz*/); to search further:
//
//	go test ./codec/ -run XXX -fuzz FuzzDifferential -fuzztime 60s

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime/debug"
	"sort"
	"testing"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
)

// ---------------------------------------------------------------------------
// Seeds

// fzGolden is one golden frame and the message it carries.
type fzGolden struct {
	name  string
	d     *Dialect
	frame []byte
	msg   []byte
}

func fzGoldens(tb testing.TB) []fzGolden {
	tb.Helper()
	cases := loadGolden(tb)
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []fzGolden
	for _, name := range names {
		c := cases[name]
		fr, err := ParseFraming(c.Framing)
		if err != nil {
			tb.Fatal(err)
		}
		frame := readHex(tb, "testdata/golden/"+name+".hex")
		f, n, err := fr.Next(frame)
		if err != nil || n != len(frame) {
			tb.Fatalf("%s: golden frame: n=%d err=%v", name, n, err)
		}
		out = append(out, fzGolden{name: name, d: dialectOf(tb, name), frame: frame, msg: f.Msg})
	}
	return out
}

func fzClone(b []byte) []byte { return append([]byte(nil), b...) }

func fzSplice(b []byte, at int, del int, ins ...byte) []byte {
	out := append([]byte(nil), b[:at]...)
	out = append(out, ins...)
	return append(out, b[at+del:]...)
}

// fzMalformed derives hand-made malformed variants of a golden message, each
// aimed at one rule of the decoder (and at a leniency of moov).
func fzMalformed(g fzGolden) [][]byte {
	d, msg := g.d, g.msg
	var v View
	if err := d.Decode(&v, msg); err != nil {
		return nil
	}
	var out [][]byte
	add := func(b []byte) { out = append(out, b) }
	add(msg[:len(msg)/2])                   // truncated inside a field
	add(msg[:len(msg)-1])                   // truncated by one byte
	add(append(fzClone(msg), '0'))          // trailing byte
	add(append(fzClone(msg), msg...))       // a second message glued on
	add(fzClone(msg[:d.HeaderLen+1]))       // inside the MTI
	mtiAt, mtiLen, bmLen := fzHeadLayout(d) // MTI and one bitmap word
	bad := fzClone(msg)                     // MTI not digits
	bad[mtiAt] = 'X'
	if mtiLen == 2 {
		bad[mtiAt] = 0xA0
	}
	add(bad)
	bmAt := mtiAt + mtiLen
	if bmLen == 16 { // hex-text bitmap: lower case, and a non-hex character
		low := fzClone(msg)
		for i := bmAt; i < bmAt+16; i++ {
			if low[i] >= 'A' && low[i] <= 'F' {
				low[i] += 'a' - 'A'
			}
		}
		add(low)
		nh := fzClone(msg)
		nh[bmAt+15] = 'G'
		add(nh)
	}
	// Bit 1 set with an empty secondary bitmap, and with a tertiary one.
	zero := bytes.Repeat([]byte{'0'}, bmLen)
	if bmLen == 8 {
		zero = make([]byte, 8)
	}
	if !v.Has(1) {
		es := fzSplice(msg, bmAt+bmLen, 0, zero...)
		fzSetBit1(es, bmAt, bmLen)
		add(es)
		tert := fzClone(zero)
		fzSetBit1(tert, 0, bmLen)
		tb := fzSplice(msg, bmAt+bmLen, 0, append(tert, zero...)...)
		fzSetBit1(tb, bmAt, bmLen)
		add(tb)
	} else {
		tb := fzClone(msg)
		fzSetBit1(tb, bmAt+bmLen, bmLen)
		add(tb)
	}
	// Field-level mutations: a non-digit in numeric content, a '+' in an
	// ASCII length prefix, a BCD pad nibble F (accepted) or A (refused), a bad amount sign,
	// a bad track character, a byte above 0x7F in text, a length over the
	// maximum, lower-case hex text.
	for id := 2; id <= MaxField; id++ {
		if !v.Has(id) {
			continue
		}
		def := d.Field(id)
		s, e, _ := v.Span(id)
		w := e - len(v.Wire(id))
		if w == e {
			continue
		}
		switch {
		case def.Enc == EncASCII && (def.Class == ClassN || def.Class == ClassZ):
			b := fzClone(msg)
			b[e-1] = 'X'
			add(b)
		case def.Enc == EncASCII && def.Class == ClassANS:
			b := fzClone(msg)
			b[e-1] = 0xC3
			add(b)
		case def.Class == ClassANSB: // raw bytes (accepted), odd hex text (raw too)
			b := fzClone(msg)
			b[w] = 0x9F
			add(b)
			b = fzSplice(msg, e, 0, 'A')
			copy(b[s:w], fmt.Sprintf("%0*d", w-s, e-w+1))
			add(b)
		case def.Enc == EncBCD || def.Enc == EncLBCD:
			b := fzClone(msg)
			b[e-1] |= 0x0F // pad nibble F (LBCD, odd: accepted) or a digit nibble made F
			add(b)
			b = fzClone(msg)
			b[e-1] |= 0x0A // pad nibble A (refused) or a digit nibble made A
			add(b)
			b = fzClone(msg)
			b[w] |= 0xF0 // pad nibble F (BCD, odd: accepted) or a digit nibble made F
			add(b)
			b = fzClone(msg)
			b[w] |= 0xA0
			add(b)
		case def.Enc == EncAmountBCD:
			b := fzClone(msg)
			b[w] = '+'
			add(b)
		case def.Enc == EncHexText:
			b := fzClone(msg)
			for i := w; i < e; i++ {
				if b[i] >= 'A' && b[i] <= 'F' {
					b[i] += 'a' - 'A'
				}
			}
			add(b)
		}
		switch def.Prefix {
		case PrefixASCII:
			if msg[s] == '0' { // "0n" -> "+n": moov's strconv.Atoi reads it
				b := fzClone(msg)
				b[s] = '+'
				add(b)
			}
			b := fzClone(msg)
			copy(b[s:w], bytes.Repeat([]byte{'9'}, w-s))
			add(b)
		case PrefixBCD:
			b := fzClone(msg)
			if def.PrefixLen%2 == 1 {
				b[s] |= 0x10 // the pad nibble of an odd digit count
			} else {
				b[s] = 0x9A
			}
			add(b)
		}
	}
	return out
}

// fzHeadLayout is where the MTI starts, its size and the size of one bitmap
// word, read from the moov spec (not from the codec's compiled form).
func fzHeadLayout(d *Dialect) (mtiAt, mtiLen, bmLen int) {
	mtiLen, bmLen = 4, 8
	if d.Spec.Fields[0].Spec().Enc == encoding.BCD {
		mtiLen = 2
	}
	if d.Spec.Fields[1].Spec().Enc == encoding.BytesToASCIIHex {
		bmLen = 16
	}
	return d.HeaderLen, mtiLen, bmLen
}

func fzSetBit1(b []byte, at, bmLen int) {
	if bmLen == 8 {
		b[at] |= 0x80
		return
	}
	h, _ := unhex(b[at])
	b[at] = hexDigits[h|8]
}

func fzAddMessageSeeds(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("0800"))
	f.Add([]byte{0x08, 0x00})
	for _, g := range fzGoldens(f) {
		f.Add(g.msg)
		for _, b := range fzMalformed(g) {
			f.Add(b)
		}
	}
}

// ---------------------------------------------------------------------------
// FuzzFraming

var fzFramings = func() []Framing {
	var out []Framing
	for _, h := range []LengthHeader{LenBinary2, LenASCII4, LenBCD2} {
		for _, tpdu := range []bool{false, true} {
			for _, limit := range []int{300, 0} { // 0: DefaultMaxFrame
				out = append(out, Framing{Header: h, TPDU: tpdu, MaxFrame: limit})
			}
		}
	}
	return out
}()

func FuzzFraming(f *testing.F) {
	gs := fzGoldens(f)
	var all []byte
	for i, g := range gs {
		f.Add(g.frame, uint64(i)*0x9E3779B97F4A7C15)
		f.Add(g.frame[:len(g.frame)-1], uint64(i))                   // truncated
		f.Add(append(fzClone(g.frame), g.frame[:3]...), uint64(i+7)) // then a partial header
		all = append(all, g.frame...)
		all = append(all, 0, 0) // a binary2 / bcd2 keep-alive
	}
	f.Add(all, uint64(1))
	f.Add(all, uint64(0xFFFFFFFFFFFFFFFF))
	f.Add([]byte("0000"), uint64(0))                       // keep-alives
	f.Add([]byte("00A1xxxx"), uint64(0))                   // bad ascii4 header
	f.Add([]byte{0x0A, 0x00, 1, 2}, uint64(0))             // bad bcd2 header
	f.Add([]byte{0x03, 0xE9}, uint64(0))                   // 1001 announced
	f.Add([]byte{0x00, 0x03, 1, 2, 3}, uint64(0))          // shorter than a TPDU
	f.Add([]byte{0x00, 0x05, 0x60, 0, 3, 0, 0}, uint64(0)) // a TPDU and no message
	f.Add([]byte("0005"), uint64(3))
	f.Add([]byte("9999"), uint64(3))
	f.Add([]byte{0x99, 0x99}, uint64(3))
	f.Add([]byte{0xFF, 0xFF}, uint64(3))
	f.Add([]byte("0003abc0000"), uint64(0))
	// Frames larger than the Reader's first buffer (4096 bytes), at the
	// default limit (8192) and past it.
	for _, l := range []int{5000, 8192, 8193} {
		big, _ := Framing{Header: LenBinary2, MaxFrame: 1 << 16}.Append(nil, nil, bytes.Repeat([]byte{'x'}, l))
		f.Add(big, 1<<63|uint64(l))
		big, _ = Framing{Header: LenASCII4, MaxFrame: 9999}.Append(nil, nil, bytes.Repeat([]byte{'y'}, l))
		f.Add(append(big, big[:l/2]...), uint64(l))
	}

	f.Fuzz(func(t *testing.T, data []byte, split uint64) {
		if len(data) > 1<<14 {
			return // room for the largest frame (9999) twice; keeps an iteration cheap
		}
		for _, fr := range fzFramings {
			fzCheckFraming(t, fr, data, split)
		}
	})
}

// fzLimit is the largest length fr accepts, from the documented rule.
func fzLimit(fr Framing) int {
	m := fr.MaxFrame
	if m <= 0 {
		m = DefaultMaxFrame
	}
	if fr.Header == LenBinary2 {
		return min(m, 65535)
	}
	return min(m, 9999)
}

// fzModelNext is an independent model of Framing.Next: the error kind, or
// the frame length (header included) and whether it is a keep-alive.
func fzModelNext(fr Framing, buf []byte) (n int, keepAlive bool, kind error) {
	h := 2
	if fr.Header == LenASCII4 {
		h = 4
	}
	if len(buf) < h {
		return 0, false, ErrNeedMore
	}
	l := 0
	switch fr.Header {
	case LenBinary2:
		l = int(buf[0])*256 + int(buf[1])
	case LenASCII4:
		for _, c := range buf[:4] {
			if c < '0' || c > '9' {
				return 0, false, ErrBadLengthHeader
			}
			l = l*10 + int(c-'0')
		}
	case LenBCD2:
		for _, c := range buf[:2] {
			hi, lo := c>>4, c&0x0F
			if hi > 9 || lo > 9 {
				return 0, false, ErrBadLengthHeader
			}
			l = l*100 + int(hi)*10 + int(lo)
		}
	}
	switch {
	case l > fzLimit(fr):
		return 0, false, ErrFrameTooLarge
	case l == 0:
		return h, true, nil
	case fr.TPDU && l < TPDULen:
		return 0, false, ErrShortFrame
	case len(buf) < h+l:
		return 0, false, ErrNeedMore
	}
	return h + l, false, nil
}

func fzErrKind(err error) error {
	for _, k := range []error{ErrNeedMore, ErrFrameTooLarge, ErrBadLengthHeader, ErrShortFrame} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

type fzCut struct {
	pos, n    int
	keepAlive bool
	tpdu, msg []byte
}

func fzCheckFraming(t *testing.T, fr Framing, data []byte, split uint64) {
	t.Helper()
	h := fr.HeaderLen()
	var cuts []fzCut
	var final error
	pos := 0
	for {
		got, n, err := fr.Next(data[pos:])
		wantN, wantKeep, wantKind := fzModelNext(fr, data[pos:])
		if err != nil {
			kind := fzErrKind(err)
			if kind == nil {
				t.Fatalf("%v: at %d: Next returned %v, not a framing error kind", fr, pos, err)
			}
			if kind != wantKind || n != 0 {
				t.Fatalf("%v: at %d (%X): Next = n %d, %v; model: n %d, %v", fr, pos, fzHead(data[pos:]), n, err, wantN, wantKind)
			}
			final = kind
			break
		}
		if wantKind != nil || n != wantN {
			t.Fatalf("%v: at %d (%X): Next = frame of %d bytes; model: n %d, %v", fr, pos, fzHead(data[pos:]), n, wantN, wantKind)
		}
		c := fzCut{pos: pos, n: n, keepAlive: got.Msg == nil, tpdu: got.TPDU, msg: got.Msg}
		if c.keepAlive != wantKeep {
			t.Fatalf("%v: at %d: keep-alive %v, model %v (frame %+v)", fr, pos, c.keepAlive, wantKeep, got)
		}
		body := data[pos+h : pos+n]
		switch {
		case c.keepAlive:
			if got.TPDU != nil || n != h {
				t.Fatalf("%v: at %d: keep-alive with TPDU %X, n %d", fr, pos, got.TPDU, n)
			}
		case fr.TPDU:
			if !bytes.Equal(got.TPDU, body[:TPDULen]) || !bytes.Equal(got.Msg, body[TPDULen:]) {
				t.Fatalf("%v: at %d: TPDU %X msg %X, body %X", fr, pos, got.TPDU, got.Msg, body)
			}
		default:
			if got.TPDU != nil || !bytes.Equal(got.Msg, body) {
				t.Fatalf("%v: at %d: TPDU %X msg %X, body %X", fr, pos, got.TPDU, got.Msg, body)
			}
		}
		if cap(got.Msg) > len(got.Msg) {
			t.Fatalf("%v: at %d: Msg has capacity %d beyond its %d bytes: an append would overwrite the next frame", fr, pos, cap(got.Msg), len(got.Msg))
		}
		// Append re-produces the frame: the length headers of valid
		// input are in canonical form. A keep-alive with a TPDU framing
		// cannot be appended (it has no TPDU).
		if !c.keepAlive || !fr.TPDU {
			re, err := fr.Append(nil, got.TPDU, got.Msg)
			if err != nil || !bytes.Equal(re, data[pos:pos+n]) {
				t.Fatalf("%v: at %d: Append = %X, %v; frame %X", fr, pos, re, err, data[pos:pos+n])
			}
		}
		cuts = append(cuts, c)
		pos += n
	}

	// The Reader gives the same frames (keep-alives skipped) whatever the
	// chunking, then the error the one-shot cut ended with; running out of
	// input is io.EOF between frames and io.ErrUnexpectedEOF inside one.
	var wantEnd error
	switch {
	case final != ErrNeedMore:
		wantEnd = final
	case pos == len(data):
		wantEnd = io.EOF
	default:
		wantEnd = io.ErrUnexpectedEOF
	}
	modes := []string{"whole", "seeded"}
	if len(data) < 64 {
		modes = append(modes, "bytewise")
	}
	for _, mode := range modes {
		src := &fzChunks{b: data, rng: split | 1, eofWithLast: split&(1<<62) != 0}
		switch mode {
		case "whole":
			src.max = len(data) + 1
		case "bytewise":
			src.max = 1
		default:
			src.max = 1 + int(split>>56)%64
			if split&(1<<63) != 0 {
				src.max = 1 + int(split>>48)%4096
			}
		}
		r := NewReader(src, fr)
		i := 0
		for _, c := range cuts {
			if c.keepAlive {
				continue
			}
			got, err := r.Next()
			if err != nil {
				t.Fatalf("%v, %s chunks (max %d, eof with last %v): frame %d at %d: %v", fr, mode, src.max, src.eofWithLast, i, c.pos, err)
			}
			if !bytes.Equal(got.TPDU, c.tpdu) || !bytes.Equal(got.Msg, c.msg) || (got.TPDU == nil) != (c.tpdu == nil) {
				t.Fatalf("%v, %s chunks (max %d): frame %d at %d: TPDU %X msg %X, want %X / %X", fr, mode, src.max, i, c.pos, got.TPDU, got.Msg, c.tpdu, c.msg)
			}
			i++
		}
		_, err := r.Next()
		if !errors.Is(err, wantEnd) {
			t.Fatalf("%v, %s chunks (max %d, eof with last %v): after %d frames (%d of %d bytes cut): %v, want %v", fr, mode, src.max, src.eofWithLast, i, pos, len(data), err, wantEnd)
		}
	}
}

func fzHead(b []byte) []byte { return b[:min(len(b), 8)] }

// fzChunks returns its bytes in chunks of 1 to max bytes, sized by a
// xorshift generator, optionally with io.EOF on the last chunk.
type fzChunks struct {
	b           []byte
	max         int
	rng         uint64
	eofWithLast bool
}

func (c *fzChunks) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	c.rng ^= c.rng << 13
	c.rng ^= c.rng >> 7
	c.rng ^= c.rng << 17
	n := 1 + int(c.rng%uint64(c.max))
	n = copy(p[:min(len(p), n)], c.b)
	c.b = c.b[n:]
	if len(c.b) == 0 && c.eofWithLast {
		return n, io.EOF
	}
	return n, nil
}

// ---------------------------------------------------------------------------
// FuzzDecode

func fzDialects(tb testing.TB) []*Dialect {
	var out []*Dialect
	for _, name := range Builtins() {
		out = append(out, mustDialect(tb, name))
	}
	return out
}

func FuzzDecode(f *testing.F) {
	fzAddMessageSeeds(f)
	dialects := fzDialects(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, d := range dialects {
			fzCheckDecode(t, d, msg)
		}
	})
}

// fzDecodeReasons are the reasons Decode may give.
var fzDecodeReasons = []error{
	ErrTruncated, ErrBadMTI, ErrBadBitmap, ErrEmptySecondary, ErrTertiaryBitmap,
	ErrUndefinedField, ErrBadPrefix, ErrTooLong, ErrNotNumeric, ErrBadTrack,
	ErrBadAmountSign, ErrNotASCII, ErrBadHex, ErrBadPadding, ErrTrailingData,
}

func fzFieldError(t *testing.T, d *Dialect, msg []byte, err error) *FieldError {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%s: Decode(%X) = %v (%T), not a *FieldError", d.Name, msg, err, err)
	}
	known := false
	for _, r := range fzDecodeReasons {
		known = known || fe.Reason == r
	}
	if !known {
		t.Fatalf("%s: Decode(%X): reason %v is not a decode sentinel", d.Name, msg, fe.Reason)
	}
	if fe.Field < 0 || fe.Field > MaxField || fe.Offset < 0 || fe.Offset > len(msg) {
		t.Fatalf("%s: Decode(%X): %v: field or offset out of range (%d bytes)", d.Name, msg, err, len(msg))
	}
	if why, ok := fzCheckReason(d, msg, fe); !ok {
		t.Fatalf("%s: Decode(%X) = %v, but the bytes do not break that rule: %s", d.Name, msg, err, why)
	}
	return fe
}

func fzDecode(t *testing.T, d *Dialect, v *View, msg []byte) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: Decode(%X) panicked: %v\n%s", d.Name, msg, r, debug.Stack())
		}
	}()
	return d.Decode(v, msg)
}

// fzCheckSalvage checks DecodeSalvage against Decode: the same error (or
// none, and then the same view), every field Decode kept at the same place,
// and the others in order after them, each with content that breaks no
// rule, inside the message.
func fzCheckSalvage(t *testing.T, d *Dialect, msg []byte) {
	t.Helper()
	var v, sv View
	err := d.Decode(&v, msg)
	var serr error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s: DecodeSalvage(%X) panicked: %v\n%s", d.Name, msg, r, debug.Stack())
			}
		}()
		serr = d.DecodeSalvage(&sv, msg)
	}()
	if fmt.Sprint(err) != fmt.Sprint(serr) {
		t.Fatalf("%s: %X: Decode says %v, DecodeSalvage %v", d.Name, msg, err, serr)
	}
	if sv.MTI() != v.MTI() {
		t.Fatalf("%s: %X: MTI %q, salvaged %q", d.Name, msg, v.MTI(), sv.MTI())
	}
	last := 0
	for id := 2; id <= MaxField; id++ {
		s, e, ok := v.Span(id)
		ss, se, sok := sv.Span(id)
		if ok && (!sok || s != ss || e != se) {
			t.Fatalf("%s: %X: field %d at %d..%d, salvaged %v %d..%d", d.Name, msg, id, s, e, sok, ss, se)
		}
		if err == nil && ok != sok {
			t.Fatalf("%s: %X: field %d: the salvage differs from a good decode", d.Name, msg, id)
		}
		if !sok {
			continue
		}
		def := d.Field(id)
		if def == nil || ss < last || se > len(msg) || se-ss != fzPrefixBytes(def)+len(sv.Wire(id)) {
			t.Fatalf("%s: %X: salvaged field %d at %d..%d after %d", d.Name, msg, id, ss, se, last)
		}
		if issues := fzIssues(def, sv.Wire(id), sv.Len(id)); len(issues) > 0 {
			t.Fatalf("%s: %X: salvaged field %d with content %X: %v", d.Name, msg, id, sv.Wire(id), issues)
		}
		last = se
	}
	if sv.Bitmap()[0]>>63 == 1 && sv.Bitmap()[1] == 0 {
		t.Fatalf("%s: %X: salvaged view announces an empty secondary bitmap", d.Name, msg)
	}
}

func fzCheckDecode(t *testing.T, d *Dialect, msg []byte) {
	t.Helper()
	fzCheckSalvage(t, d, msg)
	var v View
	if err := fzDecode(t, d, &v, msg); err != nil {
		fe := fzFieldError(t, d, msg, err)
		if fe.Reason == ErrTrailingData {
			var pv View
			if perr := fzDecode(t, d, &pv, msg[:fe.Offset]); perr != nil {
				t.Fatalf("%s: %X: trailing data at %d, but the bytes before it are refused: %v", d.Name, msg, fe.Offset, perr)
			}
		}
		return
	}
	fzCheckSpans(t, d, &v, msg)
	// Pad nibbles (0 or F on the wire) read back as the builder's pad, raw
	// ansb bytes as hex text.
	canon := fzTextCanon(t, d, &v, msg, PadZero)

	// Text form and back.
	m := v.ToMessage(false)
	enc, err := d.Encode(m)
	if err != nil {
		t.Fatalf("%s: %X decodes, but its text form %+v does not encode: %v", d.Name, msg, m, err)
	}
	if !bytes.Equal(enc, canon) {
		t.Fatalf("%s: text round trip of %X (%+v)\n got %X\nwant %X", d.Name, msg, m, enc, canon)
	}
	// The masked form never fails either.
	_ = v.ToMessage(true)

	// Copying every field with the Builder gives the same bytes (Copy
	// keeps the wire bytes; only the bitmap is written anew).
	var b Builder
	b.Begin(d, nil, v.MTI(), v.Header())
	for id := 2; id <= MaxField; id++ {
		b.Copy(&v, id)
	}
	built, err := b.Finish()
	if want := fzRepad(d, &v, fzCanonHex(d, &v, msg, false), PadZero); err != nil || !bytes.Equal(built, want) {
		t.Fatalf("%s: Builder copy of %X\n got %X, %v\nwant %X", d.Name, msg, built, err, want)
	}
	// On a link that pads with F, the copy's variable BCD fields end in F,
	// and the text form encodes to the same bytes.
	b.SetBCDPad(PadF)
	b.Begin(d, nil, v.MTI(), v.Header())
	for id := 2; id <= MaxField; id++ {
		b.Copy(&v, id)
	}
	built, err = b.Finish()
	if want := fzRepad(d, &v, fzCanonHex(d, &v, msg, false), PadF); err != nil || !bytes.Equal(built, want) {
		t.Fatalf("%s: Builder copy of %X with F pads\n got %X, %v\nwant %X", d.Name, msg, built, err, want)
	}
	b.Begin(d, nil, v.MTI(), v.Header())
	for id := 2; id <= MaxField; id++ {
		if v.Has(id) {
			b.Text(id, v.AppendText(nil, id))
		}
	}
	built, err = b.Finish()
	if want := fzTextCanon(t, d, &v, msg, PadF); err != nil || !bytes.Equal(built, want) {
		t.Fatalf("%s: text form of %X built with F pads\n got %X, %v\nwant %X", d.Name, msg, built, err, want)
	}

	// The accessors do not panic on anything Decode accepts.
	var scratch [64]byte
	_ = v.Validate()
	_ = v.PAN(scratch[:0])
	_, _ = v.Amount()
	_, _ = v.STAN()
	_, _ = v.ProcessingCode()
	_, _ = v.Original()
	_ = v.MAC(scratch[:0])
	_, _ = v.MACInput()
	_, _ = v.EMV(scratch[:0])
	for id := 0; id <= MaxField+1; id++ {
		_, _ = v.Uint(id)
		_ = v.AppendBytes(scratch[:0], id)
	}
}

// fzCheckSpans checks the fields tile the message after the bitmap: each
// span holds a length prefix of the field's prefix size whose value is
// Len(id), then Wire(id) of the size Len(id) takes on the wire.
func fzCheckSpans(t *testing.T, d *Dialect, v *View, msg []byte) {
	t.Helper()
	mtiAt, mtiLen, bmLen := fzHeadLayout(d)
	words := 1
	if v.Has(1) {
		words = 2
	}
	at := mtiAt + mtiLen + words*bmLen
	if mti := v.MTI(); !fzAll(mti[:], fzDigit) || !bytes.Equal(fzMTIText(d, msg), mti[:]) {
		t.Fatalf("%s: %X: MTI %q accepted", d.Name, msg, mti[:])
	}
	var raw [2]uint64
	for i := 0; i < words; i++ {
		b := msg[mtiAt+mtiLen+i*bmLen : mtiAt+mtiLen+(i+1)*bmLen]
		if bmLen == 16 {
			x, err := hex.DecodeString(string(b))
			if err != nil {
				t.Fatalf("%s: %X: bitmap %q accepted", d.Name, msg, b)
			}
			b = x
		}
		for _, c := range b {
			raw[i] = raw[i]<<8 | uint64(c)
		}
	}
	if raw != v.Bitmap() || (words == 2 && (raw[1] == 0 || raw[1]>>63 == 1)) {
		t.Fatalf("%s: %X: bitmap %016X accepted as %016X", d.Name, msg, raw, v.Bitmap())
	}
	for id := 0; id <= MaxField+1; id++ {
		s, e, ok := v.Span(id)
		if ok != (id >= 2 && v.Has(id)) {
			t.Fatalf("%s: %X: Span(%d) ok=%v, Has=%v", d.Name, msg, id, ok, v.Has(id))
		}
		if !ok {
			continue
		}
		def := d.Field(id)
		if def == nil {
			t.Fatalf("%s: %X: field %d present but not defined", d.Name, msg, id)
		}
		if s != at || e < s || e > len(msg) {
			t.Fatalf("%s: %X: field %d spans %d..%d, expected to start at %d (message %d bytes)", d.Name, msg, id, s, e, at, len(msg))
		}
		pb := fzPrefixBytes(def)
		w := v.Wire(id)
		if e-s != pb+len(w) || !bytes.Equal(w, msg[s+pb:e]) {
			t.Fatalf("%s: %X: field %d: span %d..%d, prefix %d bytes, wire %X", d.Name, msg, id, s, e, pb, w)
		}
		n := def.Length
		if pb > 0 {
			var ok bool
			if n, ok = fzReadPrefix(def, msg[s:s+pb]); !ok {
				t.Fatalf("%s: %X: field %d: accepted prefix %X", d.Name, msg, id, msg[s:s+pb])
			}
		}
		if n != v.Len(id) || n > def.Length || len(w) != fzWireBytes(def, n) {
			t.Fatalf("%s: %X: field %d: Len %d, prefix says %d (max %d), wire %d bytes", d.Name, msg, id, v.Len(id), n, def.Length, len(w))
		}
		if issues := fzIssues(def, w, n); len(issues) > 0 {
			t.Fatalf("%s: %X: field %d accepted with content %X: %v", d.Name, msg, id, w, issues)
		}
		at = e
	}
	if at != len(msg) {
		t.Fatalf("%s: %X: fields end at %d, message is %d bytes", d.Name, msg, at, len(msg))
	}
}

// fzMTIText is the MTI as four characters, read from the raw bytes.
func fzMTIText(d *Dialect, msg []byte) []byte {
	mtiAt, mtiLen, _ := fzHeadLayout(d)
	raw := msg[mtiAt : mtiAt+mtiLen]
	if mtiLen == 4 {
		return raw
	}
	return []byte(fmt.Sprintf("%02X", raw))
}

// fzPrefixBytes, fzReadPrefix and fzWireBytes restate the wire layout from
// the field definition, independently of the decoder.
func fzPrefixBytes(def *FieldDef) int {
	switch def.Prefix {
	case PrefixASCII, PrefixBinary:
		return def.PrefixLen
	case PrefixBCD:
		return (def.PrefixLen + 1) / 2
	case PrefixHex:
		return 2 * def.PrefixLen
	}
	return 0
}

func fzReadPrefix(def *FieldDef, p []byte) (int, bool) {
	var digits []byte
	switch def.Prefix {
	case PrefixASCII:
		digits = p
	case PrefixBCD:
		for _, b := range p {
			digits = append(digits, '0'+b>>4, '0'+b&0x0F)
		}
		if len(digits) > def.PrefixLen {
			if digits[0] != '0' {
				return 0, false
			}
			digits = digits[1:]
		}
	case PrefixBinary:
		n := 0
		for _, b := range p {
			n = n*256 + int(b)
		}
		return n, true
	case PrefixHex:
		x, err := hex.DecodeString(string(p))
		if err != nil {
			return 0, false
		}
		n := 0
		for _, b := range x {
			n = n*256 + int(b)
		}
		return n, true
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func fzWireBytes(def *FieldDef, n int) int {
	switch def.Enc {
	case EncBCD, EncLBCD:
		return (n + 1) / 2
	case EncHexText:
		return 2 * n
	case EncAmountBCD:
		if n == 0 {
			return 0
		}
		return 1 + n/2 // the sign, then n-1 digits right-aligned
	}
	return n
}

// fzCanonHex is msg with its hex text (the bitmap of a hex-bitmap dialect
// and, with fields, EncHexText content) in upper case: what the codec
// writes back.
func fzCanonHex(d *Dialect, v *View, msg []byte, fields bool) []byte {
	out := fzClone(msg)
	mtiAt, mtiLen, bmLen := fzHeadLayout(d)
	if bmLen == 16 {
		words := 1
		if v.Has(1) {
			words = 2
		}
		fzUpper(out[mtiAt+mtiLen : mtiAt+mtiLen+16*words])
	}
	for id := 2; id <= MaxField; id++ {
		if def := d.Field(id); fields && def != nil && def.Enc == EncHexText && v.Has(id) {
			_, e, _ := v.Span(id)
			fzUpper(out[e-len(v.Wire(id)) : e])
		}
	}
	return out
}

func fzUpper(b []byte) {
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
}

// ---------------------------------------------------------------------------
// FuzzDifferential

func FuzzDifferential(f *testing.F) {
	fzAddMessageSeeds(f)
	dialects := fzDialects(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) > maxMessageBytes {
			return // the view's documented limit; no message of these dialects comes near it
		}
		for _, d := range dialects {
			fzCheckDifferential(t, d, msg)
		}
	})
}

// fzMoovUnpack unpacks with moov; a panic counts as a rejection (moov is
// the reference, not under test). cup-pos's message header is stripped.
func fzMoovUnpack(d *Dialect, msg []byte) (m *iso8583.Message, err error) {
	if len(msg) < d.HeaderLen {
		return nil, errors.New("shorter than the message header")
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("moov panicked: %v", r)
		}
	}()
	m = iso8583.NewMessage(d.Spec)
	if err := m.Unpack(msg[d.HeaderLen:]); err != nil {
		return nil, err
	}
	return m, nil
}

func fzMoovPack(pack func() ([]byte, error)) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("moov panicked: %v", r)
		}
	}()
	return pack()
}

func fzCheckDifferential(t *testing.T, d *Dialect, msg []byte) {
	t.Helper()
	var v View
	verr := fzDecode(t, d, &v, msg)
	if verr == nil {
		msg, ok := fzZeroPads(t, d, &v, msg)
		if !ok {
			return
		}
		m, merr := fzMoovUnpack(d, msg)
		fzCheckAgree(t, d, &v, m, merr, msg)
		return
	}
	m, merr := fzMoovUnpack(d, msg)
	fe := fzFieldError(t, d, msg, verr) // the reason is verified there
	if fe.Reason == ErrTrailingData {
		// moov ignores trailing bytes: both must accept exactly what
		// precedes them, and agree on it (whatever moov makes of the
		// whole input, it reads the same prefix).
		prefix := msg[:fe.Offset]
		var pv View
		if perr := fzDecode(t, d, &pv, prefix); perr != nil {
			t.Fatalf("%s: %X: view reports trailing data at %d, but rejects the bytes before it: %v", d.Name, msg, fe.Offset, perr)
		}
		zp, ok := fzZeroPads(t, d, &pv, prefix)
		if !ok {
			return
		}
		if !bytes.Equal(zp, prefix) {
			// F pads, which moov may refuse: compare what they read back as
			prefix = zp
			msg = append(fzClone(zp), msg[fe.Offset:]...)
			_, merr = fzMoovUnpack(d, msg)
		}
		pm, pmerr := fzMoovUnpack(d, prefix)
		fzCheckAgree(t, d, &pv, pm, pmerr, prefix)
		if merr != nil {
			t.Fatalf("%s: %X: moov accepts the message before the trailing bytes at %d, but not with them: %v", d.Name, msg, fe.Offset, merr)
		}
		return
	}
	if merr != nil {
		return // both reject
	}
	switch {
	case fzContentClass(fe.Reason):
		// A content-class rule moov does not have; fzFieldError checked
		// that the raw content really breaks the class.
	default:
		// Allowed only where moov was lenient: its re-pack of what it
		// read is not the input (pad nibbles, '+' in a prefix, an empty
		// secondary or a tertiary bitmap...), and the first difference
		// lies in what the view refused: moov read everything before it
		// as the view does.
		rp, err := fzMoovPack(m.Pack)
		if err != nil {
			return
		}
		body := msg[d.HeaderLen:]
		first, prefix := fzFoldMismatch(body, rp)
		if end := fzErrEnd(d, msg, fe) - d.HeaderLen; prefix || first >= end {
			t.Fatalf("%s: %X: view rejects (%v), moov accepts and re-packs %X: the same bytes up to %d, past the refused element (ends at %d)",
				d.Name, msg, verr, rp, first, end)
		}
	}
}

// fzTextCanon is what the text form of v (decoded from msg) encodes to
// with a builder padding with pad: hex text upper case, pad nibbles
// rewritten, raw ansb content as hex text where that fits.
func fzTextCanon(t *testing.T, d *Dialect, v *View, msg []byte, pad PadNibble) []byte {
	t.Helper()
	out := fzRepad(d, v, fzCanonHex(d, v, msg, true), pad)
	for id := MaxField; id >= 2; id-- { // from the end: earlier spans stay put
		def := d.Field(id)
		if def == nil || def.Class != ClassANSB || !v.Has(id) {
			continue
		}
		s, e, _ := v.Span(id)
		w := out[s+fzPrefixBytes(def) : e]
		if len(w)%2 == 0 && fzAll(w, fzHex) {
			fzUpper(w) // hex text already
			continue
		}
		if 2*len(w) > def.Length {
			continue // raw that only fits raw
		}
		if def.Prefix != PrefixASCII {
			t.Fatalf("%s: field %d: ansb with a non-ASCII prefix", d.Name, id)
		}
		field := []byte(fmt.Sprintf("%0*d%X", def.PrefixLen, 2*len(w), w))
		out = append(out[:s:s], append(field, out[e:]...)...)
	}
	return out
}

// fzZeroPads returns msg, which v was decoded from, as moov can read it:
// its pad nibbles 0 (moov's BCD decoders refuse a leading F and the
// track's any F) and raw ansb content as hex text (moov's ASCII refuses
// bytes above 0x7F). The view of the result must read as the view of msg
// did. ok=false when moov cannot be asked: raw ansb bytes above 0x7F too
// long for hex text.
func fzZeroPads(t *testing.T, d *Dialect, v *View, msg []byte) (_ []byte, ok bool) {
	t.Helper()
	zero := fzTextCanon(t, d, v, msg, PadZero)
	for id := 2; id <= MaxField; id++ {
		if def := d.Field(id); def != nil && def.Class == ClassANSB && v.Has(id) && 2*v.Len(id) > def.Length && !sevenBit(v.Wire(id)) {
			return nil, false
		}
	}
	if bytes.Equal(zero, msg) {
		return msg, true
	}
	want := v.ToMessage(false)
	if err := fzDecode(t, d, v, zero); err != nil {
		t.Fatalf("%s: %X decodes, but not with its pad nibbles 0 (%X): %v", d.Name, msg, zero, err)
	}
	if got := v.ToMessage(false); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: %X reads as %+v, as moov can read it (%X) as %+v", d.Name, msg, want, zero, got)
	}
	return zero, true
}

// fzCheckAgree is rule (a): the view accepted msg, so moov must too, with
// the same bytes for every field and for the whole message.
func fzCheckAgree(t *testing.T, d *Dialect, v *View, m *iso8583.Message, merr error, msg []byte) {
	t.Helper()
	if merr != nil {
		t.Fatalf("%s: %X: view accepts, moov rejects: %v", d.Name, msg, merr)
	}
	for id := 2; id <= MaxField; id++ {
		mf := m.GetField(id)
		if !v.Has(id) {
			if mf != nil {
				t.Fatalf("%s: %X: moov has field %d, the view does not", d.Name, msg, id)
			}
			continue
		}
		if mf == nil {
			t.Fatalf("%s: %X: the view has field %d, moov does not", d.Name, msg, id)
		}
		want, err := fzMoovPack(mf.Pack)
		if err != nil {
			t.Fatalf("%s: %X: moov cannot re-pack field %d: %v", d.Name, msg, id, err)
		}
		s, e, _ := v.Span(id)
		got := msg[s:e]
		if d.Field(id).Enc == EncHexText {
			got = fzClone(got)
			fzUpper(got)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: %X: field %d: view %X, moov %X", d.Name, msg, id, msg[s:e], want)
		}
	}
	rp, err := fzMoovPack(m.Pack)
	if err != nil {
		t.Fatalf("%s: %X: moov cannot re-pack: %v", d.Name, msg, err)
	}
	if want := fzCanonHex(d, v, msg, true)[d.HeaderLen:]; !bytes.Equal(rp, want) {
		t.Fatalf("%s: %X: moov re-pack\n got %X\nwant %X", d.Name, msg, rp, want)
	}
}

// fzFoldMismatch returns the first index where p and b differ, a lower-case
// hex letter of b standing for the upper-case one in p (moov writes hex
// text in upper case; folding can only make moov look less lenient), and
// whether p is a prefix of b.
func fzFoldMismatch(b, p []byte) (int, bool) {
	for i, c := range p {
		if i == len(b) {
			return i, false
		}
		x := b[i]
		if x >= 'a' && x <= 'f' {
			x -= 'a' - 'A'
		}
		if x != c && b[i] != c {
			return i, false
		}
	}
	return len(p), true
}

// fzContentClass reports the content-class rules the view has and moov
// (whose fields are plain Strings) does not. ErrBadMTI is the class rule of
// the MTI (n4), which moov reads as ASCII text.
func fzContentClass(reason error) bool {
	switch reason {
	case ErrNotNumeric, ErrBadTrack, ErrBadAmountSign, ErrBadMTI:
		return true
	}
	return false
}

// fzFieldAt reads, independently of the decoder, the length of field def
// whose content starts at data: from its prefix (which ends at data) or its
// fixed length. ok=false if the prefix is not there or not valid.
func fzFieldAt(def *FieldDef, msg []byte, data int) (n, wire int, ok bool) {
	n, pb := def.Length, fzPrefixBytes(def)
	if pb > 0 {
		if data < pb || data > len(msg) {
			return 0, 0, false
		}
		if n, ok = fzReadPrefix(def, msg[data-pb:data]); !ok {
			return 0, 0, false
		}
	}
	return n, fzWireBytes(def, n), true
}

// fzErrEnd is where the element the view refused ends (past the length
// prefix for a prefix error, past the content for a content error).
func fzErrEnd(d *Dialect, msg []byte, fe *FieldError) int {
	mtiAt, mtiLen, bmLen := fzHeadLayout(d)
	switch {
	case fe.Field == 0:
		return mtiAt + mtiLen
	case fe.Field == 1 || fe.Field == 65:
		if fe.Reason == ErrBadBitmap {
			return fe.Offset + bmLen
		}
		return fe.Offset
	}
	def := d.Field(fe.Field)
	if def == nil {
		return fe.Offset + 1
	}
	switch fe.Reason {
	case ErrBadPrefix, ErrTooLong:
		return fe.Offset + fzPrefixBytes(def)
	}
	if _, wire, ok := fzFieldAt(def, msg, fe.Offset); ok {
		return fe.Offset + max(wire, 1)
	}
	return fe.Offset + 1
}

// fzCheckReason checks, from the raw bytes and the field definition alone,
// the claim a decode error makes: the offset points at what it names, and
// that really breaks the rule.
func fzCheckReason(d *Dialect, msg []byte, fe *FieldError) (string, bool) {
	mtiAt, mtiLen, bmLen := fzHeadLayout(d)
	why := fmt.Sprintf("field %d offset %d", fe.Field, fe.Offset)
	switch fe.Reason {
	case ErrTooLong:
		if fe.Field == 0 {
			return why, len(msg) > maxMessageBytes
		}
	case ErrTruncated:
		switch fe.Field {
		case 0:
			return why, len(msg) < mtiAt+mtiLen
		case 1:
			return why, len(msg) < fe.Offset+bmLen
		}
	case ErrBadMTI:
		if fe.Field != 0 || fe.Offset != mtiAt || len(msg) < mtiAt+mtiLen {
			return why, false
		}
		raw := msg[mtiAt : mtiAt+mtiLen]
		if mtiLen == 2 {
			return fmt.Sprintf("BCD MTI %X", raw), fzBadNibbles(raw, 0, 4, false)
		}
		return fmt.Sprintf("MTI %q", raw), !fzAll(raw, fzDigit)
	case ErrBadBitmap:
		return why, fe.Field == 1 && bmLen == 16 && fe.Offset+16 <= len(msg) && !fzAll(msg[fe.Offset:fe.Offset+16], fzHex)
	case ErrEmptySecondary, ErrTertiaryBitmap:
		w := fe.Offset - bmLen // the secondary bitmap ends at the offset
		if w < mtiAt+mtiLen+bmLen || fe.Offset > len(msg) {
			return why, false
		}
		word := msg[w:fe.Offset]
		if bmLen == 16 {
			x, err := hex.DecodeString(string(word))
			if err != nil {
				return why, false
			}
			word = x
		}
		if fe.Reason == ErrTertiaryBitmap {
			return why, fe.Field == 65 && word[0]&0x80 != 0
		}
		return why, fe.Field == 1 && bytes.Equal(word, make([]byte, 8))
	case ErrUndefinedField:
		return why, fe.Field >= 2 && d.Field(fe.Field) == nil
	case ErrTrailingData:
		return why, fe.Offset < len(msg) // the bytes before it are checked by the caller
	}
	if fe.Field < 2 {
		return why, false
	}
	def := d.Field(fe.Field)
	if def == nil {
		return why, false
	}
	switch fe.Reason {
	case ErrTruncated:
		// At the prefix (it does not fit) or at the content (it does not).
		if fe.Offset+fzPrefixBytes(def) > len(msg) {
			return why, true
		}
		_, wire, ok := fzFieldAt(def, msg, fe.Offset)
		return why, ok && fe.Offset+wire > len(msg)
	case ErrBadPrefix, ErrTooLong:
		pb := fzPrefixBytes(def)
		if pb == 0 || fe.Offset+pb > len(msg) {
			return why, false
		}
		n, ok := fzReadPrefix(def, msg[fe.Offset:fe.Offset+pb])
		if fe.Reason == ErrBadPrefix {
			return fmt.Sprintf("%s: prefix %X", why, msg[fe.Offset:fe.Offset+pb]), !ok
		}
		return fmt.Sprintf("%s: length %d, max %d", why, n, def.Length), ok && n > def.Length
	}
	n, wire, ok := fzFieldAt(def, msg, fe.Offset)
	if !ok || fe.Offset+wire > len(msg) {
		return why, false
	}
	w := msg[fe.Offset : fe.Offset+wire]
	why = fmt.Sprintf("field %d (class %d, enc %d, %d units): %X", fe.Field, def.Class, def.Enc, n, w)
	for _, r := range fzIssues(def, w, n) {
		if r == fe.Reason {
			return why, true
		}
	}
	return why, false
}

// fzIssues lists the content rules wire bytes w (n units) of field def
// break, restated from the field's class and encoding.
func fzIssues(def *FieldDef, w []byte, n int) []error {
	var out []error
	add := func(bad bool, r error) {
		if bad {
			out = append(out, r)
		}
	}
	track := func(c byte) bool { return fzDigit(c) || c == '=' || c == 'D' }
	switch def.Enc {
	case EncASCII:
		switch def.Class {
		case ClassN:
			add(!fzAll(w, fzDigit), ErrNotNumeric)
		case ClassZ:
			add(!fzAll(w, track), ErrBadTrack)
		case ClassAmount:
			if n > 0 {
				add(w[0] != 'C' && w[0] != 'D', ErrBadAmountSign)
				add(!fzAll(w[1:], fzDigit), ErrNotNumeric)
			}
		case ClassANSB: // any byte
		default:
			add(!fzAll(w, func(c byte) bool { return c < 0x80 }), ErrNotASCII)
		}
	case EncBCD, EncLBCD:
		pad, from := len(w)*2-n, 0
		if pad == 1 && def.Enc == EncBCD {
			from = 1
			add(!fzPadNibble(w[0]>>4), ErrBadPadding)
		}
		if pad == 1 && def.Enc == EncLBCD {
			add(!fzPadNibble(w[len(w)-1]&0x0F), ErrBadPadding)
		}
		bad := ErrNotNumeric
		if def.Class == ClassZ {
			bad = ErrBadTrack
		}
		add(fzBadNibbles(w, from, n, def.Class == ClassZ), bad)
	case EncAmountBCD:
		if n > 0 {
			add(w[0] != 'C' && w[0] != 'D', ErrBadAmountSign)
			digits := w[1:]
			pad := len(digits)*2 - (n - 1)
			add(pad == 1 && !fzPadNibble(digits[0]>>4), ErrBadPadding)
			add(fzBadNibbles(digits, pad, n-1, false), ErrNotNumeric)
		}
	case EncHexText:
		add(!fzAll(w, fzHex), ErrBadHex)
	}
	return out
}

func fzDigit(c byte) bool { return c >= '0' && c <= '9' }

// fzPadNibble: a pad nibble may be 0 or F (VisaNet pads with F).
func fzPadNibble(nib byte) bool { return nib == 0 || nib == 0xF }

// fzRepad is msg with the pad nibble of every odd-length BCD content set
// to what a Builder with SetBCDPad(pad) writes: pad in variable fields, 0
// in fixed ones. It restates the layout from the field definitions.
func fzRepad(d *Dialect, v *View, msg []byte, pad PadNibble) []byte {
	out := fzClone(msg)
	for id := 2; id <= MaxField; id++ {
		def := d.Field(id)
		if def == nil || !v.Has(id) {
			continue
		}
		nib := byte(pad)
		if def.Prefix == PrefixFixed {
			nib = 0
		}
		_, e, _ := v.Span(id)
		w := out[e-len(v.Wire(id)) : e]
		n := v.Len(id)
		switch {
		case def.Enc == EncBCD && len(w)*2-n == 1:
			w[0] = w[0]&0x0F | nib<<4
		case def.Enc == EncLBCD && len(w)*2-n == 1:
			w[len(w)-1] = w[len(w)-1]&0xF0 | nib
		case def.Enc == EncAmountBCD && n > 0 && (len(w)-1)*2-(n-1) == 1:
			w[1] = w[1]&0x0F | nib<<4
		}
	}
	return out
}

func fzHex(c byte) bool {
	return fzDigit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')
}

func fzAll(b []byte, ok func(byte) bool) bool {
	for _, c := range b {
		if !ok(c) {
			return false
		}
	}
	return true
}

// fzBadNibbles reports a nibble among the count digits starting at nibble
// from that is not a decimal digit (nor D, the separator, when track).
func fzBadNibbles(b []byte, from, count int, track bool) bool {
	for k := from; k < from+count; k++ {
		nib := b[k/2] >> 4
		if k%2 == 1 {
			nib = b[k/2] & 0x0F
		}
		if nib > 9 && !(track && nib == 0xD) {
			return true
		}
	}
	return false
}
