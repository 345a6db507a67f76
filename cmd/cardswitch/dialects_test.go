package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moov-io/iso8583/specs"
)

// serveWithPOSDialect starts serve on the default configuration with the
// pos link speaking dialect, after `config check` accepts it. It returns
// the pos address, the data directory and a stop that waits for shutdown.
func serveWithPOSDialect(t *testing.T, dialect string) (addr, dataDir string, stop func()) {
	t.Helper()
	body, addrs := testConfig(t)
	body = strings.Replace(body, "dialect: iso87ascii ", "dialect: "+dialect+" ", 1)
	path := writeFile(t, body)
	if code, out, errOut := cli(t, "", "config", "check", "--config", path); code != 0 || !strings.Contains(out, "configuration ok") {
		t.Fatalf("config check: %d %s %s", code, out, errOut)
	}
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.file.Links[0].Dialect; got != dialect {
		t.Fatalf("pos dialect %q, want %q", got, dialect)
	}
	stopServe := startServe(t, c)
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			if err := stopServe(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return addrs["8583"], c.file.DataDir, stop
}

func TestServeBinaryBitmapLink(t *testing.T) {
	addr, _, _ := serveWithPOSDialect(t, "iso87ascii-bbitmap")
	code, out, errOut := cli(t, "", "send", "--addr", addr, "--dialect", "iso87ascii-bbitmap", "--json")
	if code != 0 || !strings.Contains(out, `"39":"00"`) {
		t.Fatalf("send: %d %s %s", code, out, errOut)
	}
	// the same link refuses the hex-bitmap layout: it is another dialect
	code, out, _ = cli(t, "", "send", "--addr", addr, "--dialect", "iso87ascii", "--json")
	if code == 0 && strings.Contains(out, `"39":"00"`) {
		t.Fatalf("an iso87ascii frame approved on an iso87ascii-bbitmap link: %s", out)
	}
}

// moov's own Spec87ASCII, exported as JSON, on a link: fields 4, 7, 11, 12
// and 13 are typed String there, and still the purchase is approved with
// its amount and STAN journaled (they were 13 then 94, amount 0, STAN 0).
func TestServeMoovSpec87ASCIILink(t *testing.T) {
	raw, err := specs.ExportJSON(specs.Spec87ASCII)
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(t.TempDir(), "spec87ascii.json")
	if err := os.WriteFile(spec, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	addr, dataDir, stop := serveWithPOSDialect(t, spec)
	for _, stan := range []string{"000731", "000732"} {
		code, out, errOut := cli(t, "", "send", "--addr", addr, "--dialect", spec, "--stan", stan, "--amount", "4321", "--json")
		if code != 0 || !strings.Contains(out, `"39":"00"`) || !strings.Contains(out, `"11":"`+stan+`"`) {
			t.Fatalf("send %s: %d %s %s", stan, code, out, errOut)
		}
	}
	stop()
	code, out, errOut := cli(t, "", "journal", "--data-dir", dataDir, "dump", "--json")
	if code != 0 {
		t.Fatalf("dump: %d %s", code, errOut)
	}
	for _, want := range []string{`"stan":"000731"`, `"stan":"000732"`, `"amount":4321`, `"rc":"00"`} {
		if !strings.Contains(out, want) {
			t.Errorf("journal lacks %s:\n%s", want, out)
		}
	}
}

// A JSON dialect in which the switch could not read the amount is refused
// by config check, naming the file and the field.
func TestConfigCheckRefusesUnreadableAmount(t *testing.T) {
	raw, err := specs.ExportJSON(specs.Spec87ASCII)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Name   string         `json:"name"`
		Fields map[string]any `json:"fields"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc.Fields["4"] = map[string]any{"type": "Binary", "length": 6, "description": "Transaction Amount", "enc": "Binary", "prefix": "Binary.Fixed"}
	raw, _ = json.Marshal(doc)
	spec := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(spec, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	body, _ := testConfig(t)
	path := writeFile(t, strings.Replace(body, "dialect: iso87ascii ", "dialect: "+spec+" ", 1))
	code, _, errOut := cli(t, "", "config", "check", "--config", path)
	if code == 0 || !strings.Contains(errOut, "links[0].dialect") || !strings.Contains(errOut, "field 4 (Transaction Amount)") {
		t.Fatalf("config check: %d %s", code, errOut)
	}
}

// An IBM host dialect (EBCDIC MTI, text and length prefixes) on a link:
// the purchase is approved and the reply is EBCDIC too.
func TestServeEBCDICLink(t *testing.T) {
	spec, err := filepath.Abs("../../codec/testdata/specs/ebcdic-host.json")
	if err != nil {
		t.Fatal(err)
	}
	addr, dataDir, stop := serveWithPOSDialect(t, spec)
	code, out, errOut := cli(t, "", "send", "--addr", addr, "--dialect", spec, "--stan", "000733", "--amount", "2500", "--json")
	if code != 0 || !strings.Contains(out, `"39":"00"`) || !strings.Contains(out, `"11":"000733"`) {
		t.Fatalf("send: %d %s %s", code, out, errOut)
	}
	stop()
	_, out, _ = cli(t, "", "journal", "--data-dir", dataDir, "dump", "--json")
	if !strings.Contains(out, `"stan":"000733"`) || !strings.Contains(out, `"amount":2500`) || !strings.Contains(out, `"terminal":"TERM0001"`) {
		t.Fatalf("journal:\n%s", out)
	}
}
