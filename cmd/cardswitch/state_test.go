package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/client"
)

// servedOnce starts serve on a fresh data directory, has one purchase
// approved, stops it, and returns the configuration to start again.
func servedOnce(t *testing.T) (*config, map[string]string) {
	t.Helper()
	body, addrs := testConfig(t)
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	stop := startServe(t, c)
	purchaseOn(t, addrs["8583"], "000001", "00")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	return c, addrs
}

// purchaseOn sends a demo purchase to the POS link and checks the code.
func purchaseOn(t *testing.T, addr, stan, want string) *client.Reply {
	t.Helper()
	r := roundTripPOS(t, addr, codec.Message{MTI: "0200", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": "000000001000", "7": "1201101500", "11": stan, "12": "101500",
		"13": "1201", "14": "2812", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}})
	if got := string(r.View.AppendText(nil, 39)); got != want {
		t.Fatalf("purchase %s: rc %s, want %s", stan, got, want)
	}
	return r
}

// roundTripPOS sends m to the POS link at addr and returns the reply.
func roundTripPOS(t *testing.T, addr string, m codec.Message) *client.Reply {
	t.Helper()
	c, d := dialPOS(t, addr)
	defer c.Close()
	msg, err := d.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.RoundTrip(msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// dialPOS connects to the default configuration's POS link (iso87ascii).
func dialPOS(t testing.TB, addr string) (*client.Conn, *codec.Dialect) {
	t.Helper()
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	c, err := client.Dial(addr, d, f, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c, d
}

// serveErr runs serve and returns the error it stops with at once.
func serveErr(t *testing.T, c *config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return serve(ctx, c, zerolog.New(io.Discard), nil)
}

// A missing data key with a journal in place stops the start, naming the
// file and the flag; the flag starts with new keys.
func TestMissingDataKeyStopsTheStart(t *testing.T) {
	c, addrs := servedOnce(t)
	key := filepath.Join(c.file.DataDir, "journal.key")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	err := serveErr(t, c)
	if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), newKeyFlag) {
		t.Fatalf("start without the key: %v", err)
	}
	if _, err := os.Stat(key); err == nil {
		t.Fatal("the refused start created a key file")
	}
	c.newKey = true
	stop := startServe(t, c)
	purchaseOn(t, addrs["8583"], "000002", "00")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// Another key file than the journal's is refused too.
func TestOtherDataKeyStopsTheStart(t *testing.T) {
	c, _ := servedOnce(t)
	key := filepath.Join(c.file.DataDir, "journal.key")
	os.Remove(key)
	other, _ := loadConfig(writeFile(t, strings.Replace(string(defaultConfig), "data_dir: ./data", "data_dir: "+t.TempDir(), 1)))
	if _, _, err := dataKeys(other, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(other.file.DataDir, "journal.key"))
	os.WriteFile(key, raw, 0o600)
	if err := serveErr(t, c); err == nil || !strings.Contains(err.Error(), "journal.key") {
		t.Fatalf("start with another key: %v", err)
	}
}

// A missing high-water mark with a journal in place stops the start,
// naming the file and the flag; the flag rebuilds it.
func TestMissingMarkStopsTheStart(t *testing.T) {
	c, addrs := servedOnce(t)
	mark := filepath.Join(c.file.DataDir, "journal", "hwm")
	if err := os.Remove(mark); err != nil {
		t.Fatal(err)
	}
	err := serveErr(t, c)
	if err == nil || !strings.Contains(err.Error(), mark) || !strings.Contains(err.Error(), "--rebuild-journal-mark") {
		t.Fatalf("start without the mark: %v", err)
	}
	c.rebuildMark = true
	stop := startServe(t, c)
	purchaseOn(t, addrs["8583"], "000003", "00")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// RRNs and approval codes carry on after a restart: the counters come
// back from the journal (before, they started again at 000001).
func TestIdentifiersSurviveARestart(t *testing.T) {
	body, addrs := testConfig(t)
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for run := 0; run < 3; run++ {
		stop := startServe(t, c)
		for i := 0; i < 3; i++ {
			r := purchaseOn(t, addrs["8583"], fmt.Sprintf("%06d", run*10+i+1), "00")
			for _, f := range []int{37, 38} {
				id := fmt.Sprintf("%d:%s", f, r.View.AppendText(nil, f))
				if seen[id] {
					t.Fatalf("run %d: field %s given twice", run, id)
				}
				seen[id] = true
			}
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}
