package bench

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
)

// Report is the outcome of a run.
type Report struct {
	Target     string           `json:"target,omitempty"`
	Addr       string           `json:"addr"`
	Conns      int              `json:"conns"`
	InFlight   int              `json:"inflight"`
	Rate       int              `json:"rate,omitempty"`
	Seconds    float64          `json:"seconds"`
	Sent       int64            `json:"sent"`
	Answered   int64            `json:"answered"`
	Throughput float64          `json:"throughput_per_s"`
	Codes      map[string]int64 `json:"response_codes"`
	Timeouts   int64            `json:"timeouts"`
	Errors     int64            `json:"errors"`
	Latency    Latency          `json:"latency_us"`
	PerSecond  []int64          `json:"per_second"` // answers in each second of the run, warm-up included
	Percentile []Point          `json:"distribution"`
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
		Codes: map[string]int64{}}
	for _, cn := range conns {
		for code, n := range cn.codes {
			r.Codes[code] += n
			r.Answered += n
		}
		r.Timeouts += int64(len(cn.pending)) // never answered
	}
	r.Throughput = float64(r.Answered) / r.Seconds
	r.Latency = Latency{P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90), P99: h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9), Max: h.Max()}
	for _, p := range []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100} {
		r.Percentile = append(r.Percentile, Point{p, h.ValueAtQuantile(p)})
	}
	for i := range c.perSecond {
		r.PerSecond = append(r.PerSecond, c.perSecond[i].Load())
	}
	return r
}

func us(v int64) string { return (time.Duration(v) * time.Microsecond).String() }

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "target      %s %s\n", r.Target, r.Addr)
	fmt.Fprintf(w, "load        %d connections x %d in flight", r.Conns, r.InFlight)
	if r.Rate > 0 {
		fmt.Fprintf(w, ", open loop at %d msg/s", r.Rate)
	} else {
		fmt.Fprintf(w, ", closed loop")
	}
	fmt.Fprintf(w, ", %.0fs measured\n", r.Seconds)
	fmt.Fprintf(w, "throughput  %.0f msg/s (%d answered, %d sent, %d timeouts, %d errors)\n", r.Throughput, r.Answered, r.Sent, r.Timeouts, r.Errors)
	fmt.Fprintf(w, "latency     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", us(r.Latency.P50), us(r.Latency.P90), us(r.Latency.P99), us(r.Latency.P999), us(r.Latency.Max))
	codes := make([]string, 0, len(r.Codes))
	for c := range r.Codes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	var b strings.Builder
	for _, c := range codes {
		fmt.Fprintf(&b, " %s:%d", c, r.Codes[c])
	}
	fmt.Fprintf(w, "codes      %s\n", b.String())
}

// WriteJSON writes the report as JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteHTML writes a self-contained page: the numbers, the latency
// distribution and the throughput over time as SVG charts.
func WriteHTML(w io.Writer, reports []*Report) error {
	return page.Execute(w, reports)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"us": us, "dist": distPath, "tput": tputPath,
}).Parse(`<!doctype html><html><head><meta charset="utf-8"><title>cardswitch bench</title>
<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}svg{background:#fafafa;margin:1em 0}</style></head><body>
<h1>cardswitch bench</h1>
<table><tr><th>target</th><th>load</th><th>msg/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>timeouts</th><th>errors</th></tr>
{{range .}}<tr><td>{{.Target}}</td><td>{{.Conns}}x{{.InFlight}}{{if .Rate}} @{{.Rate}}/s{{end}}</td><td>{{printf "%.0f" .Throughput}}</td><td>{{us .Latency.P50}}</td><td>{{us .Latency.P90}}</td><td>{{us .Latency.P99}}</td><td>{{us .Latency.P999}}</td><td>{{us .Latency.Max}}</td><td>{{.Timeouts}}</td><td>{{.Errors}}</td></tr>
{{end}}</table>
{{range .}}<h2>{{.Target}} {{.Addr}}</h2>
<p>Latency distribution (x: percentile, log scale of 1/(1-p); y: latency)</p>
<svg width="640" height="240" viewBox="0 0 640 240"><path d="{{dist .}}" fill="none" stroke="#c33" stroke-width="2"/></svg>
<p>Answers per second over the run (warm-up included)</p>
<svg width="640" height="200" viewBox="0 0 640 200"><path d="{{tput .}}" fill="none" stroke="#36c" stroke-width="2"/></svg>
{{end}}</body></html>`))

// distPath plots latency against percentile on the usual 1/(1-p) axis.
func distPath(r *Report) string {
	var maxV int64 = 1
	for _, p := range r.Percentile {
		maxV = max(maxV, p.Micros)
	}
	var b strings.Builder
	for i, p := range r.Percentile {
		x := 620 * logNines(p.Percentile) / logNines(99.99)
		y := 230 - 220*float64(p.Micros)/float64(maxV)
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&b, "%s%.1f %.1f ", cmd, min(x, 630), y)
	}
	return b.String()
}

func logNines(p float64) float64 {
	if p >= 99.999 {
		p = 99.999
	}
	v := 100 / (100 - p)
	n := 0.0
	for v > 1 {
		v /= 10
		n++
	}
	return n + v - 1
}

func tputPath(r *Report) string {
	var maxV int64 = 1
	for _, v := range r.PerSecond {
		maxV = max(maxV, v)
	}
	var b strings.Builder
	for i, v := range r.PerSecond {
		x := 620 * float64(i) / float64(max(len(r.PerSecond)-1, 1))
		y := 190 - 180*float64(v)/float64(maxV)
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&b, "%s%.1f %.1f ", cmd, x, y)
	}
	return b.String()
}
