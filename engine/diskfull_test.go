package engine

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/internal/testdisk"
	"github.com/cardswitch/cardswitch/journal"
)

// The disk under the journal fills while purchases run: they are answered
// 96 (never 00 without a record), the switch stays up and says so in
// /readyz and its metrics, and once space is freed it approves again on
// its own.
func TestDiskFullAnswers96AndResumes(t *testing.T) {
	root := testdisk.Tmpfs(t, 96)
	dir := filepath.Join(root, "journal")
	jn, err := journal.Open(journal.Options{Dir: dir, MemTableMB: 8, MinFreeMB: 24, ReserveMB: 16})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := journal.NewProtector(make([]byte, journal.KeyFileLen))
	ts := startServer(t, nil, func(c *Config) { c.testJournal = JournalStage{J: jn, P: p} })
	RegisterJournalQueue(ts.reg, jn)
	h := ts.AdminHandler()
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		b, _ := io.ReadAll(w.Body)
		return w.Code, string(b)
	}

	var mu sync.Mutex
	codes := map[string]int{}
	approved := map[uint32]bool{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // one terminal sending purchases until told to stop
		defer close(done)
		c := ts.dial(t)
		for stan := 1; ; stan++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := c.RoundTrip(purchase(t, stan, 1), 5*time.Second)
			if err != nil {
				t.Errorf("purchase %d: %v", stan, err) // the switch died or dropped the terminal
				return
			}
			mu.Lock()
			codes[field(r, 39)]++
			if field(r, 39) == "00" {
				approved[uint32(stan)] = true
			}
			mu.Unlock()
		}
	}()
	count := func(code string) int { mu.Lock(); defer mu.Unlock(); return codes[code] }
	waitUntil(t, "approvals", func() bool { return count("00") >= 50 })
	filler := testdisk.Fill(t, root, "filler", 8<<20)
	waitUntil(t, "96 on a full disk", func() bool { return count("96") >= 20 })
	testdisk.Fill(t, root, "filler2", 0) // and the last block
	n96 := count("96")
	waitUntil(t, "more 96", func() bool { return count("96") >= n96+50 })
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "disk full") {
		t.Fatalf("/readyz on a full disk: %d %q", code, body)
	}
	if _, body := get("/metrics"); !strings.Contains(body, "\ncardswitch_journal_paused 1\n") {
		t.Fatalf("metrics on a full disk do not say paused:\n%s", grepLines(body, "cardswitch_journal"))
	}

	if err := os.Remove(filler); err != nil { // space is freed: no restart, no manual step
		t.Fatal(err)
	}
	waitUntil(t, "ready again", ts.Ready)
	n00 := count("00")
	waitUntil(t, "approvals again", func() bool { return count("00") >= n00+50 })
	if _, body := get("/metrics"); !strings.Contains(body, "\ncardswitch_journal_paused 0\n") {
		t.Fatalf("metrics after freeing space:\n%s", grepLines(body, "cardswitch_journal"))
	}
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	for code, n := range codes {
		if code != "00" && code != "96" {
			t.Errorf("%d replies %s", n, code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := jn.Close(); err != nil {
		t.Fatal(err)
	}
	// every 00 has its record: nothing was approved unjournaled
	journaled := map[uint32]bool{}
	if _, err := journal.Replay(dir, func(r *journal.Record) error {
		if r.RespCode == [2]byte{'0', '0'} {
			journaled[r.STAN] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for stan := range approved {
		if !journaled[stan] {
			t.Errorf("STAN %d approved without a record", stan)
		}
	}
	t.Logf("replies: %v; journaled approvals %d", codes, len(journaled))
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
