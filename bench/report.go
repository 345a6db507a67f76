package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"
)

// Report is the outcome of a run. Every count is of the measured requests
// (due after the warm-up, before the end): Sent = Answered + Timeouts +
// those lost to errors (a connection closed, a reply that did not decode).
type Report struct {
	Target   string  `json:"target,omitempty"`
	Addr     string  `json:"addr"`
	Conns    int     `json:"conns"`
	InFlight int     `json:"inflight"`
	Rate     int     `json:"rate,omitempty"`
	Seconds  float64 `json:"seconds"`
	Sent     int64   `json:"sent"`
	Answered int64   `json:"answered"` // in time, any code
	// AsPlanned are the answers with the code the mix planned: approvals
	// for purchases, 55 for a wrong PIN, 54 for an expired card, ...
	AsPlanned int64 `json:"as_planned"`
	// Throughput is AsPlanned per second: a run answered 94 (duplicate)
	// or 30 (format error) has none.
	Throughput     float64          `json:"throughput_per_s"`
	AnswerRate     float64          `json:"answers_per_s"`   // Answered per second, whatever the code
	Duplicates     int64            `json:"duplicates"`      // 94
	FormatErrors   int64            `json:"format_errors"`   // 30
	SystemErrors   int64            `json:"system_errors"`   // 96, 91
	OtherUnplanned int64            `json:"other_unplanned"` // any other code than planned: declines, or 00 where a decline was planned
	Codes          map[string]int64 `json:"response_codes"`
	Timeouts       int64            `json:"timeouts"` // answered late, or never
	Errors         int64            `json:"errors"`
	Undecoded      int64            `json:"undecoded"` // replies that did not decode (of Errors)
	Unmatched      int64            `json:"unmatched"` // replies naming no request waiting (no STAN, or one not sent)
	// ClosedByPeer are the connections the server closed before the
	// end, ClosedAtOnce those of them closed before any reply.
	ClosedByPeer int64   `json:"closed_by_peer"`
	ClosedAtOnce int64   `json:"closed_at_once"`
	Latency      Latency `json:"latency_us"`
	// CPU is the server's CPU time per answer as planned, when the run
	// could sample it (Options.CPU): nil otherwise.
	CPU *CPU `json:"cpu,omitempty"`
	// PerSecond are the answers as planned in each whole second of the
	// run, the warm-up's first (WarmupSeconds of them), the drain after
	// the end left out; AnsweredPerSecond the same for every answer.
	PerSecond         []int64  `json:"per_second"`
	AnsweredPerSecond []int64  `json:"answered_per_second"`
	WarmupSeconds     float64  `json:"warmup_seconds"`
	Percentile        []Point  `json:"distribution"`
	Warnings          []string `json:"warnings,omitempty"`
	Params            Params   `json:"params"`
}

// Params are what a run was: the load, the traffic, the machine.
type Params struct {
	Dialect   string    `json:"dialect"`
	Framing   string    `json:"framing"`
	TLS       bool      `json:"tls,omitempty"` // the connections were TLS (Options.TLS)
	Mix       Mix       `json:"mix"`
	Started   time.Time `json:"started"`
	Commit    string    `json:"commit,omitempty"` // of the generator's build (vcs.revision), "+dirty" if modified
	GoVersion string    `json:"go_version"`
	CPUs      int       `json:"cpus"`
	OS        string    `json:"os"`
}

func params(opts Options, start time.Time) Params {
	p := Params{Framing: opts.Framing.String(), TLS: opts.TLS != nil, Mix: opts.Traffic.Mix, Started: start.UTC().Truncate(time.Second),
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if opts.Traffic.Dialect != nil {
		p.Dialect = opts.Traffic.Dialect.Name
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				p.Commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && p.Commit != "" {
			p.Commit += "+dirty"
		}
	}
	return p
}

// Latency are percentiles in microseconds, from an HDR histogram.
type Latency struct {
	P50, P90, P99, P999, Max int64
}

// Point is one point of the latency distribution.
type Point struct {
	Percentile float64 `json:"percentile"`
	Micros     int64   `json:"us"`
}

func buildReport(opts Options, conns []*conn, c *counters, start, from, end time.Time) *Report {
	h := mergeHist(conns)
	r := &Report{Addr: opts.Addr, Conns: opts.Conns, InFlight: opts.InFlight, Rate: opts.Rate,
		Seconds: end.Sub(from).Seconds(), Sent: c.sent.Load(), Timeouts: c.timeouts.Load(), Errors: c.errors.Load(),
		Undecoded: c.undecoded.Load(), Unmatched: c.unmatched.Load(), ClosedByPeer: c.closedByPeer.Load(),
		ClosedAtOnce: c.closedAtOnce.Load(), Codes: map[string]int64{}, WarmupSeconds: opts.Warmup.Seconds(), Params: params(opts, start)}
	for _, cn := range conns {
		cn.mu.Lock()
		for code, n := range cn.codes {
			r.Codes[code] += n
			r.Answered += n
		}
		r.AsPlanned += cn.planned
		for _, s := range cn.pending {
			if s.measure {
				r.Timeouts++ // never answered
			}
		}
		cn.mu.Unlock()
	}
	r.classify(opts.Echo)
	r.Throughput = float64(r.AsPlanned) / r.Seconds
	r.AnswerRate = float64(r.Answered) / r.Seconds
	r.Latency = Latency{P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90), P99: h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9), Max: h.Max()}
	r.Percentile = append(r.Percentile, Point{0, h.Min()}) // ValueAtQuantile(0) is 0, not the least value
	for _, p := range []float64{10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100} {
		r.Percentile = append(r.Percentile, Point{p, h.ValueAtQuantile(p)})
	}
	whole := int(end.Sub(start) / time.Second) // the drain after end is left out
	for i := 0; i < whole && i < len(c.perSecond); i++ {
		r.PerSecond = append(r.PerSecond, c.plannedPerSecond[i].Load())
		r.AnsweredPerSecond = append(r.AnsweredPerSecond, c.perSecond[i].Load())
	}
	return r
}

// classify sorts the answers not as planned by what they say.
func (r *Report) classify(echo bool) {
	if echo {
		return
	}
	for code, n := range r.Codes {
		switch code {
		case "94":
			r.Duplicates += n
		case "30":
			r.FormatErrors += n
		case "96", "91":
			r.SystemErrors += n
		}
	}
	r.OtherUnplanned = max(r.Answered-r.AsPlanned-r.Duplicates-r.FormatErrors-r.SystemErrors, 0)
}

// Failed is the share of the requests sent that failed: timeouts, errors,
// duplicates, format errors and system errors (declines of other kinds
// are the switch's answer, not a failure). 1 when nothing was sent.
func (r *Report) Failed() float64 {
	if r.Sent == 0 {
		return 1
	}
	bad := r.Timeouts + r.Errors + r.Duplicates + r.FormatErrors + r.SystemErrors
	return min(float64(bad)/float64(r.Sent), 1)
}

func us(v int64) string { return (time.Duration(v) * time.Microsecond).String() }

// DefaultMaxFailed is the share of failed requests (Failed) past which
// a run is not a measurement: one in a hundred.
const DefaultMaxFailed = 0.01

// Check returns an error when the run did not measure the target: no
// request answered in time, or more than maxFailed of them failed
// (Failed). It hints at a dialect or framing not the port's when replies
// did not decode or match, or the server closed the connections.
func (r *Report) Check(maxFailed float64) error {
	name := r.Target
	if name == "" {
		name = r.Addr
	}
	var hint string
	switch {
	case r.ClosedAtOnce > 0:
		hint = fmt.Sprintf("; the server closed %d of %d connections before any reply: is %s the port's framing, %s its dialect?",
			r.ClosedAtOnce, r.Conns, r.Params.Framing, r.Params.Dialect)
	case r.Undecoded > 0 || (r.Unmatched > 0 && r.Answered == 0):
		hint = fmt.Sprintf("; %d replies did not decode as %s and %d named no request: is %s the port's dialect, %s its framing?",
			r.Undecoded, r.Params.Dialect, r.Unmatched, r.Params.Dialect, r.Params.Framing)
	case r.ClosedByPeer > 0:
		hint = fmt.Sprintf("; the server closed %d connections during the run", r.ClosedByPeer)
	}
	if r.Answered == 0 {
		return fmt.Errorf("%s: none of %d requests answered in time (%d timeouts, %d errors)%s", name, r.Sent, r.Timeouts, r.Errors, hint)
	}
	if f := r.Failed(); f > maxFailed {
		return fmt.Errorf("%s: %.1f%% of %d requests failed, over the %.1f%% allowed (--max-error-rate): %d duplicates (94), "+
			"%d format errors (30), %d system errors (96/91), %d timeouts, %d errors%s",
			name, 100*f, r.Sent, 100*maxFailed, r.Duplicates, r.FormatErrors, r.SystemErrors, r.Timeouts, r.Errors, hint)
	}
	return nil
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	secure := ""
	if r.Params.TLS {
		secure = ", TLS"
	}
	fmt.Fprintf(w, "target      %s (%s, %s%s)\n", strings.TrimSpace(r.Target+" "+r.Addr), r.Params.Dialect, r.Params.Framing, secure)
	fmt.Fprintf(w, "load        %d connections x %d in flight", r.Conns, r.InFlight)
	if r.Rate > 0 {
		fmt.Fprintf(w, ", open loop at %d msg/s", r.Rate)
	} else {
		fmt.Fprintf(w, ", closed loop")
	}
	fmt.Fprintf(w, ", %s measured after %s of warm-up\n", fmtSeconds(r.Seconds), fmtSeconds(r.WarmupSeconds))
	fmt.Fprintf(w, "throughput  %.0f msg/s answered as planned (%d of %d sent)\n", r.Throughput, r.AsPlanned, r.Sent)
	fmt.Fprintf(w, "not planned %d duplicates (94), %d format errors (30), %d system errors (96/91), %d other codes, %d timeouts, %d errors\n",
		r.Duplicates, r.FormatErrors, r.SystemErrors, r.OtherUnplanned, r.Timeouts, r.Errors)
	fmt.Fprintf(w, "latency     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s (every answer)\n", us(r.Latency.P50), us(r.Latency.P90), us(r.Latency.P99), us(r.Latency.P999), us(r.Latency.Max))
	if r.CPU != nil {
		fmt.Fprintf(w, "cpu         %.1f µs per message as planned (%s: %.2f s over the measured window)\n", r.CPU.MicrosPerMsg, r.CPU.Scope, r.CPU.Seconds)
	}
	var b strings.Builder
	for _, c := range r.codeList() {
		fmt.Fprintf(&b, " %s:%d", c, r.Codes[c])
	}
	fmt.Fprintf(w, "codes      %s\n", b.String())
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning     %s\n", warn)
	}
}

// codeList is the response codes seen, sorted; "" (no field 39) shows as "none".
func (r *Report) codeList() []string {
	codes := make([]string, 0, len(r.Codes))
	for c := range r.Codes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return codes
}

// WriteJSON writes the report as JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
