package codec

import (
	"testing"

	"github.com/moov-io/iso8583"
)

var (
	approvalCode = []byte("123456")
	approved     = []byte("00")
)

// reply builds the 0210 for a decoded 0200 into dst, as a switch does: the
// fields ISO 8583 echoes, an approval code and a response code.
func reply(b *Builder, v *View, dst []byte) ([]byte, error) {
	b.Begin(v.Dialect(), dst, v.MTI().Response(), v.Header())
	for _, id := range [...]int{2, 3, 4, 7, 11, 12, 13, 32, 37} {
		b.Copy(v, id)
	}
	b.Text(38, approvalCode)
	b.Text(39, approved)
	b.Copy(v, 41)
	b.Copy(v, 42)
	b.Copy(v, 49)
	return b.Finish()
}

// goldenMsg returns the dialect and message (unframed) of a golden frame.
func goldenMsg(tb testing.TB, name string) (*Dialect, []byte) {
	tb.Helper()
	c, ok := loadGolden(tb)[name]
	if !ok {
		tb.Fatalf("no golden %s", name)
	}
	fr, err := ParseFraming(c.Framing)
	if err != nil {
		tb.Fatal(err)
	}
	f, _, err := fr.Next(readHex(tb, "testdata/golden/"+name+".hex"))
	if err != nil {
		tb.Fatal(err)
	}
	return dialectOf(tb, name), f.Msg
}

func BenchmarkDecodeEncode(b *testing.B) {
	for _, name := range []string{"iso87ascii_0200", "iso87binary_0200", "cup-pos_0200"} {
		d, msg := goldenMsg(b, name)
		b.Run(name+"/cardswitch", func(b *testing.B) {
			var v View
			var bld Builder
			out := make([]byte, 0, 512)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := d.Decode(&v, msg); err != nil {
					b.Fatal(err)
				}
				var err error
				if out, err = reply(&bld, &v, out[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
		if d.HeaderLen > 0 {
			continue // moov's Message has no message header
		}
		b.Run(name+"/moov-unpack", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m := iso8583.NewMessage(d.Spec)
				if err := m.Unpack(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/moov-pack", func(b *testing.B) {
			m := iso8583.NewMessage(d.Spec)
			if err := m.Unpack(msg); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Pack(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestDecodeEncodeAllocatesNothing(t *testing.T) {
	for _, name := range []string{"iso87ascii_0200", "iso87binary_0200", "cup-pos_0200", "iso87ascii_0800"} {
		d, msg := goldenMsg(t, name)
		var v View
		var bld Builder
		out := make([]byte, 0, 512)
		allocs := testing.AllocsPerRun(100, func() {
			if err := d.Decode(&v, msg); err != nil {
				t.Fatal(err)
			}
			var err error
			if out, err = reply(&bld, &v, out[:0]); err != nil {
				t.Fatal(err)
			}
			var scratch [64]byte
			_ = v.PAN(scratch[:0])
			_, _ = v.Amount()
			_, _ = v.STAN()
			_, _ = v.Original()
			_ = v.MAC(scratch[:0])
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per decode+reply", name, allocs)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"iso87ascii_0200", "iso87binary_0200"} {
		d, msg := goldenMsg(b, name)
		b.Run(name, func(b *testing.B) {
			var v View
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := d.Decode(&v, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReply(b *testing.B) {
	for _, name := range []string{"iso87ascii_0200", "iso87binary_0200"} {
		d, msg := goldenMsg(b, name)
		b.Run(name, func(b *testing.B) {
			var v View
			var bld Builder
			if err := d.Decode(&v, msg); err != nil {
				b.Fatal(err)
			}
			out := make([]byte, 0, 512)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var err error
				if out, err = reply(&bld, &v, out[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
