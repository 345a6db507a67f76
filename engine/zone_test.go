package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/clock"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/router"
)

// Zone keys of the tests, from the Thales test-LMK vectors
// (/work/shared/vectors/HSM_VECTORS.md §8, §9): the ZMK and ZPK of
// ThalesSim's A6 and CA tests, and the TPK of its CA test, whose PIN
// block 6428EB94035AF53B (PIN 1234, account 550000025321) the terminal
// sends. The ZAK is the classic X9.19 key, put under the LMK here.
const (
	zmkLMK   = "U71979DEB8587E2734F1E99D5DCAEF9AC"
	zmkClear = "C497DCBA1A98ABBC45A2523786C28007"
	zpkLMK   = "U1EF828AA8F6B80EB83E19FBC373F3A85"
	zpkClear = "C7152C20BC2C830EA7EC9E8334ABE3FE"
	tpkLMK   = "U8463435FC4B4DAA0C49025272C29B12C"
	tpkClear = "D3DCC7EA9BCB755D254620B376B3D007"
	zakClear = "0123456789ABCDEFFEDCBA9876543210"
	caBlock  = "6428EB94035AF53B"
	caPAN    = "5500000253210" // account field 550000025321
)

func zakLMK(t testing.TB) string {
	k, err := hsm.ParseTDESKey(zakClear, hsm.ParityIgnore)
	if err != nil {
		t.Fatal(err)
	}
	c, err := hsm.ThalesTestLMK().EncryptKey(hsm.KeyTypeZAK, hsm.SchemeU, k)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func clearKey(t testing.TB, s string) hsm.Key {
	k, err := hsm.ParseTDESKey(s, hsm.ParityIgnore)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// zoneSetup is a server forwarding PANs starting 4 and 5 to one simulated
// host ("visa") that shares its zone keys, and the terminal TERM0001 of
// link pos with the CA vector's TPK (and the demo TAK when mac is set).
type zoneSetup struct {
	ts   *testServer
	is   *sim.Issuer
	d    *destination
	keys *Keys
	tak  hsm.Key
	mac  bool
}

type zoneOpts struct {
	mac      bool // x919 on the link and the destination
	noZPK    bool
	noZAK    bool // mac without a ZAK (only the ZMK to receive one)
	journal  Journal
	keys     *Keys
	is       *sim.Issuer
	h        HSM
	clk      clock.Clock   // nil: the system clock
	interval time.Duration // key_change_interval
	listen   bool          // an issuer-initiated link: the host dials the destination's listen address
}

func startZone(t *testing.T, o zoneOpts) *zoneSetup {
	t.Helper()
	data := demoData(t)
	term, _ := data.Terminal([]byte("TERM0001"))
	z := &zoneSetup{is: o.is, keys: o.keys, mac: o.mac, tak: terminalKey(t, hsm.KeyTypeTAK, term.TAK)}
	var listen string
	if z.is == nil {
		cfg := sim.Config{ZMK: zmkClear, ZPK: zpkClear, PIN: "1234", Rules: sim.Rules{Default: "00"}}
		if o.mac {
			cfg.ZAK = zakClear
		}
		if o.listen {
			listen = freeAddr(t)
			cfg.Dialect, cfg.Framing = codec.ISO87ASCII, "binary2"
			defer func() { // the host dials once the switch listens
				is, err := sim.Dial(listen, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { is.Close() })
				z.is = is
				z.d = waitUp(t, z.ts, "visa", 1)
				// the switch may see the connection before the host tracks its end
				waitUntil(t, "the host's connection", func() bool { return is.Stats().Connections == 1 })
			}()
		} else {
			z.is = startSim(t, "", cfg)
		}
	}
	if z.keys == nil {
		z.keys = &Keys{Data: data}
	}
	z.keys.SetSession("pos", "TERM0001", hsm.KeyRef{Type: hsm.KeyTypeTPK, Cryptogram: tpkLMK},
		hsm.KeyRef{Type: hsm.KeyTypeTAK, Cryptogram: term.TAK})
	var dc DestinationConfig
	if o.listen {
		dc = dest("visa")
		dc.Listen = []string{listen}
	} else {
		dc = dest("visa", Endpoint{Address: z.is.Addr()})
	}
	dc.ZMK, dc.ZPK = zmkLMK, zpkLMK
	if o.noZPK {
		dc.ZPK = ""
	}
	if o.mac {
		dc.MAC, dc.ZAK = "x919", zakLMK(t)
		if o.noZAK {
			dc.ZAK = ""
		}
	}
	var h HSM = &hsm.Soft{LMK: hsm.ThalesTestLMK()}
	if o.h != nil {
		h = o.h
	}
	if o.interval > 0 {
		dc.KeyChangeInterval = o.interval
	}
	z.ts = startServerOn(t, o.clk, nil, func(c *Config) {
		c.Destinations = []DestinationConfig{dc}
		c.testRules = []router.Rule{{Name: "a", PANPrefixes: []string{"4", "5"}, Action: router.Upstream, Destination: "visa"}}
		c.testHSM, c.testKeys = h, z.keys
		if o.journal != nil {
			c.testJournal = o.journal
		}
		if o.mac {
			c.Links[0].MAC = "x919"
		}
	})
	if !o.listen {
		z.d = waitUp(t, z.ts, "visa", 1)
	}
	return z
}

// request is an 0200 from TERM0001 with the PIN block (hex; "": none),
// MACed with the terminal's TAK when the setup has MACs.
func (z *zoneSetup) request(t *testing.T, pan string, stan int, block string) []byte {
	t.Helper()
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f := map[string]string{"2": pan, "3": "000000", "4": "1000", "7": "1121204500", "11": strconv.Itoa(stan), "12": "204500",
		"13": "1121", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}
	if block != "" {
		f["52"] = block
	}
	var sign func([]byte) ([]byte, error)
	field := 0
	if z.mac {
		field = 64
		sign = func(in []byte) ([]byte, error) {
			return hsm.GenerateMAC(z.tak, hsm.MACISO9797Alg3, hsm.MACPadding1, in)
		}
	}
	msg, err := d.EncodeMAC(codec.Message{MTI: "0200", Fields: f}, field, sign)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// send sends a request and returns the reply's 39, checking the reply's
// MAC under the terminal's TAK when the setup has MACs.
func (z *zoneSetup) send(t *testing.T, msg []byte) string {
	t.Helper()
	r, err := z.ts.dial(t).RoundTrip(msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if z.mac {
		in, ok := r.View.MACInput()
		if !ok || hsm.VerifyMAC(z.tak, hsm.MACISO9797Alg3, hsm.MACPadding1, in, r.View.MAC(nil)) != nil {
			t.Fatalf("reply (39 %s) has no MAC that verifies under the terminal's TAK", field(r, 39))
		}
	}
	return field(r, 39)
}

// pinBlock is the terminal's ISO 0 block for pin under the CA vector's TPK.
func pinBlock(t *testing.T, pin, pan string) string {
	p, _ := hsm.ParsePIN(pin)
	b, err := hsm.EncryptPINBlock(clearKey(t, tpkClear), hsm.ISO0, p, pan, nil)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// The zone keys of the vectors are what the tests say they are.
func TestZoneVectors(t *testing.T) {
	lmk := hsm.ThalesTestLMK()
	for _, k := range []struct{ typ, lmk, clear string }{{hsm.KeyTypeZMK, zmkLMK, zmkClear}, {hsm.KeyTypeZPK, zpkLMK, zpkClear}, {hsm.KeyTypeTPK, tpkLMK, tpkClear}} {
		got, err := lmk.DecryptKey(k.typ, k.lmk)
		if err != nil || !got.Equal(clearKey(t, k.clear)) {
			t.Fatalf("%s %s: %v", k.typ, k.lmk, err)
		}
	}
}

// A PIN block is translated from the terminal's TPK to the destination's
// ZPK: the simulator decrypts it under its ZPK and checks the PIN (the
// CA vector's block for 1234 is approved, a block for another PIN 55).
func TestForwardPINTranslated(t *testing.T) {
	z := startZone(t, zoneOpts{})
	if got := z.send(t, z.request(t, caPAN, 1, caBlock)); got != "00" {
		t.Fatalf("right PIN: 39 = %s, want 00", got)
	}
	if got := z.send(t, z.request(t, caPAN, 2, pinBlock(t, "9999", caPAN))); got != "55" {
		t.Fatalf("wrong PIN: 39 = %s, want the host's 55", got)
	}
	if got := z.send(t, z.request(t, "4761739001010010", 3, pinBlock(t, "1234", "4761739001010010"))); got != "00" {
		t.Fatalf("right PIN, another card: 39 = %s", got)
	}
	if st := z.is.Stats(); st.PINChecks != 3 || st.PINFailures != 1 {
		t.Fatalf("the host checked %d PINs, %d wrong: want 3 and 1", st.PINChecks, st.PINFailures)
	}
}

// failingPIN is an HSM whose PIN translations fail.
type failingPIN struct{ HSM }

func (failingPIN) TranslatePIN(context.Context, hsm.PINTranslation) ([]byte, error) {
	return nil, errors.New("HSM down")
}

// Without a terminal PIN key or a ZPK, a request with a PIN block is
// answered 91 and nothing is sent; an HSM that fails answers 96.
func TestForwardPINNotTranslatable(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    zoneOpts
		term string
		want string
	}{
		{"no terminal PIN key", zoneOpts{}, "TERM9999", "91"},
		{"no ZPK", zoneOpts{noZPK: true}, "TERM0001", "91"},
		{"HSM fails", zoneOpts{h: failingPIN{&hsm.Soft{LMK: hsm.ThalesTestLMK()}}}, "TERM0001", "96"},
		{"mac without a ZAK", zoneOpts{mac: true, noZAK: true}, "TERM0001", "91"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := startZone(t, tc.o)
			msg := z.request(t, caPAN, 1, caBlock)
			msg = []byte(strings.Replace(string(msg), "TERM0001", tc.term, 1))
			if got := z.send(t, msg); got != tc.want {
				t.Fatalf("39 = %s, want %s", got, tc.want)
			}
			if n := z.is.Stats().Received - z.is.Stats().NetworkManagement; n != 0 {
				t.Fatalf("the host received %d requests: nothing may be sent", n)
			}
			if n := testutil.ToFloat64(z.d.m.refused); n != 1 {
				t.Fatalf("refused counted %v, want 1", n)
			}
			if tc.o.noZAK {
				return
			}
			if got := z.send(t, z.request(t, caPAN, 2, "")); got != "00" {
				t.Fatalf("without a PIN block: 39 = %s, want 00", got)
			}
		})
	}
}

// MACs on both legs: the terminal's request MAC is verified, the outbound
// request is MACed with the ZAK (the host verifies it), the host's response
// MAC is verified with the ZAK, and the reply is MACed with the terminal's
// TAK (send checks it).
func TestForwardMACChain(t *testing.T) {
	z := startZone(t, zoneOpts{mac: true})
	if got := z.send(t, z.request(t, caPAN, 1, caBlock)); got != "00" {
		t.Fatalf("39 = %s, want 00", got)
	}
	if st := z.is.Stats(); st.MACFailures != 0 || st.Answered["00"] != 1 || st.PINChecks != 1 {
		t.Fatalf("host: %+v", st)
	}
	if n := testutil.ToFloat64(z.d.m.badMAC); n != 0 {
		t.Fatalf("bad_mac %v", n)
	}
	// a wrong MAC from the terminal stops the request at the switch
	msg := z.request(t, caPAN, 2, caBlock)
	msg[len(msg)-1] ^= 0x01
	r, err := z.ts.dial(t).RoundTrip(msg, 5*time.Second)
	if err != nil || field(r, 39) != "A0" {
		t.Fatalf("wrong terminal MAC: %v %q, want A0", err, field(r, 39))
	}
	if st := z.is.Stats(); st.Received-st.NetworkManagement != 1 {
		t.Fatalf("the host received %d requests, want 1: a request with a wrong MAC must not be forwarded", st.Received-st.NetworkManagement)
	}
}

// A response whose MAC does not verify is not trusted: 91 as for a
// timeout, its record says bad MAC, and its approval is recorded to be
// reversed as a late one.
func TestForwardResponseWithBadMAC(t *testing.T) {
	j, jst := journalFor(t)
	z := startZone(t, zoneOpts{mac: true, journal: jst})
	if err := z.is.Inject(sim.Rule{Fault: "wrong_mac"}); err != nil {
		t.Fatal(err)
	}
	if got := z.send(t, z.request(t, caPAN, 1, "")); got != "91" {
		t.Fatalf("39 = %s, want 91", got)
	}
	waitUntil(t, "the approval to reverse journaled", func() bool { return len(records(t, j)) == 3 })
	recs := records(t, j)
	var final, late journal.Record
	for _, r := range recs[1:] {
		if r.UpState == journal.UpLateReversal {
			late = r
		} else {
			final = r
		}
	}
	if final.UpState != journal.UpBadMAC || final.RespCode != [2]byte{'9', '1'} {
		t.Fatalf("final record %+v", final)
	}
	if late.UpCode != [2]byte{'0', '0'} || late.RRNSeq != final.RRNSeq || late.UpSTAN != final.UpSTAN {
		t.Fatalf("reversal record %+v\ndoes not tie to %+v", late, final)
	}
	if testutil.ToFloat64(z.d.m.badMAC) != 1 || testutil.ToFloat64(z.d.m.lateReverse) != 1 {
		t.Fatal("bad_mac and late_reversal must count 1")
	}
}

// The host changes the ZPK and the ZAK (twice each, so that the switch's
// first keys are not even the host's previous ones): PINs and MACs under
// the new keys work.
func TestZoneKeyChangeByTheHost(t *testing.T) {
	z := startZone(t, zoneOpts{mac: true})
	ctx := context.Background()
	for _, k := range []string{"zpk", "zak", "zpk", "zak"} {
		if err := z.is.ChangeKey(ctx, sim.KeyChange{Key: k}); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	keys := z.d.zone.keys.Load()
	if keys.zpk.Cryptogram == zpkLMK || keys.zak.Cryptogram == zakLMK(t) {
		t.Fatal("the keys did not change")
	}
	if n := testutil.ToFloat64(z.d.m.keyChange); n != 4 {
		t.Fatalf("key_change counted %v, want 4", n)
	}
	if got := z.send(t, z.request(t, caPAN, 1, caBlock)); got != "00" {
		t.Fatalf("after the change: 39 = %s, want 00", got)
	}
	if st := z.is.Stats(); st.MACFailures != 0 || st.PINFailures != 0 {
		t.Fatalf("host: %+v", st)
	}
}

// On an issuer-initiated link the accepted connection's keeper takes the
// host's key changes and sends the switch's, as a dialled one's does.
func TestZoneKeyChangeOnAnAcceptedConnection(t *testing.T) {
	z := startZone(t, zoneOpts{mac: true, listen: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := z.is.ChangeKey(ctx, sim.KeyChange{Key: "zpk"}); err != nil {
		t.Fatalf("the host's change: %v", err)
	}
	if err := z.ts.ChangeZoneKey(ctx, "visa", "zak"); err != nil {
		t.Fatalf("the switch's change: %v", err)
	}
	keys := z.d.zone.keys.Load()
	if keys.zpk.Cryptogram == zpkLMK || keys.zak.Cryptogram == zakLMK(t) {
		t.Fatal("the keys did not change")
	}
	if got := z.send(t, z.request(t, caPAN, 1, caBlock)); got != "00" {
		t.Fatalf("after the changes: 39 = %s, want 00", got)
	}
	if st := z.is.Stats(); st.MACFailures != 0 || st.PINFailures != 0 || st.KeyChanges["00"] != 1 {
		t.Fatalf("host: %+v", st)
	}
}

// The switch changes the keys (the admin API's call): journaled as
// proposed, sent, installed once answered 00.
func TestZoneKeyChangeByTheSwitch(t *testing.T) {
	j, jst := journalFor(t)
	z := startZone(t, zoneOpts{mac: true, journal: jst})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, k := range []string{"zpk", "zak", "zpk", "zak"} {
		if err := z.ts.ChangeZoneKey(ctx, "visa", k); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	if got := z.is.Stats().KeyChanges["00"]; got != 4 {
		t.Fatalf("the host installed %d keys, want 4", got)
	}
	if got := z.send(t, z.request(t, caPAN, 1, caBlock)); got != "00" {
		t.Fatalf("after the change: 39 = %s, want 00", got)
	}
	proposed, active := 0, 0
	walkZone(t, j, func(zk ZoneKey) {
		if zk.Active {
			active++
		} else {
			proposed++
		}
	})
	if proposed != 4 || active != 4 {
		t.Fatalf("journal: %d proposed, %d active; want 4 and 4", proposed, active)
	}
	if err := z.ts.ChangeZoneKey(ctx, "visa", "zmk"); err == nil {
		t.Fatal("a change of key zmk was taken")
	}
}

// walkZone calls f with each zone key record of the journal.
func walkZone(t *testing.T, j *journal.Journal, f func(ZoneKey)) [][]byte {
	t.Helper()
	var all [][]byte
	if _, err := j.Walk(journal.Point{}, j.LastSeq(), func(r *journal.Record) error {
		if len(r.SessionKeys) > 0 && r.SessionKeys[0] == zoneVersion {
			zk, err := decodeZone(r.SessionKeys)
			if err != nil {
				return err
			}
			f(zk)
			all = append(all, append([]byte(nil), r.SessionKeys...))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return all
}

// A key change whose check value does not match is refused (96) and the
// old key stays in force.
func TestZoneKeyChangeWrongKCV(t *testing.T) {
	z := startZone(t, zoneOpts{mac: true})
	before := *z.d.zone.keys.Load()
	for _, k := range []string{"zpk", "zak"} {
		err := z.is.ChangeKey(context.Background(), sim.KeyChange{Key: k, WrongKCV: true})
		if err == nil || !strings.Contains(err.Error(), "96") {
			t.Fatalf("%s with a wrong KCV: %v, want answered 96", k, err)
		}
	}
	if *z.d.zone.keys.Load() != before {
		t.Fatal("a refused key change replaced a key")
	}
	if testutil.ToFloat64(z.d.m.keyRefused) != 2 || testutil.ToFloat64(z.d.m.keyChange) != 0 {
		t.Fatal("key_change_refused must count 2, key_change 0")
	}
	if got := z.send(t, z.request(t, caPAN, 1, caBlock)); got != "00" {
		t.Fatalf("with the old keys: 39 = %s, want 00", got)
	}
}

// Keys changed survive a restart: the journal's records restore them.
func TestZoneKeysSurviveARestart(t *testing.T) {
	j, jst := journalFor(t)
	z := startZone(t, zoneOpts{mac: true, journal: jst})
	ctx := context.Background()
	for _, k := range []string{"zpk", "zak", "zpk", "zak"} {
		if err := z.is.ChangeKey(ctx, sim.KeyChange{Key: k}); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := z.ts.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	fresh := &Keys{Data: demoData(t)}
	for _, b := range walkZone(t, j, func(ZoneKey) {}) {
		if err := fresh.Restore(b); err != nil {
			t.Fatal(err)
		}
	}
	again := startZone(t, zoneOpts{mac: true, journal: jst, keys: fresh, is: z.is})
	if got := again.send(t, again.request(t, caPAN, 1, caBlock)); got != "00" {
		t.Fatalf("after the restart: 39 = %s, want 00", got)
	}
	if st := z.is.Stats(); st.MACFailures != 0 || st.PINFailures != 0 {
		t.Fatalf("host: %+v", st)
	}
	// the snapshot form carries them too
	snap := &Keys{Data: demoData(t)}
	for _, b := range fresh.Sessions() {
		if err := snap.Restore(b); err != nil {
			t.Fatal(err)
		}
	}
	if a, _ := snap.Zone("visa", hsm.KeyTypeZAK); a.Key != again.d.zone.keys.Load().zak {
		t.Fatal("the snapshot's zone keys are not the ones in force")
	}
}

// A response MACed under the ZAK its request was sent under verifies
// after the switch changed the ZAK meanwhile.
func TestZoneMACAcrossAKeyChange(t *testing.T) {
	z := startZone(t, zoneOpts{mac: true})
	if err := z.is.Inject(sim.Rule{Fault: "slow", Delay: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	c := z.ts.dial(t)
	if err := c.Write(z.request(t, caPAN, 1, "")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the host holds the request", func() bool { return z.is.Stats().InFlight == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := z.ts.ChangeZoneKey(ctx, "visa", "zak"); err != nil {
		t.Fatal(err)
	}
	if z.is.Stats().InFlight != 1 {
		t.Fatal("the host answered before the key change: the test proves nothing (a very slow machine?)")
	}
	r, err := c.Read(time.Now().Add(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got := field(r, 39); got != "00" {
		t.Fatalf("39 = %s, want 00: the response under the request's ZAK must verify", got)
	}
}

// With key_change_interval the switch sends new keys when the interval
// has passed on its clock (a fake one here), and uses them.
func TestZoneKeyChangeOnInterval(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 21, 20, 45, 0, 0, time.UTC))
	z := startZone(t, zoneOpts{mac: true, clk: clk, interval: time.Hour})
	clk.Advance(59 * time.Minute)
	if got := z.send(t, z.request(t, caPAN, 1, caBlock)); got != "00" || z.is.Stats().KeyChanges["00"] != 0 {
		t.Fatalf("before the interval: 39 = %s, key changes %v", got, z.is.Stats().KeyChanges)
	}
	clk.Advance(2 * time.Minute)
	waitUntil(t, "the ZPK and the ZAK changed", func() bool { return z.d.zone.changed.Load() == 2 })
	if got := z.is.Stats().KeyChanges["00"]; got != 2 {
		t.Fatalf("the host took %d keys, want 2", got)
	}
	if keys := z.d.zone.keys.Load(); keys.zpk.Cryptogram == zpkLMK || keys.zak.Cryptogram == zakLMK(t) {
		t.Fatal("the switch does not use the keys it sent")
	}
	if got := z.send(t, z.request(t, caPAN, 2, caBlock)); got != "00" {
		t.Fatalf("after the change: 39 = %s, want 00", got)
	}
}

// A zone key record round-trips; a proposed one is not put in force by a
// replay; a damaged one is refused, never a panic.
func TestZoneKeyRecord(t *testing.T) {
	z := ZoneKey{Destination: "visa", ZMK: zmkLMK, Key: hsm.KeyRef{Type: hsm.KeyTypeZPK, Cryptogram: zpkLMK}, KCV: "6F1E3F", Active: true}
	b := encodeZone(z)
	if got, err := decodeZone(b); err != nil || got != z {
		t.Fatalf("%+v %v", got, err)
	}
	k := &Keys{}
	z.Active = false
	if err := k.Restore(encodeZone(z)); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Zone("visa", hsm.KeyTypeZPK); ok {
		t.Fatal("a proposed key was put in force")
	}
	if err := k.Restore(b); err != nil {
		t.Fatal(err)
	}
	if got, ok := k.Zone("visa", hsm.KeyTypeZPK); !ok || got.Key.Cryptogram != zpkLMK {
		t.Fatal("an active key was not restored")
	}
	for i := range b {
		_ = k.Restore(b[:i]) // every truncation: an error or a key, never a panic
	}
	bad := append([]byte(nil), b...)
	bad[len(bad)-1] = '7' // the active flag
	if err := k.Restore(bad); err == nil {
		t.Fatal("a damaged record was taken")
	}
	if got := string(appendUpperHex(nil, []byte{0x64, 0x28, 0xEB, 0x94, 0x03, 0x5A, 0xF5, 0x3B})); got != caBlock {
		t.Fatalf("hex %s", got)
	}
}

// A DUKPT terminal's PIN block is translated from the key derived for its
// KSN to the destination's ZPK (G0's work): the host decrypts it under its
// ZPK and checks the PIN. A replayed KSN is refused 63 before anything is
// forwarded, and the counter the forward claimed is journaled with it.
func TestForwardDUKPTPINTranslated(t *testing.T) {
	j, jst := journalFor(t)
	z := startZone(t, zoneOpts{keys: &Keys{Data: dukptData(t)}, journal: jst})
	if got := z.send(t, dukptPurchase(t, 1, "1234", "FFFF9876543210E00001")); got != "00" {
		t.Fatalf("right PIN: 39 = %s, want 00", got)
	}
	if got := z.send(t, dukptPurchase(t, 2, "9999", "FFFF9876543210E00002")); got != "55" {
		t.Fatalf("wrong PIN: 39 = %s, want the host's 55", got)
	}
	if got := z.send(t, dukptPurchase(t, 3, "1234", "FFFF9876543210E00002")); got != "63" {
		t.Fatalf("a replayed KSN: 39 = %s, want 63", got)
	}
	if st := z.is.Stats(); st.PINChecks != 2 || st.PINFailures != 1 {
		t.Fatalf("the host checked %d PINs, %d wrong: want 2 and 1 (the replay not forwarded)", st.PINChecks, st.PINFailures)
	}
	if _, c, ok := z.keys.DUKPTCounter("TERM0001"); !ok || c != 2 {
		t.Fatalf("counter %d %v, want 2", c, ok)
	}
	claimed := 0
	if _, err := j.Walk(journal.Point{}, j.LastSeq(), func(r *journal.Record) error {
		if r.UpState == journal.UpForwarded && len(r.SessionKeys) > 0 {
			claimed++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if claimed != 2 {
		t.Fatalf("%d forwarded records carry a claimed counter, want 2", claimed)
	}
}
