package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recordTB collects what the runner reports instead of failing the test.
type recordTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recordTB) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// TestRunnerReportsMismatches: the runner must fail a scenario whose
// expectations are wrong, naming the line.
func TestRunnerReportsMismatches(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"0200 00 amt=100 -> 00\n", ""},
		{"0200 00 amt=100 -> 51\n", ":2: 0200 00 amt=100: got 00, want 51"},
		{"0100 30 -> 00 bal=1\n", ":2: balance 100000, want 1"},
		{"0200 00 amt=100 -> 00\nstate account=ACC-1 avail=100000\n", ":3: state avail = 99900, want 100000"},
		{"state card=A count=1\n", ":2: state count = 0, want 1"},
		{"state merchant=M1 usage=5\n", ":2: state usage = 0, want 5"},
		{"0200 00 amt=100 -> 00 foo=1\n", `:2: unknown expectation "foo"`},
		{"0200 00 amt=100 pin=maybe -> 00\n", ":2: pin=maybe"},
		{"0200 00 amt=100\n", ":2: a request needs -> <code>"},
		{"state color=red\n", ":2: state of what?"},
	} {
		path := filepath.Join(t.TempDir(), "s.txt")
		if err := os.WriteFile(path, []byte("issuer base.yaml\n"+c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		sc, err := readScenario(path)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recordTB{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); runScenario(rec, sc) }()
		<-done
		got := strings.Join(rec.errs, "\n")
		switch {
		case c.want == "" && got != "":
			t.Errorf("%q: unexpected report %s", c.body, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%q: report %q, want it to contain %q", c.body, got, c.want)
		}
	}
}
