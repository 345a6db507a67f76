package main

import (
	"context"
	"slices"
	"strings"

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
	if targets, err = pickTargets(targets, f.targets); err != nil {
		return nil, nil, err
	}
	reps, err := bench.Compare(ctx, opts, targets, e.stderr)
	if err != nil {
		return reps, nil, err
	}
	ratios := bench.Ratios(reps, []string{"echo", "moov"}, []string{"engine", "full", "switched"})
	ratios = append(ratios, bench.Ratios(reps, []string{"engine"}, []string{"full", "switched"})...) // what authorization and the journal cost
	bench.WriteComparison(e.stdout, reps, ratios)
	return reps, ratios, nil
}

// pickTargets keeps the targets named in list (comma-separated, in the
// comparison's order); an empty list keeps them all.
func pickTargets(all []bench.Target, list string) ([]bench.Target, error) {
	if list == "" {
		return all, nil
	}
	names := strings.Split(list, ",")
	var out []bench.Target
	for _, t := range all {
		if slices.Contains(names, t.Name) {
			out = append(out, t)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(all, func(t bench.Target) bool { return t.Name == n }) {
			known := make([]string, len(all))
			for i, t := range all {
				known[i] = t.Name
			}
			return nil, usagef("--targets: no target %q (there are %s)", n, strings.Join(known, ", "))
		}
	}
	return out, nil
}
