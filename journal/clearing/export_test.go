package clearing

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardswitch/cardswitch/journal"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testDate = 20261201

func TestExportGolden(t *testing.T) {
	dir := t.TempDir()
	jdir := writeJournal(t, dir, testDate, dayTxns())
	for _, f := range []struct {
		name   string
		format Format
	}{{"clearing.csv", CSV}, {"clearing.fixed", Fixed}} {
		var first []byte
		for run := 0; run < 2; run++ {
			var out bytes.Buffer
			if _, err := Export(daySource(jdir, testDate), &out, ExportOptions{Date: testDate, Format: f.format, TempDir: dir}); err != nil {
				t.Fatal(err)
			}
			if run == 1 && !bytes.Equal(out.Bytes(), first) {
				t.Fatalf("%s: a second export differs", f.name)
			}
			first = out.Bytes()
		}
		golden := filepath.Join("testdata", f.name)
		if *update {
			if err := os.WriteFile(golden, first, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, want) {
			t.Errorf("%s differs from the golden file:\n%s", f.name, first)
		}
	}
}

// TestExportTotalsAreApprovalsLessReversals checks the export's totals
// against the day computed in memory, with a sort buffer small enough to
// spill hundreds of runs (and merge them in more than one pass), and the
// bytes against those of an export sorted in memory.
func TestExportTotalsAreApprovalsLessReversals(t *testing.T) {
	rs := genDay(20000, 7, testDate)
	count, net := oracle(rs)
	var small, big bytes.Buffer
	sum, err := Export(sliceSource(rs), &small, ExportOptions{Date: testDate, TempDir: t.TempDir(), SortBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Totals) != len(net) {
		t.Fatalf("%d currencies, want %d", len(sum.Totals), len(net))
	}
	for _, tot := range sum.Totals {
		if tot.Net() != net[tot.Currency] || tot.Count != count[tot.Currency] {
			t.Errorf("currency %d: %d lines net %d, want %d net %d", tot.Currency, tot.Count, tot.Net(), count[tot.Currency], net[tot.Currency])
		}
	}
	if sum.Fold.Reversed == 0 || sum.Fold.Voided == 0 || sum.Fold.Duplicates == 0 || sum.Fold.Holds == 0 {
		t.Errorf("the generated day lacks a case: %+v", sum.Fold)
	}
	if _, err := Export(sliceSource(rs), &big, ExportOptions{Date: testDate, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(small.Bytes(), big.Bytes()) {
		a, b := strings.Split(small.String(), "\n"), strings.Split(big.String(), "\n")
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("the export sorted on disk differs from the one sorted in memory at line %d (of %d, %d):\n%s\n%s", i, len(a), len(b), a[i], b[i])
			}
		}
	}
}

// TestExportFromJournalExport clears a day from its journal export file
// (made while the journal is open): the same bytes as from the journal.
func TestExportFromJournalExport(t *testing.T) {
	dir := t.TempDir()
	jdir := writeJournal(t, dir, testDate, dayTxns())
	j, err := journal.Open(journal.Options{Dir: jdir, ReserveMB: 1, MinFreeMB: 32, MemTableMB: 8})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "day.export")
	f, _ := os.Create(path)
	if _, err := j.ExportDay(testDate, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	j.Close()
	var fromJournal, fromFile bytes.Buffer
	if _, err := Export(daySource(jdir, testDate), &fromJournal, ExportOptions{Date: testDate, TempDir: dir}); err != nil {
		t.Fatal(err)
	}
	src := func(fn func(*journal.Record) error) error { _, err := ReadExport(path, testDate, fn); return err }
	if _, err := Export(src, &fromFile, ExportOptions{Date: testDate, TempDir: dir}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromJournal.Bytes(), fromFile.Bytes()) {
		t.Errorf("from the export file:\n%s\nfrom the journal:\n%s", fromFile.Bytes(), fromJournal.Bytes())
	}
	if _, err := ReadExport(path, testDate+1, func(*journal.Record) error { return nil }); err == nil {
		t.Error("an export of another day was read")
	}
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 1
	os.WriteFile(path, b, 0o600)
	if _, err := ReadExport(path, testDate, func(*journal.Record) error { return nil }); !errors.Is(err, journal.ErrBadExport) {
		t.Errorf("a changed export: %v, want ErrBadExport", err)
	}
}

// A partial reversal (field 95) clears its original for what stays: the
// least of several, none with a whole reversal too; the totals follow.
func TestPartialReversalClearsWhatStays(t *testing.T) {
	p, err := journal.NewProtector(testKeys)
	if err != nil {
		t.Fatal(err)
	}
	pan := testPANs[0]
	txns := []struct {
		x    txn
		repl int64
	}{
		{txn{"0200", 0, 1, "T0000001", "M-GROCER", 5411, 6000, 156, "00", "", pan}, 0},
		{txn{"0400", 0, 2, "T0000001", "M-GROCER", 5411, 6000, 156, "00", "0200/000001/1201", pan}, 2500}, // 2500 stay
		{txn{"0200", 0, 3, "T0000001", "M-GROCER", 5411, 4000, 156, "00", "", pan}, 0},
		{txn{"0420", 0, 4, "T0000001", "M-GROCER", 5411, 4000, 156, "00", "0200/000003/1201", pan}, 3000},
		{txn{"0421", 0, 4, "T0000001", "M-GROCER", 5411, 4000, 156, "00", "0200/000003/1201", pan}, 1000}, // the least: 1000 stay
		{txn{"0200", 0, 5, "T0000001", "M-GROCER", 5411, 5000, 156, "00", "", pan}, 0},
		{txn{"0400", 0, 6, "T0000001", "M-GROCER", 5411, 5000, 156, "00", "0200/000005/1201", pan}, 2000},
		{txn{"0400", 0, 7, "T0000001", "M-GROCER", 5411, 5000, 156, "00", "0200/000005/1201", pan}, 0},  // whole: reversed
		{txn{"0400", 0, 8, "T0000001", "M-GROCER", 5411, 900, 156, "00", "0200/000777/1201", pan}, 100}, // names nothing
	}
	var rs []journal.Record
	for i, x := range txns {
		r := record(t, p, i, x.x, testDate)
		r.Replacement = x.repl
		rs = append(rs, *r)
	}
	var out bytes.Buffer
	sum, err := Export(sliceSource(rs), &out, ExportOptions{Date: testDate, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if f := sum.Fold; f.Partly != 2 || f.Effective != 2 || f.Reversed != 1 || f.Orphans != 1 {
		t.Errorf("fold %+v: want 2 cleared, both partly, 1 reversed, 1 orphan", f)
	}
	if len(sum.Totals) != 1 || sum.Totals[0].Net() != 3500 || sum.Totals[0].Count != 2 {
		t.Fatalf("totals %+v: want 2 lines, net 3500", sum.Totals)
	}
	for _, want := range []string{",2500,", ",1000,"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the clearing file has no line for %s:\n%s", want, out.String())
		}
	}
}

// A reversal naming nothing of its own day is cleared on that day as the
// opposite of the earlier day's transaction it reverses (RVD, RVC), for
// what of it was left and what it reverses; one of an original reversed
// on its own day, or of none, clears nothing.
func TestLaterDayReversalIsCleared(t *testing.T) {
	p, err := journal.NewProtector(testKeys)
	if err != nil {
		t.Fatal(err)
	}
	pan := testPANs[0]
	type rec struct {
		x    txn
		repl int64
	}
	build := func(date uint32, rs []rec) []journal.Record {
		var out []journal.Record
		for i, x := range rs {
			r := record(t, p, i, x.x, date)
			r.Replacement = x.repl
			out = append(out, *r)
		}
		return out
	}
	m := "M-GROCER"
	day1 := build(testDate, []rec{
		{txn{"0200", 0, 1, "T0000001", m, 5411, 5000, 156, "00", "", pan}, 0},
		{txn{"0200", 0, 2, "T0000001", m, 5411, 3000, 156, "00", "", pan}, 0},
		{txn{"0400", 0, 3, "T0000001", m, 5411, 3000, 156, "00", "0200/000002/1201", pan}, 1000}, // leaves 1000
		{txn{"0200", 0, 4, "T0000001", m, 5411, 2000, 156, "00", "", pan}, 0},
		{txn{"0400", 0, 5, "T0000001", m, 5411, 2000, 156, "00", "0200/000004/1201", pan}, 0}, // reversed on its day
		{txn{"0200", 200000, 6, "T0000001", m, 5411, 700, 156, "00", "", pan}, 0},             // a refund
		{txn{"0200", 0, 7, "T0000001", m, 5411, 4000, 156, "00", "", pan}, 0},
	})
	day2 := build(testDate+1, []rec{
		{txn{"0200", 0, 20, "T0000001", m, 5411, 100, 156, "00", "", pan}, 0},
		{txn{"0400", 0, 21, "T0000001", m, 5411, 5000, 156, "00", "0200/000001/1201", pan}, 0},     // RVD 5000
		{txn{"0421", 0, 21, "T0000001", m, 5411, 5000, 156, "00", "0200/000001/1201", pan}, 0},     // its repeat: the same
		{txn{"0400", 0, 22, "T0000001", m, 5411, 3000, 156, "00", "0200/000002/1201", pan}, 0},     // RVD 1000: what was left
		{txn{"0400", 0, 23, "T0000001", m, 5411, 2000, 156, "00", "0200/000004/1201", pan}, 0},     // nothing left
		{txn{"0400", 200000, 24, "T0000001", m, 5411, 700, 156, "00", "0200/000006/1201", pan}, 0}, // RVC 700
		{txn{"0400", 0, 25, "T0000001", m, 5411, 4000, 156, "00", "0200/000007/1201", pan}, 1500},  // RVD 2500
		{txn{"0400", 0, 26, "T0000001", m, 5411, 900, 156, "00", "0200/000999/1201", pan}, 0},      // names nothing anywhere
	})
	var out bytes.Buffer
	sum, err := Export(sliceSource(day2), &out, ExportOptions{Date: testDate + 1, TempDir: t.TempDir(), Earlier: sliceSource(day1)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Later != 4 || sum.Lines != 5 {
		t.Fatalf("later %d, lines %d: want 4 reversals of day 1 and the purchase", sum.Later, sum.Lines)
	}
	if len(sum.Totals) != 1 || sum.Totals[0].Debits != 800 || sum.Totals[0].Credits != 8500 {
		t.Fatalf("totals %+v: want debits 800 (the purchase, the refund reversed), credits 8500", sum.Totals)
	}
	for _, want := range []string{",RVD,", ",RVC,", ",2500,", ",1000,"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %s in the clearing file:\n%s", want, out.String())
		}
	}
	// without the earlier days, the reversals are orphans: only the purchase
	sum, err = Export(sliceSource(day2), io.Discard, ExportOptions{Date: testDate + 1, TempDir: t.TempDir()})
	if err != nil || sum.Later != 0 || sum.Lines != 1 {
		t.Fatalf("without earlier days: %v, later %d, lines %d", err, sum.Later, sum.Lines)
	}
}
