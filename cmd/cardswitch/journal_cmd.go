package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"time"

	"github.com/cardswitch/cardswitch/journal"
)

func init() {
	register(&command{
		name: "journal",
		args: "verify | replay | dump | stats",
		summary: "Inspect the write-ahead journal, read-only. Stop the switch first: Badger locks its directory.\n\n" +
			"verify   check sequence continuity, the hash chain and the high-water mark; exit 1 on a problem\n" +
			"replay   walk every record as the switch does at start, and summarise\n" +
			"dump     print records, masked: [--from SEQ] [--date YYYYMMDD] [--json]\n" +
			"stats    counts by business date and response code, and the size on disk",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			dataDir := fs.String("data-dir", "", "the switch's data_dir (default: from --config, or ./data)")
			cfgPath := fs.String("config", "", "configuration file whose data_dir to use")
			from := fs.Uint64("from", 0, "dump: first sequence number")
			date := fs.Uint("date", 0, "dump: only this business date (YYYYMMDD)")
			asJSON := fs.Bool("json", false, "dump: one JSON object per line")
			return func(args []string, e *env) error {
				if len(args) != 1 {
					return usagef("say verify, replay, dump or stats")
				}
				dir := *dataDir
				if dir == "" {
					c, err := loadConfig(*cfgPath)
					if err != nil {
						return err
					}
					dir = c.file.DataDir
				}
				jdir := filepath.Join(dir, "journal")
				switch args[0] {
				case "verify":
					return journalVerify(e, jdir)
				case "replay":
					return journalReplay(e, jdir)
				case "dump":
					return journalDump(e, jdir, *from, uint32(*date), *asJSON)
				case "stats":
					return journalStats(e, jdir)
				}
				return usagef("unknown subcommand %q", args[0])
			}
		},
	})
}

func journalVerify(e *env, dir string) error {
	res, err := journal.Verify(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "records %d (sequence %d to %d), high-water mark %d\n", res.Records, res.FirstSeq, res.LastSeq, res.MarkSeq)
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

// dumpLine is a record as tools show it: masked, no sealed PAN.
type dumpLine struct {
	Seq          uint64 `json:"seq"`
	BusinessDate uint32 `json:"business_date"`
	Received     string `json:"received"`
	Link         string `json:"link"`
	Conn         uint64 `json:"conn"`
	MTI          string `json:"mti"`
	ProcCode     string `json:"proc"`
	STAN         string `json:"stan"`
	PAN          string `json:"pan"`
	Amount       int64  `json:"amount"`
	Currency     uint16 `json:"currency"`
	Terminal     string `json:"terminal"`
	Merchant     string `json:"merchant"`
	RRN          string `json:"rrn"`
	RespCode     string `json:"rc"`
	Approval     string `json:"approval,omitempty"`
	Route        string `json:"route,omitempty"`
	Original     string `json:"original,omitempty"`
}

func journalDump(e *env, dir string, from uint64, date uint32, asJSON bool) error {
	enc := json.NewEncoder(e.stdout)
	_, err := journal.Replay(dir, func(r *journal.Record) error {
		if r.Seq < from || (date != 0 && r.BusinessDate != date) {
			return nil
		}
		l := dumpLine{Seq: r.Seq, BusinessDate: r.BusinessDate, Received: time.Unix(0, r.Received).UTC().Format(time.RFC3339Nano),
			Link: r.Link, Conn: r.Conn, MTI: string(r.MTI[:]), ProcCode: fmt.Sprintf("%06d", r.ProcCode),
			STAN: fmt.Sprintf("%06d", r.STAN), PAN: r.PANMasked, Amount: r.Amount, Currency: r.Currency,
			Terminal: r.Terminal, Merchant: r.Merchant, RRN: r.RRN, RespCode: string(r.RespCode[:]),
			Approval: r.Approval, Route: r.Route, Original: r.Original}
		if asJSON {
			return enc.Encode(l)
		}
		_, err := fmt.Fprintf(e.stdout, "%8d %d %s %-8s %s %s %s %-19s %12d %-8s %-15s %s %s %s\n", l.Seq, l.BusinessDate,
			l.Received, l.Link, l.MTI, l.ProcCode, l.STAN, l.PAN, l.Amount, l.Terminal, l.Merchant, l.RRN, l.RespCode, l.Approval)
		return err
	})
	return err
}

func journalStats(e *env, dir string) error {
	type key struct {
		date uint32
		rc   string
	}
	counts := map[key]int{}
	res, err := journal.Replay(dir, func(r *journal.Record) error {
		counts[key{r.BusinessDate, string(r.RespCode[:])}]++
		return nil
	})
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
