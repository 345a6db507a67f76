package main

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/engine"
)

// A reload whose routes forward to a destination the switch is not
// running is refused, naming it, and the routes in force stay; one that
// changes destinations[] is applied but for the destinations, and says
// that they wait for a restart (the running timeout stays).
func TestReloadAndDestinations(t *testing.T) {
	is, err := sim.Start("127.0.0.1:0", sim.Config{Dialect: "iso87ascii", Framing: "binary2"})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	body, addrs := openUpConfig(t, is.Addr())
	cfgPath := writeFile(t, body)
	_, auth, logs := serveReloadable(t, cfgPath, nil)
	base := "http://" + addrs["8580"]
	forwarded := func(what string) {
		t.Helper()
		before := is.Stats().AnsweredTotal()
		_, out, _ := cli(t, "", "send", "--addr", addrs["8583"], "--pan", "4761739001010010", "--json")
		if !strings.Contains(out, `"39":"00"`) || is.Stats().AnsweredTotal() != before+1 {
			t.Fatalf("%s: not forwarded to visa-host: %s", what, out)
		}
	}
	waitDestinationUp(t, addrs["8580"], "visa-host")
	forwarded("before any reload")

	// a second destination and the rule that forwards to it
	mc := "  - name: mc-host\n    dialect: iso87ascii\n    framing: binary2\n    endpoints: [{address: " + freePort(t) + "}]\n"
	added := strings.Replace(body, "\nroutes:", mc+"\nroutes:", 1)
	added = strings.Replace(added, "destination: visa-host\n", "destination: mc-host\n", 1)
	if added == body || !strings.Contains(added, "destination: mc-host") {
		t.Fatal("the test configuration changed")
	}
	if _, err := parseConfig([]byte(added)); err != nil {
		t.Fatalf("the new configuration is valid on its own: %v", err)
	}
	os.WriteFile(cfgPath, []byte(added), 0o644)
	const why = `routes.rules[0].destination: "mc-host" is not a running destination`
	if code, out := adminCall(t, http.MethodPost, base+"/reload", auth); code != http.StatusUnprocessableEntity || !strings.Contains(out, why) {
		t.Fatalf("a route to a destination not running: %d %q", code, out)
	}
	if !strings.Contains(logs.String(), "is not a running destination") {
		t.Fatalf("the refusal is not logged:\n%s", logs.String())
	}
	forwarded("after the refused reload")

	// visa-host's timeout changed: the rest applies, the destination waits
	changed := strings.Replace(body, "timeout: 2m", "timeout: 30s", 1)
	os.WriteFile(cfgPath, []byte(changed), 0o644)
	code, out := adminCall(t, http.MethodPost, base+"/reload", auth)
	if code != http.StatusOK || !strings.Contains(out, "destinations changed, not applied until a restart: visa-host (changed)") {
		t.Fatalf("a changed destination: %d %q", code, out)
	}
	if !strings.Contains(logs.String(), `"destinations":["visa-host (changed)"]`) {
		t.Fatalf("the change is not logged:\n%s", logs.String())
	}
	if _, out := adminCall(t, http.MethodGet, base+"/destinations", nil); !strings.Contains(out, `"timeout": "2m0s"`) {
		t.Fatalf("the running timeout changed: %s", out)
	}
	forwarded("after the reload")
}

func TestDestinationChanges(t *testing.T) {
	a := engine.DestinationConfig{Name: "a", Timeout: time.Second}
	b := engine.DestinationConfig{Name: "b"}
	a2 := a
	a2.Timeout = 2 * time.Second
	for _, c := range []struct {
		cur, next []engine.DestinationConfig
		want      []string
	}{
		{[]engine.DestinationConfig{a, b}, []engine.DestinationConfig{a, b}, nil},
		{[]engine.DestinationConfig{a, b}, []engine.DestinationConfig{b, a}, nil}, // order is not a change
		{[]engine.DestinationConfig{a}, []engine.DestinationConfig{a2, b}, []string{"a (changed)", "b (added)"}},
		{[]engine.DestinationConfig{a, b}, []engine.DestinationConfig{b}, []string{"a (removed)"}},
	} {
		if got := destinationChanges(c.cur, c.next); !slices.Equal(got, c.want) {
			t.Errorf("%v -> %v: %q, want %q", c.cur, c.next, got, c.want)
		}
	}
}
