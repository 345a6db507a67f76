package bench

import (
	"context"
	"fmt"
	"io"
)

// Compare runs the same traffic against each target in turn, and returns
// their reports in order.
func Compare(ctx context.Context, opts Options, targets []Target, log io.Writer) ([]*Report, error) {
	var out []*Report
	for _, t := range targets {
		addr, stop, err := t.Start(ctx)
		if err != nil {
			return out, fmt.Errorf("bench: %s: %w", t.Name, err)
		}
		if log != nil {
			fmt.Fprintf(log, "running %s (%s) at %s\n", t.Name, t.Description, addr)
		}
		o := opts
		o.Addr = addr
		rep, err := Run(ctx, o)
		stop()
		if err != nil {
			return out, fmt.Errorf("bench: %s: %w", t.Name, err)
		}
		rep.Target = t.Name
		out = append(out, rep)
	}
	return out, nil
}

// WriteComparison prints one line per target, then the ratios of the
// switch's modes to each baseline.
func WriteComparison(w io.Writer, reps []*Report, baselines, subjects []string) {
	fmt.Fprintf(w, "%-8s %12s %10s %10s %10s %10s %10s\n", "target", "msg/s", "p50", "p90", "p99", "p99.9", "max")
	by := map[string]*Report{}
	for _, r := range reps {
		by[r.Target] = r
		fmt.Fprintf(w, "%-8s %12.0f %10s %10s %10s %10s %10s\n", r.Target, r.Throughput, us(r.Latency.P50), us(r.Latency.P90),
			us(r.Latency.P99), us(r.Latency.P999), us(r.Latency.Max))
	}
	for _, s := range subjects {
		for _, b := range baselines {
			if by[s] != nil && by[b] != nil && by[b].Throughput > 0 {
				fmt.Fprintf(w, "%s / %s = %.2f\n", s, b, by[s].Throughput/by[b].Throughput)
			}
		}
	}
}
