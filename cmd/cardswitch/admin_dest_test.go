package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/engine"
)

// POST /destinations/NAME/ACTION on a served switch: an echo test and a
// sign-off reach the host (70 = 301, 002) and answer 200 with each
// connection's result; GET /destinations then shows the connection out of
// service; a sign-on puts it back. Without the token: 401; an unknown
// destination 404; an unknown action 400.
func TestAdminDestinationActions(t *testing.T) {
	is, err := sim.Start("127.0.0.1:0", sim.Config{Dialect: "iso87ascii", Framing: "binary2", Rules: sim.Rules{Default: "00"}})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	body, addrs := safConfig(t, is.Addr())
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	stop := startServeLog(t, c, zerolog.Nop())
	defer stop()
	waitDestinationUp(t, addrs["8580"], "visa-host")
	tok, err := os.ReadFile(filepath.Join(c.file.DataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string, withToken bool) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+addrs["8580"]+path, nil)
		if withToken {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	if code, _ := post("/destinations/visa-host/echo", false); code != http.StatusUnauthorized {
		t.Fatalf("without the token: %d, want 401", code)
	}
	for _, a := range []string{"echo", "signoff"} {
		if code, out := post("/destinations/visa-host/"+a, true); code != http.StatusOK || len(out["connections"].([]any)) != 1 {
			t.Fatalf("%s: %d %v", a, code, out)
		}
	}
	up := func() bool {
		res, err := http.Get("http://" + addrs["8580"] + "/destinations")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var ds struct {
			Destinations []engine.DestinationState `json:"destinations"`
		}
		if err := json.NewDecoder(res.Body).Decode(&ds); err != nil || len(ds.Destinations) != 1 {
			t.Fatalf("GET /destinations: %v", err)
		}
		return ds.Destinations[0].Conns[0].Up
	}
	if up() {
		t.Fatal("signed off, the connection is still in service")
	}
	if code, _ := post("/destinations/visa-host/signon?conn=0", true); code != http.StatusOK || !up() {
		t.Fatalf("sign-on: %d, up %v", code, up())
	}
	if code, _ := post("/destinations/nope/echo", true); code != http.StatusNotFound {
		t.Fatalf("unknown destination: %d", code)
	}
	if code, _ := post("/destinations/visa-host/reboot", true); code != http.StatusBadRequest {
		t.Fatalf("unknown action: %d", code)
	}
	if st := is.Stats(); st.NetworkManagement < 3 {
		t.Fatalf("the host read %d network messages, want the echo, sign-off and sign-on at least", st.NetworkManagement)
	}
}
