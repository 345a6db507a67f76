package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/engine"
)

// tlsLinkConfig is the test configuration with the pos link on TLS with
// mutual TLS, its files in dir (made by `tls certs`).
func tlsLinkConfig(t *testing.T, dir string) (string, map[string]string) {
	t.Helper()
	body, addrs := testConfig(t)
	const anchor = "    accept_cutover: false"
	i := strings.Index(body, anchor)
	if i < 0 {
		t.Fatal("the default configuration changed")
	}
	end := i + strings.Index(body[i:], "\n") + 1
	tls := "    tls:\n      cert: " + filepath.Join(dir, "server.pem") + "\n      key: " + filepath.Join(dir, "server.key") +
		"\n      ca: " + filepath.Join(dir, "ca.pem") + "\n      min_version: \"1.2\"\n"
	return body[:end] + tls + body[end:], addrs
}

func makeCerts(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	if code, _, errOut := cli(t, "", "tls", "certs", "--dir", dir); code != 0 {
		t.Fatalf("tls certs: %s", errOut)
	}
	return dir
}

// A served TLS link answers send --tls with a client certificate and
// refuses plain TCP; SIGHUP puts a new server certificate in force for
// new handshakes.
func TestServeTLSLinkAndReloadOnSIGHUP(t *testing.T) {
	dir := makeCerts(t)
	body, addrs := tlsLinkConfig(t, dir)
	hup := make(chan os.Signal, 1)
	_, _, logs := serveReloadable(t, writeFile(t, body), hup)
	send := func(ca string, stan int) (int, string, string) {
		return cli(t, "", "send", "--addr", addrs["8583"], "--pan", "4761739001010010", "--stan", strconv.Itoa(stan), "--json", "--timeout", "5s",
			"--tls", "--cert", filepath.Join(dir, "client.pem"), "--key", filepath.Join(dir, "client.key"), "--ca", ca)
	}
	if code, out, errOut := send(filepath.Join(dir, "ca.pem"), 101); code != 0 || !strings.Contains(out, `"39":"00"`) {
		t.Fatalf("send --tls: %d %s %s", code, out, errOut)
	}
	// the scripted client simulator over TLS too
	if code, out, errOut := cli(t, "", "sim", "client", "--script", filepath.Join(scriptsDir, "purchase-reversal.yaml"), "--addr", addrs["8583"],
		"--tls", "--cert", filepath.Join(dir, "client.pem"), "--key", filepath.Join(dir, "client.key"), "--ca", filepath.Join(dir, "ca.pem")); code != 0 {
		t.Fatalf("sim client --tls: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := cli(t, "", "send", "--addr", addrs["8583"], "--pan", "4761739001010010", "--json", "--timeout", "2s"); code == 0 || !strings.Contains(errOut, "TLS link (--tls)?") {
		t.Fatalf("a plain send to the TLS link: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := cli(t, "", "sim", "issuer", "--listen", "127.0.0.1:0", "--tls"); code == 0 || !strings.Contains(errOut, "needs --cert and --key") {
		t.Fatalf("sim issuer --tls without a certificate: %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, "", "bench", "--compare", "--tls"); code != 2 || !strings.Contains(errOut, "--tls is for a switch at --addr") {
		t.Fatalf("bench --compare --tls: %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, "", "send", "--addr", addrs["8583"], "--cert", "x.pem"); code != 2 || !strings.Contains(errOut, "need --tls") {
		t.Fatalf("--cert without --tls: %d %s", code, errOut)
	}

	// a new server certificate, from another CA: the client trusts only that one
	next := makeCerts(t)
	for _, f := range []string{"server.pem", "server.key"} {
		raw, _ := os.ReadFile(filepath.Join(next, f))
		if err := os.WriteFile(filepath.Join(dir, f), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errOut := send(filepath.Join(next, "ca.pem"), 102); code == 0 || !strings.Contains(errOut, "certificate") {
		t.Fatalf("before the reload the old certificate must still be served: %d %s", code, errOut)
	}
	hup <- syscall.SIGHUP
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "TLS certificates, keys, CAs and pins read again"); {
		if time.Now().After(deadline) {
			t.Fatalf("no TLS reload logged:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, out, errOut := send(filepath.Join(next, "ca.pem"), 103); code != 0 || !strings.Contains(out, `"39":"00"`) {
		t.Fatalf("after SIGHUP the new certificate is not served: %d %s %s", code, out, errOut)
	}
}

func TestLinkTLSChanges(t *testing.T) {
	a := engine.LinkConfig{Name: "pos", TLS: &engine.TLSConfig{Cert: "a.pem", Key: "a.key"}}
	b := engine.LinkConfig{Name: "atm"}
	a2 := a
	a2.TLS = &engine.TLSConfig{Cert: "b.pem", Key: "a.key"}
	if got := linkTLSChanges([]engine.LinkConfig{a, b}, []engine.LinkConfig{a, b}); len(got) != 0 {
		t.Fatalf("no change: %v", got)
	}
	if got := linkTLSChanges([]engine.LinkConfig{a, b}, []engine.LinkConfig{a2, b}); !slices.Equal(got, []string{"pos"}) {
		t.Fatalf("pos's cert changed: %v", got)
	}
}

// TLS problems are found at the start, naming the key.
func TestConfigTLSErrors(t *testing.T) {
	dir := makeCerts(t)
	body, _ := tlsLinkConfig(t, dir)
	for _, c := range []struct{ from, to, want string }{
		{filepath.Join(dir, "server.pem"), filepath.Join(dir, "nowhere.pem"), "links[0].tls.cert: open " + filepath.Join(dir, "nowhere.pem")},
		{filepath.Join(dir, "server.key"), filepath.Join(dir, "client.key"), "links[0].tls.key: " + filepath.Join(dir, "client.key") + " is not the key of"},
		{`min_version: "1.2"`, `min_version: "1.0"`, `links[0].tls.min_version: "1.0" must be "1.2" or "1.3"`},
		{"      min_version", "      min_versoin", "links[0].tls.min_versoin (line"},
	} {
		changed := strings.Replace(body, c.from, c.to, 1)
		if changed == body {
			t.Fatalf("%q not in the configuration", c.from)
		}
		_, err := parseConfig([]byte(changed))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s -> %s: %v, want %q", c.from, c.to, err, c.want)
		}
	}
}
