package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/client"
)

// ioTimeout bounds every read in the tests, so a hang fails instead of
// stalling the run; it is a guard, never the thing a test checks.
const ioTimeout = 20 * time.Second

var testTPDU = []byte{0x60, 0x00, 0x01, 0x00, 0x02}

// startIssuer brings an issuer up on loopback and closes it when the test ends.
func startIssuer(t testing.TB, cfg Config) *Issuer {
	t.Helper()
	is, err := Start("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { is.Close() })
	return is
}

// dial connects a client in the issuer's dialect and framing.
func dial(t testing.TB, is *Issuer) *client.Conn {
	t.Helper()
	var tpdu []byte
	if is.Framing().TPDU {
		tpdu = testTPDU
	}
	c, err := client.Dial(is.Addr(), is.Dialect(), is.Framing(), tpdu, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// purchase is an 0200 with STAN stan, amount and PAN.
func purchase(stan int, amount int64, pan string) codec.Message {
	return codec.Message{MTI: "0200", Fields: map[string]string{
		"2":  pan,
		"3":  "000000",
		"4":  fmt.Sprintf("%012d", amount),
		"7":  "1202030405",
		"11": fmt.Sprintf("%06d", stan),
		"12": "030405",
		"13": "1202",
		"14": "2812",
		"18": "5999",
		"22": "051",
		"25": "00",
		"35": pan + "=28121010000000",
		"37": fmt.Sprintf("RRN%09d", stan),
		"41": "TERM0001",
		"42": "MERCHANT0000001",
		"49": "840",
		"52": "0123456789ABCDEF",
	}}
}

const demoPAN = "4761739001010010"

// cupPurchase is a UnionPay POS purchase: the cup-pos dialect's fields.
func cupPurchase(stan int, amount int64) codec.Message {
	return codec.Message{MTI: "0200", Header: "600100000000", Fields: map[string]string{
		"2":  "6212345678901234",
		"3":  "000000",
		"4":  fmt.Sprintf("%012d", amount),
		"11": fmt.Sprintf("%06d", stan),
		"22": "021",
		"25": "00",
		"41": "TERM0001",
		"42": "MERCHANT0000001",
		"49": "156",
		"60": "22000001000",
	}}
}

func encode(t testing.TB, d *codec.Dialect, m codec.Message) []byte {
	t.Helper()
	b, err := d.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTrip sends m and returns its reply as text.
func roundTrip(t testing.TB, c *client.Conn, d *codec.Dialect, m codec.Message) codec.Message {
	t.Helper()
	r, err := c.RoundTrip(encode(t, d, m), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return r.View.ToMessage(false)
}

// read reads one reply as text.
func read(t testing.TB, c *client.Conn) (codec.Message, *client.Reply) {
	t.Helper()
	r, err := c.Read(time.Now().Add(ioTimeout))
	if err != nil {
		t.Fatal(err)
	}
	return r.View.ToMessage(false), r
}

func write(t testing.TB, c *client.Conn, d *codec.Dialect, m codec.Message) {
	t.Helper()
	if err := c.Write(encode(t, d, m)); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds; the bound is a hang guard only.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(ioTimeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, ioTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}
