package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// WriteHTML writes a self-contained page (no script, no asset fetched):
// the run's parameters, a table of the targets, and charts drawn with
// gonum.org/v1/plot as inline SVG, every target on one chart per measure
// so they share one scale: answers as planned per second over the run
// (warm-up marked, the drain after the end left out), the latency
// distribution, throughput by target with the not-planned answers
// stacked on it, the response codes, and the comparison ratios.
func WriteHTML(w io.Writer, reports []*Report, ratios []Ratio) error {
	if len(reports) == 0 {
		return fmt.Errorf("bench: no report to write")
	}
	charts := []struct {
		title string
		make  func([]*Report) (*plot.Plot, error)
	}{
		{"Throughput over the run", throughputChart},
		{"Latency distribution", latencyChart},
		{"Throughput by target", targetsChart},
		{"Response codes", codesChart},
	}
	page := htmlPage{Params: paramRows(reports[0]), Ratios: ratios}
	for _, r := range reports {
		page.Rows = append(page.Rows, summaryRow(r))
		if r.CPU != nil {
			page.CPUScope = r.CPU.Scope
		}
	}
	for _, c := range charts {
		p, err := c.make(reports)
		if err != nil {
			return fmt.Errorf("bench: %s chart: %w", c.title, err)
		}
		svg, err := renderSVG(p, 7.5*vg.Inch, 3.6*vg.Inch)
		if err != nil {
			return fmt.Errorf("bench: %s chart: %w", c.title, err)
		}
		page.Charts = append(page.Charts, htmlChart{Title: c.title, SVG: svg})
	}
	return pageTemplate.Execute(w, page)
}

type htmlPage struct {
	Params [][2]string
	Rows   []map[string]string
	Ratios []Ratio
	Charts []htmlChart
	// CPUScope is whose CPU the CPU column counts ("": no figure)
	CPUScope string
}

type htmlChart struct {
	Title string
	SVG   template.HTML
}

// renderSVG draws p as SVG without its XML prolog, to sit inline in HTML.
func renderSVG(p *plot.Plot, w, h vg.Length) (template.HTML, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	svg := b.String()
	if i := strings.Index(svg, "<svg"); i > 0 {
		svg = svg[i:]
	}
	return template.HTML(svg), nil // the library's output; it escapes the text it draws (html.EscapeString)
}

func paramRows(r *Report) [][2]string {
	load := fmt.Sprintf("%d connections x %d in flight, closed loop", r.Conns, r.InFlight)
	if r.Rate > 0 {
		load = fmt.Sprintf("%d connections x %d in flight, open loop at %d msg/s", r.Conns, r.InFlight, r.Rate)
	}
	commit := r.Params.Commit
	if commit == "" {
		commit = "unknown (built without VCS stamping: -buildvcs=false, or outside a repository)"
	}
	return [][2]string{
		{"date", r.Params.Started.Format(time.RFC3339)},
		{"duration", fmtSeconds(r.Seconds) + " measured"},
		{"warm-up", fmtSeconds(r.WarmupSeconds)},
		{"load", load},
		{"rate", rateText(r.Rate)},
		{"mix", mixText(r.Params.Mix)},
		{"dialect, framing", r.Params.Dialect + ", " + r.Params.Framing},
		{"commit", commit},
		{"machine", fmt.Sprintf("%d CPUs, %s, %s", r.Params.CPUs, r.Params.OS, r.Params.GoVersion)},
	}
}

func fmtSeconds(s float64) string { return (time.Duration(s * float64(time.Second))).String() }

func rateText(rate int) string {
	if rate == 0 {
		return "closed loop (as fast as answered)"
	}
	return fmt.Sprintf("%d msg/s", rate)
}

func mixText(m Mix) string {
	var parts []string
	for _, k := range m.kinds() {
		if k.weight > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k.name, k.weight))
		}
	}
	return strings.Join(parts, ", ")
}

func summaryRow(r *Report) map[string]string {
	n := func(v int64) string { return fmt.Sprint(v) }
	return map[string]string{"target": r.Target, "addr": r.Addr, "tput": fmt.Sprintf("%.0f", r.Throughput),
		"answers": fmt.Sprintf("%.0f", r.AnswerRate), "sent": n(r.Sent), "planned": n(r.AsPlanned),
		"p50": us(r.Latency.P50), "p90": us(r.Latency.P90), "p99": us(r.Latency.P99), "p999": us(r.Latency.P999), "max": us(r.Latency.Max),
		"dup": n(r.Duplicates), "fmt": n(r.FormatErrors), "sys": n(r.SystemErrors), "other": n(r.OtherUnplanned),
		"timeouts": n(r.Timeouts), "errors": n(r.Errors), "cpu": cpuText(r.CPU)}
}

func name(r *Report) string {
	if r.Target != "" {
		return r.Target
	}
	return r.Addr
}

// throughputChart: answers as planned in each second, one line per
// target, the warm-up's end marked; whole seconds only, no drain.
func throughputChart(reps []*Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Answers as planned per second (warm-up included, drain left out)"
	p.X.Label.Text = "time since the start of the run (s)"
	p.Y.Label.Text = "answers as planned (msg/s)"
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	top := 1.0
	for i, r := range reps {
		xys := make(plotter.XYs, len(r.PerSecond))
		for s, v := range r.PerSecond {
			xys[s] = plotter.XY{X: float64(s) + 0.5, Y: float64(v)} // the middle of its second
			top = max(top, float64(v))
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = plotutil.Color(i), vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(name(r), l)
	}
	if w := reps[0].WarmupSeconds; w > 0 {
		m, err := plotter.NewLine(plotter.XYs{{X: w, Y: 0}, {X: w, Y: top}})
		if err != nil {
			return nil, err
		}
		m.Color, m.Dashes = color.Gray{Y: 120}, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(m)
		p.Legend.Add("end of warm-up", m)
	}
	p.Legend.Top = true
	p.Y.Max = top * (1.2 + 0.08*float64(len(reps))) // room for the legend above the lines
	p.X.Min = 0
	return p, nil
}

// nines maps a percentile to the usual 1/(1-p) axis: 90 -> 1, 99 -> 2.
func nines(pct float64) float64 { return math.Log10(100 / (100 - min(pct, 99.99))) }

// latencyChart: latency against percentile, every target on one
// log-scaled latency axis.
func latencyChart(reps []*Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Latency by percentile (every answer)"
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms, log scale)"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.X.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: nines(50), Label: "50"}, {Value: 1, Label: "90"},
		{Value: 2, Label: "99"}, {Value: 3, Label: "99.9"}, {Value: 4, Label: "99.99"}}
	p.X.Min, p.X.Max = 0, 4
	p.Add(plotter.NewGrid())
	for i, r := range reps {
		var xys plotter.XYs
		for _, pt := range r.Percentile {
			if pt.Percentile <= 99.99 {
				xys = append(xys, plotter.XY{X: nines(pt.Percentile), Y: math.Max(float64(pt.Micros), 1) / 1000})
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width, s.Color = plotutil.Color(i), vg.Points(1.5), plotutil.Color(i)
		p.Add(l, s)
		p.Legend.Add(name(r), l, s)
	}
	// bottom right, where the curves of low percentiles are not
	p.Legend.YOffs = vg.Points(8)
	return p, nil
}

// targetsChart: each target's throughput as planned, with its answers
// not as planned (per second) stacked on top in grey.
func targetsChart(reps []*Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Throughput by target: as planned, and answers not as planned on top"
	p.Y.Label.Text = "msg/s"
	planned, other := make(plotter.Values, len(reps)), make(plotter.Values, len(reps))
	names := make([]string, len(reps))
	for i, r := range reps {
		planned[i], names[i] = r.Throughput, name(r)
		other[i] = math.Max(r.AnswerRate-r.Throughput, 0)
	}
	width := vg.Points(40)
	a, err := plotter.NewBarChart(planned, width)
	if err != nil {
		return nil, err
	}
	a.Color = plotutil.Color(0)
	b, err := plotter.NewBarChart(other, width)
	if err != nil {
		return nil, err
	}
	b.Color = color.Gray{Y: 180}
	b.StackOn(a)
	p.Add(plotter.NewGrid(), a, b)
	p.Legend.Add("as planned", a)
	p.Legend.Add("not as planned (94, 30, other codes)", b)
	p.Legend.Top = true
	p.NominalX(names...)
	top := 1.0
	for i := range reps {
		top = max(top, planned[i]+other[i])
	}
	p.X.Min, p.X.Max = -0.5, float64(len(reps))-0.5 // whole bars, with room at the sides
	p.Y.Min, p.Y.Max = 0, top*1.3                   // and for the legend
	return p, nil
}

// codesChart: each response code's share of a target's answers, the
// targets side by side.
func codesChart(reps []*Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Response codes (field 39) as a share of each target's answers"
	p.Y.Label.Text = "share of answers (%)"
	p.X.Label.Text = "response code"
	set := map[string]bool{}
	for _, r := range reps {
		for c := range r.Codes {
			set[c] = true
		}
	}
	codes := make([]string, 0, len(set))
	for c := range set {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	if len(codes) == 0 {
		codes = []string{"none"}
	}
	width := vg.Points(math.Max(4, math.Min(24, 300/float64(len(codes)*len(reps)))))
	for i, r := range reps {
		vals := make(plotter.Values, len(codes))
		for j, c := range codes {
			if r.Answered > 0 {
				vals[j] = 100 * float64(r.Codes[c]) / float64(r.Answered)
			}
		}
		bc, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		bc.Color = plotutil.Color(i)
		bc.Offset = width * vg.Length(float64(i)-float64(len(reps)-1)/2)
		p.Add(bc)
		p.Legend.Add(name(r), bc)
	}
	labels := make([]string, len(codes))
	for i, c := range codes {
		labels[i] = codeLabel(c)
	}
	p.NominalX(labels...)
	p.Add(plotter.NewGrid())
	p.Y.Min, p.Y.Max = 0, 100+12*float64(len(reps)) // room for the legend
	p.X.Min, p.X.Max = -0.5, float64(len(codes))-0.5
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 25, Label: "25"}, {Value: 50, Label: "50"},
		{Value: 75, Label: "75"}, {Value: 100, Label: "100"}}
	p.Legend.Top = true
	return p, nil
}

// codeLabel names a response code; "" is a reply without field 39 (the
// echo baseline's).
func codeLabel(c string) string {
	if c == "" {
		return "none"
	}
	if m, ok := codeMeaning[c]; ok {
		return c + " " + m
	}
	return c
}

var codeMeaning = map[string]string{"00": "approved", "05": "do not honour", "12": "invalid txn", "13": "invalid amount",
	"14": "invalid card", "15": "no issuer", "25": "not found", "30": "format error", "51": "no funds", "54": "expired",
	"55": "wrong PIN", "57": "not permitted", "58": "not permitted", "61": "over amount", "65": "over count",
	"75": "PIN tries", "91": "inoperative", "94": "duplicate", "96": "malfunction"}

var pageTemplate = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cardswitch bench</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:80em}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
th{background:#f4f4f4}
table.params td,table.params th{text-align:left}
figure{margin:1em 0 2em}
figcaption{font-weight:600;margin-bottom:.3em}
svg{max-width:100%;height:auto}
</style></head><body>
<h1>cardswitch bench</h1>
<table class="params">
{{range .Params}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{end}}</table>
<p>msg/s counts the answers the mix planned (approvals for purchases, 55 for a wrong PIN, 54 for an expired card, 61 over
the limit); duplicates (94), format errors (30), system errors (96, 91), other codes and timeouts are counted apart.
CPU µs/msg is the server's CPU time over the measured window per answer as planned{{if .CPUScope}} ({{.CPUScope}}){{end}}.</p>
<table class="summary">
<tr><th>target</th><th>address</th><th>msg/s as planned</th><th>answers/s (any code)</th><th>sent</th><th>as planned</th>
<th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th>
<th>94 duplicate</th><th>30 format</th><th>96/91 system</th><th>other codes</th><th>timeouts</th><th>errors</th><th>CPU µs/msg</th></tr>
{{range .Rows}}<tr><td>{{.target}}</td><td>{{.addr}}</td><td>{{.tput}}</td><td>{{.answers}}</td><td>{{.sent}}</td><td>{{.planned}}</td>
<td>{{.p50}}</td><td>{{.p90}}</td><td>{{.p99}}</td><td>{{.p999}}</td><td>{{.max}}</td>
<td>{{.dup}}</td><td>{{.fmt}}</td><td>{{.sys}}</td><td>{{.other}}</td><td>{{.timeouts}}</td><td>{{.errors}}</td><td>{{.cpu}}</td></tr>
{{end}}</table>
{{if .Ratios}}<table class="ratios">
<tr><th>comparison</th><th>throughput ratio (as planned)</th></tr>
{{range .Ratios}}<tr><td>{{.Subject}} / {{.Baseline}}</td><td>{{printf "%.2f" .Ratio}}</td></tr>
{{end}}</table>
{{end}}{{range .Charts}}<figure><figcaption>{{.Title}}</figcaption>
{{.SVG}}
</figure>
{{end}}</body></html>
`))
