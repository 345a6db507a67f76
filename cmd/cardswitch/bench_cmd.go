package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cardswitch/cardswitch/bench"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/chipcard"
)

type benchFlags struct {
	linkFlags
	mixFile, jsonFile, htmlFile, config, mac, cpuProfile string
	targets                                              string // with --compare: the targets to run, comma-separated (empty: all)
	conns, inflight, rate, serverPID                     int
	duration, warmup                                     time.Duration
	compare, compareTraffic                              bool
	maxFailed                                            float64
}

func init() {
	register(&command{
		name: "bench",
		summary: "Drive load at a switch and report throughput and latency.\n\n" +
			"N connections (--conns) with up to K requests in flight each (--inflight) for --duration after\n" +
			"--warmup. Without --rate it runs closed loop; with --rate R it runs open loop at R messages/s and\n" +
			"measures latency from the moment each message was due. Traffic comes from the configuration's\n" +
			"issuer data: purchases with and without PIN, pre-authorizations with completions, refunds,\n" +
			"reversals, balance inquiries and declines (wrong PIN, over limit, expired) in the --mix weights.\n" +
			"--compare runs purchases against six targets in turn on this machine: a raw echo, a peer built\n" +
			"on moov-io/iso8583-connection, the engine alone, the whole switch, and the switch forwarding to\n" +
			"an issuer simulator in process (switched) after that simulator alone (host), and prints the ratios\n" +
			"and what the switch adds to a forwarded request (switched less host).",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			f := &benchFlags{}
			f.linkFlags.register(fs, "switch address (not with --compare)")
			fs.IntVar(&f.conns, "conns", 64, "connections")
			fs.IntVar(&f.inflight, "inflight", 16, "requests in flight per connection")
			fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured time")
			fs.DurationVar(&f.warmup, "warmup", 2*time.Second, "traffic before measuring")
			fs.IntVar(&f.rate, "rate", 0, "open loop: messages per second in all (0: closed loop)")
			fs.StringVar(&f.mixFile, "mix", "", "YAML file of weights: purchase, pin_purchase, preauth, refund, reversal, balance, wrong_pin, over_limit, expired")
			fs.StringVar(&f.jsonFile, "json", "", "write the report(s) as JSON to this file")
			fs.StringVar(&f.htmlFile, "html", "", "write an HTML report with charts to this file")
			fs.StringVar(&f.config, "config", "", "configuration whose issuer data and keys to use (default: the embedded one)")
			fs.StringVar(&f.mac, "mac", "auto", "MAC on requests: cup, x919, alg1, cmac, none; auto: cup on cup-pos, else none")
			fs.BoolVar(&f.compare, "compare", false, "compare the switch with its baselines on this machine")
			fs.BoolVar(&f.compareTraffic, "compare-traffic", false, "with --addr: play --compare's traffic (0200 purchases of one card over the 256 terminals of 'config bench-issuer'), for a switch serving that issuer data")
			fs.StringVar(&f.targets, "targets", "", "with --compare: only these targets, comma-separated (echo, moov, engine, full, host, switched; default all)")
			fs.Float64Var(&f.maxFailed, "max-error-rate", bench.DefaultMaxFailed,
				"exit 1 when more than this share of requests fail (timeouts, errors, 94, 30, 96, 91), or none is answered")
			fs.IntVar(&f.serverPID, "server-pid", 0, "with --addr: the switch's process ID on this machine, to report its CPU time per message (/proc/PID/stat); --compare reports this process's")
			fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (generator, and with --compare the in-process targets) to this file")
			return func(args []string, e *env) error {
				if len(args) > 0 {
					return usagef("bench takes no arguments")
				}
				if f.rate < 0 {
					return usagef("--rate %d: want 0 (closed loop) or more messages per second", f.rate)
				}
				if f.warmup < 0 || f.duration <= 0 {
					return usagef("--duration must be positive and --warmup not negative")
				}
				if f.serverPID < 0 || (f.serverPID > 0 && f.compare) {
					return usagef("--server-pid is a process ID on this machine, for a switch at --addr (not with --compare)")
				}
				if f.targets != "" && !f.compare {
					return usagef("--targets is for --compare")
				}
				if f.maxFailed < 0 || f.maxFailed > 1 {
					return usagef("--max-error-rate %v: want a share from 0 to 1 (0.01: one in a hundred)", f.maxFailed)
				}
				return runBench(e, f)
			}
		},
	})
}

func runBench(e *env, f *benchFlags) error {
	c, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	d, fr, tpdu, err := f.resolve()
	if err != nil {
		return err
	}
	traffic, err := benchTraffic(c.issuer, d, f)
	if err != nil {
		return err
	}
	if f.compareTraffic {
		if f.compare || f.mixFile != "" {
			return usagef("--compare-traffic is for a switch at --addr, without --mix")
		}
		if traffic, err = compareTraffic(d); err != nil {
			return err
		}
	}
	opts := bench.Options{Addr: f.addr, Framing: fr, TPDU: tpdu, Conns: f.conns, InFlight: f.inflight,
		Duration: f.duration, Warmup: f.warmup, Rate: f.rate, Traffic: traffic, STANs: benchSTANs(e.stderr)}
	if opts.TLS, err = f.client(); err != nil {
		return err
	}
	if opts.TLS != nil && f.compare {
		return usagef("--tls is for a switch at --addr (--compare runs its targets in process, plain)")
	}
	if f.serverPID > 0 {
		opts.CPU, opts.CPUScope = bench.PIDCPU(f.serverPID), fmt.Sprintf("server process %d", f.serverPID)
		if _, err := opts.CPU(); err != nil {
			return usagef("--server-pid %d: %v", f.serverPID, err)
		}
	}
	if isTerminal(e.stderr) { // the live progress line
		opts.Progress = e.stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if f.cpuProfile != "" {
		out, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var reps []*bench.Report
	var ratios []bench.Ratio
	if f.compare {
		if reps, ratios, err = runCompare(ctx, e, c, opts, f); err != nil {
			return err
		}
	} else {
		rep, err := bench.Run(ctx, opts)
		if err != nil {
			return err
		}
		rep.WriteText(e.stdout)
		reps = []*bench.Report{rep}
	}
	if err := writeReports(reps, ratios, f); err != nil {
		return err
	}
	var failed []error
	for _, r := range reps {
		if err := r.Check(f.maxFailed); err != nil {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

// writeReports writes the JSON (one report, or with --compare one
// bench.Comparison) and the HTML.
func writeReports(reps []*bench.Report, ratios []bench.Ratio, f *benchFlags) error {
	if f.jsonFile != "" {
		var doc any = reps[0]
		if f.compare {
			doc = bench.Comparison{Reports: reps, Ratios: ratios}
		}
		if err := writeJSONFile(f.jsonFile, doc); err != nil {
			return err
		}
	}
	if f.htmlFile != "" {
		out, err := os.Create(f.htmlFile)
		if err != nil {
			return err
		}
		if err := bench.WriteHTML(out, reps, ratios); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	return nil
}

func writeJSONFile(path string, doc any) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// benchTraffic plays the issuer data's terminals of the dialect's kind,
// with their keys decrypted under the test LMK (a terminal holds clear
// keys), and its active cards with PIN 1234. Its chip cards (a profile
// with emv settings) play only chip_purchase, with their IMK decrypted
// under the test LMK as the card was personalised: their other requests
// would need field 55 too.
func benchTraffic(data *issuer.Data, d *codec.Dialect, f *benchFlags) (bench.Traffic, error) {
	t := bench.Traffic{Dialect: d, Mix: bench.DefaultMix, Currency: "840"}
	if f.mixFile != "" {
		raw, err := os.ReadFile(f.mixFile)
		if err != nil {
			return t, err
		}
		t.Mix = bench.Mix{}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true) // a misspelt kind is refused, not silently weighed zero
		if err := dec.Decode(&t.Mix); err != nil {
			return t, usagef("--mix %s: %v (the kinds: purchase, pin_purchase, preauth, refund, reversal, balance, wrong_pin, over_limit, expired, chip_purchase)", f.mixFile, err)
		}
		if err := t.Mix.Validate(); err != nil {
			return t, usagef("--mix %s: %v", f.mixFile, err)
		}
	}
	if d.Name == codec.CUPPOS {
		t.Currency, t.Header = "156", "603100311000"
	}
	lmk := hsm.ThalesTestLMK()
	for _, tm := range data.Terminals {
		if (d.Name == codec.CUPPOS) != (len(tm.ID) == 8 && tm.ID[0] >= '0' && tm.ID[0] <= '9') {
			continue // UnionPay terminals have numeric IDs in the demo data
		}
		bt := bench.Terminal{ID: tm.ID, Merchant: tm.Merchant}
		if k, err := lmk.DecryptKey(hsm.KeyTypeTPK, tm.TPK); err == nil {
			bt.TPK = &k
		}
		if k, err := lmk.DecryptKey(hsm.KeyTypeTAK, tm.TAK); err == nil {
			bt.TAK = &k
		}
		t.Terminals = append(t.Terminals, bt)
	}
	for _, cd := range data.Cards {
		if cd.Status != "active" || (d.Name == codec.CUPPOS) != (cd.PAN[:2] == "62") {
			continue
		}
		bc := bench.Card{PAN: cd.PAN, Expiry: cd.Expiry, PIN: "1234"}
		p := data.Profile(cd.ProfileName())
		if p.EMV == nil {
			t.Cards = append(t.Cards, bc)
			continue
		}
		imk, err := lmk.DecryptKey(hsm.KeyTypeMKAC, p.EMV.IMK)
		if err != nil && t.Mix.ChipPurchase == 0 {
			continue // not played: a mix without chip purchases need not read its IMK
		}
		if err != nil {
			return t, fmt.Errorf("chip card %s: profile %s's IMK under the test LMK: %v", codec.MaskPAN(cd.PAN), p.Name, err)
		}
		t.Chips = append(t.Chips, bench.ChipCard{Card: bc, Chip: chipcard.Card{PAN: cd.PAN, PSN: 0x01, CVN: cvnNamed(p.EMV.CVN), IMK: imk}})
	}
	if p := data.Profile("standard"); p != nil {
		t.OverLimit = p.PerTxnMax + 1
	}
	var err error
	if t.MAC, err = macMethod(f.mac, d); err != nil {
		return t, err
	}
	if len(t.Terminals) == 0 || len(t.Cards) == 0 {
		return t, fmt.Errorf("no terminals or cards of the %s kind in the issuer data", d.Name)
	}
	if t.Mix.ChipPurchase > 0 && len(t.Chips) == 0 {
		return t, fmt.Errorf("the mix has chip_purchase, and the issuer data has no active chip cards of the %s kind", d.Name)
	}
	return t, nil
}
