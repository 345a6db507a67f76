package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
)

// simFlags are sim issuer's.
type simFlags struct {
	listen, dialect, framing, rules, latency string
	connect                                  string // dial the switch (a destination's listen address) instead of listening
	connections                              int
	signOn                                   bool
	zmk, zpk, zak, zoneMAC, pin              string
	keyChangeCode                            int
	seed                                     uint64
	echoIdle                                 time.Duration
	seedSet, latencySet, listenSet           bool
	client                                   clientFlags // sim client's (sim_client.go)
	tls                                      tlsFlags
}

func init() {
	register(&command{
		name: "sim",
		args: "issuer | client --script FILE",
		summary: "Simulators for testing a switch or an acquirer without the real hosts.\n\n" +
			"issuer: an issuer host that answers ISO 8583 requests by rules (amount thresholds, PAN prefix\n" +
			"ranges, response codes by percentage; default approve), with a latency distribution and faults\n" +
			"on demand (slow, no_answer, drop, wrong_mac, twice, late). It answers 0800 sign-on, sign-off\n" +
			"and echo tests with 0810/00, and with --echo-idle sends its own. With --zpk it checks PIN blocks\n" +
			"(against --pin), with --zak MACs, with --zmk it takes zone key changes (0800, 70 = 161).\n" +
			"--rules names a YAML file (see the README, \"Issuer simulator\"). With --connect it dials the\n" +
			"switch (a destination's listen address: issuer-initiated links) instead of listening, signs on\n" +
			"with --sign-on, and dials again a second after a connection ends. --tls serves TLS (--cert,\n" +
			"--key; with --ca, client certificates required), or with --connect dials TLS.\n" +
			"It books the reversals and advices it is sent (0420/0421, 0220/0221, 0120/0121) by class, RRN and STAN.\n" +
			"SIGINT or SIGTERM stops it; it then prints its counters: received, answered by code, faults,\n" +
			"reversals and advices with their repeats and duplicates.\n\n" +
			"client: a terminal or acquirer that runs a script of exchanges against a switch (--addr): each\n" +
			"step a request in the JSON form with variables (${stan}, ${rrn}, ${now}, values of earlier\n" +
			"requests and replies such as ${purchase.request.11}), a PIN block and a MAC under the terminal's\n" +
			"keys and a chip card's ARQC as send makes them, and the answer expected (MTI, field values,\n" +
			"regular expressions, present or absent). It prints a line a step (MTI sent and received, 39,\n" +
			"pass or the reasons it failed, latency), with --junit a JUnit XML report, and exits 1 when a\n" +
			"step fails; --tls (with --ca, --cert, --key) for a TLS link. See the README,\n" +
			"\"Scripted client simulator\"; examples/scripts has scripts for the demo data.",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			f := &simFlags{}
			fs.StringVar(&f.listen, "listen", "127.0.0.1:9583", "address to listen on (port 0: any free port, printed)")
			fs.StringVar(&f.dialect, "dialect", codec.ISO87ASCII, "dialect: iso87ascii, iso87ascii-bbitmap, iso87binary, cup-pos, or a moov JSON spec file")
			fs.StringVar(&f.framing, "framing", "binary2", "framing: binary2, ascii4 or bcd2, optionally +tpdu")
			fs.StringVar(&f.connect, "connect", "", "dial this address (a switch destination's listen address) instead of listening")
			fs.IntVar(&f.connections, "connections", 1, "with --connect: the connections kept (1 to 64)")
			fs.BoolVar(&f.signOn, "sign-on", false, "with --connect: send an 0800 sign-on (70 = 001) first on each connection")
			fs.StringVar(&f.rules, "rules", "", "YAML rules file (default: approve everything at once)")
			fs.DurationVar(&f.echoIdle, "echo-idle", 0, "send an echo test (0800, 70 = 301) on a connection idle this long (0: never; not on cup-pos)")
			fs.Uint64Var(&f.seed, "seed", 0, "seed of every draw (default: the rules file's, else 0)")
			fs.StringVar(&f.zmk, "zmk", "", "zone master key shared with the switch, in clear (32 hex digits; test keys only): takes and sends key changes")
			fs.StringVar(&f.zpk, "zpk", "", "zone PIN key, in clear: field 52 is decrypted and checked against --pin (wrong: 55)")
			fs.StringVar(&f.zak, "zak", "", "zone MAC key, in clear: requests' MACs are verified and replies MACed (method --zone-mac)")
			fs.StringVar(&f.zoneMAC, "zone-mac", "x919", "MAC method under the ZAK: x919, alg1, cmac or cup")
			fs.StringVar(&f.pin, "pin", "", "the PIN every card has, checked under the ZPK (default: any PIN that decodes)")
			fs.IntVar(&f.keyChangeCode, "key-change-code", 161, "field 70 of a zone key change")
			f.tls.register(fs, "with --tls, PEM certificate: the issuer's (listening: required), or the client certificate (issuer --connect, client)",
				"with --tls, PEM CA bundle: listening, client certificates are required and checked against it (the switch's destinations[].tls.cert); issuer --connect and client: the switch's certificate must chain to it")
			fs.StringVar(&f.latency, "latency", "", `answer delay: 2ms, "uniform 1ms 5ms", "normal mean=2ms p99=5ms", "lognormal mean=2ms p99=20ms" (default: the rules file's, else none)`)
			c := &f.client
			fs.StringVar(&c.script, "script", "", "client: the script to run (YAML)")
			fs.StringVar(&c.addr, "addr", "127.0.0.1:8583", "client: the switch address")
			fs.StringVar(&c.tpdu, "tpdu", "6000010000", "client: TPDU for a +tpdu framing, 10 hex digits (a script's tpdu wins over this default)")
			fs.StringVar(&c.header, "header", "603100311000", "client: message header (hex) for dialects that have one, when a request has none (a script's header wins over this default)")
			fs.StringVar(&c.config, "config", "", "client: configuration whose issuer data holds the terminals' keys (default: the embedded one)")
			fs.StringVar(&c.junit, "junit", "", "client: also write the report to this file as JUnit XML")
			fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "client: connect and reply timeout of a step, unless the script or the step sets one")
			return func(args []string, e *env) error {
				c.set = map[string]bool{}
				fs.Visit(func(fl *flag.Flag) { c.set[fl.Name] = true })
				if len(args) == 1 && args[0] == "client" {
					return runSimClient(e, f)
				}
				if len(args) != 1 || args[0] != "issuer" {
					return usagef("say issuer or client")
				}
				if c.script != "" {
					return usagef("--script goes with client")
				}
				fs.Visit(func(fl *flag.Flag) {
					f.seedSet = f.seedSet || fl.Name == "seed"
					f.latencySet = f.latencySet || fl.Name == "latency"
					f.listenSet = f.listenSet || fl.Name == "listen"
				})
				cfg, err := f.config()
				if err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				if f.connect != "" {
					return runSimDialler(ctx, e, f.connect, cfg)
				}
				return runSimIssuer(ctx, e, f.listen, cfg)
			}
		},
	})
}

// config builds the simulator's configuration from the flags and the
// rules file; a flag that does not parse is a usage error.
func (f *simFlags) config() (sim.Config, error) {
	cfg := sim.Config{Dialect: f.dialect, Framing: f.framing, ZMK: f.zmk, ZPK: f.zpk, ZAK: f.zak, ZoneMAC: f.zoneMAC,
		PIN: f.pin, KeyChangeCode: f.keyChangeCode}
	if _, err := codec.Lookup(f.dialect); err != nil {
		return cfg, usagef("--dialect: %v", err)
	}
	if _, err := codec.ParseFraming(f.framing); err != nil {
		return cfg, usagef("--framing: %v", err)
	}
	if f.rules != "" {
		r, err := sim.LoadRules(f.rules)
		if err != nil {
			return cfg, fmt.Errorf("--rules %s: %v", f.rules, err)
		}
		cfg.Rules = r
	}
	if f.seedSet {
		cfg.Rules.Seed = f.seed
	}
	if f.latencySet {
		if _, err := sim.ParseLatency(f.latency); err != nil {
			return cfg, usagef("--latency: %v", err)
		}
		cfg.Rules.Latency = f.latency
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	var err error
	if f.connect == "" {
		cfg.TLS, err = f.tls.server()
	} else {
		cfg.TLS, err = f.tls.client()
	}
	if err != nil {
		return cfg, err
	}
	if cfg.EchoIdle = f.echoIdle; cfg.Validate() != nil {
		return cfg, usagef("--echo-idle: %v", cfg.Validate())
	}
	if f.connect == "" {
		if f.signOn || f.connections > 1 {
			return cfg, usagef("--sign-on and --connections go with --connect")
		}
		return cfg, nil
	}
	if f.listenSet {
		return cfg, usagef("--listen or --connect, not both")
	}
	if _, _, err := net.SplitHostPort(f.connect); err != nil {
		return cfg, usagef("--connect: %q is not host:port", f.connect)
	}
	if cfg.DialConns, cfg.SignOn = f.connections, f.signOn; cfg.Validate() != nil {
		return cfg, usagef("--connect: %v", cfg.Validate())
	}
	return cfg, nil
}

// runSimIssuer binds addr first and says "listening" only once it holds
// the port, with the address bound (port 0 shows the one taken); when ctx
// ends it closes the simulator and prints its counters on stdout.
func runSimIssuer(ctx context.Context, e *env, addr string, cfg sim.Config) error {
	is, err := sim.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		is.Close()
		return err
	}
	secure := ""
	if cfg.TLS != nil {
		ln, secure = tls.NewListener(ln, cfg.TLS), " (TLS)"
	}
	fmt.Fprintf(e.stderr, "issuer simulator (%s, %s, %d rules, latency %s, seed %d) listening on %s%s\n",
		is.Dialect().Name, is.Framing(), len(cfg.Rules.Rules), latencyText(cfg.Rules.Latency), cfg.Rules.Seed, ln.Addr(), secure)
	served := make(chan error, 1)
	go func() { served <- is.Serve(ln) }()
	select {
	case <-ctx.Done():
		err = nil
	case err = <-served: // the listener failed
	}
	is.Close()
	is.Stats().WriteText(e.stdout)
	return err
}

// runSimDialler keeps the simulator's connections to addr (a switch
// destination's listen address) until ctx ends, then closes it and prints
// its counters on stdout.
func runSimDialler(ctx context.Context, e *env, addr string, cfg sim.Config) error {
	is, err := sim.Dial(addr, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "issuer simulator (%s, %s, %d rules, latency %s, seed %d) connecting to %s (%d connections, sign-on %v)\n",
		is.Dialect().Name, is.Framing(), len(cfg.Rules.Rules), latencyText(cfg.Rules.Latency), cfg.Rules.Seed, addr, cfg.DialConns, cfg.SignOn)
	<-ctx.Done()
	is.Close()
	is.Stats().WriteText(e.stdout)
	return nil
}

func latencyText(spec string) string {
	l, _ := sim.ParseLatency(spec) // checked by Validate
	if l.Kind == sim.LatencyNone {
		return "none"
	}
	return l.String()
}
