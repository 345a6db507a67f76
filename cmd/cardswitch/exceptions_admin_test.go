package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/journal/clearing"
)

// The admin port lists a day's exceptions and resolves one with the admin
// token, in the store the clearing command reads: the command sees the
// resolution, and a second one of the same exception is refused.
func TestAdminExceptions(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "clearing", "20261121")
	if err := os.MkdirAll(report, 0o700); err != nil {
		t.Fatal(err)
	}
	csv := clearing.ReportCSVHeader +
		"matched,,approved,TERM0001,632520000101,20261121,1,100,840,approved,2,100,840,approved\n" +
		"amount-mismatch,0a1b2c3d4e5f,open,TERM0001,632520000102,20261121,2,200,840,approved,3,201,840,approved\n" +
		"switch-only,112233445566,open,TERM0001,632520000103,20261121,3,300,840,approved,,,,\n"
	if err := os.WriteFile(filepath.Join(report, "reconcile.csv"), []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	exceptionHandlers(mux, dir)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8580}
	g := newAdminGuard([]byte("token"), addr, zerolog.Nop(), time.Now, mux)
	call := func(method, path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://127.0.0.1:8580"+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		return rec
	}
	list := func(q string) exceptionsReply {
		t.Helper()
		rec := call("GET", "/exceptions?"+q, "", "")
		var r exceptionsReply
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &r) != nil {
			t.Fatalf("GET /exceptions?%s: %d %s", q, rec.Code, rec.Body)
		}
		return r
	}
	if r := list("date=20261121"); len(r.Exceptions) != 2 || r.Exceptions[0].ID != "0a1b2c3d4e5f" || r.Exceptions[0].State != "open" ||
		r.Exceptions[1].Class != "switch-only" || r.Exceptions[0].Fields[0] != "TERM0001" {
		t.Fatalf("exceptions: %+v", r)
	}
	resolve := `{"as":"adjusted","note":"ops: credited 0.01"}`
	for _, c := range []struct {
		path, token, body string
		want              int
	}{
		{"/exceptions/0a1b2c3d4e5f/resolve?date=20261121", "", resolve, http.StatusUnauthorized},
		{"/exceptions/0a1b2c3d4e5f/resolve?date=20261121", "wrong", resolve, http.StatusUnauthorized},
		{"/exceptions/0a1b2c3d4e5f/resolve", "token", resolve, http.StatusBadRequest},
		{"/exceptions/0a1b2c3d4e5f/resolve?date=20261121", "token", `{"as":"forgiven"}`, http.StatusBadRequest},
		{"/exceptions/0a1b2c3d4e5f/resolve?date=20261121", "token", `{"as":"adjusted","who":"x"}`, http.StatusBadRequest},
		{"/exceptions/000000000000/resolve?date=20261121", "token", resolve, http.StatusNotFound},
		{"/exceptions/0a1b2c3d4e5f/resolve?date=20261121", "token", resolve, http.StatusOK},
		{"/exceptions/0a1b2c3d4e5f/resolve?date=20261121", "token", resolve, http.StatusUnprocessableEntity}, // resolved already
		{"/exceptions/112233445566/resolve?date=20261121", "token", `{"as":"written-off","note":"4111111111111111"}`, http.StatusUnprocessableEntity},
	} {
		if rec := call("POST", c.path, c.token, c.body); rec.Code != c.want {
			t.Errorf("POST %s (token %q) %s: %d %s, want %d", c.path, c.token, c.body, rec.Code, rec.Body, c.want)
		}
	}
	if r := list("date=20261121&open=1"); len(r.Exceptions) != 1 || r.Exceptions[0].ID != "112233445566" {
		t.Fatalf("open exceptions after resolving one: %+v", r)
	}
	if r := list("date=20261121"); r.Exceptions[0].State != "adjusted" {
		t.Fatalf("the resolved one: %+v", r.Exceptions[0])
	}
	// the command reads the same store
	code, stdout, _ := cli(t, "", "clearing", "--data-dir", dir, "--date", "20261121", "exceptions", "list")
	if code != 0 || !strings.Contains(stdout, "0a1b2c3d4e5f amount-mismatch  adjusted") {
		t.Fatalf("clearing exceptions list: %d %s", code, stdout)
	}
	if rec := call("GET", "/exceptions?date=20261120", "", ""); rec.Code != http.StatusNotFound {
		t.Errorf("a day not reconciled: %d %s", rec.Code, rec.Body)
	}
}
