package clearing

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardswitch/cardswitch/internal/cardscan"
)

func TestStatementsAndFees(t *testing.T) {
	dir := t.TempDir()
	jdir := writeJournal(t, dir, testDate, dayTxns())
	fees := filepath.Join(dir, "fees.yaml")
	os.WriteFile(fees, []byte("default_bps: 150\nmcc:\n  5411: 120\n"), 0o600)
	f, err := LoadFees(fees)
	if err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, "statements")
	os.Mkdir(st, 0o700)
	var out bytes.Buffer
	sum, err := Export(daySource(jdir, testDate), &out, ExportOptions{Date: testDate, TempDir: dir, Statements: st, Fees: f})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(st)
	if len(entries) != sum.Merchants || sum.Merchants != 4 {
		t.Errorf("%d statements for %d merchants, want 4", len(entries), sum.Merchants)
	}
	for name, want := range map[string]string{
		"20261201-M-GROCER.csv": "L,1,1201,100000,PUR,D,5411,1000,156,12\nL,6,1201,100005,REF,C,5411,300,156,0\nG,156,700,12,688\n",
		"20261201-M-HOTEL.csv":  "L,5,1201,100004,CMP,D,7011,42000,156,630\nG,156,42000,630,41370\n",
		StatementName(testDate, `M-SHOP,"X"`): "S,\"M-SHOP,\"\"X\"\"\",20261201\n" +
			"L,14,1201,100013,PUR,D,5999,12345,840,185\nG,840,12345,185,12160\n",
	} {
		b, err := os.ReadFile(filepath.Join(st, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if !strings.HasSuffix(string(b), want) {
			t.Errorf("%s:\n%s\nwant it to end with\n%s", name, b, want)
		}
	}
	for _, bad := range []string{"default_bps: 10001\n", "mcc:\n  5411: 20000\n", "default_bps: [1]\n"} {
		os.WriteFile(fees, []byte(bad), 0o600)
		if _, err := LoadFees(fees); err == nil {
			t.Errorf("fee file %q taken", bad)
		}
	}
}

// TestOutputsHoldNoPAN scans everything clearing writes, with the
// sealed PAN asked for, for the test cards and any Luhn-valid run.
func TestOutputsHoldNoPAN(t *testing.T) {
	dir := t.TempDir()
	jdir := writeJournal(t, dir, testDate, dayTxns())
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o700)
	for _, f := range []Format{CSV, Fixed} {
		var b bytes.Buffer
		if _, err := Export(daySource(jdir, testDate), &b, ExportOptions{Date: testDate, Format: f, Sealed: true, TempDir: dir,
			Statements: out, Fees: Fees{DefaultBPS: 100}}); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(out, "clearing-"+string(rune('0'+f))), b.Bytes(), 0o600)
	}
	var rep bytes.Buffer
	rep.WriteString(ReportCSVHeader)
	sum, err := Reconcile(daySource(jdir, testDate), strings.NewReader(counterpartFile), ReconOptions{Date: testDate, TempDir: dir},
		func(r *Row) error { rep.Write(AppendRowCSV(nil, r)); return nil })
	if err != nil {
		t.Fatal(err)
	}
	sum.WriteText(&rep, testDate)
	os.WriteFile(filepath.Join(out, "reconcile"), rep.Bytes(), 0o600)
	var s cardscan.Scanner
	for _, p := range testPANs {
		s.Card(p)
	}
	n, err := cardscan.Files(out, func(path string, b []byte) {
		for _, f := range s.Scan(path, b) {
			t.Error(f)
		}
		if !bytes.Contains(b, []byte("******")) && strings.Contains(path, "clearing-") {
			t.Errorf("%s carries no masked PAN", path)
		}
	})
	if err != nil || n < 6 {
		t.Fatalf("scanned %d files: %v", n, err)
	}
}

func TestFeeRounding(t *testing.T) {
	f := Fees{DefaultBPS: 150, MCC: map[uint16]uint32{5411: 0}}
	for _, c := range []struct {
		kind   Kind
		mcc    uint16
		amount int64
		want   int64
	}{
		{KindPurchase, 1, 33, 0},  // 0.495: down
		{KindPurchase, 1, 34, 1},  // 0.51: up
		{KindPurchase, 1, 100, 2}, // 1.5: half up
		{KindCash, 1, 999999999999, 15000000000},
		{KindRefund, 1, 1000, 0},      // refunds pay no fee
		{KindPurchase, 5411, 1000, 0}, // a listed MCC at 0
	} {
		if got := f.Fee(&Line{Kind: c.kind, MCC: c.mcc, Amount: c.amount}); got != c.want {
			t.Errorf("%s %d at MCC %d: fee %d, want %d", c.kind.Code(), c.amount, c.mcc, got, c.want)
		}
	}
}
