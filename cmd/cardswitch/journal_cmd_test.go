package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/journal"
)

type syncWaiter chan error

func (w syncWaiter) Committed(err error) { w <- err }

// fillJournal commits n records on each date into the journal in
// dataDir/journal and leaves it open.
func fillJournal(t *testing.T, dataDir string, dates []uint32, n int) *journal.Journal {
	t.Helper()
	j, err := journal.Open(journal.Options{Dir: filepath.Join(dataDir, "journal")})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dates {
		for i := 0; i < n; i++ {
			r := &journal.Record{BusinessDate: d, Received: 1e18, Decided: 1e18 + 1500, Link: "pos", MTI: [4]byte{'0', '2', '0', '0'},
				STAN: uint32(i + 1), LocalDate: 1121, LocalTime: 204500, Transmission: 1121204500, Acquirer: "40001",
				RRN: "632520000102", RRNSeq: uint64(i + 1), Terminal: "TERM0001", Merchant: "MERCHANT0000001", MCC: 5411,
				Amount: 100, Currency: 840, EntryMode: 51, RespCode: [2]byte{'0', '0'}, Approval: "123456", ApprovalSeq: 7,
				Outcome: purchaseOutcome(t), PANMasked: "476173******0010"}
			w := make(syncWaiter, 1)
			j.Append(r, w)
			if err := <-w; err != nil {
				t.Fatal(err)
			}
		}
	}
	return j
}

// purchaseOutcome is the outcome the authorizer journals for an approved
// 1.00 purchase on a demo card.
func purchaseOutcome(t *testing.T) []byte {
	t.Helper()
	data, err := issuer.Parse(issuer.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(data, func(p []byte) [32]byte { return sha256.Sum256(p) }, auth.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	c := data.Cards[0]
	r := &auth.Request{MTI: codec.MTI{'0', '2', '0', '0'}, PAN: []byte(c.PAN), PANHash: sha256.Sum256([]byte(c.PAN)), Amount: 100,
		Terminal: data.Terminals[0].ID, Merchant: data.Terminals[0].Merchant, Link: "pos", EntryMode: 51, STAN: 1, LocalDate: 1121,
		BusinessDate: 20261121, Today: 2611, Received: 1e9}
	d := a.Decide(r, nil, func() [6]byte { return [6]byte{'1', '2', '3', '4', '5', '6'} })
	if !d.Approved {
		t.Fatalf("demo purchase: %s", d.Code)
	}
	return d.Outcome
}

const killEnv = "CARDSWITCH_TEST_KILL_DATA_DIR"

// TestJournalKilledWriter is TestJournalToolsAfterKill's child: it commits
// records and dies by SIGKILL, the journal open.
func TestJournalKilledWriter(t *testing.T) {
	dir := os.Getenv(killEnv)
	if dir == "" {
		return // only as a child
	}
	fillJournal(t, dir, []uint32{20261121, 20261122}, 20)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestJournalToolsAfterKill: right after a kill -9 every read-only tool
// works and says on stderr that Badger's log tail was trimmed.
func TestJournalToolsAfterKill(t *testing.T) {
	for _, tool := range [][]string{{"verify"}, {"replay"}, {"dump", "--json"}, {"stats"}} {
		dataDir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestJournalKilledWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), killEnv+"="+dataDir)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child: %v\n%s", err, out)
		}
		code, stdout, stderr := cli(t, "", append([]string{"journal", "--data-dir", dataDir}, tool...)...)
		if code != 0 || !strings.Contains(stderr, "note: "+journal.TrimNote) {
			t.Fatalf("%s after a kill: exit %d\n%s\n%s", tool[0], code, stdout, stderr)
		}
		switch tool[0] {
		case "verify":
			if !strings.Contains(stdout, "records 40 (sequence 1 to 40), high-water mark 40") {
				t.Fatalf("verify: %s", stdout)
			}
		case "dump":
			checkDump(t, stdout, 40)
		}
	}
}

// checkDump: every line is JSON and carries what clearing needs.
func checkDump(t *testing.T, out string, n int) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	var l map[string]any
	if err := json.Unmarshal([]byte(lines[n-1]), &l); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"transmission": "1121204500", "acquirer": "40001", "mcc": 5411.0, "entry_mode": 51.0,
		"local_date": "1121", "local_time": "204500", "currency": 840.0, "rrn_seq": 20.0, "approval_seq": 7.0,
		"business_date": 20261122.0} {
		if l[k] != want {
			t.Errorf("dump %s: %v, want %v", k, l[k], want)
		}
	}
	if e, _ := l["effect"].(map[string]any); e["kind"] != "purchase" || e["debit"] != 100.0 || e["applied"] != true {
		t.Errorf("dump effect: %v", l["effect"])
	}
}

// TestJournalExportCommand: export a closed day, verify the export, catch a
// changed byte; the current day and an existing file are refused.
func TestJournalExportCommand(t *testing.T) {
	dataDir := t.TempDir()
	fillJournal(t, dataDir, []uint32{20261121, 20261122}, 5).Close()
	out := filepath.Join(t.TempDir(), "20261121.export")
	base := []string{"journal", "--data-dir", dataDir}
	if code, stdout, stderr := cli(t, "", append(base, "export", "--date", "20261121", "--out", out)...); code != 0 ||
		!strings.Contains(stdout, "5 records, sequence 1 to 5") {
		t.Fatalf("export: %d %s %s", code, stdout, stderr)
	}
	if code, _, stderr := cli(t, "", append(base, "export", "--date", "20261121", "--out", out)...); code != 1 || !strings.Contains(stderr, "exists") {
		t.Fatalf("export over a file: %d %s", code, stderr)
	}
	other := filepath.Join(t.TempDir(), "today")
	if code, _, stderr := cli(t, "", append(base, "export", "--date", "20261122", "--out", other)...); code != 1 || !strings.Contains(stderr, "not closed") {
		t.Fatalf("export of the current day: %d %s", code, stderr)
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused export left a file: %v", err)
	}
	if code, stdout, stderr := cli(t, "", "journal", "verify-export", out); code != 0 || !strings.Contains(stdout, "export ok: day 20261121, 5 records") {
		t.Fatalf("verify-export: %d %s %s", code, stdout, stderr)
	}
	b, _ := os.ReadFile(out)
	b[len(b)/2] ^= 1
	os.WriteFile(out, b, 0o600)
	if code, _, stderr := cli(t, "", "journal", "verify-export", out); code != 1 || !strings.Contains(stderr, "export does not verify") {
		t.Fatalf("verify-export of a changed file: %d %s", code, stderr)
	}
}

// TestJournalVerifyMissingMark: verify says the mark is missing and how to
// start, instead of "no journal".
func TestJournalVerifyMissingMark(t *testing.T) {
	dataDir := t.TempDir()
	fillJournal(t, dataDir, []uint32{20261121}, 3).Close()
	os.Remove(filepath.Join(dataDir, "journal", "hwm"))
	code, stdout, stderr := cli(t, "", "journal", "--data-dir", dataDir, "verify")
	if code != 1 || !strings.Contains(stdout, "high-water mark missing") || !strings.Contains(stderr, journal.RebuildMarkFlag) {
		t.Fatalf("verify: %d %s %s", code, stdout, stderr)
	}
}
