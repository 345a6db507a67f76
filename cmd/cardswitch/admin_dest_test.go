package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// GET /links/NAME/connections lists a link's connections; POST
// .../ID/close (token) closes one: the terminal sees its connection end,
// and the list no longer holds it. An unknown link or connection is 404.
func TestAdminLinkConnections(t *testing.T) {
	body, addrs := testConfig(t)
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	stop := startServeLog(t, c, zerolog.Nop())
	defer stop()
	tok, err := os.ReadFile(filepath.Join(c.file.DataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	conn, d := dialPOS(t, addrs["8583"])
	defer conn.Close()
	if _, err := conn.RoundTrip(purchase(t, d, "000001", "LINKCONN0001", 100), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	list := func() (int, []engine.LinkConn) {
		t.Helper()
		res, err := http.Get("http://" + addrs["8580"] + "/links/pos/connections")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct {
			Total       int               `json:"total"`
			Connections []engine.LinkConn `json:"connections"`
		}
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Total, out.Connections
	}
	n, cs := list()
	if n != 1 || len(cs) != 1 || cs[0].Remote == "" {
		t.Fatalf("connections %d %+v, want the terminal's", n, cs)
	}
	close := func(path string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addrs["8580"]+path, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := close(fmt.Sprintf("/links/pos/connections/%d/close", cs[0].ID)); code != http.StatusOK {
		t.Fatalf("close: %d", code)
	}
	if _, err := conn.RoundTrip(purchase(t, d, "000002", "LINKCONN0002", 100), 2*time.Second); err == nil {
		t.Fatal("the closed connection still answers")
	}
	waitUntilT(t, "the list without it", func() bool { n, _ := list(); return n == 0 })
	if code := close(fmt.Sprintf("/links/pos/connections/%d/close", cs[0].ID)); code != http.StatusNotFound {
		t.Fatalf("closing it again: %d, want 404", code)
	}
	if code := close("/links/nope/connections/1/close"); code != http.StatusNotFound {
		t.Fatalf("an unknown link: %d, want 404", code)
	}
}
