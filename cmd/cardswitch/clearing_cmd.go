package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/journal/clearing"
)

func init() {
	register(&command{
		name: "clearing",
		args: "export | reconcile | exceptions list | exceptions resolve",
		summary: "The back office of a closed business day, read from the journal. Stop the switch first: Badger locks its directory.\n\n" +
			"export              write the day's clearing file: --date, [--format csv|fixed] [--out FILE] [--sealed]\n" +
			"                    [--statements DIR --fees FILE]: per-merchant statements with fees per MCC\n" +
			"reconcile           compare the day with a counterpart CSV: --date, --counterpart FILE [--key rrn|stan];\n" +
			"                    writes reconcile.txt, .csv and .html to --report (default data_dir/clearing/DATE)\n" +
			"exceptions list     the day's exceptions from its last reconcile, with their state: --date [--open]\n" +
			"exceptions resolve  resolve one: --date --id ID --as adjusted|reversed|written-off [--note TEXT]\n\n" +
			"Layouts (clearing file, counterpart, statements, fees) are in the README, \"Clearing and reconciliation\".\n" +
			"The PAN is written only masked, as its keyed hash, and (--sealed) as its ciphertext under the journal's data key.\n" +
			"--journal-export FILE reads the day from a journal export (verified first) instead: the switch may run.\n" +
			"Sort runs go to --tmp-dir (default data_dir/clearing): on disk, so memory stays bounded by --sort-mb.",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			dataDir := dataDirFlags(fs)
			var date dateFlag
			fs.Var(&date, "date", "the business day (YYYYMMDD)")
			format := fs.String("format", "csv", "export: csv or fixed")
			out := fs.String("out", "", "export: the clearing file to write (must not exist); default standard output")
			sealed := fs.Bool("sealed", false, "export: also carry each PAN sealed under the journal's data key")
			statements := fs.String("statements", "", "export: write per-merchant statements to this directory")
			fees := fs.String("fees", "", "export: the fee file for statements (YAML: default_bps, mcc: {MCC: bps})")
			counterpart := fs.String("counterpart", "", "reconcile: the counterpart CSV")
			key := fs.String("key", "rrn", "reconcile: match on rrn or stan (with terminal and date)")
			report := fs.String("report", "", "reconcile, exceptions: the report directory (default data_dir/clearing/DATE)")
			fromExport := fs.String("journal-export", "", "export, reconcile: read the day from this journal export file (journal export) instead of the journal")
			tmpDir := fs.String("tmp-dir", "", "where sort runs go (default data_dir/clearing)")
			reversalDays := fs.Int("reversal-days", 1, "export: look this many business days back for the originals of the day's reversals that name none of its own (0: none; not with --journal-export)")
			sortMB := fs.Int("sort-mb", clearing.SortBufferBytes>>20, "memory bound of each sort, MB (1 to 4096)")
			openOnly := fs.Bool("open", false, "exceptions list: only the open ones")
			id := fs.String("id", "", "exceptions resolve: the exception ID")
			as := fs.String("as", "", "exceptions resolve: adjusted, reversed or written-off")
			note := fs.String("note", "", "exceptions resolve: who and why (plain text, no card data)")
			return func(args []string, e *env) error {
				if len(args) == 0 {
					return usagef("say export, reconcile or exceptions")
				}
				if date == 0 {
					return usagef("%s needs --date YYYYMMDD", args[0])
				}
				if *sortMB < 1 || *sortMB > 4096 {
					return usagef("--sort-mb %d: 1 to 4096", *sortMB)
				}
				dir, err := dataDir()
				if err != nil {
					return err
				}
				if *reversalDays < 0 || *reversalDays > 31 {
					return usagef("--reversal-days %d: 0 to 31", *reversalDays)
				}
				c := clearingRun{e: e, dir: dir, date: uint32(date), tmp: *tmpDir, sortBytes: *sortMB << 20, report: *report, fromExport: *fromExport,
					reversalDays: *reversalDays}
				switch {
				case args[0] == "export" && len(args) == 1:
					f, err := clearing.ParseFormat(*format)
					if err != nil {
						return usagef("%v", err)
					}
					if *fees != "" && *statements == "" {
						return usagef("--fees is for --statements")
					}
					return c.export(f, *out, *sealed, *statements, *fees)
				case args[0] == "reconcile" && len(args) == 1:
					k, err := clearing.ParseKeyBy(*key)
					if err != nil {
						return usagef("%v", err)
					}
					if *counterpart == "" {
						return usagef("reconcile needs --counterpart FILE")
					}
					return c.reconcile(*counterpart, k)
				case args[0] == "exceptions" && len(args) == 2 && args[1] == "list":
					return c.listExceptions(*openOnly)
				case args[0] == "exceptions" && len(args) == 2 && args[1] == "resolve":
					st, err := clearing.ParseResolution(*as)
					if err != nil || *id == "" {
						return usagef("resolve needs --id ID and --as adjusted|reversed|written-off")
					}
					return c.resolve(*id, st, *note)
				}
				return usagef("unknown subcommand %q", strings.Join(args, " "))
			}
		},
	})
}

// clearingRun is one clearing command's context.
type clearingRun struct {
	e         *env
	dir       string // data_dir
	date      uint32
	tmp       string
	sortBytes int
	report    string

	fromExport   string // a journal export file to read instead of the journal
	reversalDays int    // export: business days looked back for the originals of later reversals
}

// earlier reads the reversalDays business days before the day from the
// journal (nil: none, or the day comes from an export file).
func (c *clearingRun) earlier() clearing.Source {
	if c.reversalDays == 0 || c.fromExport != "" {
		return nil
	}
	d, err := time.Parse("20060102", strconv.FormatUint(uint64(c.date), 10))
	if err != nil {
		return nil
	}
	from, _ := strconv.ParseUint(d.AddDate(0, 0, -c.reversalDays).Format("20060102"), 10, 32)
	to, _ := strconv.ParseUint(d.AddDate(0, 0, -1).Format("20060102"), 10, 32)
	return func(fn func(*journal.Record) error) error {
		_, err := clearing.ReadDays(filepath.Join(c.dir, "journal"), uint32(from), uint32(to), fn)
		return err
	}
}

func (c *clearingRun) clearingDir() string { return filepath.Join(c.dir, "clearing") }

func (c *clearingRun) reportDir() string {
	if c.report != "" {
		return c.report
	}
	return filepath.Join(c.clearingDir(), strconv.FormatUint(uint64(c.date), 10))
}

// tempDir is where sort runs go: beside the data, not in a tmpfs /tmp
// that would hold them in memory.
func (c *clearingRun) tempDir() (string, error) {
	d := c.tmp
	if d == "" {
		d = c.clearingDir()
	}
	return d, os.MkdirAll(d, 0o700)
}

// source reads the day from the stopped journal, its notes on stderr, or
// from a journal export file; on a terminal with a progress line.
func (c *clearingRun) source() clearing.Source {
	var p *progress
	if isTerminal(c.e.stderr) {
		p = &progress{w: c.e.stderr, every: progressEvery, what: fmt.Sprintf("day %d", c.date)}
	}
	if c.fromExport != "" {
		return func(fn func(*journal.Record) error) error {
			_, err := clearing.ReadExport(c.fromExport, c.date, p.counting(fn))
			p.done()
			return err
		}
	}
	return func(fn func(*journal.Record) error) error {
		res, err := clearing.ReadDay(filepath.Join(c.dir, "journal"), c.date, p.counting(fn))
		p.done()
		printNotes(c.e, res)
		return err
	}
}

// progressEvery is how many records pass between progress lines: about
// ten a second at the rates measured.
const progressEvery = 1 << 15

// progress is a line on a terminal that counts the records read, redrawn
// in place ("\r"). A nil progress counts nothing.
type progress struct {
	w     io.Writer
	every uint64
	what  string
	n     uint64
	start time.Time
}

func (p *progress) counting(fn func(*journal.Record) error) func(*journal.Record) error {
	if p == nil {
		return fn
	}
	p.start = time.Now()
	return func(r *journal.Record) error {
		if p.n++; p.n%p.every == 0 {
			fmt.Fprintf(p.w, "\rreading %s: %d records, %.0f/s ", p.what, p.n, float64(p.n)/max(time.Since(p.start).Seconds(), 1e-9))
		}
		return fn(r)
	}
}

// done ends the line, if one was drawn.
func (p *progress) done() {
	if p != nil && p.n >= p.every {
		fmt.Fprintf(p.w, "\rread %s: %d records%s\n", p.what, p.n, strings.Repeat(" ", 16))
	}
}

func (c *clearingRun) export(f clearing.Format, out string, sealed bool, statements, feeFile string) error {
	o := clearing.ExportOptions{Date: c.date, Format: f, Sealed: sealed, SortBytes: c.sortBytes, Statements: statements, Earlier: c.earlier()}
	var err error
	if o.TempDir, err = c.tempDir(); err != nil {
		return err
	}
	if feeFile != "" {
		if o.Fees, err = clearing.LoadFees(feeFile); err != nil {
			return err
		}
	}
	if statements != "" {
		if err := os.MkdirAll(statements, 0o700); err != nil {
			return err
		}
	}
	w, finish := io.Writer(c.e.stdout), func(err error) error { return err }
	if out != "" {
		file, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		w = file
		finish = func(err error) error {
			if err == nil {
				err = file.Sync()
			}
			if cerr := file.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(out) // never leave half a clearing file
			}
			return err
		}
	}
	start := time.Now()
	sum, err := clearing.Export(c.source(), w, o)
	if err = finish(err); err != nil {
		return err
	}
	took := time.Since(start)
	fs := sum.Fold
	fmt.Fprintf(c.e.stderr, "cleared day %d: %d lines for %d merchants from %d records (sequence %d to %d) in %v, %.0f records/s\n",
		c.date, sum.Lines, sum.Merchants, fs.Records, sum.FirstSeq, sum.LastSeq, took.Round(time.Millisecond),
		float64(fs.Records)/max(took.Seconds(), 1e-9))
	fmt.Fprintf(c.e.stderr, "  financial %d: cleared %d (%d of them partly reversed), reversed %d, voided %d; repeats %d, holds %d, reversals and voids naming nothing of the day %d\n",
		fs.Financial, fs.Effective, fs.Partly, fs.Reversed, fs.Voided, fs.Duplicates, fs.Holds, fs.Orphans)
	switch {
	case o.Earlier != nil:
		fmt.Fprintf(c.e.stderr, "  reversals of the %d days before cleared today: %d", c.reversalDays, sum.Later)
		if sum.Unchecked > 0 {
			fmt.Fprintf(c.e.stderr, " (%d more not looked up: over the bound)", sum.Unchecked)
		}
		fmt.Fprintln(c.e.stderr)
	case fs.Orphans > 0:
		fmt.Fprintln(c.e.stderr, "  reversals of earlier days not looked up (--reversal-days 0, or a journal export)")
	}
	for _, t := range sum.Totals {
		fmt.Fprintf(c.e.stderr, "  currency %03d: %d lines, debits %d, credits %d, net %d\n", t.Currency, t.Count, t.Debits, t.Credits, t.Net())
	}
	fmt.Fprintf(c.e.stderr, "  SHA-256 of the body %x\n", sum.Checksum)
	return nil
}

// reportFile writes a report file whole, then renames it into place: a
// reader (exceptions list) never sees half of one.
type reportFile struct {
	f    *os.File
	w    *bufio.Writer
	path string
}

func createReport(dir, name string) (*reportFile, error) {
	f, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &reportFile{f: f, w: bufio.NewWriterSize(f, 1<<16), path: filepath.Join(dir, name)}, nil
}

func (r *reportFile) finish(err error) error {
	if err == nil {
		err = r.w.Flush()
	}
	if err == nil {
		err = r.f.Sync()
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(r.f.Name(), r.path)
	}
	if err != nil {
		os.Remove(r.f.Name())
	}
	return err
}

func (c *clearingRun) reconcile(counterpart string, key clearing.KeyBy) error {
	cp, err := os.Open(counterpart)
	if err != nil {
		return err
	}
	defer cp.Close()
	tmp, err := c.tempDir()
	if err != nil {
		return err
	}
	resolved, err := clearing.Resolutions(c.clearingDir(), c.date)
	if err != nil {
		return err
	}
	dir := c.reportDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	csvOut, err := createReport(dir, "reconcile.csv")
	if err != nil {
		return err
	}
	csvOut.w.WriteString(clearing.ReportCSVHeader)
	excRows, err := os.CreateTemp(dir, "reconcile.html.rows-*") // the HTML's exception rows, placed after its summary
	if err != nil {
		return err
	}
	defer func() { excRows.Close(); os.Remove(excRows.Name()) }()
	excW := bufio.NewWriterSize(excRows, 1<<16)
	var line []byte
	start := time.Now()
	sum, err := clearing.Reconcile(c.source(), cp, clearing.ReconOptions{Date: c.date, Key: key, TempDir: tmp, SortBytes: c.sortBytes,
		Resolved: resolved}, func(r *clearing.Row) error {
		line = clearing.AppendRowCSV(line[:0], r)
		if r.Exception != "" {
			appendHTMLRow(excW, line)
		}
		_, err := csvOut.w.Write(line)
		return err
	})
	if err = csvOut.finish(err); err != nil {
		return err
	}
	took := time.Since(start)
	txt, err := createReport(dir, "reconcile.txt")
	if err != nil {
		return err
	}
	err = txt.finish(sum.WriteText(txt.w, c.date))
	if err != nil {
		return err
	}
	if err := c.writeHTML(dir, &sum, excW, excRows); err != nil {
		return err
	}
	if err := sum.WriteText(c.e.stdout, c.date); err != nil {
		return err
	}
	n := sum.Switch + sum.Counterpart
	fmt.Fprintf(c.e.stderr, "reconciled %d records in %v, %.0f records/s; report in %s\n", n, took.Round(time.Millisecond),
		float64(n)/max(took.Seconds(), 1e-9), dir)
	return nil
}

// appendHTMLRow writes one report CSV line (fields without commas but
// for a quoted terminal or key, shown as they are) as a table row.
func appendHTMLRow(w *bufio.Writer, csvLine []byte) {
	w.WriteString("<tr>")
	for _, f := range strings.Split(strings.TrimSuffix(string(csvLine), "\n"), ",") {
		w.WriteString("<td>")
		w.WriteString(html.EscapeString(f))
		w.WriteString("</td>")
	}
	w.WriteString("</tr>\n")
}

// writeHTML writes reconcile.html: the summary, then the exceptions.
func (c *clearingRun) writeHTML(dir string, sum *clearing.ReconSummary, rowsW *bufio.Writer, rows *os.File) error {
	if err := rowsW.Flush(); err != nil {
		return err
	}
	if _, err := rows.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h, err := createReport(dir, "reconcile.html")
	if err != nil {
		return err
	}
	w := h.w
	fmt.Fprintf(w, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>reconciliation %d</title>\n"+
		"<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;text-align:right}</style>"+
		"</head><body>\n<h1>Reconciliation of business day %d</h1>\n<p>switch records %d, counterpart records %d; exceptions %d, open %d</p>\n",
		c.date, c.date, sum.Switch, sum.Counterpart, sum.Exceptions, sum.Open)
	w.WriteString("<table><tr><th>class</th><th>currency</th><th>records</th><th>switch amount</th><th>counterpart amount</th></tr>\n")
	for _, t := range sum.Totals {
		fmt.Fprintf(w, "<tr><td>%s</td><td>%03d</td><td>%d</td><td>%d</td><td>%d</td></tr>\n", t.Class, t.Currency, t.Count, t.Switch, t.Counterpart)
	}
	w.WriteString("</table>\n<h2>Exceptions</h2>\n<table><tr>")
	for _, col := range strings.Split(strings.TrimSpace(clearing.ReportCSVHeader), ",") {
		fmt.Fprintf(w, "<th>%s</th>", col)
	}
	w.WriteString("</tr>\n")
	if _, err := io.Copy(w, rows); err != nil {
		return h.finish(err)
	}
	_, err = w.WriteString("</table>\n</body></html>\n")
	return h.finish(err)
}

// exceptionRows calls fn with each exception row of the day's report:
// its fields as ReportCSVHeader names them.
func (c *clearingRun) exceptionRows(fn func(f []string) error) error {
	path := filepath.Join(c.reportDir(), "reconcile.csv")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clearing: no reconciliation of day %d in %s: run clearing reconcile first", c.date, c.reportDir())
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 4096) // a report line is a few short fields
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ",")
		if len(fields) >= 3 && fields[1] != "" && fields[1] != "exception" {
			if err := fn(fields); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// exceptionItem is one exception of a day's reconciliation, with its
// state now (resolved since the report was written, or as the report said).
type exceptionItem struct {
	ID     string   `json:"id"`
	Class  string   `json:"class"`
	State  string   `json:"state"`
	Fields []string `json:"fields"` // the report's columns from terminal on (ReportCSVHeader)
}

// exceptions lists the day's exceptions (only the open ones with
// openOnly): the command's list and the admin port's GET /exceptions.
func (c *clearingRun) exceptions(openOnly bool, fn func(exceptionItem) error) error {
	resolved, err := clearing.Resolutions(c.clearingDir(), c.date)
	if err != nil {
		return err
	}
	return c.exceptionRows(func(f []string) error {
		state := "open"
		if r, ok := resolved[f[1]]; ok {
			state = r.State.String() // resolved since the report was written
		}
		if openOnly && state != "open" {
			return nil
		}
		return fn(exceptionItem{ID: f[1], Class: f[0], State: state, Fields: f[3:]})
	})
}

func (c *clearingRun) listExceptions(openOnly bool) error {
	w := bufio.NewWriter(c.e.stdout)
	n := 0
	err := c.exceptions(openOnly, func(x exceptionItem) error {
		n++
		_, err := fmt.Fprintf(w, "%s %-16s %-11s %s\n", x.ID, x.Class, x.State, strings.Join(x.Fields, ","))
		return err
	})
	if err == nil {
		fmt.Fprintf(w, "%d exceptions\n", n)
		err = w.Flush()
	}
	return err
}

// errNoException: the day's reconciliation has no such exception.
var errNoException = errors.New("clearing: no exception")

// resolveOne journals a resolution of an exception of the day's
// reconciliation: the command's resolve and the admin port's POST.
func (c *clearingRun) resolveOne(id string, st clearing.ResolutionState, note string) error {
	found := false
	err := c.exceptionRows(func(f []string) error {
		found = found || f[1] == id
		return nil
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w %s in the reconciliation of day %d", errNoException, id, c.date)
	}
	return clearing.Resolve(c.clearingDir(), clearing.Resolution{Date: c.date, ID: id, State: st, At: time.Now().Unix(), Note: note})
}

func (c *clearingRun) resolve(id string, st clearing.ResolutionState, note string) error {
	if err := c.resolveOne(id, st, note); err != nil {
		return err
	}
	fmt.Fprintf(c.e.stdout, "exception %s of day %d: %s\n", id, c.date, st)
	return nil
}
