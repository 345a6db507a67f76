package main

import (
	"strings"
	"testing"
)

// serveWithPOSDialect starts serve on the default configuration with the
// pos link speaking dialect, and returns the pos address.
func serveWithPOSDialect(t *testing.T, dialect string) string {
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
	stop := startServe(t, c)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return addrs["8583"]
}

func TestServeBinaryBitmapLink(t *testing.T) {
	addr := serveWithPOSDialect(t, "iso87ascii-bbitmap")
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
