// Package cuptest builds what a China UnionPay POS terminal sends and
// reads in tests: its sign-on (0800 with 60.3 = 003) and the session keys
// the reply's field 62 carries under the terminal master key. The engine's
// tests, the binary's tests and the abuse run (internal/crashtest) share
// it, so that the three speak the same sign-on. Tests only.
package cuptest

import (
	"crypto/des"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/client"
)

// Header is the UnionPay message header the tests send (TPDU aside).
const Header = "603100311000"

// TPDU is the TPDU the tests' terminal sends (to 0001 from 0002).
var TPDU = []byte{0x60, 0, 1, 0, 2}

// Dial connects a UnionPay POS terminal (cup-pos, binary2+tpdu) to addr,
// closed when the test ends.
func Dial(t testing.TB, addr string) *client.Conn {
	t.Helper()
	d, _ := codec.Lookup(codec.CUPPOS)
	f, _ := codec.ParseFraming("binary2+tpdu")
	c, err := client.Dial(addr, d, f, TPDU, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// SignOn is a UnionPay sign-on (60.3 = 003: issue keys) by terminal and
// merchant with STAN stan, with extra fields (text form), MACed in field
// 64 under tak when it is not nil.
func SignOn(t testing.TB, stan, terminal, merchant string, extra map[string]string, tak *hsm.Key) []byte {
	t.Helper()
	d, _ := codec.Lookup(codec.CUPPOS)
	f := map[string]string{"11": stan, "41": terminal, "42": merchant, "60": "00000001003"}
	for k, v := range extra {
		f[k] = v
	}
	m := codec.Message{MTI: "0800", Header: Header, Fields: f}
	if tak == nil {
		msg, err := d.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	msg, err := d.EncodeMAC(m, 64, func(in []byte) ([]byte, error) {
		return hsm.GenerateMAC(*tak, hsm.MACUnionPay, hsm.MACPaddingNone, in)
	})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// SessionKey decrypts a double-length key of a sign-on reply's field 62
// (PIN key at 0:16, MAC key at 20:36) under the terminal master key tmk,
// TDES ECB, as the terminal does.
func SessionKey(t testing.TB, tmk hsm.Key, enc []byte) hsm.Key {
	t.Helper()
	raw := hsm.RevealKey(tmk)
	if len(raw) != 16 || len(enc)%8 != 0 {
		t.Fatalf("a %d-byte master key and a %d-byte key: want 16 and a multiple of 8", len(raw), len(enc))
	}
	blk, err := des.NewTripleDESCipher(append(raw, raw[:8]...))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(enc))
	for i := 0; i < len(enc); i += 8 {
		blk.Decrypt(out[i:i+8], enc[i:i+8])
	}
	k, err := hsm.NewTDESKey(out, hsm.ParityIgnore)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
