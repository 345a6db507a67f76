package bench

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/cardswitch/cardswitch/internal/proc"
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
		o.Addr, o.Echo = addr, t.Echo
		if o.CPU == nil { // every target runs in this process: its CPU is the process's
			o.CPU, o.CPUScope = proc.CPU, ProcessScope
		}
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

// Ratio is a subject's throughput over a baseline's (both as planned).
type Ratio struct {
	Subject  string  `json:"subject"`
	Baseline string  `json:"baseline"`
	Ratio    float64 `json:"ratio"`
}

// Ratios are the subjects' throughputs over each baseline's, where both
// ran and the baseline answered as planned.
func Ratios(reps []*Report, baselines, subjects []string) []Ratio {
	by := map[string]*Report{}
	for _, r := range reps {
		by[r.Target] = r
	}
	var out []Ratio
	for _, s := range subjects {
		for _, b := range baselines {
			if by[s] != nil && by[b] != nil && by[b].Throughput > 0 {
				out = append(out, Ratio{s, b, by[s].Throughput / by[b].Throughput})
			}
		}
	}
	return out
}

// Comparison is what --compare writes as JSON: one document.
type Comparison struct {
	Reports []*Report `json:"reports"`
	Ratios  []Ratio   `json:"ratios"`
}

// WriteComparison prints one line per target, then the ratios of the
// switch's modes to each baseline. msg/s counts the answers as planned;
// the answers that were not (duplicates, format errors, other codes) and
// the timeouts are counted apart.
func WriteComparison(w io.Writer, reps []*Report, ratios []Ratio) {
	fmt.Fprintf(w, "%-8s %12s %10s %10s %10s %10s %10s %12s %9s %10s\n", "target", "msg/s", "p50", "p90", "p99", "p99.9", "max", "not planned", "timeouts", "cpu µs/msg")
	for _, r := range reps {
		fmt.Fprintf(w, "%-8s %12.0f %10s %10s %10s %10s %10s %12d %9d %10s\n", r.Target, r.Throughput, us(r.Latency.P50), us(r.Latency.P90),
			us(r.Latency.P99), us(r.Latency.P999), us(r.Latency.Max), r.Answered-r.AsPlanned, r.Timeouts, cpuText(r.CPU))
	}
	if len(reps) > 0 && reps[0].CPU != nil {
		fmt.Fprintf(w, "cpu: %s, over the answers as planned\n", reps[0].CPU.Scope)
	}
	if over := beyondEcho(reps); over != "" {
		fmt.Fprintf(w, "cpu beyond echo's (the generator's share and a bare echo taken out): %s\n", over)
	}
	for _, q := range ratios {
		fmt.Fprintf(w, "%s / %s = %.2f\n", q.Subject, q.Baseline, q.Ratio)
	}
}

// cpuText is the CPU figure for a table: "-" without one.
func cpuText(c *CPU) string {
	if c == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", c.MicrosPerMsg)
}

// beyondEcho is each in-process target's CPU per message less the echo
// target's in the same comparison: what the generator and a bare echo
// cost taken out, about the server's own. "" without an echo figure.
func beyondEcho(reps []*Report) string {
	var echo *CPU
	for _, r := range reps {
		if r.Target == "echo" && r.CPU != nil && r.CPU.Scope == ProcessScope {
			echo = r.CPU
		}
	}
	if echo == nil {
		return ""
	}
	var parts []string
	for _, r := range reps {
		if r.Target != "echo" && r.CPU != nil && r.CPU.Scope == ProcessScope {
			parts = append(parts, fmt.Sprintf("%s %.1f µs", r.Target, r.CPU.MicrosPerMsg-echo.MicrosPerMsg))
		}
	}
	return strings.Join(parts, ", ")
}
