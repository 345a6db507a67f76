package dashboard

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestQuantileInterpolatesLikePrometheus(t *testing.T) {
	// 10 observations: 4 at or below 1, 4 more at or below 2, 2 beyond 4
	h := hist{upper: []float64{1, 2, 4, inf}, cum: []float64{4, 8, 8, 10}, count: 10}
	for _, c := range []struct{ q, want float64 }{
		{0.2, 0.5},  // rank 2 of bucket (0,1] holding 4
		{0.5, 1.25}, // rank 5: first of (1,2]'s 4
		{0.8, 2},    // rank 8: the top of (1,2]
		{0.99, 4},   // in +Inf: the highest finite bound
	} {
		if got, ok := h.quantile(c.q); !ok || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("q %v: %v %v, want %v", c.q, got, ok, c.want)
		}
	}
	if _, ok := (hist{}).quantile(0.5); ok {
		t.Error("a histogram without observations has a quantile")
	}
}

// fixture is a registry with the series the page reads, and a clock.
type fixture struct {
	reg  *prometheus.Registry
	msgs *prometheus.CounterVec
	lat  *prometheus.HistogramVec
	busy prometheus.Counter
	up   *prometheus.GaugeVec
	sent *prometheus.CounterVec
	saf  *prometheus.GaugeVec
	now  time.Time
	d    *Dashboard
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{reg: prometheus.NewRegistry(), now: time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)}
	f.msgs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardswitch_messages_total"}, []string{"link", "mti", "rc"})
	f.lat = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cardswitch_latency_seconds",
		Buckets: []float64{1e-3, 2e-3, 4e-3}}, []string{"link"})
	f.busy = prometheus.NewCounter(prometheus.CounterOpts{Name: "cardswitch_worker_busy_seconds_total"})
	workers := prometheus.NewGauge(prometheus.GaugeOpts{Name: "cardswitch_workers"})
	workers.Set(4)
	f.up = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cardswitch_upstream_up"}, []string{"destination", "conn", "address"})
	f.sent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardswitch_upstream_events_total"}, []string{"destination", "event"})
	f.saf = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cardswitch_saf_depth"}, []string{"destination"})
	f.reg.MustRegister(f.msgs, f.lat, f.busy, workers, f.up, f.sent, f.saf)
	f.d = New(Config{Gatherer: f.reg, Now: func() time.Time { return f.now },
		Links: func() []Link { return []Link{{Name: "pos", Up: true}, {Name: "acq", Up: false}} }})
	return f
}

func (f *fixture) data(t *testing.T) Data {
	t.Helper()
	d, err := f.d.Data()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func near(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil || math.Abs(*got-want) > 1e-9 {
		if got == nil {
			t.Errorf("%s: null, want %v", what, want)
			return
		}
		t.Errorf("%s: %v, want %v", what, *got, want)
	}
}

func TestDataRatesAndPercentilesOverTheWindow(t *testing.T) {
	f := newFixture(t)
	f.msgs.WithLabelValues("pos", "0200", "00").Add(100)
	f.lat.WithLabelValues("pos").Observe(0.0035) // before the window: not in its percentiles
	f.up.WithLabelValues("visa", "0", "a").Set(1)
	f.up.WithLabelValues("visa", "1", "b").Set(0)
	f.up.WithLabelValues("cup", "0", "c").Set(0)
	f.saf.WithLabelValues("cup").Set(7)
	first := f.data(t)
	// the first sample has no window: its rates and percentiles are null
	if first.WindowSeconds != 0 || first.TPS != nil || first.Latency.P50 != nil || first.Messages != 100 {
		t.Fatalf("first sample: %+v", first)
	}
	f.now = f.now.Add(2 * time.Second)
	f.msgs.WithLabelValues("pos", "0200", "00").Add(30)
	f.msgs.WithLabelValues("pos", "0200", "51").Add(10)
	f.msgs.WithLabelValues("pos", "0800", "00").Add(10) // network management: not in the approval rate
	for range 9 {
		f.lat.WithLabelValues("pos").Observe(0.0005)
	}
	f.lat.WithLabelValues("pos").Observe(0.0015)
	f.busy.Add(4) // 4 busy seconds of 4 workers over 2 s: half
	f.sent.WithLabelValues("visa", "sent").Add(20)
	f.sent.WithLabelValues("visa", "timeout").Add(5)
	d := f.data(t)
	if d.WindowSeconds != 2 || d.Messages != 150 {
		t.Fatalf("window %v, messages %v", d.WindowSeconds, d.Messages)
	}
	near(t, "tps", d.TPS, 25)
	near(t, "approval rate", d.ApprovalRate, 30.0/40)
	near(t, "approval rate total", d.ApprovalRateTotal, 130.0/140)
	near(t, "latency p50", d.Latency.P50, 1e3*0.001*5/9) // rank 5 of 9 in (0, 1ms]
	near(t, "latency p99", d.Latency.P99, 1e3*(0.001+0.001*(9.9-9)/1))
	near(t, "utilization", d.Workers.Utilization, 0.5)
	if len(d.Links) != 2 || d.Links[0].Name != "pos" || !*d.Links[0].Up || *d.Links[1].Up {
		t.Fatalf("links %+v", d.Links)
	}
	near(t, "pos tps", d.Links[0].TPS, 25)
	if len(d.Dests) != 2 || d.Dests[0].Name != "cup" || d.Dests[0].Up || d.Dests[0].SAFDepth != 7 ||
		d.Dests[1].Name != "visa" || !d.Dests[1].Up || d.Dests[1].ConnsUp != 1 || d.Dests[1].Conns != 2 {
		t.Fatalf("destinations %+v", d.Dests)
	}
	near(t, "visa tps", d.Dests[1].TPS, 10) // sent only, not timeouts
	if len(d.Codes) != 2 || d.Codes[0].RC != "00" || d.Codes[0].Total != 140 || d.Codes[1].RC != "51" {
		t.Fatalf("codes %+v", d.Codes)
	}
	near(t, "51 per second", d.Codes[1].PerSec, 5)
	if len(d.History) != 2 || d.History[0].TPS != nil {
		t.Fatalf("history %+v", d.History)
	}
	near(t, "history tps", d.History[1].TPS, 25)
}

func TestSamplesAreSharedBoundedAndRestartAfterAGap(t *testing.T) {
	f := newFixture(t)
	f.data(t)
	f.now = f.now.Add(sampleEvery / 2)
	f.msgs.WithLabelValues("pos", "0200", "00").Inc()
	if d := f.data(t); len(d.History) != 1 || d.Messages != 0 {
		t.Fatalf("a second page within sampleEvery gathered again: %d samples, %v messages", len(d.History), d.Messages)
	}
	for range samplesMax + 10 {
		f.now = f.now.Add(time.Second)
		f.data(t)
	}
	if d := f.data(t); len(d.History) != samplesMax {
		t.Fatalf("%d samples kept, want at most %d", len(d.History), samplesMax)
	}
	f.now = f.now.Add(staleAfter + time.Second)
	if d := f.data(t); len(d.History) != 1 || d.TPS != nil {
		t.Fatalf("after a gap: %d samples, tps %v: rates over the gap", len(d.History), d.TPS)
	}
}

func TestHandlerServesTheEmbeddedPageAndData(t *testing.T) {
	f := newFixture(t)
	ts := httptest.NewServer(f.d.Handler())
	defer ts.Close()
	get := func(path string) (string, string) {
		t.Helper()
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %s %s", path, res.Status, b)
		}
		return string(b), res.Header.Get("Content-Type")
	}
	res, err := http.Get(ts.URL + "/dashboard/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	page, ct := get("/dashboard/")
	if !strings.Contains(page, `<script src="app.js">`) || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("page %s: %.200s", ct, page)
	}
	if redirected, _ := get("/dashboard"); redirected != page {
		t.Error("/dashboard does not lead to the page")
	}
	js, ct := get("/dashboard/app.js")
	if !strings.Contains(ct, "javascript") {
		t.Errorf("app.js served as %s", ct)
	}
	if _, ct := get("/dashboard/style.css"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("style.css served as %s", ct)
	}
	// offline: nothing is loaded from anywhere else
	for name, body := range map[string]string{"index.html": page, "app.js": js} {
		if m := regexp.MustCompile(`(src|href)="(https?:)?//|fetch\("http|import .* from`).FindString(body); m != "" {
			t.Errorf("%s loads from elsewhere: %s", name, m)
		}
	}
	// every element the script writes is on the page
	for _, m := range regexp.MustCompile(`(?:\$|set|rows|chart)\("([a-z0-9-]+)"`).FindAllStringSubmatch(js, -1) {
		if !strings.Contains(page, `id="`+m[1]+`"`) {
			t.Errorf("app.js writes #%s: not in index.html", m[1])
		}
	}
	body, ct := get("/dashboard/data")
	var d Data
	if err := json.Unmarshal([]byte(body), &d); err != nil || ct != "application/json" {
		t.Fatalf("data %s: %v: %.200s", ct, err, body)
	}
	if len(d.Links) != 2 {
		t.Fatalf("data links %+v", d.Links)
	}
}
