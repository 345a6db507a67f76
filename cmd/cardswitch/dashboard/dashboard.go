package dashboard

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// static is the page: HTML, JS and CSS written for it, nothing fetched
// from elsewhere.
//
//go:embed static
var static embed.FS

const (
	// samplesMax bounds the samples kept: two minutes of history at one
	// a second, the width of the page's charts.
	samplesMax = 120
	// sampleEvery is the least time between two gathers: pages polling
	// together (or one polling fast) share a sample.
	sampleEvery = 900 * time.Millisecond
	// staleAfter ends the history: a sample older than this (no page
	// polled in between) would average rates over the gap, so the next
	// request starts afresh.
	staleAfter = 5 * time.Second
)

// Link is one inbound link as the page shows it.
type Link struct {
	Name string
	Up   bool // listening
}

// Gatherer reads the metrics: prometheus.Gatherer's method, so the
// switch's registry is one (only the engine imports Prometheus's client).
type Gatherer interface {
	Gather() ([]*dto.MetricFamily, error)
}

// Config is what the dashboard reads.
type Config struct {
	// Gatherer is the switch's registry (engine.NewRegistry's).
	Gatherer Gatherer
	// Links lists the inbound links with their state; nil: the links
	// named by the series, state unknown.
	Links func() []Link
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Dashboard serves the page and its data.
type Dashboard struct {
	cfg Config

	mu   sync.Mutex
	ring []*sample // mu guards ring: the last samplesMax samples, oldest first
}

// New returns a dashboard reading cfg.
func New(cfg Config) *Dashboard {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Dashboard{cfg: cfg}
}

// Handler serves GET /dashboard/ (the page and its files) and GET
// /dashboard/data (Data as JSON). Mount it at "/dashboard/".
func (d *Dashboard) Handler() http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern names the directory: cannot happen
	}
	page := http.StripPrefix("/dashboard/", http.FileServerFS(files))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dashboard/", func(w http.ResponseWriter, r *http.Request) {
		// the browser holds the page to the switch's own files and data
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		page.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /dashboard/data", d.serveData)
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusMovedPermanently)
	})
	return mux
}

func (d *Dashboard) serveData(w http.ResponseWriter, _ *http.Request) {
	data, err := d.Data()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(data)
}

// Data samples the registry (unless the last sample is younger than
// sampleEvery) and returns the page's data.
func (d *Dashboard) Data() (Data, error) {
	var links []Link
	if d.cfg.Links != nil {
		links = d.cfg.Links()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.cfg.Now()
	n := len(d.ring)
	if n > 0 && now.Sub(d.ring[n-1].at) > staleAfter {
		d.ring, n = d.ring[:0], 0
	}
	if n == 0 || now.Sub(d.ring[n-1].at) >= sampleEvery {
		fams, err := d.cfg.Gatherer.Gather()
		if err != nil && len(fams) == 0 {
			return Data{}, fmt.Errorf("dashboard: gather metrics: %w", err)
		}
		s := newSample(now, fams)
		if n == samplesMax {
			copy(d.ring, d.ring[1:])
			d.ring = d.ring[:n-1]
		}
		d.ring = append(d.ring, &s)
	}
	return build(d.ring, links), nil
}
