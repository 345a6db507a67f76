package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardswitch/cardswitch/internal/testlog"
)

func TestSimIssuerRefusesBadFlags(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(bad, []byte("rules:\n  - code: \"51\"\n    amout_over: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sim"}, 2, "cardswitch sim: say issuer"},
		{[]string{"sim", "acquirer"}, 2, "cardswitch sim: say issuer"},
		{[]string{"sim", "issuer", "--dialect", "iso93"}, 2, `cardswitch sim: --dialect: codec: unknown dialect "iso93"`},
		{[]string{"sim", "issuer", "--framing", "udp"}, 2, `cardswitch sim: --framing: codec: unknown framing "udp"`},
		{[]string{"sim", "issuer", "--latency", "fast"}, 2, `cardswitch sim: --latency: sim: latency "fast": "fast" is not a duration`},
		{[]string{"sim", "issuer", "--dialect", "cup-pos", "--echo-idle", "1m"}, 2, "cardswitch sim: --echo-idle: sim: echo tests when idle: dialect cup-pos has no field 7"},
		{[]string{"sim", "issuer", "--seed", "x"}, 2, `invalid value "x" for flag -seed`},
		{[]string{"sim", "issuer", "--rules", bad}, 1, "cardswitch sim: --rules " + bad + ": sim: rules: line 3: field amout_over not found"},
		{[]string{"sim", "issuer", "--zpk", "0123"}, 1, "cardswitch sim: sim: ZPK: a double-length TDES key in 32 hex digits"},
		{[]string{"sim", "issuer", "--zak", "0123456789ABCDEFFEDCBA9876543210", "--zone-mac", "md5"}, 1, `cardswitch sim: sim: ZoneMAC: "md5" must be`},
		{[]string{"sim", "issuer", "--pin", "12"}, 1, "cardswitch sim: sim: PIN: 4 to 12 digits"},
		{[]string{"sim", "issuer", "--zmk", "0123456789ABCDEFFEDCBA9876543210", "--dialect", "cup-pos"}, 1, "cardswitch sim: sim: zone keys: dialect cup-pos has no field 70"},
		{[]string{"sim", "issuer", "--rules", "/nonexistent.yaml"}, 1, "cardswitch sim: --rules /nonexistent.yaml: open /nonexistent.yaml: no such file or directory"},
	} {
		code, _, errOut := cli(t, "", c.args...)
		if first, _, _ := strings.Cut(errOut, "\n"); code != c.code || !strings.HasPrefix(first, c.want) {
			t.Errorf("%v: %d %q, want %d %q", c.args, code, first, c.code, c.want)
		}
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	code, _, errOut := cli(t, "", "sim", "issuer", "--listen", taken.Addr().String())
	if code != 1 || strings.Contains(errOut, "listening") || !strings.Contains(errOut, "address already in use") {
		t.Errorf("a port in use: %d %q", code, errOut)
	}
}

// The simulator says where it listens once it holds the port, answers by
// its rules file (with --latency overriding the file's), and prints its
// counters when it is stopped.
func TestSimIssuerServesAndPrintsCounters(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte("latency: 5s\nrules:\n  - name: over-limit\n    amount_over: 100000\n    code: \"51\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &simFlags{listen: "127.0.0.1:0", dialect: "iso87binary", framing: "bcd2", rules: rules, latency: "0", latencySet: true}
	cfg, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout testlog.Buffer
	done := make(chan error, 1)
	go func() { done <- runSimIssuer(ctx, &env{stdout: &stdout, stderr: pw}, f.listen, cfg); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	addr := strings.TrimSpace(line[strings.LastIndex(line, " ")+1:])
	if !strings.HasPrefix(line, "issuer simulator (iso87binary, bcd2, 1 rules, latency none, seed 0) listening on 127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("%q", line)
	}
	for _, c := range []struct{ amount, code string }{{"2500", "00"}, {"100001", "51"}} {
		code, out, errOut := cli(t, "", "send", "--addr", addr, "--dialect", "iso87binary", "--framing", "bcd2", "--amount", c.amount, "--json")
		if code != 0 || !strings.Contains(out, `"39":"`+c.code+`"`) {
			t.Fatalf("send %s: %d %s %s", c.amount, code, out, errOut)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"received     2 (network management 0)\n", "answered     2\n", "  code 00    1\n", "  code 51    1\n", "faults       0\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("counters do not show %q:\n%s", want, stdout.String())
		}
	}
}

// The zone key flags reach the simulator's configuration.
func TestSimIssuerZoneKeyFlags(t *testing.T) {
	f := &simFlags{listen: "127.0.0.1:0", dialect: "iso87ascii", framing: "binary2", zmk: "C497DCBA1A98ABBC45A2523786C28007",
		zpk: "C7152C20BC2C830EA7EC9E8334ABE3FE", zak: "0123456789ABCDEFFEDCBA9876543210", zoneMAC: "x919", pin: "1234", keyChangeCode: 162}
	cfg, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ZMK != f.zmk || cfg.ZPK != f.zpk || cfg.ZAK != f.zak || cfg.ZoneMAC != "x919" || cfg.PIN != "1234" || cfg.KeyChangeCode != 162 {
		t.Fatalf("config %+v", cfg)
	}
}
