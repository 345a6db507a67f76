package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// postJSON posts body to the admin port with the token ("" for none).
func postJSON(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// A card blocked through the admin API is declined (05, or 41 lost, 43
// stolen) at once, after a reload and after a restart, and answers as
// its issuer data says once unblocked; the PAN is stored only as its
// keyed hash and shown only masked.
func TestAdminCardBlock(t *testing.T) {
	c, addrs, _ := reloadableConfig(t)
	stop := startServe(t, c)
	defer func() {
		if stop == nil { // stopped for the restart, which failed
			return
		}
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	token := adminTokenOf(t, c)
	admin := "http://" + addrs["8580"]
	const card = "4761739001010010"
	purchase := func(want string) {
		t.Helper()
		if got := sendJSON(t, addrs["8583"], "--pan", card)["39"]; got != want {
			t.Fatalf("purchase: 39 %q, want %q", got, want)
		}
	}
	purchase("00")
	if code, _ := postJSON(t, admin+"/cards/block", "", `{"pan":"`+card+`"}`); code != http.StatusUnauthorized {
		t.Fatalf("block without the token: %d", code)
	}
	for _, c := range []struct {
		call, body string
		code       int
		want       string
	}{
		{"block", `{"pan":"` + card + `"}`, 200, `{"pan":"476173******0010","status":"blocked"}`},
		{"block", `{"pan":"` + card + `","status":"lost"}`, 200, `{"pan":"476173******0010","status":"lost"}`},
		{"block", `{"pan":"4111111111111111"}`, 404, "no such card in the issuer data"},
		{"block", `{"pan":"4761739001010011"}`, 400, "pan: 12 to 19 digits with a valid check digit"},
		{"block", `{"pan":"` + card + `","status":"frozen"}`, 400, "status: blocked, lost or stolen"},
		{"block", `{"pan":"` + card + `","reason":"x"}`, 400, `want {"pan":"CARD NUMBER"}`},
		{"unblock", `{"pan":"5413330089010012"}`, 409, "the card is not blocked through the admin API: its status is the issuer data's, blocked"},
		{"unblock", `{"pan":"` + card + `","status":"active"}`, 400, "unblock takes no status"},
	} {
		code, out := postJSON(t, admin+"/cards/"+c.call, token, c.body)
		if code != c.code || !strings.Contains(out, c.want) || strings.Contains(out, card) || strings.Contains(out, "4111111111111111") {
			t.Errorf("%s %s: %d %q, want %d %q", c.call, c.body, code, out, c.code, c.want)
		}
	}
	purchase("41")
	code, out := adminCall(t, http.MethodGet, admin+"/cards/blocked", nil)
	if code != 200 || !strings.Contains(out, `"pan":"476173******0010","status":"lost"`) || strings.Contains(out, card) {
		t.Fatalf("GET /cards/blocked: %d %s", code, out)
	}
	raw, err := os.ReadFile(filepath.Join(c.file.DataDir, cardStatusFile))
	if err != nil || bytes.Contains(raw, []byte(card)) || !bytes.Contains(raw, []byte(`"status": "lost"`)) {
		t.Fatalf("the card status file: %v\n%s", err, raw)
	}
	if code, out := postJSON(t, admin+"/reload", token, ""); code != 200 {
		t.Fatalf("reload: %d %s", code, out)
	}
	purchase("41")
	err = stop()
	if stop = nil; err != nil {
		t.Fatal(err)
	}
	stop = startServe(t, c)
	purchase("41")
	if code, out := postJSON(t, admin+"/cards/unblock", token, `{"pan":"`+card+`"}`); code != 200 || out != `{"pan":"476173******0010","status":"active"}`+"\n" {
		t.Fatalf("unblock: %d %q", code, out)
	}
	purchase("00")
	if code, _ := postJSON(t, admin+"/cards/unblock", token, `{"pan":"`+card+`"}`); code != http.StatusConflict {
		t.Fatalf("unblock twice: %d", code)
	}
	if code, out := adminCall(t, http.MethodGet, admin+"/cards/blocked", nil); code != 200 || out != "[]\n" {
		t.Fatalf("GET /cards/blocked after the unblock: %d %q", code, out)
	}
}
