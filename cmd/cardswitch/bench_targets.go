package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/bench"
	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/router"
)

// approveAll is the authorizer of the engine-only target: no checks.
type approveAll struct{}

func (approveAll) Authorize(t *engine.Txn) { t.SetCode("00"); engine.NewApprovalCode(t) }

// benchIssuer is the demo issuer data with its limits lifted, deep funds
// and 256 terminals, so a run measures the switch, not the limits.
func benchIssuer() ([]byte, error) {
	s := strings.NewReplacer("    daily_amount: 1000000", "    daily_amount: 0", "    daily_count: 50\n", "    daily_count: 0\n",
		"merchant_daily_count: 100000", "merchant_daily_count: 0", "terminal_daily_count: 50000", "terminal_daily_count: 0",
		"merchant_daily_amount: 100000000", "merchant_daily_amount: 0", "terminal_daily_amount: 50000000", "terminal_daily_amount: 0",
		"balance: 500000 ", "balance: 900000000000000 ").Replace(string(issuer.DemoYAML()))
	demo, err := issuer.ParseCounted(issuer.DemoYAML())
	if err != nil {
		return nil, err
	}
	n := len(demo.Terminals) // the counts count the terminals added below
	s = strings.Replace(s, fmt.Sprintf("terminals: %d}", n), fmt.Sprintf("terminals: %d}", n+256), 1)
	var b strings.Builder
	b.WriteString(s)
	for i := 1; i <= 256; i++ {
		fmt.Fprintf(&b, "  - id: BT%06d\n    merchant: MERCHANT0000001\n    status: active\n", i)
	}
	return []byte(b.String()), nil
}

// engineTarget runs the switch in process on a free loopback port.
// full: authorization, the journal (fsynced before each reply) and the
// software HSM; otherwise the engine, codec and routing only.
func engineTarget(name string, full bool, dialect, framing string) bench.Target {
	desc := "cardswitch: engine, codec and routing; approves everything, no journal"
	if full {
		desc = "cardswitch: authorization, limits, journal fsynced before each reply"
	}
	return bench.Target{Name: name, Description: desc, Start: func(ctx context.Context) (string, func(), error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		addr := ln.Addr().String()
		ln.Close()
		cfg := engine.Config{Links: []engine.LinkConfig{{Name: "bench", Listen: addr, Dialect: dialect, Framing: framing,
			MaxInFlight: 1024, MaxConnsPerIP: 10000}}} // the generator is one address
		rt, _ := router.Compile([]router.Rule{{Name: "all", Action: router.Local}}, "15")
		// at info, the default log.level: per-message lines are debug, and the bench measures the default
		deps := engine.Deps{Log: zerolog.New(io.Discard).Level(zerolog.InfoLevel), Router: router.New(rt), Authorizer: approveAll{}, Journal: engine.NoJournal{}}
		var cleanup []func()
		if full {
			if cleanup, err = fullDeps(&deps); err != nil {
				return "", nil, err
			}
		}
		srv, err := engine.New(cfg, deps)
		if err == nil {
			err = srv.Start(ctx)
		}
		if err != nil {
			return "", nil, err
		}
		return addr, func() {
			_ = srv.Shutdown(context.Background())
			for _, f := range cleanup {
				f()
			}
		}, nil
	}}
}

func fullDeps(deps *engine.Deps) ([]func(), error) {
	raw, _ := benchIssuer()
	data, err := issuer.Parse(raw)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cardswitch-bench-")
	if err != nil {
		return nil, err
	}
	prot, err := journal.LoadOrCreateKeys(filepath.Join(dir, "journal.key"))
	if err != nil {
		return nil, err
	}
	authz, err := auth.New(data, prot.HashPAN, auth.Limits{})
	if err != nil {
		return nil, err
	}
	j, err := journal.Open(journal.Options{Dir: filepath.Join(dir, "journal")})
	if err != nil {
		return nil, err
	}
	deps.Authorizer = engine.AuthStage{A: authz, P: prot}
	deps.Journal = engine.JournalStage{J: j, P: prot}
	deps.HSM = &hsm.Soft{LMK: hsm.ThalesTestLMK()}
	deps.Keys = &engine.Keys{Current: authz.Data}
	return []func(){func() { j.Close(); os.RemoveAll(dir) }}, nil
}

// compareTraffic is the comparison's traffic: 0200 purchases on the bench
// issuer data's terminals, no PIN, no MAC.
func compareTraffic(d *codec.Dialect) (bench.Traffic, error) {
	raw, _ := benchIssuer()
	data, err := issuer.Parse(raw)
	if err != nil {
		return bench.Traffic{}, err
	}
	t := bench.Traffic{Dialect: d, Mix: bench.PurchaseOnly, Currency: "840",
		Cards: []bench.Card{{PAN: "4761739001010010", Expiry: "2812", PIN: "1234"}}}
	for _, tm := range data.Terminals {
		if strings.HasPrefix(tm.ID, "BT") {
			t.Terminals = append(t.Terminals, bench.Terminal{ID: tm.ID, Merchant: tm.Merchant})
		}
	}
	return t, nil
}

// hostTarget runs the issuer simulator alone, as the switched target's
// host is run (answering 00 at once), but speaking the generator's dialect
// and framing: the switched target's latency less this one's is what the
// switch adds to a forwarded request.
func hostTarget(dialect, framing string) bench.Target {
	return bench.Target{Name: "host", Description: "the issuer simulator alone (the switched target's host), answering the generator directly",
		Start: func(context.Context) (string, func(), error) {
			is, err := sim.Start("127.0.0.1:0", sim.Config{Dialect: dialect, Framing: framing})
			if err != nil {
				return "", nil, err
			}
			return is.Addr(), func() { is.Close() }, nil
		}}
}

// switchedTarget runs the switch in process forwarding every request to an
// issuer simulator in process (bench/sim, iso87ascii over binary2,
// answering 00 at once), with the journal on: the forwarding path, both
// legs, the mapping and the final record fsynced before each reply.
func switchedTarget(dialect, framing string) bench.Target {
	return bench.Target{Name: "switched", Description: "cardswitch forwarding to an in-process issuer simulator, journal fsynced before each reply",
		Start: func(ctx context.Context) (string, func(), error) {
			is, err := sim.Start("127.0.0.1:0", sim.Config{Dialect: codec.ISO87ASCII, Framing: "binary2"})
			if err != nil {
				return "", nil, err
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				is.Close()
				return "", nil, err
			}
			addr := ln.Addr().String()
			ln.Close()
			cfg := engine.Config{Links: []engine.LinkConfig{{Name: "bench", Listen: addr, Dialect: dialect, Framing: framing,
				MaxInFlight: 1024, MaxConnsPerIP: 10000}},
				Destinations: []engine.DestinationConfig{{Name: "sim", Dialect: codec.ISO87ASCII, Framing: "binary2",
					Endpoints: []engine.Endpoint{{Address: is.Addr()}}, Connections: 4, MaxInFlight: 65536}}}
			rt, _ := router.Compile([]router.Rule{{Name: "all", Action: router.Upstream, Destination: "sim"}}, "15")
			deps := engine.Deps{Log: zerolog.New(io.Discard).Level(zerolog.InfoLevel), Router: router.New(rt), Authorizer: approveAll{}}
			cleanup, err := fullDeps(&deps)
			if err != nil {
				is.Close()
				return "", nil, err
			}
			cleanup = append(cleanup, func() { is.Close() })
			srv, err := engine.New(cfg, deps)
			if err == nil {
				err = srv.Start(ctx)
			}
			if err == nil {
				err = srv.WaitDestinations(ctx)
			}
			if err != nil {
				for _, f := range cleanup {
					f()
				}
				return "", nil, err
			}
			return addr, func() {
				_ = srv.Shutdown(context.Background())
				for _, f := range cleanup {
					f()
				}
			}, nil
		}}
}
