package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardswitch/cardswitch/bench"
)

// TestMain keeps the tests' STAN ledger out of the user's cache directory.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cardswitch-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Two bench runs in a row against the same switch, then the README's send,
// are never answered 94: the ledger carries each terminal's STANs on from
// one run (and one command) to the next.
func TestSecondRunNoDuplicates(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	addrs := serveDefault(t)
	for run := 1; run <= 2; run++ {
		rep := benchReport(t, fmt.Sprintf("run %d", run), "--addr", addrs["8583"], "--conns", "4", "--inflight", "2",
			"--duration", "1s", "--warmup", "0s", "--max-error-rate", "1")
		t.Logf("run %d: %d answered, codes %v", run, rep.Answered, rep.Codes)
		if rep.Answered == 0 || rep.Codes["94"] != 0 || rep.Duplicates != 0 {
			t.Errorf("run %d: answered %d, codes %v, duplicates %d", run, rep.Answered, rep.Codes, rep.Duplicates)
		}
	}
	for i := 0; i < 3; i++ {
		code, out, errOut := cli(t, "", "send", "--addr", addrs["8583"], "--json")
		if code != 0 || strings.Contains(out, `"39":"94"`) || !strings.Contains(out, `"39"`) {
			t.Errorf("send %d: exit %d %s %s", i, code, out, errOut)
		}
	}
}

// bench refuses a negative rate, a mix naming an unknown kind, and a mix
// of negative or only zero weights, before sending anything.
func TestBenchRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	mix := func(body string) string {
		p := filepath.Join(dir, "mix"+strings.NewReplacer(":", "", " ", "", "\n", "").Replace(body)+".yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "-5"}, "--rate -5"},
		{[]string{"--mix", mix("purchase: 5\npurchace: 3\n")}, "purchace"},
		{[]string{"--mix", mix("purchase: 5\nrefund: -1\n")}, "refund: weight -1 is negative"},
		{[]string{"--mix", mix("purchase: 0\n")}, "every weight is zero"},
		{[]string{"--max-error-rate", "2"}, "--max-error-rate"},
	} {
		code, _, errOut := cli(t, "", append([]string{"bench", "--addr", "127.0.0.1:1", "--duration", "1s"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q", c.args, code, errOut)
		}
	}
}

// bench exits 1 when the port speaks another framing: the switch closes
// each connection at once, nothing is answered, and the error says to
// look at the framing and the dialect.
func TestBenchFailsOnTheWrongFraming(t *testing.T) {
	addrs := serveDefault(t)
	code, stdout, errOut := cli(t, "", "bench", "--addr", addrs["8583"], "--framing", "ascii4", "--conns", "2", "--inflight", "1",
		"--duration", "500ms", "--warmup", "0s")
	if code != 1 || !strings.Contains(errOut, "none of") || !strings.Contains(errOut, "framing") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, errOut)
	}
}

// --compare --json writes one JSON document holding every target and the
// ratios; --html a page naming every target.
func TestCompareWritesOneJSONDocument(t *testing.T) {
	dir := t.TempDir()
	js, page := filepath.Join(dir, "c.json"), filepath.Join(dir, "c.html")
	code, stdout, errOut := cli(t, "", "bench", "--compare", "--conns", "2", "--inflight", "2", "--duration", "400ms",
		"--warmup", "0s", "--json", js, "--html", page)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errOut)
	}
	raw, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	var doc bench.Comparison
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if dec.More() {
		t.Error("more than one JSON document")
	}
	var names []string
	for _, r := range doc.Reports {
		names = append(names, r.Target)
		if r.AsPlanned == 0 || r.Throughput <= 0 {
			t.Errorf("%s: %d as planned, %.0f msg/s, codes %v", r.Target, r.AsPlanned, r.Throughput, r.Codes)
		}
	}
	if strings.Join(names, ",") != "echo,moov,engine,full,host,switched" || len(doc.Ratios) != 8 || doc.Ratios[7].Subject != "switched" || doc.Ratios[7].Baseline != "engine" {
		t.Errorf("targets %v, ratios %v", names, doc.Ratios)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range append(names, "full / echo", "<svg") {
		if !strings.Contains(string(html), n) {
			t.Errorf("the page lacks %q", n)
		}
	}
	if !strings.Contains(stdout, "switched over its host alone: p50 ") {
		t.Errorf("no line of what the switch adds to its host:\n%s", stdout)
	}
}
