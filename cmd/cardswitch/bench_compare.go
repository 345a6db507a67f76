package main

import (
	"context"
	"fmt"
	"io"
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
		hostTarget(f.dialect, f.framing),
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
	writeAdded(e.stdout, reps)
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

// writeAdded prints what the switch adds to a forwarded request: the
// switched target's latency less its host's alone, at p50 and p99 (both
// runs at the same load, so the host's own queueing is in both).
func writeAdded(w io.Writer, reps []*bench.Report) {
	var host, sw *bench.Report
	for _, r := range reps {
		switch r.Target {
		case "host":
			host = r
		case "switched":
			sw = r
		}
	}
	if host == nil || sw == nil || host.AsPlanned == 0 || sw.AsPlanned == 0 {
		return
	}
	fmt.Fprintf(w, "switched over its host alone: p50 %+dµs, p99 %+dµs\n", sw.Latency.P50-host.Latency.P50, sw.Latency.P99-host.Latency.P99)
}
