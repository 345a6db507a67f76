package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/internal/testport"
)

func freePort(t testing.TB) string {
	t.Helper()
	return testport.Addr(t)
}

// freePorts returns n distinct free loopback addresses (testport).
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	return testport.Addrs(t, n)
}

// testConfig is the default configuration on free ports.
func testConfig(t testing.TB) (string, map[string]string) {
	t.Helper()
	ps := freePorts(t, 4)
	addrs := map[string]string{"8580": ps[0], "8583": ps[1], "8584": ps[2], "8585": ps[3]}
	s := strings.Replace(string(defaultConfig), "data_dir: ./data", "data_dir: "+t.TempDir(), 1)
	for port, addr := range addrs {
		s = strings.Replace(s, "127.0.0.1:"+port, addr, 1)
	}
	return s, addrs
}

func writeFile(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cardswitch.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveDefault runs the switch on the test configuration until the test
// ends (a failed shutdown fails the test) and returns its addresses.
func serveDefault(t *testing.T) map[string]string {
	t.Helper()
	body, addrs := testConfig(t)
	serveBody(t, body)
	return addrs
}

// serveBody runs the switch on the configuration body until the test ends
// (a failed shutdown fails the test).
func serveBody(t *testing.T, body string) {
	t.Helper()
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	stop := startServe(t, c)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

// startServe runs serve on c until the returned stop is called; stop
// returns serve's error.
func startServe(t testing.TB, c *config) (stop func() error) {
	t.Helper()
	return startServeLog(t, c, zerolog.New(io.Discard))
}

// startServeLog is startServe logging to log.
func startServeLog(t testing.TB, c *config, log zerolog.Logger) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *engine.Server, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, log, started) }()
	select {
	case <-started:
	case err := <-done:
		cancel()
		t.Fatal(err)
	}
	return func() error { cancel(); return <-done }
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct{ from, to, want string }{
		{"data_dir: ./data", "data_dir: ./data\nbogus: 1", "bogus (line 6): unknown key"},
		{"listen: 127.0.0.1:8583", "listen: nowhere", "links[0].listen"},
		{"dialect: iso87binary", "dialect: iso93", `links[1].dialect: codec: unknown dialect "iso93"`},
		{"framing: binary2+tpdu", "framing: udp", "links[2].framing"},
		{"no_route_code: \"15\"", "no_route_code: \"155\"", "routes"},
		{"level: info", "level: loud", "log.level"},
		{"max_in_flight: 256", "max_in_flight: 0", ""}, // 0 takes the default
		{"drain_timeout: 5s", "drain_timeout: soon", "drain_timeout"},
		{"max_drop_share: 0.1", "max_drop_share: 1.5", "issuer.max_drop_share: 1.5 must be 0 to 1"},
		{"max_drop_share: 0.1", "max_drop_share: -0.1", "issuer.max_drop_share"},
	} {
		body := strings.Replace(string(defaultConfig), c.from, c.to, 1)
		if body == string(defaultConfig) {
			t.Fatalf("%q not in the default configuration", c.from)
		}
		_, err := loadConfig(writeFile(t, body))
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.to, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%s: got %v, want one line with %q", c.to, err, c.want)
		}
	}
}

func TestServeDefaultConfigSendAndReload(t *testing.T) {
	body, addrs := testConfig(t)
	path := writeFile(t, body)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	hup := make(chan os.Signal, 1)
	reloads := make(chan error, 2) // each reload's outcome, as serve's loop gets it
	c.hup, c.reload = hup, func() (*config, error) {
		next, err := loadConfig(path)
		reloads <- err
		return next, err
	}
	// reload sends SIGHUP and returns once serve has applied (or rejected)
	// the file: serve reloads in its loop, one at a time, so a second
	// reload of the same file starts only when the first is done.
	reload := func() error {
		t.Helper()
		var errs [2]error
		for i := range errs {
			hup <- os.Interrupt
			select {
			case errs[i] = <-reloads:
			case <-time.After(time.Minute): // a hang guard, not a bound
				t.Fatal("serve did not reload")
			}
		}
		return errs[0]
	}
	stop := startServe(t, c)

	// a purchase on every link with the demo data is approved at the first try
	for _, l := range []struct{ addr, dialect, framing string }{
		{addrs["8583"], "iso87ascii", "binary2"},
		{addrs["8584"], "iso87binary", "binary2"},
		{addrs["8585"], "cup-pos", "binary2+tpdu"},
	} {
		code, out, errOut := cli(t, "", "send", "--addr", l.addr, "--dialect", l.dialect, "--framing", l.framing, "--json")
		if code != 0 || !strings.Contains(out, `"39":"00"`) {
			t.Fatalf("%s: %d %s %s", l.dialect, code, out, errOut)
		}
	}
	// a reload that declines the card's BIN takes effect without a restart
	declined := strings.Replace(body, "  rules:", "  rules:\n    - name: blocked-bin\n      pan_prefixes: [\"4761739\"]\n      action: decline\n      code: \"57\"", 1)
	if err := os.WriteFile(path, []byte(declined), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := reload(); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := cli(t, "", "send", "--addr", addrs["8583"], "--json"); !strings.Contains(out, `"39":"57"`) {
		t.Fatalf("reload not applied: %s", out)
	}
	// every approval is in the journal by the time its reply arrived
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	dataDir := c.file.DataDir
	code, out, errOut := cli(t, "", "journal", "--data-dir", dataDir, "verify")
	if code != 0 || !strings.Contains(out, "journal ok") {
		t.Fatalf("verify: %d %s %s", code, out, errOut)
	}
	code, out, _ = cli(t, "", "journal", "--data-dir", dataDir, "dump", "--json")
	if code != 0 || strings.Count(out, `"rc":"00"`) < 3 || strings.Count(out, `"rc":"57"`) < 1 || strings.Contains(out, "4761739001010010") {
		t.Fatalf("dump: %s", out)
	}
	// restart on the same journal: it continues
	stop = startServe(t, c)
	if err := reload(); err != nil { // c holds the first table: load the file's again
		t.Fatal(err)
	}
	if _, out, _ := cli(t, "", "send", "--addr", addrs["8583"], "--json"); !strings.Contains(out, `"39":"57"`) {
		t.Fatalf("reload after restart not applied: %s", out)
	}
	// a broken file is rejected and the table in force stays
	if err := os.WriteFile(path, []byte("links: ["), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := reload(); err == nil {
		t.Fatal("a broken file reloaded")
	}
	if _, out, _ := cli(t, "", "send", "--addr", addrs["8583"], "--json"); !strings.Contains(out, `"39":"57"`) {
		t.Fatalf("after a bad reload: %s", out)
	}
	// a timeout or a refused connection is an error
	if code, _, _ := cli(t, "", "send", "--addr", freePort(t), "--timeout", "1s"); code != 1 {
		t.Fatalf("refused connection: exit %d", code)
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestPortInUse(t *testing.T) {
	body, addrs := testConfig(t)
	ln, err := net.Listen("tcp", addrs["8584"])
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), c, zerolog.New(io.Discard), nil)
	if err == nil || !strings.Contains(err.Error(), "link acquirer: listen "+addrs["8584"]) {
		t.Fatalf("port in use: %v", err)
	}
}
