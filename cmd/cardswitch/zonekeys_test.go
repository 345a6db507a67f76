package main

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
)

// The zone keys of a destination changed through the admin API survive a
// restart of the whole switch (journal replay): a PIN block from a pos
// terminal is translated to the ZPK in force, which the simulated host
// checks. The host keeps only the new key and its previous one, so after
// two changes the configured ZPK would fail.
func TestZoneKeysChangedByTheAdminAPISurviveARestart(t *testing.T) {
	is, err := sim.Start("127.0.0.1:0", sim.Config{Dialect: codec.ISO87ASCII, Framing: "binary2",
		ZMK: "C497DCBA1A98ABBC45A2523786C28007", ZPK: "C7152C20BC2C830EA7EC9E8334ABE3FE", PIN: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	dests := "destinations:\n  - name: visa-host\n    dialect: iso87ascii\n    framing: binary2\n" +
		"    endpoints: [{address: " + is.Addr() + "}]\n    reconnect_min: 5ms\n    reconnect_max: 50ms\n" +
		"    zmk: U71979DEB8587E2734F1E99D5DCAEF9AC\n    zpk: U1EF828AA8F6B80EB83E19FBC373F3A85\n"
	rules := "    - name: zone\n      pan_prefixes: [\"55\"]\n      action: upstream\n      destination: visa-host\n"
	body, addrs := testConfig(t)
	body = withDestinationsIn(t, body, dests, rules)
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	term, _ := c.issuer.Terminal([]byte("TERM0001"))
	tpk, _ := hsm.ThalesTestLMK().DecryptKey(hsm.KeyTypeTPK, term.TPK)
	purchase := func(stan string) string {
		t.Helper()
		pos, d := dialPOS(t, addrs["8583"])
		defer pos.Close()
		p, _ := hsm.ParsePIN("1234")
		blk, _ := hsm.EncryptPINBlock(tpk, hsm.ISO0, p, "5500000253210", nil)
		msg, _ := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
			"2": "5500000253210", "3": "000000", "4": "000000001000", "7": "1201101500", "11": stan, "12": "101500",
			"13": "1201", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
			"52": strings.ToUpper(hex.EncodeToString(blk))}})
		r, err := pos.RoundTrip(msg, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return string(r.View.AppendText(nil, 39))
	}
	stop := startServe(t, c)
	waitUntilUp := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); is.Stats().Connections == 0; {
			if time.Now().After(deadline) {
				t.Fatal("the switch did not connect to the host")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitUntilUp()
	bearer := adminBearer(t, c)
	url := "http://" + addrs["8580"] + "/destinations/visa-host/keychange?key=zpk"
	if got, out := adminCall(t, http.MethodPost, url, nil); got != http.StatusUnauthorized {
		t.Fatalf("a key change without the token: %d %q", got, out)
	}
	for range 2 {
		var got int
		var out string
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if got, out = adminCall(t, http.MethodPost, url, bearer); got != http.StatusBadGateway || time.Now().After(deadline) {
				break // 502 while the connection is still coming up
			}
		}
		if got != http.StatusOK {
			t.Fatalf("key change: %d %q", got, out)
		}
	}
	if got := purchase("000001"); got != "00" {
		t.Fatalf("after the key changes: 39 = %s, want 00", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	before := is.Stats().Connections
	stop = startServe(t, c)
	defer stop()
	for deadline := time.Now().Add(10 * time.Second); is.Stats().Connections == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the switch did not connect again")
		}
	}
	got := purchase("000002")
	for stan := 3; got == "91" && stan < 100; stan++ { // 91 while the connection is not yet marked up
		time.Sleep(10 * time.Millisecond)
		got = purchase(fmt.Sprintf("%06d", stan))
	}
	if got != "00" {
		t.Fatalf("after the restart: 39 = %s, want 00 (the ZPK in force restored)", got)
	}
	if st := is.Stats(); st.KeyChanges["00"] != 2 || st.PINFailures != 0 || st.PINChecks != 2 {
		t.Fatalf("host: key changes %v, PIN checks %d, failures %d", st.KeyChanges, st.PINChecks, st.PINFailures)
	}
}
