package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/internal/testlog"
)

// TestReloadRefusesTruncatedIssuerData: issuer data cut short, without its
// counts, or taking more than issuer.max_drop_share of the cards away is
// refused at reload with the reason; the data in force stays (a purchase is
// still approved) until a POST /reload?force=1 applies a large drop. A
// SIGHUP never forces.
func TestReloadRefusesTruncatedIssuerData(t *testing.T) {
	body, addrs := testConfig(t)
	dir := t.TempDir()
	issuerPath := filepath.Join(dir, "issuer.yaml")
	demo := string(issuer.DemoYAML())
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(issuerPath, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(demo)
	cfgPath := writeFile(t, strings.Replace(body, `data: ""`, "data: "+issuerPath, 1))
	hup := make(chan os.Signal, 1)
	_, auth, logs := serveReloadable(t, cfgPath, hup)
	base := "http://" + addrs["8580"]
	purchase := func() string {
		t.Helper()
		_, out, _ := cli(t, "", "send", "--addr", addrs["8583"], "--pan", "4000001234562", "--json")
		return out
	}
	if out := purchase(); !strings.Contains(out, `"39":"00"`) {
		t.Fatalf("before any reload: %s", out)
	}
	second := strings.Index(demo, `  - pan: "4000001234562"`)
	if second < 0 {
		t.Fatal("the demo data has no card 4000001234562")
	}
	for _, c := range []struct{ name, file, want string }{
		// cut after the first card: still valid YAML, one card, no merchants or terminals
		{"cut after 1 card", demo[:second], "counts.cards: the file declares 6, cards lists 1"},
		{"no counts", strings.Replace(demo, "counts: {", "# counts: {", 1), "no counts section"},
		{"a count missing", strings.Replace(demo, " terminals: 2}", "}", 1), "counts.terminals: missing"},
		{"counts of another file", strings.Replace(demo, "terminals: 2}", "terminals: 3}", 1), "counts.terminals: the file declares 3, terminals lists 2"},
	} {
		write(c.file)
		code, out := adminCall(t, http.MethodPost, base+"/reload", auth)
		if code != http.StatusUnprocessableEntity || !strings.Contains(out, c.want) {
			t.Errorf("%s: %d %q, want 422 with %q", c.name, code, out, c.want)
		}
		if out := purchase(); !strings.Contains(out, `"39":"00"`) {
			t.Fatalf("%s: the data in force was replaced: %s", c.name, out)
		}
	}
	// counts made to fit a file that lost four of the six cards: 67% > 10%
	third := strings.Index(demo, `  - pan: "6228480402564890018"`)
	merchants := strings.Index(demo, "merchants:\n")
	dropped := demo[:second] + demo[third:third+strings.Index(demo[third:], `  - pan: "5413330089010012"`)] + demo[merchants:]
	dropped = strings.Replace(dropped, "cards: 6,", "cards: 2,", 1)
	write(dropped)
	if _, err := issuer.ParseCounted([]byte(dropped)); err != nil {
		t.Fatalf("the dropped file does not parse on its own: %v", err)
	}
	const why = "the reload would drop 4 of the 6 cards in force (67%), more than issuer.max_drop_share 10%"
	if code, out := adminCall(t, http.MethodPost, base+"/reload", auth); code != http.StatusUnprocessableEntity || !strings.Contains(out, why) {
		t.Fatalf("a 67%% drop: %d %q", code, out)
	}
	// SIGHUP is never forced: serve's loop reloads one at a time, so the
	// second signal is taken once the first reload is done
	hup <- os.Interrupt
	hup <- os.Interrupt
	for deadline := time.Now().Add(time.Minute); strings.Count(logs.String(), why) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) { // a hang guard, not a bound
			t.Fatalf("SIGHUP reload not refused:\n%s", logs.String())
		}
	}
	if out := purchase(); !strings.Contains(out, `"39":"00"`) {
		t.Fatalf("a refused drop replaced the data: %s", out)
	}
	if code, out := adminCall(t, http.MethodPost, base+"/reload?force=1", auth); code != http.StatusOK {
		t.Fatalf("forced reload: %d %q", code, out)
	}
	if out := purchase(); !strings.Contains(out, `"39":"14"`) {
		t.Fatalf("after the forced reload the dropped card: %s", out)
	}
	if !strings.Contains(logs.String(), `"message":"reload forced"`) {
		t.Error("the forced reload is not logged")
	}
}

func TestCheckDropShare(t *testing.T) {
	cur, err := issuer.ParseCounted(issuer.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	demo := string(issuer.DemoYAML())
	i, j := strings.Index(demo, "  - id: \"12345678\""), len(demo)
	oneTerm := strings.Replace(demo[:i]+demo[j:], "terminals: 2}", "terminals: 1}", 1)
	next, err := issuer.ParseCounted([]byte(oneTerm))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		share float64
		fails bool
	}{{0.1, true}, {0.49, true}, {0.5, false}, {1, false}} {
		err := checkDrop(cur, next, c.share)
		if (err != nil) != c.fails || (err != nil && !strings.Contains(err.Error(), "1 of the 2 terminals")) {
			t.Errorf("share %v: %v", c.share, err)
		}
	}
	if err := checkDrop(cur, cur, 0); err != nil {
		t.Errorf("the same data: %v", err)
	}
}

// serveReloadable serves the configuration at cfgPath with its reload
// (POST /reload, and hup when given) reading that file again; it returns
// the configuration, the admin port's bearer header and the log. The
// switch stops when the test ends.
func serveReloadable(t *testing.T, cfgPath string, hup chan os.Signal) (*config, map[string]string, *testlog.Buffer) {
	t.Helper()
	c, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c.hup = hup
	c.reload = func() (*config, error) { return loadConfig(cfgPath) }
	stop, logs := startLogged(t, c)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return c, adminBearer(t, c), logs
}

// adminBearer is the Authorization header of c's admin token.
func adminBearer(t *testing.T, c *config) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(c.file.Admin.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"Authorization": "Bearer " + strings.TrimSpace(string(raw))}
}
