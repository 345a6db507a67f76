package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/journal"
)

func init() {
	register(&command{
		name: "journal",
		args: "verify | replay | dump | stats | open-upstream | export --date YYYYMMDD --out FILE | verify-export FILE",
		summary: "Inspect the write-ahead journal. Stop the switch first: Badger locks its directory.\n\n" +
			"verify         check sequence continuity, the hash chain and the high-water mark; exit 1 on a problem\n" +
			"replay         walk every record as the switch does at start, and summarise\n" +
			"dump           print records, masked: [--from SEQ] [--date YYYYMMDD] [--json]\n" +
			"stats          counts by business date and response code, and the size on disk\n" +
			"open-upstream  the forwarded requests without a final record (in flight when the switch stopped),\n" +
			"               masked: [--json]; the next start records them to be reversed\n" +
			"export         write a closed business day's records, verified, to a new file (--date, --out)\n" +
			"verify-export  check an export file against its own chain and checksum; exit 1 on a problem\n\n" +
			"verify, replay, dump, stats and open-upstream never change a record. Right after an unclean stop (kill -9)\n" +
			"Badger must trim its log before it can be read; they do that (no compaction, no record changes)\n" +
			"and say so on stderr. export opens the journal as the switch does.",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			dataDir := dataDirFlags(fs)
			from := fs.Uint64("from", 0, "dump: first sequence number")
			var date dateFlag
			fs.Var(&date, "date", "dump: only this business date; export: the day to export (YYYYMMDD)")
			asJSON := fs.Bool("json", false, "dump, open-upstream: one JSON object per line")
			out := fs.String("out", "", "export: the file to write (must not exist)")
			return func(args []string, e *env) error {
				if len(args) == 0 {
					return usagef("say verify, replay, dump, stats, open-upstream, export or verify-export")
				}
				if args[0] == "verify-export" {
					if len(args) != 2 {
						return usagef("verify-export takes the export file")
					}
					return journalVerifyExport(e, args[1])
				}
				if len(args) != 1 {
					return usagef("%s takes no arguments", args[0])
				}
				dir, err := dataDir()
				if err != nil {
					return err
				}
				jdir := filepath.Join(dir, "journal")
				switch args[0] {
				case "verify":
					return journalVerify(e, jdir)
				case "replay":
					return journalReplay(e, jdir)
				case "dump":
					return journalDump(e, jdir, *from, uint32(date), *asJSON)
				case "stats":
					return journalStats(e, jdir)
				case "open-upstream":
					return journalOpenUpstream(e, dir, jdir, *asJSON)
				case "export":
					return journalExport(e, jdir, uint32(date), *out)
				}
				return usagef("unknown subcommand %q", args[0])
			}
		},
	})
}

// printNotes says what a tool did besides reading (on stderr: stdout may
// be JSON lines).
func printNotes(e *env, res journal.Result) {
	for _, n := range res.Notes {
		fmt.Fprintf(e.stderr, "note: %s\n", n)
	}
}

func journalVerify(e *env, dir string) error {
	res, err := journal.Verify(dir)
	printNotes(e, res)
	if err != nil {
		return err
	}
	mark := fmt.Sprint(res.MarkSeq)
	if res.MarkMissing {
		mark = "missing"
	}
	fmt.Fprintf(e.stdout, "records %d (sequence %d to %d), high-water mark %s\n", res.Records, res.FirstSeq, res.LastSeq, mark)
	if res.Anchor.Seq > 0 {
		fmt.Fprintf(e.stdout, "days up to %d were dropped: the chain starts after %v\n", res.Anchor.Date, res.Anchor)
	}
	if res.Problem != nil {
		return res.Problem
	}
	fmt.Fprintln(e.stdout, "journal ok: no gap, hash chain intact, every acknowledged record present")
	return nil
}

func journalReplay(e *env, dir string) error {
	start := time.Now()
	dates := map[uint32]int{}
	approved, amount := 0, int64(0)
	res, err := journal.Replay(dir, func(r *journal.Record) error {
		dates[r.BusinessDate]++
		if r.RespCode == [2]byte{'0', '0'} && r.MTI[1] != '8' {
			approved++
			amount += r.Amount
		}
		return nil
	})
	printNotes(e, res)
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(e.stdout, "replayed %d records in %v (%.0f records/s); %d approved, amount %d\n",
		res.Records, took.Round(time.Millisecond), float64(res.Records)/max(took.Seconds(), 1e-9), approved, amount)
	for _, d := range sortedKeys(dates) {
		fmt.Fprintf(e.stdout, "  business date %d: %d records\n", d, dates[d])
	}
	if res.Problem != nil {
		return res.Problem
	}
	return nil
}

// dumpLine is a record as tools show it: masked, no sealed PAN, no
// session key cryptograms (only whether the record carries some).
type dumpLine struct {
	Seq          uint64       `json:"seq"`
	BusinessDate uint32       `json:"business_date"`
	Received     string       `json:"received"`
	Decided      string       `json:"decided"`
	Link         string       `json:"link"`
	Conn         uint64       `json:"conn"`
	MTI          string       `json:"mti"`
	ProcCode     string       `json:"proc"`
	STAN         string       `json:"stan"`
	LocalDate    string       `json:"local_date"`
	LocalTime    string       `json:"local_time"`
	Transmission string       `json:"transmission,omitempty"`
	PAN          string       `json:"pan"`
	Amount       int64        `json:"amount"`
	Currency     uint16       `json:"currency"`
	Acquirer     string       `json:"acquirer,omitempty"`
	Terminal     string       `json:"terminal"`
	Merchant     string       `json:"merchant"`
	MCC          uint16       `json:"mcc"`
	EntryMode    uint16       `json:"entry_mode"`
	RRN          string       `json:"rrn"`
	RRNSeq       uint64       `json:"rrn_seq,omitempty"`
	RespCode     string       `json:"rc"`
	Approval     string       `json:"approval,omitempty"`
	ApprovalSeq  uint64       `json:"approval_seq,omitempty"`
	Route        string       `json:"route,omitempty"`
	Original     string       `json:"original,omitempty"`
	Effect       *auth.Effect `json:"effect,omitempty"` // the authorizer's outcome: what the decision changed
	SessionKeys  bool         `json:"session_keys,omitempty"`
	// the upstream leg of a forwarded request
	Destination string `json:"destination,omitempty"`
	UpSTAN      string `json:"up_stan,omitempty"`
	UpRRN       string `json:"up_rrn,omitempty"`
	UpCode      string `json:"up_rc,omitempty"`
	UpState     string `json:"up_state,omitempty"`
}

// rcText is a record's response code; "" for a record that answered
// nothing (a forwarded request's record before the send, a late approval).
func rcText(rc [2]byte) string {
	if rc == [2]byte{} {
		return ""
	}
	return string(rc[:])
}

func newDumpLine(r *journal.Record) dumpLine {
	l := dumpLine{Seq: r.Seq, BusinessDate: r.BusinessDate, Received: time.Unix(0, r.Received).UTC().Format(time.RFC3339Nano),
		Decided: time.Unix(0, r.Decided).UTC().Format(time.RFC3339Nano), Link: r.Link, Conn: r.Conn, MTI: string(r.MTI[:]),
		ProcCode: fmt.Sprintf("%06d", r.ProcCode), STAN: fmt.Sprintf("%06d", r.STAN),
		LocalDate: fmt.Sprintf("%04d", r.LocalDate), LocalTime: fmt.Sprintf("%06d", r.LocalTime),
		PAN: r.PANMasked, Amount: r.Amount, Currency: r.Currency, Acquirer: r.Acquirer, Terminal: r.Terminal,
		Merchant: r.Merchant, MCC: r.MCC, EntryMode: r.EntryMode, RRN: r.RRN, RRNSeq: r.RRNSeq,
		RespCode: rcText(r.RespCode), Approval: r.Approval, ApprovalSeq: r.ApprovalSeq, Route: r.Route,
		Original: r.Original, SessionKeys: len(r.SessionKeys) > 0}
	if e, ok := auth.DescribeOutcome(r.Outcome); ok {
		l.Effect = &e
	}
	if r.Transmission != 0 {
		l.Transmission = fmt.Sprintf("%010d", r.Transmission)
	}
	if r.Destination != "" {
		l.Destination, l.UpSTAN, l.UpRRN, l.UpState = r.Destination, fmt.Sprintf("%06d", r.UpSTAN), r.UpRRN, r.UpState.String()
		if r.UpCode != [2]byte{} {
			l.UpCode = string(r.UpCode[:])
		}
	}
	return l
}

func journalDump(e *env, dir string, from uint64, date uint32, asJSON bool) error {
	enc := json.NewEncoder(e.stdout)
	res, err := journal.Replay(dir, func(r *journal.Record) error {
		if r.Seq < from || (date != 0 && r.BusinessDate != date) {
			return nil
		}
		l := newDumpLine(r)
		if asJSON {
			return enc.Encode(l)
		}
		_, err := fmt.Fprintf(e.stdout, "%8d %d %s %-8s %s %s %s %-19s %12d %-8s %-15s %s %s %s\n", l.Seq, l.BusinessDate,
			l.Received, l.Link, l.MTI, l.ProcCode, l.STAN, l.PAN, l.Amount, l.Terminal, l.Merchant, l.RRN, l.RespCode, l.Approval)
		return err
	})
	printNotes(e, res)
	if err == nil && res.Problem != nil {
		err = res.Problem
	}
	return err
}

func journalStats(e *env, dir string) error {
	type key struct {
		date uint32
		rc   string
	}
	counts := map[key]int{}
	res, err := journal.Replay(dir, func(r *journal.Record) error {
		counts[key{r.BusinessDate, rcText(r.RespCode)}]++
		return nil
	})
	printNotes(e, res)
	if err != nil {
		return err
	}
	var size int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	fmt.Fprintf(e.stdout, "records %d, sequence %d to %d, high-water mark %d, %d bytes on disk\n",
		res.Records, res.FirstSeq, res.LastSeq, res.MarkSeq, size)
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].date < keys[j].date || keys[i].date == keys[j].date && keys[i].rc < keys[j].rc
	})
	for _, k := range keys {
		fmt.Fprintf(e.stdout, "  %d  rc %s  %d\n", k.date, k.rc, counts[k])
	}
	if res.Problem != nil {
		return res.Problem
	}
	return nil
}

func sortedKeys(m map[uint32]int) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// journalExport writes a closed day's records to a new file, synced.
func journalExport(e *env, dir string, date uint32, out string) error {
	if date == 0 || out == "" {
		return usagef("export needs --date YYYYMMDD and --out FILE")
	}
	opts := journal.Options{Dir: dir}
	if prot, err := journal.LoadKeys(filepath.Join(filepath.Dir(dir), "journal.key")); err == nil {
		opts.KeyFingerprint = prot.Fingerprint() // the key the switch would check: a wrong one is refused here too
	}
	j, err := journal.Open(opts)
	if err != nil {
		return err
	}
	defer j.Close()
	fmt.Fprintln(e.stderr, "note: the journal is opened for writing, as a start opens it: it may finish a day drop a crash "+
		"interrupted or move the high-water mark to records already durable; no record is changed")
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	x, err := j.ExportDay(date, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return err
	}
	fmt.Fprintf(e.stdout, "exported day %d to %s: %s\n", date, out, describeExport(x))
	return nil
}

func journalVerifyExport(e *env, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	x, err := journal.VerifyExport(f)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "export ok: day %d, %s\n", x.Date, describeExport(x))
	return nil
}

func describeExport(x journal.Export) string {
	return fmt.Sprintf("%d records, sequence %d to %d, chained from %x, last hash %x, checksum %x",
		x.Records, x.FirstSeq, x.LastSeq, x.PrevHash[:8], x.LastHash[:8], x.Checksum[:8])
}

// dateFlag is a business date given as YYYYMMDD (a calendar date).
type dateFlag uint32

func (d *dateFlag) String() string {
	if *d == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(*d), 10)
}

func (d *dateFlag) Set(v string) error {
	t, err := time.Parse("20060102", v)
	if err != nil || len(v) != 8 {
		return fmt.Errorf("want a business date as YYYYMMDD, e.g. 20261121")
	}
	*d = dateFlag(t.Year()*10000 + int(t.Month())*100 + t.Day())
	return nil
}

// dataDirFlags adds --data-dir and --config to fs, for the tools that read
// the switch's state; the function it returns resolves the directory after
// parsing: --data-dir, else the data_dir of --config (or of the embedded
// default).
func dataDirFlags(fs *flag.FlagSet) func() (string, error) {
	dataDir := fs.String("data-dir", "", "the switch's data_dir (default: from --config, or ./data)")
	cfgPath := fs.String("config", "", "configuration file whose data_dir to use")
	return func() (string, error) {
		if *dataDir != "" {
			return *dataDir, nil
		}
		c, err := loadConfig(*cfgPath)
		if err != nil {
			return "", err
		}
		return c.file.DataDir, nil
	}
}
