package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/cuptest"
)

// The demo issuer data's terminals name links the default configuration
// has: else the default configuration's terminals could not sign on.
func TestDemoTerminalsNameDefaultLinks(t *testing.T) {
	c, err := parseConfig(defaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]bool{}
	for _, l := range c.engine.Links {
		links[l.Name] = true
	}
	d, err := issuer.Parse(issuer.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	for _, term := range d.Terminals {
		if len(term.Links) == 0 {
			t.Errorf("demo terminal %s names no link", term.ID)
		}
		for _, l := range term.Links {
			if !links[l] {
				t.Errorf("demo terminal %s names link %q, not in the default configuration", term.ID, l)
			}
		}
	}
}

// A restart (journal replay) keeps sign-on keys on the link they were
// issued on: TERM0001, allowed on pos and cup, signs on on cup; after the
// restart cup takes MACs under the new key only, and pos still verifies
// the right PIN under the configured PIN key.
func TestSignOnKeysSurviveARestartPerLink(t *testing.T) {
	body, addrs := testConfig(t)
	raw := strings.Replace(string(issuer.DemoYAML()), "links: [pos, acquirer]", "links: [pos, acquirer, cup]", 1)
	data := filepath.Join(t.TempDir(), "issuer.yaml")
	if err := os.WriteFile(data, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	body = strings.Replace(body, `  data: ""`, "  data: "+data, 1)
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	term, _ := c.issuer.Terminal([]byte("TERM0001"))
	lmk := hsm.ThalesTestLMK()
	tak, _ := lmk.DecryptKey(hsm.KeyTypeTAK, term.TAK)
	tpk, _ := lmk.DecryptKey(hsm.KeyTypeTPK, term.TPK)

	stop := startServe(t, c)
	cup := cuptest.Dial(t, addrs["8585"])
	r, err := cup.RoundTrip(cuptest.SignOn(t, "000001", "TERM0001", "MERCHANT0000001", nil, nil), 5*time.Second)
	if err != nil || string(r.View.AppendText(nil, 39)) != "00" {
		t.Fatalf("sign-on: %v", err)
	}
	keys := r.View.AppendBytes(nil, 62)
	tmk, _ := lmk.DecryptKey(hsm.KeyTypeTPK, term.TMK)
	mak := cuptest.SessionKey(t, tmk, keys[20:36])
	cup.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	stop = startServe(t, c)
	defer stop()
	cup = cuptest.Dial(t, addrs["8585"])
	defer cup.Close()
	d, _ := codec.Lookup(codec.CUPPOS)
	for _, tc := range []struct {
		name string
		key  hsm.Key
		want string
	}{{"the sign-on's MAC key", mak, "00"}, {"the configured MAC key", tak, "A0"}} {
		m := codec.Message{MTI: "0200", Header: cuptest.Header, Fields: map[string]string{
			"2": "6228480402564890018", "3": "000000", "4": "000000001000", "11": "000002", "22": "021", "25": "00",
			"41": "TERM0001", "42": "MERCHANT0000001", "49": "156", "60": "22000001000"}}
		msg, err := d.EncodeMAC(m, 64, func(in []byte) ([]byte, error) {
			return hsm.GenerateMAC(tc.key, hsm.MACUnionPay, hsm.MACPaddingNone, in)
		})
		if err != nil {
			t.Fatal(err)
		}
		r, err := cup.RoundTrip(msg, 5*time.Second)
		if err != nil || string(r.View.AppendText(nil, 39)) != tc.want {
			t.Fatalf("cup purchase with %s after the restart: %v %q, want %s", tc.name, err, r.View.AppendText(nil, 39), tc.want)
		}
	}
	pos, pd := dialPOS(t, addrs["8583"])
	defer pos.Close()
	p, _ := hsm.ParsePIN("1234")
	blk, _ := hsm.EncryptPINBlock(tpk, hsm.ISO0, p, "4761739001010010", nil)
	msg, _ := pd.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": "000000001000", "7": "1201101500", "11": "000003", "12": "101500",
		"13": "1201", "14": "2812", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
		"52": strings.ToUpper(hex.EncodeToString(blk))}})
	if r, err := pos.RoundTrip(msg, 5*time.Second); err != nil || string(r.View.AppendText(nil, 39)) != "00" {
		t.Fatalf("pos purchase with the right PIN after the restart: %v %q", err, r.View.AppendText(nil, 39))
	}
}
