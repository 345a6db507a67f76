package clearing

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// counterpartFile is the other side of dayTxns' day with every class of
// difference (RRNs are 000000500000 + the transaction's index).
const counterpartFile = `date,terminal,rrn,stan,amount,currency,state
20261201,T0000001,000000500000,000001,1000,156,approved
20261201,T0000002,000000500004,000005,42001,156,approved
20261201,T0000003,000000500006,000007,20000,156,reversed
20261201,T0000003,000000500008,000009,1500,156,approved
1201,T0000009,000000500013,000013,12345,840,approved
20261201,T0000002,000000500014,000014,8000,156,reversed
20261201,T0000005,999999999999,000555,500,156,approved
20261201,T0000005,888888888888,000556,700,156,reversed
`

// wantClass is each key's class against counterpartFile.
var wantClass = map[string]Class{
	"T0000001/000000500000": Matched,         // the same on both sides
	"T0000001/000000500001": Matched,         // reversed here, absent there
	"T0000002/000000500004": AmountMismatch,  // 42000 here, 42001 there
	"T0000001/000000500005": SwitchOnly,      // the refund, absent there
	"T0000003/000000500006": StateMismatch,   // approved here, reversed there
	"T0000003/000000500008": StateMismatch,   // voided here, approved there
	"T0000009/000000500013": Matched,         // another currency, the same
	"T0000002/000000500014": Matched,         // reversed on both sides
	"T0000001/000000500017": Matched,         // reversed here (before its original), absent there
	"T0000005/999999999999": CounterpartOnly, // approved there, absent here
	"T0000005/888888888888": Matched,         // reversed there, absent here
}

func reconcile(t *testing.T, jdir string, key KeyBy, resolved map[string]Resolution) (ReconSummary, map[string]Row) {
	t.Helper()
	rows := map[string]Row{}
	sum, err := Reconcile(daySource(jdir, testDate), strings.NewReader(counterpartFile),
		ReconOptions{Date: testDate, Key: key, TempDir: t.TempDir(), Resolved: resolved}, func(r *Row) error {
			k := r.Terminal + "/" + r.ID
			if _, dup := rows[k]; dup {
				t.Errorf("key %s classified twice", k)
			}
			rows[k] = *r
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return sum, rows
}

func TestReconcileEveryClass(t *testing.T) {
	jdir := writeJournal(t, t.TempDir(), testDate, dayTxns())
	sum, rows := reconcile(t, jdir, ByRRN, nil)
	if len(rows) != len(wantClass) {
		t.Errorf("%d rows, want %d: %v", len(rows), len(wantClass), rows)
	}
	var want [classCount]uint64
	for k, c := range wantClass {
		want[c]++
		r, ok := rows[k]
		switch {
		case !ok:
			t.Errorf("%s: no row", k)
		case r.Class != c:
			t.Errorf("%s: %s, want %s", k, r.Class, c)
		case (c == Matched) != (r.Exception == ""):
			t.Errorf("%s: %s with exception %q", k, c, r.Exception)
		}
	}
	if sum.Counts != want || sum.Exceptions != 5 || sum.Open != 5 {
		t.Errorf("counts %v exceptions %d open %d, want %v 5 5", sum.Counts, sum.Exceptions, sum.Open, want)
	}
	for _, tot := range sum.Totals {
		if tot.Class == AmountMismatch && (tot.Switch != 42000 || tot.Counterpart != 42001) {
			t.Errorf("amount mismatch totals %+v", tot)
		}
	}
}

// By STAN the same records pair up (the STANs of the file are the
// transactions' own, and the UnionPay reversal shares its original's).
func TestReconcileBySTAN(t *testing.T) {
	jdir := writeJournal(t, t.TempDir(), testDate, dayTxns())
	sum, _ := reconcile(t, jdir, BySTAN, nil)
	want := [classCount]uint64{6, 1, 1, 1, 2}
	if sum.Counts != want {
		t.Errorf("counts %v, want %v", sum.Counts, want)
	}
}

// TestExceptionResolutionSurvivesReopen resolves an exception, reads the
// store again from disk (as the next run does), and reconciles: the
// exception keeps its ID and shows its resolution.
func TestExceptionResolutionSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	jdir := writeJournal(t, dir, testDate, dayTxns())
	_, rows := reconcile(t, jdir, ByRRN, nil)
	id := rows["T0000002/000000500004"].Exception
	cdir := filepath.Join(dir, "clearing")
	if err := Resolve(cdir, Resolution{Date: testDate, ID: id, State: Adjusted, At: 1, Note: "credited 1 by hand"}); err != nil {
		t.Fatal(err)
	}
	if err := Resolve(cdir, Resolution{Date: testDate, ID: id, State: WrittenOff, At: 2}); err == nil {
		t.Error("an exception was resolved twice")
	}
	if err := Resolve(cdir, Resolution{Date: testDate, ID: rows["T0000001/000000500005"].Exception, State: WrittenOff,
		Note: "card 4761739001010010"}); err == nil {
		t.Error("a note with a PAN was stored")
	}
	resolved, err := Resolutions(cdir, testDate)
	if err != nil {
		t.Fatal(err)
	}
	sum, rows2 := reconcile(t, jdir, ByRRN, resolved)
	r := rows2["T0000002/000000500004"]
	if r.Exception != id || r.State != "adjusted" {
		t.Errorf("after reopen: exception %s state %s, want %s adjusted", r.Exception, r.State, id)
	}
	if sum.Open != 4 || sum.ResolvedBy[Adjusted] != 1 {
		t.Errorf("open %d adjusted %d, want 4 1", sum.Open, sum.ResolvedBy[Adjusted])
	}
	if other, _ := Resolutions(cdir, testDate+1); len(other) != 0 {
		t.Errorf("another day's resolutions: %v", other)
	}
}

// A torn last line (a crash while appending) is no resolution, and the
// next Resolve cuts it off; a changed line is an error.
func TestResolutionsTornAndTampered(t *testing.T) {
	dir := t.TempDir()
	if err := Resolve(dir, Resolution{Date: testDate, ID: "0123456789ab", State: ByReversal, At: 5, Note: "0420 sent"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ResolutionsFile)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("r1\t20261201\tba9876543210\twritten-o")
	f.Close()
	got, err := Resolutions(dir, testDate)
	if err != nil || len(got) != 1 || got["0123456789ab"].State != ByReversal || got["0123456789ab"].Note != "0420 sent" {
		t.Fatalf("with a torn tail: %v %v", got, err)
	}
	if err := Resolve(dir, Resolution{Date: testDate, ID: "ba9876543210", State: WrittenOff, At: 6}); err != nil {
		t.Fatal(err)
	}
	if got, err := Resolutions(dir, testDate); err != nil || len(got) != 2 {
		t.Fatalf("after the torn tail was cut: %v %v", got, err)
	}
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(raw), "written-off", "adjusted", 1)), 0o600)
	if _, err := Resolutions(dir, testDate); !errors.Is(err, ErrResolutions) {
		t.Errorf("a changed line: %v, want ErrResolutions", err)
	}
}

func TestCounterpartBadLines(t *testing.T) {
	for _, c := range []struct{ name, file string }{
		{"no header", ""},
		{"no rrn column", "date,terminal,amount\n"},
		{"a column twice", "date,terminal,rrn,amount,rrn\n"},
		{"bad date", "date,terminal,rrn,amount\n2026-12-01,T1,1,5\n"},
		{"bad amount", "date,terminal,rrn,amount\n20261201,T1,1,5.00\n"},
		{"bad state", "date,terminal,rrn,amount,state\n20261201,T1,1,5,maybe\n"},
		{"missing field", "date,terminal,rrn,amount\n20261201,T1,1\n"},
		{"quoted", "date,terminal,rrn,amount\n20261201,\"T1\",1,5\n"},
		{"a PAN as terminal", "date,terminal,rrn,amount\n20261201,4761739001010010,1,5\n"},
		{"too long", "date,terminal,rrn,amount\n" + strings.Repeat("9", 5000) + "\n"},
	} {
		err := ReadCounterpart(strings.NewReader(c.file), ByRRN, func(*CounterpartRecord) error { return nil })
		if !errors.Is(err, ErrCounterpart) {
			t.Errorf("%s: %v, want ErrCounterpart", c.name, err)
		}
	}
}
