package engine

import (
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// binaryPurchase builds an iso87binary 0200 for the demo card with an
// acquirer id of 5 digits (field 32, echoed), its BCD values padded with pad.
func binaryPurchase(t testing.TB, stan int, pad codec.PadNibble) []byte {
	t.Helper()
	d, _ := codec.Lookup(codec.ISO87Binary)
	var b codec.Builder
	b.SetBCDPad(pad)
	b.Begin(d, nil, codec.MTI{'0', '2', '0', '0'}, nil)
	for _, f := range []struct {
		id int
		v  string
	}{{2, "4761739001010010"}, {3, "000000"}, {4, "100"}, {7, "1121204500"}, {11, strconv.Itoa(stan)},
		{12, "204500"}, {13, "1121"}, {22, "051"}, {32, "12345"}, {41, "TERM0001"}, {42, "MERCHANT0000001"}, {49, "840"}} {
		b.String(f.id, f.v)
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// A link reads F-padded requests and answers with its own pad: 0 by
// default, F with bcd_pad "F".
func TestLinkBCDPad(t *testing.T) {
	for _, linkPad := range []string{"", "0", "F"} {
		ts := startServer(t, nil, func(c *Config) {
			c.Links[0].Dialect, c.Links[0].BCDPad = codec.ISO87Binary, linkPad
		})
		c := ts.dial(t)
		for i, reqPad := range []codec.PadNibble{codec.PadF, codec.PadZero} {
			r, err := c.RoundTrip(binaryPurchase(t, 100+i, reqPad), 5*time.Second)
			if err != nil {
				t.Fatalf("bcd_pad %q, request pad %X: %v", linkPad, reqPad, err)
			}
			if field(r, 39) != "00" || field(r, 32) != "12345" {
				t.Fatalf("bcd_pad %q, request pad %X: 39=%q 32=%q", linkPad, reqPad, field(r, 39), field(r, 32))
			}
			w := r.View.Wire(32)
			want := byte(0)
			if linkPad == "F" {
				want = 0xF
			}
			if w[len(w)-1]&0x0F != want {
				t.Fatalf("bcd_pad %q, request pad %X: reply field 32 is %X", linkPad, reqPad, w)
			}
		}
	}
}

// The 0200 published in moov-io/iso8583 issue 327 (track 2 padded with F)
// is answered on an iso87binary link, not refused as a format error.
func TestPublishedFPadded0200Answered(t *testing.T) {
	raw, err := os.ReadFile("../codec/testdata/realworld/moov-iso8583-issue327-0200.hex")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, nil, func(c *Config) { c.Links[0].Dialect = codec.ISO87Binary })
	r, err := ts.dial(t).RoundTrip(msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// BIN 511111 has no route in the test table: 15, not 30.
	if field(r, 39) != "15" || field(r, 11) != "107989" || field(r, 41) != "TEST0001" {
		t.Fatalf("reply %s 39=%q 11=%q 41=%q", r.View.MTI(), field(r, 39), field(r, 11), field(r, 41))
	}
}

func TestBCDPadConfig(t *testing.T) {
	c := Config{Links: []LinkConfig{{Name: "pos", Listen: "127.0.0.1:1", Dialect: codec.ISO87Binary, Framing: "binary2"}}}
	c = c.WithDefaults()
	if c.Links[0].BCDPad != "0" {
		t.Fatalf("default bcd_pad %q", c.Links[0].BCDPad)
	}
	for _, ok := range []string{"0", "F"} {
		c.Links[0].BCDPad = ok
		if err := c.Validate(); err != nil {
			t.Fatalf("%q: %v", ok, err)
		}
	}
	c.Links[0].BCDPad = "1"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "links[0].bcd_pad") {
		t.Fatalf("bcd_pad 1: %v", err)
	}
}

// An F-padded request on an F-padding binary link allocates nothing either.
func TestEnginePathAllocatesNothingFPadded(t *testing.T) {
	l, cs := pathServer(t, DemoAuthorizer{Data: demoData(t)}, NoJournal{})
	d, _ := codec.Lookup(codec.ISO87Binary)
	l.dialect, l.bcdPad = d, codec.PadF
	frame := binaryPurchase(t, 1, codec.PadF)
	onePass(l, cs, frame)
	if n := testing.AllocsPerRun(1000, func() { onePass(l, cs, frame) }); n != 0 {
		t.Fatalf("%.1f allocations per request through the engine", n)
	}
}

// Raw ICC data in field 55 of an iso87ascii request (jPOS's ISO87APackager
// passes any byte in its LLLCHAR fields) is answered, not refused as 30.
func TestRawICCDataAnswered(t *testing.T) {
	ts := startServer(t, nil, nil)
	msg := purchase(t, 77, 100)
	emv := []byte{0x9F, 0x26, 0x08, 0xC2, 0xC1, 0x2B, 0x09, 0x8F, 0x3D, 0xA6, 0xE3}
	// field 55 sits after 49, the purchase's last field up to 55: set its
	// bit and append it
	bm, err := strconv.ParseUint(string(msg[4:20]), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	copy(msg[4:20], strings.ToUpper(strconv.FormatUint(bm|1<<(64-55), 16)))
	msg = append(append(msg, "011"...), emv...)
	r, err := ts.dial(t).RoundTrip(msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if field(r, 39) != "00" || field(r, 11) != "000077" {
		t.Fatalf("39=%q 11=%q", field(r, 39), field(r, 11))
	}
}

// A request whose PAN (field 2) holds a letter is answered 30 with the
// fields a jPOS QMUX matches replies by (11 and 41), and 7 and 37, all of
// which lie after the bad field, on every built-in dialect.
func TestFormatErrorReplyMatchable(t *testing.T) {
	for _, name := range codec.Builtins() {
		t.Run(name, func(t *testing.T) {
			d, _ := codec.Lookup(name)
			ts := startServer(t, nil, func(c *Config) {
				c.Links[0].Dialect = name
				if d.Name == codec.CUPPOS {
					c.Links[0].Framing = "binary2+tpdu"
				}
			})
			fields := map[string]string{"2": "4761739001010010", "3": "000000", "4": "100", "11": "000042",
				"12": "204500", "13": "1121", "22": "051", "37": "000000000042", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}
			if d.Field(7) != nil {
				fields["7"] = "1121204500"
			}
			if d.Field(60) != nil && d.Name == codec.CUPPOS {
				fields["60"] = "22000001"
			}
			msg, err := d.Encode(codec.Message{MTI: "0200", Fields: fields})
			if err != nil {
				t.Fatal(err)
			}
			// Spoil one digit of the PAN: its length stays sound.
			var v codec.View
			if err := d.Decode(&v, msg); err != nil {
				t.Fatal(err)
			}
			w := v.Wire(2)
			at := len(w) - 1
			if d.Field(2).Enc == codec.EncASCII {
				w[at] = 'X'
			} else {
				w[0] = 0xA0 | w[0]&0x0F // a nibble above 9
			}
			r, err := ts.dial(t).RoundTrip(msg, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if r.View.MTI().String() != "0210" || field(r, 39) != "30" || field(r, 11) != "000042" || field(r, 41) != "TERM0001" || field(r, 37) != "000000000042" {
				t.Fatalf("reply %s 39=%q 11=%q 41=%q 37=%q", r.View.MTI(), field(r, 39), field(r, 11), field(r, 41), field(r, 37))
			}
			if d.Field(7) != nil && field(r, 7) != "1121204500" {
				t.Fatalf("reply 7=%q", field(r, 7))
			}
			if r.View.Has(2) {
				t.Fatal("the bad PAN is echoed")
			}
		})
	}
}
