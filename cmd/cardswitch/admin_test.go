package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/internal/testlog"
)

// adminCall makes one request to the admin port and returns its status and body.
func adminCall(t *testing.T, method, url string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestAdminReloadNeedsTokenHostAndOrigin(t *testing.T) {
	body, addrs := testConfig(t)
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	c.reload = func() (*config, error) { return loadConfig(writeFile(t, body)) }
	var logs testlog.Buffer
	stop := startServeLog(t, c, zerolog.New(&logs))
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	tokenPath := filepath.Join(c.file.DataDir, "admin.token")
	st, err := os.Stat(tokenPath)
	if err != nil {
		t.Fatalf("no token file on first start: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %04o, want 0600", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(tokenPath)
	token := strings.TrimSpace(string(raw))
	if len(token) != 64 || !strings.Contains(logs.String(), token) {
		t.Fatalf("token %q not 64 hex characters or not printed on first start", token)
	}
	base := "http://" + addrs["8580"]
	bearer := map[string]string{"Authorization": "Bearer " + token}
	for _, c := range []struct {
		name   string
		method string
		hdr    map[string]string
		want   int
	}{
		{"no token", http.MethodPost, nil, http.StatusUnauthorized},
		{"wrong token", http.MethodPost, map[string]string{"Authorization": "Bearer " + strings.Repeat("0", 64)}, http.StatusUnauthorized},
		{"token prefix", http.MethodPost, map[string]string{"Authorization": "Bearer " + token[:63]}, http.StatusUnauthorized},
		{"not bearer", http.MethodPost, map[string]string{"Authorization": "Basic " + token}, http.StatusUnauthorized},
		{"rebound name", http.MethodPost, map[string]string{"Authorization": bearer["Authorization"], "Host": "attacker.example:" + strings.Split(addrs["8580"], ":")[1]}, http.StatusMisdirectedRequest},
		{"other port", http.MethodPost, map[string]string{"Authorization": bearer["Authorization"], "Host": "127.0.0.1:1"}, http.StatusMisdirectedRequest},
		{"foreign origin", http.MethodPost, map[string]string{"Authorization": bearer["Authorization"], "Origin": "http://attacker.example"}, http.StatusForbidden},
		{"null origin", http.MethodPost, map[string]string{"Authorization": bearer["Authorization"], "Origin": "null"}, http.StatusForbidden},
		{"GET reload", http.MethodGet, nil, http.StatusMethodNotAllowed},
		{"token", http.MethodPost, bearer, http.StatusOK},
		{"token, own origin", http.MethodPost, map[string]string{"Authorization": bearer["Authorization"], "Origin": base}, http.StatusOK},
		{"localhost", http.MethodPost, map[string]string{"Authorization": bearer["Authorization"], "Host": "localhost:" + strings.Split(addrs["8580"], ":")[1]}, http.StatusOK},
	} {
		if got, out := adminCall(t, c.method, base+"/reload", c.hdr); got != c.want {
			t.Errorf("%s: %d %q, want %d", c.name, got, out, c.want)
		}
	}
	// reads stay open on loopback, but not to a rebound name
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		if got, _ := adminCall(t, http.MethodGet, base+p, nil); got != http.StatusOK {
			t.Errorf("GET %s: %d", p, got)
		}
	}
	if got, _ := adminCall(t, http.MethodGet, base+"/metrics", map[string]string{"Host": "attacker.example:" + strings.Split(addrs["8580"], ":")[1]}); got != http.StatusMisdirectedRequest {
		t.Errorf("GET /metrics with a rebound name: %d", got)
	}
	// profiles need the token even to read them
	if got, _ := adminCall(t, http.MethodGet, base+"/debug/pprof/heap", nil); got != http.StatusUnauthorized {
		t.Errorf("GET /debug/pprof/heap without the token: %d", got)
	}
	if got, out := adminCall(t, http.MethodGet, base+"/debug/pprof/heap?debug=1", bearer); got != http.StatusOK || !strings.Contains(out, "heap profile") {
		t.Errorf("GET /debug/pprof/heap with the token: %d %.80q", got, out)
	}
	// each mutating call is logged with its caller and outcome, never the token
	l := logs.String()
	if strings.Count(l, `"message":"admin call"`) < 10 || !strings.Contains(l, `"remote":"127.0.0.1:`) ||
		!strings.Contains(l, `"outcome":"401 Unauthorized"`) || !strings.Contains(l, `"outcome":"200 OK"`) {
		t.Errorf("admin calls not logged with caller and outcome:\n%s", l)
	}
	if strings.Count(l, token) != 1 {
		t.Errorf("the token is logged %d times, want once (on creation)", strings.Count(l, token))
	}
}

func TestAdminTokenFileReusedAndGuarded(t *testing.T) {
	body, _ := testConfig(t)
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(c.file.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := c.file.Admin.TokenFile
	var logs testlog.Buffer
	first, err := adminToken(p, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	again, err := adminToken(p, zerolog.New(&logs))
	if err != nil || !bytes.Equal(first, again) || strings.Count(logs.String(), string(first)) != 1 {
		t.Fatalf("second start: %v, token %q then %q, printed %d times", err, first, again, strings.Count(logs.String(), string(first)))
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := adminToken(p, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a token file readable by others: %v", err)
	}
	if err := os.WriteFile(p, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := adminToken(p, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("a short token: %v", err)
	}
}

// The admin call log is bounded (20 lines a minute) and says how many lines
// it held back only when it held some: the first call's line carries no
// dropped_lines, the first line after a storm carries the count, and one
// after a quiet minute none again.
func TestAdminLogDroppedLinesOnlyWhenSome(t *testing.T) {
	var logs testlog.Buffer
	now := time.Unix(1_800_000_000, 0)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8580}
	g := newAdminGuard([]byte("token"), addr, zerolog.New(&logs), func() time.Time { return now },
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	call := func() {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8580/reload", nil) // no token: refused and logged
		g.ServeHTTP(httptest.NewRecorder(), req)
	}
	lines := func() []string { return strings.Split(strings.TrimSpace(logs.String()), "\n") }
	call()
	if l := lines(); len(l) != 1 || strings.Contains(l[0], "dropped_lines") {
		t.Fatalf("the first call's line: %q, want one without dropped_lines", l)
	}
	for i := 0; i < 100; i++ { // 19 more lines this minute, 81 held back
		call()
	}
	now = now.Add(time.Minute)
	call()
	l := lines()
	if len(l) != 21 || strings.Contains(strings.Join(l[:20], "\n"), "dropped_lines") || !strings.Contains(l[20], fmt.Sprintf(`"dropped_lines":%d,`, 81)) {
		t.Fatalf("%d lines; want 20 without dropped_lines, then one with 81:\n%s", len(l), logs.String())
	}
	now = now.Add(time.Minute)
	call()
	if l := lines(); len(l) != 22 || strings.Contains(l[21], "dropped_lines") {
		t.Fatalf("the line after a quiet minute: %q, want no dropped_lines", l[len(l)-1])
	}
}
