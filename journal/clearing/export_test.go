package clearing

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
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
