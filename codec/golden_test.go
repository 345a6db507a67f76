package codec

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/field"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.hex from moov-io/iso8583's Message.Pack")

// goldenCase is a message in text form with the framing of its link.
type goldenCase struct {
	Framing string            `json:"framing"`
	TPDU    string            `json:"tpdu,omitempty"`
	Header  string            `json:"header,omitempty"`
	MTI     string            `json:"mti"`
	Fields  map[string]string `json:"fields"`
}

func loadGolden(t testing.TB) map[string]goldenCase {
	t.Helper()
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	out := map[string]goldenCase{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = c
	}
	return out
}

func dialectOf(t testing.TB, name string) *Dialect {
	t.Helper()
	d, err := Lookup(name[:strings.LastIndex(name, "_")])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// moovPack packs a text message with moov-io/iso8583, the reference.
func moovPack(t *testing.T, d *Dialect, mti string, fields map[string]string) []byte {
	t.Helper()
	m := iso8583.NewMessage(d.Spec)
	m.MTI(mti)
	for k, v := range fields {
		id, _ := strconv.Atoi(k)
		if _, ok := d.Spec.Fields[id].(*field.Binary); ok {
			raw, err := hex.DecodeString(v)
			if err != nil {
				t.Fatalf("field %d: %v", id, err)
			}
			if err := m.BinaryField(id, raw); err != nil {
				t.Fatalf("moov field %d: %v", id, err)
			}
			continue
		}
		if err := m.Field(id, v); err != nil {
			t.Fatalf("moov field %d: %v", id, err)
		}
	}
	out, err := m.Pack()
	if err != nil {
		t.Fatalf("moov pack: %v", err)
	}
	return out
}

func TestGoldenFrames(t *testing.T) {
	for name, c := range loadGolden(t) {
		t.Run(name, func(t *testing.T) {
			d := dialectOf(t, name)
			fr, err := ParseFraming(c.Framing)
			if err != nil {
				t.Fatal(err)
			}
			header, _ := hex.DecodeString(c.Header)
			tpdu, _ := hex.DecodeString(c.TPDU)
			hexPath := filepath.Join("testdata/golden", name+".hex")
			if *update {
				msg := append(append([]byte(nil), header...), moovPack(t, d, c.MTI, c.Fields)...)
				frame, err := fr.Append(nil, tpdu, msg)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(hexPath, []byte(strings.ToUpper(hex.EncodeToString(frame))+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden := readHex(t, hexPath)

			// Framing: the whole file is exactly one frame.
			f, n, err := fr.Next(golden)
			if err != nil || n != len(golden) {
				t.Fatalf("framing: n=%d of %d, err=%v", n, len(golden), err)
			}
			if !bytes.Equal(f.TPDU, tpdu) {
				t.Fatalf("tpdu %X, want %X", f.TPDU, tpdu)
			}

			// Decode: the text form equals the source.
			var v View
			if err := d.Decode(&v, f.Msg); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if err := v.Validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			got := v.ToMessage(false)
			if got.MTI != c.MTI || !reflect.DeepEqual(got.Fields, c.Fields) || got.Header != strings.ToUpper(c.Header) {
				t.Fatalf("decoded %+v\nwant mti %s header %s fields %v", got, c.MTI, c.Header, c.Fields)
			}

			// Encode: our builder reproduces moov's bytes exactly.
			enc, err := d.Encode(Message{MTI: c.MTI, Header: c.Header, Fields: c.Fields})
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !bytes.Equal(enc, f.Msg) {
				t.Fatalf("encode:\n got %X\nwant %X", enc, f.Msg)
			}

			// moov reads the golden message to the same fields.
			m := iso8583.NewMessage(d.Spec)
			if err := m.Unpack(f.Msg[d.HeaderLen:]); err != nil {
				t.Fatalf("moov unpack: %v", err)
			}
			for k := range c.Fields {
				id, _ := strconv.Atoi(k)
				want, err := m.GetField(id).Pack()
				if err != nil {
					t.Fatalf("moov repack %d: %v", id, err)
				}
				s, e, _ := v.Span(id)
				if !bytes.Equal(f.Msg[s:e], want) {
					t.Fatalf("field %d: view %X, moov %X", id, f.Msg[s:e], want)
				}
			}
		})
	}
}

func readHex(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// Bytes checked by hand against ISO 8583 and the jPOS packagers, so the
// golden files do not rest on moov alone.
func TestGoldenByHand(t *testing.T) {
	// 0800 echo in ASCII with fields 7, 11 and 70: byte 1 of the bitmap is
	// 0x80 (bit 1: a secondary bitmap follows) + 0x02 (bit 7), byte 2 is 0x20
	// (bit 11); bit 70 is bit 6 of the secondary: 0x04. 55 bytes in all.
	g := readHex(t, "testdata/golden/iso87ascii_0800.hex")
	want := "0800" + "8220000000000000" + "0400000000000000" + "1121204400" + "000001" + "301"
	if string(g[4:]) != want || string(g[:4]) != "0055" {
		t.Fatalf("iso87ascii 0800 = %q", g)
	}
	// The same 0800 with jPOS ISO87APackagerBBitmap: the ASCII fields, the
	// bitmap as 8 + 8 raw bytes. 4 + 16 + 19 = 39 bytes.
	g = readHex(t, "testdata/golden/iso87ascii-bbitmap_0800.hex")
	wantB := append(append([]byte("00390800"), 0x82, 0x20, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0), "1121204400000001301"...)
	if !bytes.Equal(g, wantB) {
		t.Fatalf("iso87ascii-bbitmap 0800 = % X", g)
	}
	// Binary 0100: BCD MTI 01 00, PAN 13 digits right-padded with a 0 nibble.
	g = readHex(t, "testdata/golden/iso87binary_0100.hex")
	if !bytes.HasPrefix(g[2:], []byte{0x01, 0x00}) {
		t.Fatalf("binary MTI: % X", g[2:4])
	}
	if !bytes.Equal(g[12:20], []byte{0x13, 0x40, 0x00, 0x00, 0x12, 0x34, 0x56, 0x20}) {
		t.Fatalf("binary PAN: % X", g[12:20])
	}
	// CUP: length, TPDU 60 0003 0000, header 60 31 00 31 10 00, MTI 02 00.
	g = readHex(t, "testdata/golden/cup-pos_0200.hex")
	if !bytes.Equal(g[2:15], []byte{0x60, 0x00, 0x03, 0x00, 0x00, 0x60, 0x31, 0x00, 0x31, 0x10, 0x00, 0x02, 0x00}) {
		t.Fatalf("cup head: % X", g[:15])
	}
	if int(g[0])<<8|int(g[1]) != len(g)-2 {
		t.Fatalf("cup length header %d for %d bytes", int(g[0])<<8|int(g[1]), len(g)-2)
	}
}

func TestGoldenCoversDialects(t *testing.T) {
	seen := map[string]bool{}
	for name := range loadGolden(t) {
		seen[name[:strings.LastIndex(name, "_")]] = true
	}
	var got []string
	for n := range seen {
		got = append(got, n)
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, Builtins()) {
		t.Fatalf("golden frames for %v, dialects %v", got, Builtins())
	}
}
