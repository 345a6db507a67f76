package crashtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/internal/pan"
)

// BenchmarkRestart measures what a restart costs after a long history: it
// drives the real switch (full authorization, the journal fsynced before
// every reply, background snapshots) with `cardswitch bench` until
// RESTART_RECORDS decisions are journaled (default 1,000,000; make
// bench-restart: 10,000,000), kills it with SIGKILL, and times the real
// `serve` start up to /readyz, then the same after a graceful stop. The
// issuer data has many terminals, so that ten million requests keep
// unique keys, and no limits, so that they are approved.
//
//	go test ./internal/crashtest/ -run '^$' -bench Restart -benchtime 1x
func BenchmarkRestart(b *testing.B) {
	want, _ := strconv.Atoi(os.Getenv("RESTART_RECORDS"))
	if want == 0 {
		want = 1_000_000
	}
	h := setup(b)
	h.logLevel = "info"
	const runs = 40 // load runs at most; each speaks for terminals of its own
	switchIssuer := issuerYAML(0, runs*benchConns, 2000)
	useIssuer(b, h.cfg, switchIssuer, fmt.Sprintf("max_transactions: %d", 2*want+1_000_000))
	mix := filepath.Join(b.TempDir(), "mix.yaml")
	os.WriteFile(mix, []byte("purchase: 1\n"), 0o644)
	h.start()
	// Runs of 30 s until enough are journaled. A second run of the generator
	// would send the same STANs again (94), so each run is given its own
	// terminals: the generator's issuer data lists only them.
	answered := 0
	for run := 0; answered < want; run++ {
		if run == runs {
			b.Fatalf("%d decisions after %d runs, want %d", answered, runs, want)
		}
		cfg := filepath.Join(b.TempDir(), "generator.yaml")
		raw, _ := os.ReadFile(h.cfg)
		os.WriteFile(cfg, raw, 0o644)
		useIssuer(b, cfg, issuerYAML(run*benchConns, benchConns, 2000), "")
		answered += benchFor(b, h, cfg, mix, 30*time.Second)
		b.Logf("%d decisions journaled", answered)
	}
	for i := 0; i < b.N; i++ {
		h.kill()
		crash := h.timedStart(b)
		h.stop(syscall.SIGTERM)
		graceful := h.timedStart(b)
		b.ReportMetric(crash.Seconds(), "s/restart-after-kill")
		b.ReportMetric(graceful.Seconds(), "s/restart-after-stop")
	}
	h.stop(syscall.SIGTERM)
	b.ReportMetric(float64(answered), "decisions")
}

// benchFor runs the load generator against the switch for d and returns
// the requests it answered.
func benchFor(b *testing.B, h *harness, cfg, mix string, d time.Duration) int {
	out := filepath.Join(b.TempDir(), "report.json")
	cmd := exec.Command(h.bin, "bench", "--addr", h.pos, "--config", cfg, "--mix", mix, "--conns", strconv.Itoa(benchConns), "--inflight", "16",
		"--duration", d.String(), "--warmup", "0s", "--json", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("bench: %v\n%s", err, msg)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	var rep []struct {
		Answered int            `json:"answered"`
		Codes    map[string]int `json:"response_codes"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		var one struct {
			Answered int            `json:"answered"`
			Codes    map[string]int `json:"response_codes"`
		}
		if err := json.Unmarshal(raw, &one); err != nil {
			b.Fatalf("bench report: %v\n%s", err, raw)
		}
		rep = append(rep, one)
	}
	if rep[0].Codes["00"] < rep[0].Answered*99/100 {
		b.Fatalf("bench: %d answered, codes %v: the run must be approvals", rep[0].Answered, rep[0].Codes)
	}
	return rep[0].Answered
}

// timedStart starts the switch at info level and returns the time from the
// process start to /readyz, logging what the start loaded.
func (h *harness) timedStart(b *testing.B) time.Duration {
	begin := time.Now()
	h.start()
	took := time.Since(begin)
	sc := bufio.NewScanner(strings.NewReader(h.stderr.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "state loaded") {
			b.Logf("ready in %v: %s", took, sc.Text())
		}
	}
	return took
}

// benchConns is the generator's connections: one terminal each.
const benchConns = 64

// issuerYAML is issuer data of terminals T<first>.. (terms of them) and
// cards cards on deep accounts, without limits.
func issuerYAML(first, terms, cards int) string {
	var y strings.Builder
	fmt.Fprintf(&y, "counts: {profiles: 1, accounts: %d, cards: %d, merchants: 1, terminals: %d}\n", cards, cards, terms)
	y.WriteString("keys: {pvk: U1D3923B426280093FEABD1824D622FEB, pvki: 1}\nprofiles: [{name: standard}]\n")
	y.WriteString("accounts:\n")
	for i := 0; i < cards; i++ {
		fmt.Fprintf(&y, "  - {id: ACC-%05d, currency: \"840\", balance: 900000000000}\n", i)
	}
	y.WriteString("cards:\n")
	for i := 0; i < cards; i++ {
		fmt.Fprintf(&y, "  - {pan: \"%s\", expiry: \"2812\", status: active, account: ACC-%05d}\n", pan.WithCheckDigit(fmt.Sprintf("476173%09d", i)), i)
	}
	y.WriteString("merchants:\n  - {id: MERCHANT0000001, name: BENCH STORE, mcc: \"5411\", status: active}\nterminals:\n")
	for i := first; i < first+terms; i++ {
		fmt.Fprintf(&y, "  - {id: T%07d, merchant: MERCHANT0000001, status: active}\n", i)
	}
	return y.String()
}

// useIssuer points the configuration file cfg at issuer data body, and
// replaces the index cap line when capLine is set.
func useIssuer(b *testing.B, cfg, body, capLine string) {
	path := cfg + ".issuer.yaml"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^  data: .*$`).ReplaceAllString(string(raw), "  data: "+path)
	if capLine != "" {
		s = strings.Replace(s, "max_transactions: 10000000", capLine, 1)
	}
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		b.Fatal(err)
	}
}
