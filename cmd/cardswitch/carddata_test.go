package main

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/cardscan"
	"github.com/cardswitch/cardswitch/internal/client"
	"github.com/cardswitch/cardswitch/internal/testlog"
)

// cardLink is one link of the default configuration and the card its
// traffic uses.
type cardLink struct {
	port, dialect, framing string
	pan, track             string // track 2 in its text form (PAN '=' expiry, service code, data)
}

var cardLinks = []cardLink{
	{"8583", "iso87ascii", "binary2", "4761739001010010", "4761739001010010=28121011234567890"},
	{"8584", "iso87binary", "binary2", "4761739001010010", "4761739001010010=28121011234567890"},
	{"8585", "cup-pos", "binary2+tpdu", "6228480402564890018", "6228480402564890018=28121012345678"},
}

// request builds a purchase on l with track 2 and a PIN block, and returns
// it encoded with the PIN block it carries. Without35 clears bit 35 in the
// bitmap and leaves the track's bytes where they were: the attack.
func (l cardLink) request(t *testing.T, addr, stan string, without35 bool) (msg, pinBlock []byte) {
	t.Helper()
	f := &sendFlags{linkFlags: linkFlags{addr: addr, dialect: l.dialect, framing: l.framing, tpdu: "6000010000"},
		mti: "0200", pan: l.pan, proc: "000000", stan: stan, amount: 1000, expiry: "2812", entry: "021",
		netcode: "301", header: "603100311000", pin: "1234", mac: "auto"}
	d, _, _, err := f.resolve()
	if err != nil {
		t.Fatal(err)
	}
	m, err := buildMessage(d, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.Fields["35"] = l.track
	if d.Field(37) != nil {
		m.Fields["37"] = "612345" + stan
	}
	keys, err := terminalKeys(f, m.Fields["41"])
	if err != nil {
		t.Fatal(err)
	}
	if m.Fields["52"], err = keys.pinBlock(f.pin, m.Fields["2"]); err != nil {
		t.Fatal(err)
	}
	pinBlock, _ = hex.DecodeString(m.Fields["52"])
	sign, err := keys.macFunc(f.mac, d)
	if err != nil {
		t.Fatal(err)
	}
	macField := 0
	if sign != nil {
		macField = 64
	}
	with, err := d.EncodeMAC(m, macField, sign)
	if err != nil {
		t.Fatal(codec.DescribeError(d, err))
	}
	if !without35 {
		return with, pinBlock
	}
	delete(m.Fields, "35")
	delete(m.Fields, "2") // a terminal reading the stripe sends track 2 alone
	without, err := d.EncodeMAC(m, macField, sign)
	if err != nil {
		t.Fatal(codec.DescribeError(d, err))
	}
	m.Fields["35"] = l.track
	with, _ = d.EncodeMAC(m, macField, sign)
	// the bitmaps differ in one byte (one bit): the attack is the message
	// with the track and the bitmap of the one without it
	i := 0
	for i < len(with) && with[i] == without[i] {
		i++
	}
	attack := bytes.Clone(with)
	attack[i] = without[i]
	return attack, pinBlock
}

// roundTrip sends msg on l and returns the reply's field 39.
func (l cardLink) roundTrip(t *testing.T, addr string, msg []byte) string {
	t.Helper()
	d, fr, tpdu, err := (&linkFlags{addr: addr, dialect: l.dialect, framing: l.framing, tpdu: "6000010000"}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(addr, d, fr, tpdu, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.RoundTrip(msg, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", l.dialect, err)
	}
	return string(r.View.AppendText(nil, codec.FieldResponseCode))
}

// TestNoCardDataInJournalLogsOrMetrics drives normal traffic with PINs and
// track 2 and the misaligned-track attack (an 0200 with the track's bytes
// but bit 35 off, so that they read as fields 37, 41 and 42) through a
// switch on every link of the default configuration, logging at debug, then
// scans the journal's files, `journal dump` (both forms), the log and a
// /metrics scrape for card data: PAN-like runs, track 2, the PANs, pieces
// of the tracks and the PIN blocks sent.
func TestNoCardDataInJournalLogsOrMetrics(t *testing.T) {
	body, addrs := testConfig(t)
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	var logs testlog.Buffer
	log, err := newLogger(&logs, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	stop := startServeLog(t, c, log)
	var scan cardscan.Scanner
	for i, l := range cardLinks {
		scan.Track(l.track)
		addr := addrs[l.port]
		msg, pb := l.request(t, addr, "00000"+string(rune('1'+i)), false)
		scan.Secret("PIN block", pb)
		if rc := l.roundTrip(t, addr, msg); rc == "" || rc == "30" {
			t.Errorf("%s: a well-formed purchase answered %q", l.dialect, rc)
		}
		msg, pb = l.request(t, addr, "00001"+string(rune('1'+i)), true)
		scan.Secret("PIN block", pb)
		if rc := l.roundTrip(t, addr, msg); rc != "30" {
			t.Errorf("%s: the misaligned track answered %q, want 30", l.dialect, rc)
		}
	}
	res, err := http.Get("http://" + addrs["8580"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	report := func(where string, b []byte) {
		for _, f := range scan.Scan(where, b) {
			t.Error(f)
		}
	}
	report("log", []byte(logs.String()))
	report("/metrics", metrics)
	for _, args := range [][]string{{"dump", "--json"}, {"dump"}} {
		code, out, errOut := cli(t, "", append([]string{"journal", "--data-dir", c.file.DataDir}, args...)...)
		if code != 0 || strings.Count(out, "\n") < 2*len(cardLinks) {
			t.Fatalf("journal %v: %d %s %s", args, code, out, errOut)
		}
		report("journal "+strings.Join(args, " "), []byte(out+errOut))
	}
	files, err := cardscan.Files(c.file.DataDir, report)
	if err != nil || files == 0 {
		t.Fatalf("data dir: %d files, %v", files, err)
	}
}
