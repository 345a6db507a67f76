package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardswitch/cardswitch/bench"
)

// The default mix against the default configuration runs every path of the
// switch: PIN blocks and MACs computed with the demo keys verify, and the
// planned declines come back with their codes.
func TestBenchDefaultMixAgainstServe(t *testing.T) {
	addrs := serveDefault(t)
	for _, l := range []struct{ addr, dialect, framing string }{
		{addrs["8583"], "iso87ascii", "binary2"},
		{addrs["8585"], "cup-pos", "binary2+tpdu"},
	} {
		rep := benchReport(t, l.dialect, "--addr", l.addr, "--dialect", l.dialect, "--framing", l.framing,
			"--conns", "4", "--inflight", "2", "--duration", "1500ms", "--warmup", "0s")
		t.Logf("%s: %d answered, codes %v", l.dialect, rep.Answered, rep.Codes)
		if rep.Errors != 0 || rep.Timeouts != 0 || rep.Answered < 200 {
			t.Errorf("%s: errors %d timeouts %d answered %d", l.dialect, rep.Errors, rep.Timeouts, rep.Answered)
		}
		for _, want := range []string{"00", "55", "54"} {
			if rep.Codes[want] == 0 {
				t.Errorf("%s: no %s in %v", l.dialect, want, rep.Codes)
			}
		}
		for _, bad := range []string{"96", "A0", "30", "14", "15", "12", "25", "94"} {
			if rep.Codes[bad] != 0 {
				t.Errorf("%s: %d answers %s in %v", l.dialect, rep.Codes[bad], bad, rep.Codes)
			}
		}
	}
}

// benchReport runs `cardswitch bench` with args and returns the (first)
// report its --json file holds; a run that exits non-zero fails the test,
// named what.
func benchReport(t *testing.T, what string, args ...string) bench.Report {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := cli(t, "", append(append([]string{"bench"}, args...), "--json", out)...)
	if code != 0 {
		t.Fatalf("%s: exit %d\n%s\n%s", what, code, stdout, stderr)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var reps []bench.Report
	if err := json.Unmarshal(raw, &reps); err != nil {
		var one bench.Report
		if err := json.Unmarshal(raw, &one); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		reps = []bench.Report{one}
	}
	return reps[0]
}

func TestPickTargets(t *testing.T) {
	all := []bench.Target{{Name: "echo"}, {Name: "moov"}, {Name: "full"}, {Name: "switched"}}
	got, err := pickTargets(all, "switched,echo")
	if err != nil || len(got) != 2 || got[0].Name != "echo" || got[1].Name != "switched" {
		t.Fatalf("switched,echo: %v %v, want echo then switched (the comparison's order)", got, err)
	}
	if got, err := pickTargets(all, ""); err != nil || len(got) != len(all) {
		t.Fatalf("no list: %d targets %v, want all", len(got), err)
	}
	if _, err := pickTargets(all, "full,jpos"); err == nil || !strings.Contains(err.Error(), `"jpos"`) {
		t.Fatalf("an unknown target: %v, want it named", err)
	}
}
