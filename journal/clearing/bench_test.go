package clearing

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cardswitch/cardswitch/journal"
)

// benchRecords is the day the benchmarks clear: 1 million records (the
// issue asks for 10 million at 1 million a second; see the README for
// what was measured).
const benchRecords = 1_000_000

func genSource(n int) Source {
	return func(fn func(*journal.Record) error) error { return genStream(n, 11, testDate, fn) }
}

// BenchmarkGenerate is the generator alone, to subtract from the others.
func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		genStream(benchRecords, 11, testDate, func(*journal.Record) error { return nil })
	}
	b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkExport clears a generated day of benchRecords records with the
// default sort buffer (the fold's and the merchant sort spill to disk).
func BenchmarkExport(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		if _, err := Export(genSource(benchRecords), io.Discard, ExportOptions{Date: testDate, TempDir: dir}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkReconcile reconciles the generated day with a counterpart of
// its own approved transactions, every 100th amount changed.
func BenchmarkReconcile(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "counterpart.csv") // a file, written as it is made, as the command reads it: the memory measured is the reconciliation's
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	cp := bufio.NewWriter(out)
	cp.WriteString("date,terminal,rrn,amount,currency,state\n")
	var line []byte
	n := 0
	genStream(benchRecords, 11, testDate, func(r *journal.Record) error {
		if !Approved(r) || !KindOf(r).Cleared() {
			return nil
		}
		n++
		amount := r.Amount
		if n%100 == 0 {
			amount++
		}
		line = append(line[:0], "20261201,"...)
		line = append(append(line, r.Terminal...), ',')
		line = append(append(line, r.RRN...), ',')
		line = strconv.AppendInt(line, amount, 10)
		line = append(line, fmt.Sprintf(",%03d,approved\n", r.Currency)...)
		cp.Write(line)
		return nil
	})
	if err := cp.Flush(); err != nil {
		b.Fatal(err)
	}
	out.Close()
	b.ResetTimer()
	var sum ReconSummary
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		sum, err = Reconcile(genSource(benchRecords), f, ReconOptions{Date: testDate, TempDir: dir},
			func(*Row) error { return nil })
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sum.Switch+sum.Counterpart)*float64(b.N)/b.Elapsed().Seconds(), "compared/s")
	b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
