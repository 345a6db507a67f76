package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/journal"
)

// sendJSON sends a purchase with send and returns the reply's fields.
func sendJSON(t *testing.T, addr string, args ...string) map[string]string {
	t.Helper()
	code, out, errOut := cli(t, "", append([]string{"send", "--addr", addr, "--json"}, args...)...)
	var reply struct{ Fields map[string]string }
	if code != 0 || json.Unmarshal([]byte(out), &reply) != nil {
		t.Fatalf("send: %d %s %s", code, out, errOut)
	}
	return reply.Fields
}

// lookupResult is a GET /transactions reply as a client reads it.
type lookupResult struct {
	Date         uint32
	Scanned      uint64
	Truncated    bool
	Transactions []dumpLine
}

func getLookup(t *testing.T, admin, query string) (int, lookupResult, string) {
	t.Helper()
	code, body := adminCall(t, http.MethodGet, "http://"+admin+"/transactions?"+query, nil)
	var r lookupResult
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("%s: %v %s", query, err, body)
		}
	}
	return code, r, body
}

// reloadableConfig is the test configuration on free ports, in a file
// that POST /reload reads again, with the file's path.
func reloadableConfig(t *testing.T) (*config, map[string]string, string) {
	t.Helper()
	body, addrs := testConfig(t)
	path := writeFile(t, body)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	c.reload = func() (*config, error) { return loadConfig(path) }
	return c, addrs, path
}

// serveUntilEnd serves c until the test ends (a failed shutdown fails it).
func serveUntilEnd(t *testing.T, c *config) {
	t.Helper()
	stop := startServe(t, c)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

// adminTokenOf is the admin token of a switch serving c.
func adminTokenOf(t *testing.T, c *config) string {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(c.file.DataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(tok))
}

// GET /transactions finds a running switch's transactions in the journal
// by RRN, by terminal and STAN, and by masked PAN, masked; a clear PAN or
// a query that says no single way is refused without echoing it.
func TestAdminTransactionLookup(t *testing.T) {
	c, addrs, _ := reloadableConfig(t)
	serveUntilEnd(t, c)
	first := sendJSON(t, addrs["8583"], "--amount", "1234")
	second := sendJSON(t, addrs["8583"], "--amount", "4321")
	if first["39"] != "00" || first["37"] == "" || first["37"] == second["37"] {
		t.Fatalf("replies %v %v", first, second)
	}
	admin := addrs["8580"]
	for _, c := range []struct {
		query string
		want  []string // the STANs found, in order
		trunc bool
	}{
		{"rrn=" + first["37"], []string{first["11"]}, false},
		{"terminal=TERM0001&stan=" + second["11"], []string{second["11"]}, false},
		{"pan=476173******0010", []string{first["11"], second["11"]}, false},
		{"pan=476173xxxxxx0010&max=1", []string{first["11"]}, true},
		{"pan=476173******0011", nil, false},
		{"rrn=" + first["37"] + "&date=20000101", nil, false}, // a day the journal does not have
	} {
		code, r, body := getLookup(t, admin, c.query)
		if code != http.StatusOK || r.Truncated != c.trunc || len(r.Transactions) != len(c.want) {
			t.Errorf("%s: %d %s", c.query, code, body)
			continue
		}
		rrns := map[string]string{first["11"]: first["37"], second["11"]: second["37"]}
		for i, tx := range r.Transactions {
			if tx.STAN != c.want[i] || tx.RRN != rrns[tx.STAN] || tx.Route != "on-us-visa" || tx.Link != "pos" ||
				tx.Terminal != "TERM0001" || tx.PAN != "476173******0010" || tx.RespCode != "00" || tx.MTI != "0200" {
				t.Errorf("%s: transaction %d %+v", c.query, i, tx)
			}
		}
		if strings.Contains(body, "4761739001010010") {
			t.Errorf("%s: the body shows the PAN: %s", c.query, body)
		}
	}
	if _, r, _ := getLookup(t, admin, "rrn="+first["37"]); len(r.Transactions) == 1 && (r.Transactions[0].Amount != 1234 || r.Scanned < 2) {
		t.Errorf("by RRN: %+v", r)
	}
	// after a cutover the lookup reads the new day from the old one's end
	code, cut := postCutover(t, admin, adminTokenOf(t, c))
	if code != http.StatusOK || !cut.Moved {
		t.Fatalf("cutover: %d %+v", code, cut)
	}
	third := sendJSON(t, addrs["8583"], "--amount", "999")
	if _, r, body := getLookup(t, admin, "rrn="+third["37"]); len(r.Transactions) != 1 || r.Date != cut.To || r.Transactions[0].Amount != 999 {
		t.Errorf("on the new day %d: %s", cut.To, body)
	}
	if _, r, body := getLookup(t, admin, "pan=476173******0010"); len(r.Transactions) != 1 {
		t.Errorf("the card on the new day %d: %s", cut.To, body)
	}
	if _, r, body := getLookup(t, admin, "pan=476173******0010&date="+strconv.Itoa(int(cut.From))); len(r.Transactions) != 2 {
		t.Errorf("on the old day %d: %s", cut.From, body)
	}
	for _, c := range []struct{ query, want string }{
		{"", "say one of rrn=RRN"},
		{"rrn=1&pan=476173******0010", "say one of rrn=RRN"},
		{"terminal=TERM0001", "terminal and stan go together"},
		{"stan=1234567", "stan \"1234567\": up to 6 digits"},
		{"pan=4761739001010010", "a card number in clear is refused"},
		{"rrn=1&date=2026", "date \"2026\": YYYYMMDD"},
		{"rrn=1&max=0", "max must be 1 to 1000"},
	} {
		code, body := adminCall(t, http.MethodGet, "http://"+admin+"/transactions?"+c.query, nil)
		if code != http.StatusBadRequest || !strings.Contains(body, c.want) || strings.Contains(body, "4761739001010010") {
			t.Errorf("%q: %d %q, want 400 %q", c.query, code, body, c.want)
		}
	}
}

// One lookup scans at a time: a second while one runs is answered 429.
func TestAdminTransactionLookupOneAtATime(t *testing.T) {
	lk := newLookup(emptyJournal{}, func() uint32 { return 20261202 })
	h := lk.handler()
	lk.busy.Lock()
	w := httptest.NewRecorder()
	h(w, httptest.NewRequest(http.MethodGet, "/transactions?rrn=1", nil))
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("while another runs: %d %s", w.Code, w.Body)
	}
	lk.busy.Unlock()
	w = httptest.NewRecorder()
	h(w, httptest.NewRequest(http.MethodGet, "/transactions?rrn=1", nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"date":20261202`) {
		t.Fatalf("alone: %d %s", w.Code, w.Body)
	}
}

type emptyJournal struct{}

func (emptyJournal) Days() ([]journal.Day, error) { return nil, nil }
func (emptyJournal) Walk(from journal.Point, _ uint64, _ func(*journal.Record) error) (journal.Point, error) {
	return from, nil
}

// GET /config shows the configuration in force: after a reload, its
// routes; the zone keys of destinations never (see redactedConfig).
func TestAdminConfigInForce(t *testing.T) {
	c, addrs, path := reloadableConfig(t)
	serveUntilEnd(t, c)
	admin := "http://" + addrs["8580"]
	get := func() map[string]any {
		t.Helper()
		code, out := adminCall(t, http.MethodGet, admin+"/config", nil)
		var v map[string]any
		if code != http.StatusOK || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("GET /config: %d %s", code, out)
		}
		return v
	}
	v := get()
	links, _ := v["links"].([]any)
	if len(links) != 3 || links[2].(map[string]any)["name"] != "cup" || v["engine"].(map[string]any)["drain_timeout"] != "5s" {
		t.Fatalf("GET /config: %v", v)
	}
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(body), "- name: on-us-visa", "- name: on-us-visa-renamed", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := adminCall(t, http.MethodPost, admin+"/reload", map[string]string{"Authorization": "Bearer " + adminTokenOf(t, c)}); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, out)
	}
	out, _ := json.Marshal(get()["routes"])
	if !strings.Contains(string(out), `"on-us-visa-renamed"`) {
		t.Fatalf("routes after the reload: %s", out)
	}
}

// A destination's zone keys are redacted; every other value is shown.
func TestConfigSecretsRedacted(t *testing.T) {
	keys := strings.Replace(twoDestinations, "    sign_on: true\n", "    sign_on: true\n"+
		"    zmk: U71979DEB8587E2734F1E99D5DCAEF9AC\n    zpk: U1EF828AA8F6B80EB83E19FBC373F3A85\n    zak: U1EF828AA8F6B80EB83E19FBC373F3A85\n    mac: x919\n", 1)
	c, err := parseConfig([]byte(withDestinations(t, keys, forwardRules)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := configJSON(redactedConfig(c.file))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	if strings.Contains(string(out), "U71979DEB") || strings.Contains(string(out), "U1EF828AA") ||
		strings.Count(string(out), `"`+redacted+`"`) != 3 || !strings.Contains(string(out), `"name":"cup-host"`) {
		t.Fatalf("%s", out)
	}
	if c.file.Destinations[0].ZMK == redacted {
		t.Fatal("redactedConfig changed the configuration itself")
	}
	// a field added later with a secret's name must be redacted too: this
	// lists the ones redactedConfig covers
	covered := map[string]bool{"zmk": true, "zpk": true, "zak": true}
	secret := []string{"zmk", "zpk", "zak", "zek", "bdk", "imk", "pvk", "lmk_key", "password", "passphrase", "secret", "token", "private"}
	var walk func(path string, t reflect.Type)
	walk = func(path string, typ reflect.Type) {
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				walk(path+"."+name, f.Type)
			}
		case reflect.Slice, reflect.Pointer, reflect.Map:
			walk(path+"[]", typ.Elem())
		case reflect.String:
			leaf := path[strings.LastIndexByte(path, '.')+1:]
			for _, s := range secret {
				if strings.Contains(leaf, s) && !covered[leaf] && leaf != "token_file" {
					t.Errorf("%s looks like a secret: redact it in redactedConfig", path)
				}
			}
		}
	}
	walk("", reflect.TypeOf(fileConfig{}))
}

// GET /links shows each link with its state and connections.
func TestAdminLinks(t *testing.T) {
	addrs := serveDefault(t)
	conn, d := dialPOS(t, addrs["8583"])
	defer conn.Close()
	msg, err := d.Encode(codec.Message{MTI: "0800", Fields: map[string]string{"7": "1202101500", "11": "000001", "70": "301"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.RoundTrip(msg, 5*time.Second); err != nil { // the switch has the connection
		t.Fatal(err)
	}
	code, body := adminCall(t, http.MethodGet, "http://"+addrs["8580"]+"/links", nil)
	var r struct{ Links []engine.LinkState }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil || len(r.Links) != 3 {
		t.Fatalf("%d %s", code, body)
	}
	want := []engine.LinkState{
		{Name: "pos", Listen: addrs["8583"], Dialect: "iso87ascii", Framing: "binary2", Up: true, Conns: 1, MaxConns: 10000},
		{Name: "acquirer", Listen: addrs["8584"], Dialect: "iso87binary", Framing: "binary2", Up: true, MaxConns: 10000},
		{Name: "cup", Listen: addrs["8585"], Dialect: "cup-pos", Framing: "binary2+tpdu", Up: true, MaxConns: 10000, MAC: "cup"},
	}
	if !reflect.DeepEqual(r.Links, want) {
		t.Fatalf("links\n%+v\nwant\n%+v", r.Links, want)
	}
}
