package codec

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/padding"
	"github.com/moov-io/iso8583/prefix"
	"github.com/moov-io/iso8583/specs"
)

// moovSpecFiles returns moov's own Spec87ASCII as JSON twice: the
// examples/specs/spec87ascii.json shipped in the module, and what
// specs.ExportJSON(specs.Spec87ASCII) writes.
func moovSpecFiles(t *testing.T) map[string]string {
	t.Helper()
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/moov-io/iso8583").Output()
	if err != nil {
		t.Fatalf("locating moov-io/iso8583: %v", err)
	}
	example := filepath.Join(strings.TrimSpace(string(dir)), "examples", "specs", "spec87ascii.json")
	exported, err := specs.ExportJSON(specs.Spec87ASCII)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "exported.json")
	if err := os.WriteFile(path, exported, 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"example": example, "exported": path}
}

// spec87Purchase is an 0200 in moov's Spec87ASCII with a secondary field
// (90), so both words of its 16-byte bitmap carry fields.
var spec87Purchase = map[string]string{
	"2":  "4761739001010010",
	"3":  "000000",
	"4":  "000000012500",
	"7":  "1121204501",
	"11": "000102",
	"12": "204501",
	"13": "1121",
	"14": "2812",
	"22": "051",
	"25": "00",
	"32": "123456",
	"35": "4761739001010010=28121010000012300000",
	"37": "632520000102",
	"41": "TERM0001",
	"42": "MERCHANT0000001",
	"43": "CARDSWITCH DEMO STORE    SPRINGFIELD  US",
	"49": "840",
	"55": "9F2608C2C12B098F3DA6E3",
	"90": "020000010211212045010000012345600000000000",
}

func TestMoovSpec87ASCII(t *testing.T) {
	for name, path := range moovSpecFiles(t) {
		t.Run(name, func(t *testing.T) {
			d, err := LoadJSON(path)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			packed := moovPack(t, d, "0200", spec87Purchase)
			// 32 hex characters of bitmap, bit 1 clear though field 90 is there;
			// checked by hand: 2 3 4 7 = 72, 11-14 = 3C, 22 = 04, 25 32 = 81, 35 37 = 28,
			// 41-43 = E0, 49 55 = 82; 90 is bit 26 of the second word = 40 in its byte 4
			if bm := string(packed[4:36]); bm != "723C048128E08200"+"0000004000000000" {
				t.Fatalf("moov bitmap %s", bm)
			}
			var v View
			if err := d.Decode(&v, packed); err != nil {
				t.Fatalf("decode moov's frame: %v", err)
			}
			if got := v.ToMessage(false); got.MTI != "0200" || !reflect.DeepEqual(got.Fields, spec87Purchase) {
				t.Fatalf("decoded %v", got.Fields)
			}
			// what the engine reads: numbers from fields moov types String
			var desc strings.Builder
			if err := Describe(&desc, &v, true); err != nil || !strings.Contains(desc.String(), "bitmap  723C048128E08200 0000004000000000\n") {
				t.Errorf("describe shows one word of the 16-byte bitmap (%v):\n%s", err, desc.String())
			}
			if a, ok := v.Amount(); !ok || a != 12500 {
				t.Errorf("amount %d %v", a, ok)
			}
			if s, ok := v.STAN(); !ok || s != 102 {
				t.Errorf("STAN %d %v", s, ok)
			}
			if tm, err := v.Uint(FieldTransmission); err != nil || tm != 1121204501 {
				t.Errorf("transmission %d %v", tm, err)
			}
			if lt, ok := v.LocalTime(); !ok || lt != 204501 {
				t.Errorf("local time %d %v", lt, ok)
			}
			if ld, ok := v.LocalDate(); !ok || ld != 1121 {
				t.Errorf("local date %d %v", ld, ok)
			}
			if o, ok := v.Original(); !ok || o.STAN != 102 || o.MTI.String() != "0200" {
				t.Errorf("original %+v %v", o, ok)
			}
			enc, err := d.Encode(Message{MTI: "0200", Fields: spec87Purchase})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, packed) {
				t.Fatalf("encode:\n got %s\nwant %s", enc, packed)
			}

			// 52 and 64 (String in HexToASCII): moov cannot pack them (its
			// Hex.Fixed prefix wants twice the length), so check the bytes by
			// hand and that moov reads ours back to the raw bytes.
			withPIN := map[string]string{"3": "000000", "11": "000102", "41": "TERM0001", "52": "0123456789ABCDEF", "64": "A1B2C3D4E5F60718"}
			frame, err := d.Encode(Message{MTI: "0200", Fields: withPIN})
			if err != nil {
				t.Fatal(err)
			}
			want := "0200" + "20200000008010010000000000000000" + "000000" + "000102" + "TERM0001" + "0123456789ABCDEF" + "A1B2C3D4E5F60718"
			if string(frame) != want {
				t.Fatalf("52/64 frame\n got %s\nwant %s", frame, want)
			}
			m := iso8583.NewMessage(d.Spec)
			if err := m.Unpack(frame); err != nil {
				t.Fatalf("moov unpack: %v", err)
			}
			if pin, _ := m.GetString(52); pin != "\x01\x23\x45\x67\x89\xAB\xCD\xEF" {
				t.Fatalf("moov reads 52 as %q", pin)
			}
			if err := d.Decode(&v, frame); err != nil || !bytes.Equal(v.PINBlock(nil), []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF}) {
				t.Fatalf("PIN block % X %v", v.PINBlock(nil), err)
			}

			// a letter in the amount is a format error on field 4, not amount 0
			bad := bytes.Replace(packed, []byte("000000012500"), []byte("0000000125X0"), 1)
			var fe *FieldError
			if err := d.Decode(&v, bad); !errors.As(err, &fe) || fe.Field != 4 || !errors.Is(err, ErrNotNumeric) {
				t.Fatalf("letter in 4: %v", err)
			}
			// bit 1 would announce a third bitmap
			third := append([]byte(nil), packed...)
			third[4] = 'F'
			if err := d.Decode(&v, third); !errors.As(err, &fe) || fe.Field != 1 || !errors.Is(err, ErrTertiaryBitmap) {
				t.Fatalf("bit 1 of a 16-byte bitmap: %v", err)
			}
		})
	}
}

// A field the switch reads as a number in a type that cannot hold digits
// is refused at load, naming the field.
func TestJSONDialectRefusesNonNumericSwitchFields(t *testing.T) {
	for id, f := range map[string]string{
		"4":  `{"type":"Binary","length":6,"description":"Amount","enc":"Binary","prefix":"Binary.Fixed"}`,
		"11": `{"type":"String","length":3,"description":"STAN","enc":"HexToASCII","prefix":"Hex.Fixed"}`,
		"7":  `{"type":"Track2","length":10,"description":"Transmission","enc":"ASCII","prefix":"ASCII.Fixed"}`,
	} {
		_, err := LoadJSON(writeSpec(t, map[string]string{id: f}))
		if err == nil || !strings.Contains(err.Error(), "field "+id) {
			t.Errorf("field %s: %v", id, err)
		}
	}
	// typed String in text, it loads as digits
	d, err := LoadJSON(writeSpec(t, map[string]string{"11": `{"type":"String","length":6,"description":"STAN","enc":"ASCII","prefix":"ASCII.Fixed"}`}))
	if err != nil || d.Field(11).Class != ClassN {
		t.Fatalf("String STAN: %v", err)
	}
}

// A MAC in field 128 of a 16-byte raw bitmap: MACInput shows the bitmap as
// sent, with no secondary bitmap to insert, and moov reads the result.
func TestBitmap128MAC(t *testing.T) {
	spec := &iso8583.MessageSpec{Fields: map[int]field.Field{
		0:   field.NewString(&field.Spec{Length: 4, Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed}),
		1:   field.NewBitmap(&field.Spec{Length: 16, Enc: encoding.Binary, Pref: prefix.Binary.Fixed}),
		11:  field.NewNumeric(&field.Spec{Length: 6, Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed, Pad: padding.Left('0')}),
		128: field.NewBinary(&field.Spec{Length: 8, Enc: encoding.Binary, Pref: prefix.Binary.Fixed}),
	}}
	d, err := Compile("b128", "", spec, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var covered []byte
	msg, err := d.EncodeMAC(Message{MTI: "0800", Fields: map[string]string{"11": "000001"}}, 128, func(in []byte) ([]byte, error) {
		covered = append([]byte(nil), in...)
		return []byte{1, 2, 3, 4, 5, 6, 7, 8}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantBitmap := []byte{0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}
	if !bytes.Equal(msg[4:20], wantBitmap) || !bytes.Equal(covered, msg[:len(msg)-8]) || len(msg) != 4+16+6+8 {
		t.Fatalf("% X (MAC over % X)", msg, covered)
	}
	m := iso8583.NewMessage(spec)
	if err := m.Unpack(msg); err != nil {
		t.Fatal(err)
	}
	if mac, _ := m.GetBytes(128); !bytes.Equal(mac, []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("moov reads 128 as % X", mac)
	}
}
