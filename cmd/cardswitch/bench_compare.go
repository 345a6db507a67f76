package main

import (
	"context"

	"github.com/cardswitch/cardswitch/bench"
	"github.com/cardswitch/cardswitch/codec"
)

// runCompare runs the comparison: (a) a raw echo, (b) the moov peer, (c) the
// engine alone, (d) the whole switch, (e) the switch forwarding to an
// issuer simulator, on the same purchases.
func runCompare(ctx context.Context, e *env, c *config, opts bench.Options, f *benchFlags) ([]*bench.Report, []bench.Ratio, error) {
	d, _ := codec.Lookup(f.dialect)
	t, err := compareTraffic(d)
	if err != nil {
		return nil, nil, err
	}
	opts.Traffic = t
	targets := append(peerTargets(f.dialect, f.framing),
		engineTarget("engine", false, f.dialect, f.framing),
		engineTarget("full", true, f.dialect, f.framing),
		switchedTarget(f.dialect, f.framing))
	reps, err := bench.Compare(ctx, opts, targets, e.stderr)
	if err != nil {
		return reps, nil, err
	}
	ratios := bench.Ratios(reps, []string{"echo", "moov"}, []string{"engine", "full", "switched"})
	bench.WriteComparison(e.stdout, reps, ratios)
	return reps, ratios, nil
}
