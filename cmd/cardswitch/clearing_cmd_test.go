package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cardswitch/cardswitch/internal/cardscan"
	"github.com/cardswitch/cardswitch/journal"
)

// clearingDay writes a day of five purchases at two merchants, the third
// reversed, then one record of the next day (which closes the first).
func clearingDay(t *testing.T, dataDir string) {
	t.Helper()
	clearingJournal(t, dataDir, func(add func(date uint32, mti string, stan uint32, amount int64, orig string)) {
		for stan := uint32(1); stan <= 5; stan++ {
			add(20261121, "0200", stan, int64(100*stan), "")
		}
		add(20261121, "0400", 6, 300, "0200/000003/1121")
		add(20261122, "0200", 7, 100, "")
	})
}

// clearingJournal writes the records days adds to a journal in dataDir.
func clearingJournal(t *testing.T, dataDir string, days func(add func(date uint32, mti string, stan uint32, amount int64, orig string))) {
	t.Helper()
	p, err := journal.NewProtector(make([]byte, journal.KeyFileLen))
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(journal.Options{Dir: filepath.Join(dataDir, "journal")})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	add := func(date uint32, mti string, stan uint32, amount int64, orig string) {
		r := &journal.Record{BusinessDate: date, Received: 1e18, Decided: 1e18 + 1500, Link: "pos", STAN: stan, LocalDate: 1121,
			LocalTime: 204500 + stan, Transmission: 1121204500 + uint64(stan), RRN: fmt.Sprintf("6325200001%02d", stan),
			Terminal: "TERM0001", Merchant: fmt.Sprintf("MERCHANT%07d", stan%2), MCC: 5411, Amount: amount, Currency: 840,
			EntryMode: 51, RespCode: [2]byte{'0', '0'}, Approval: "123456", Original: orig}
		copy(r.MTI[:], mti)
		if err := p.Protect(r, []byte("4761739001010010")); err != nil {
			t.Fatal(err)
		}
		w := make(syncWaiter, 1)
		j.Append(r, w)
		if err := <-w; err != nil {
			t.Fatal(err)
		}
	}
	days(add)
}

// A reversal on one day of the day before's purchase is cleared on its
// day as a credit (RVD), and the export says how many it found.
func TestClearingLaterDayReversal(t *testing.T) {
	dataDir := t.TempDir()
	clearingJournal(t, dataDir, func(add func(date uint32, mti string, stan uint32, amount int64, orig string)) {
		add(20261121, "0200", 1, 500, "")
		add(20261122, "0200", 2, 100, "")
		add(20261122, "0400", 3, 500, "0200/000001/1121")
		add(20261123, "0200", 4, 100, "")
	})
	base := []string{"clearing", "--data-dir", dataDir, "--date", "20261122", "export"}
	code, stdout, stderr := cli(t, "", base...)
	if code != 0 || !strings.Contains(stderr, "reversals of the 1 days before cleared today: 1") ||
		!strings.Contains(stderr, "debits 100, credits 500, net -400") || !strings.Contains(stdout, ",RVD,") {
		t.Fatalf("export: %d\n%s\n%s", code, stdout, stderr)
	}
	code, _, stderr = cli(t, "", append(base[:len(base)-1], "--reversal-days", "0", "export")...)
	if code != 0 || !strings.Contains(stderr, "debits 100, credits 0, net 100") || !strings.Contains(stderr, "not looked up") {
		t.Fatalf("export --reversal-days 0: %d %s", code, stderr)
	}
}

func TestClearingCommands(t *testing.T) {
	dataDir := t.TempDir()
	clearingDay(t, dataDir)
	out := filepath.Join(t.TempDir(), "20261121.clr")
	base := []string{"clearing", "--data-dir", dataDir, "--date", "20261121"}
	code, stdout, stderr := cli(t, "", append(base, "export", "--out", out, "--statements", filepath.Join(dataDir, "st"))...)
	if code != 0 || !strings.Contains(stderr, "4 lines for 2 merchants from 6 records") ||
		!strings.Contains(stderr, "currency 840: 4 lines, debits 1200, credits 0, net 1200") {
		t.Fatalf("export: %d %s %s", code, stdout, stderr)
	}
	b, _ := os.ReadFile(out)
	if !regexp.MustCompile(`(?m)^T,4,[0-9a-f]{64}\n\z`).Match(b) || strings.Contains(string(b), ",000003,") {
		t.Errorf("clearing file:\n%s", b)
	}
	if code, _, stderr := cli(t, "", append(base, "export", "--out", out)...); code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("export over a file: %d %s", code, stderr)
	}
	open := filepath.Join(t.TempDir(), "20261122.clr")
	if code, _, stderr := cli(t, "", "clearing", "--data-dir", dataDir, "--date", "20261122", "export", "--out", open); code != 1 ||
		!strings.Contains(stderr, "not closed") {
		t.Errorf("export of the open day: %d %s", code, stderr)
	}
	if _, err := os.Stat(open); !os.IsNotExist(err) {
		t.Errorf("a refused export left its file: %v", err)
	}
	if code, stdout, _ := cli(t, "", append(base, "export", "--format", "fixed")...); code != 0 || !strings.HasPrefix(stdout, "H CARDSWITCH CLR 01 20261121") {
		t.Errorf("fixed export: %d %.80s", code, stdout)
	}

	jx := filepath.Join(t.TempDir(), "20261121.export")
	if code, _, stderr := cli(t, "", "journal", "--data-dir", dataDir, "export", "--date", "20261121", "--out", jx); code != 0 {
		t.Fatalf("journal export: %d %s", code, stderr)
	}
	fromExport := out + ".from-export"
	if code, _, stderr := cli(t, "", append(base, "export", "--journal-export", jx, "--out", fromExport)...); code != 0 {
		t.Fatalf("export from a journal export: %d %s", code, stderr)
	}
	if a, _ := os.ReadFile(fromExport); string(a) != string(b) {
		t.Errorf("the clearing file from the journal export differs:\n%s", a)
	}

	cp := filepath.Join(t.TempDir(), "cp.csv")
	os.WriteFile(cp, []byte("date,terminal,rrn,amount,currency\n"+
		"20261121,TERM0001,632520000101,100,840\n20261121,TERM0001,632520000102,201,840\n"+
		"20261121,TERM0001,632520000104,400,840\n20261121,TERM0001,632520000105,500,840\n"), 0o600)
	code, stdout, stderr = cli(t, "", append(base, "reconcile", "--counterpart", cp)...)
	if code != 0 || !strings.Contains(stdout, "amount-mismatch            1") || !strings.Contains(stdout, "exceptions 1: open 1") {
		t.Fatalf("reconcile: %d %s %s", code, stdout, stderr)
	}
	page, _ := os.ReadFile(filepath.Join(dataDir, "clearing", "20261121", "reconcile.html"))
	if !strings.Contains(string(page), "<td>amount-mismatch</td>") || strings.Contains(string(page), "<td>matched</td><td></td>") {
		t.Errorf("HTML report:\n%s", page)
	}
	code, stdout, _ = cli(t, "", append(base, "exceptions", "list")...)
	id := regexp.MustCompile(`(?m)^([0-9a-f]{12}) amount-mismatch +open`).FindStringSubmatch(stdout)
	if code != 0 || id == nil {
		t.Fatalf("exceptions list: %d %s", code, stdout)
	}
	if code, _, stderr := cli(t, "", append(base, "exceptions", "resolve", "--id", "000000000000", "--as", "adjusted")...); code != 1 ||
		!strings.Contains(stderr, "no exception") {
		t.Errorf("resolving an unknown exception: %d %s", code, stderr)
	}
	if code, stdout, stderr := cli(t, "", append(base, "exceptions", "resolve", "--id", id[1], "--as", "adjusted", "--note", "ops: credited 1")...); code != 0 {
		t.Fatalf("resolve: %d %s %s", code, stdout, stderr)
	}
	if code, stdout, _ := cli(t, "", append(base, "exceptions", "list", "--open")...); code != 0 || !strings.Contains(stdout, "0 exceptions") {
		t.Errorf("open exceptions after resolving: %d %s", code, stdout)
	}
	if code, stdout, _ := cli(t, "", append(base, "reconcile", "--counterpart", cp)...); code != 0 || !strings.Contains(stdout, "exceptions 1: open 0, adjusted 1") {
		t.Errorf("reconcile after resolving: %d %s", code, stdout)
	}
	for _, pattern := range []string{"clearing/clearing-run-*", "clearing/20261121/*.tmp-*", "clearing/20261121/*.rows-*"} {
		if left, _ := filepath.Glob(filepath.Join(dataDir, pattern)); len(left) > 0 {
			t.Errorf("temporary files left behind: %v", left)
		}
	}
	var s cardscan.Scanner
	s.Card("4761739001010010")
	for _, dir := range []string{filepath.Join(dataDir, "clearing"), filepath.Join(dataDir, "st"), filepath.Dir(out)} {
		cardscan.Files(dir, func(path string, b []byte) {
			for _, f := range s.Scan(path, b) {
				t.Error(f)
			}
		})
	}
}

func TestClearingUsage(t *testing.T) {
	dataDir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"export"}, 2, "needs --date"},
		{[]string{"--date", "20261121"}, 2, "say export"},
		{[]string{"--date", "20261121", "export", "--format", "xml"}, 2, "want csv or fixed"},
		{[]string{"--date", "20261121", "export", "--fees", "f.yaml"}, 2, "--fees is for --statements"},
		{[]string{"--date", "20261121", "reconcile"}, 2, "needs --counterpart"},
		{[]string{"--date", "20261121", "reconcile", "--counterpart", "x", "--key", "pan"}, 2, "want rrn or stan"},
		{[]string{"--date", "20261121", "exceptions"}, 2, "unknown subcommand"},
		{[]string{"--date", "20261121", "exceptions", "resolve", "--id", "0123456789ab", "--as", "forgiven"}, 2, "--as adjusted"},
		{[]string{"--date", "20261121", "--sort-mb", "0", "export"}, 2, "--sort-mb"},
		{[]string{"--date", "20261121", "export"}, 1, "no journal"},
		{[]string{"--date", "20261121", "exceptions", "list"}, 1, "run clearing reconcile first"},
	} {
		code, _, stderr := cli(t, "", append([]string{"clearing", "--data-dir", dataDir}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.say) {
			t.Errorf("%v: %d %s, want %d and %q", c.args, code, stderr, c.code, c.say)
		}
	}
}

func TestClearingProgress(t *testing.T) {
	var b strings.Builder
	p := &progress{w: &b, every: 2, what: "day 20261121"}
	fn := p.counting(func(*journal.Record) error { return nil })
	for range 5 {
		fn(&journal.Record{})
	}
	p.done()
	if got := b.String(); strings.Count(got, "\rreading day 20261121: ") != 2 || !strings.Contains(got, "read day 20261121: 5 records") ||
		!strings.HasSuffix(got, "\n") {
		t.Errorf("progress: %q", got)
	}
	var none *progress
	if none.counting(nil) != nil {
		t.Error("no progress wraps the callback")
	}
	none.done()
}
