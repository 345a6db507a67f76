package dashboard

import (
	"sort"
	"time"
)

// Data is GET /dashboard/data: the newest sample, with rates and
// percentiles over the window since the one before (about a second). A
// value that needs a window, or observations in it, is null without.
type Data struct {
	Time          time.Time `json:"time"`
	WindowSeconds float64   `json:"window_seconds"` // 0: the first sample, no rates yet

	Messages     float64  `json:"messages"` // requests answered since the start (cardswitch_messages_total)
	TPS          *float64 `json:"tps"`
	Approved     float64  `json:"approved"`  // 01xx/02xx requests approved since the start
	Financial    float64  `json:"financial"` // 01xx/02xx requests answered since the start
	ApprovalRate *float64 `json:"approval_rate"`
	// ApprovalRateTotal is approved over financial since the start.
	ApprovalRateTotal *float64 `json:"approval_rate_total"`

	Latency Percentiles `json:"latency_ms"` // every link, in the window
	Links   []LinkData  `json:"links"`
	Dests   []DestData  `json:"destinations"`
	Codes   []CodeData  `json:"codes"`
	Journal JournalData `json:"journal"`
	Workers WorkerData  `json:"workers"`
	// OverloadPerSecond is requests answered at once for a full queue or cap.
	OverloadPerSecond *float64 `json:"overload_per_second"`

	History []Point `json:"history"` // oldest first, one a sample
}

// Percentiles in milliseconds.
type Percentiles struct {
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
	P99 *float64 `json:"p99"`
}

// LinkData is one inbound link.
type LinkData struct {
	Name        string      `json:"name"`
	Up          *bool       `json:"up"` // listening (null: not known)
	Connections float64     `json:"connections"`
	InFlight    float64     `json:"in_flight"`
	Messages    float64     `json:"messages"`
	TPS         *float64    `json:"tps"`
	Latency     Percentiles `json:"latency_ms"`
}

// DestData is one upstream destination.
type DestData struct {
	Name       string   `json:"name"`
	Up         bool     `json:"up"` // at least one connection up
	ConnsUp    int      `json:"connections_up"`
	Conns      int      `json:"connections"`
	Sent       float64  `json:"sent"`
	TPS        *float64 `json:"tps"`
	InFlight   float64  `json:"in_flight"`
	SAFDepth   float64  `json:"saf_depth"`
	SAFOldestS float64  `json:"saf_oldest_seconds"`
}

// CodeData is one response code.
type CodeData struct {
	RC     string   `json:"rc"`
	Total  float64  `json:"total"`
	PerSec *float64 `json:"per_second"`
}

// JournalData is the journal's group commit.
type JournalData struct {
	CommitMS         Percentiles `json:"commit_ms"`
	BatchMean        *float64    `json:"batch_mean"` // records per commit
	BatchP99         *float64    `json:"batch_p99"`
	CommitsPerSecond *float64    `json:"commits_per_second"`
	QueueDepth       float64     `json:"queue_depth"`
	Failed           bool        `json:"failed"`
	Paused           bool        `json:"paused"`
	Errors           float64     `json:"errors"`
}

// WorkerData is the worker pool and its queue.
type WorkerData struct {
	Workers       float64  `json:"workers"`
	Busy          float64  `json:"busy"`
	Utilization   *float64 `json:"utilization"` // busy seconds over worker seconds in the window, 0 to 1
	QueueDepth    float64  `json:"queue_depth"`
	QueueCapacity float64  `json:"queue_capacity"`
}

// Point is one step of the charts' history.
type Point struct {
	Time        time.Time `json:"t"`
	Messages    float64   `json:"messages"`
	TPS         *float64  `json:"tps"`
	LatencyP50  *float64  `json:"latency_p50_ms"`
	LatencyP99  *float64  `json:"latency_p99_ms"`
	Approval    *float64  `json:"approval_rate"`
	CommitP99   *float64  `json:"commit_p99_ms"`
	QueueDepth  float64   `json:"queue_depth"`
	Utilization *float64  `json:"utilization"`
	SAFDepth    float64   `json:"saf_depth"`
}

func some(v float64) *float64 { return &v }

// ratio is a/b, null when b is 0.
func ratio(a, b float64) *float64 {
	if b <= 0 {
		return nil
	}
	return some(a / b)
}

func ms(h hist, q float64) *float64 {
	v, ok := h.quantile(q)
	if !ok {
		return nil
	}
	return some(v * 1e3)
}

func percentiles(h hist) Percentiles {
	return Percentiles{P50: ms(h, 0.5), P90: ms(h, 0.9), P99: ms(h, 0.99)}
}

func sum(m map[string]float64) float64 {
	t := 0.0
	for _, v := range m {
		t += v
	}
	return t
}

func allLatency(m map[string]hist) hist {
	var h hist
	for _, k := range sortedKeys(m) {
		h.add(m[k])
	}
	return h
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// window is what happened between two samples; old is nil for the first.
type window struct {
	old, cur *sample
	secs     float64
}

func newWindow(old, cur *sample) window {
	w := window{old: old, cur: cur}
	if old != nil {
		w.secs = cur.at.Sub(old.at).Seconds()
	}
	if w.secs <= 0 {
		w.old = nil
	}
	return w
}

// rate is the per-second increase of a counter read from each sample.
func (w window) rate(get func(*sample) float64) *float64 {
	if w.old == nil {
		return nil
	}
	d := get(w.cur) - get(w.old)
	if d < 0 { // reset
		d = get(w.cur)
	}
	return some(d / w.secs)
}

func (w window) hist(get func(*sample) hist) hist {
	if w.old == nil {
		return hist{}
	}
	return get(w.cur).minus(get(w.old))
}

func (w window) point() Point {
	s := w.cur
	lat := w.hist(func(s *sample) hist { return allLatency(s.latency) })
	commit := w.hist(func(s *sample) hist { return s.commit })
	p := Point{Time: s.at, Messages: sum(s.byLink), TPS: w.rate(func(s *sample) float64 { return sum(s.byLink) }),
		LatencyP50: ms(lat, 0.5), LatencyP99: ms(lat, 0.99), CommitP99: ms(commit, 0.99),
		QueueDepth: s.scalar["cardswitch_queue_depth"], SAFDepth: sum(s.safDepth)}
	if w.old != nil {
		p.Approval = ratio(s.approved-w.old.approved, s.financial-w.old.financial)
		busy := s.scalar["cardswitch_worker_busy_seconds_total"] - w.old.scalar["cardswitch_worker_busy_seconds_total"]
		p.Utilization = ratio(busy, w.secs*s.scalar["cardswitch_workers"])
	}
	return p
}

// build makes the page's data from the samples, oldest first (at least one).
func build(ring []*sample, links []Link) Data {
	cur := ring[len(ring)-1]
	var old *sample
	if len(ring) > 1 {
		old = ring[len(ring)-2]
	}
	w := newWindow(old, cur)
	pt := w.point()
	d := Data{Time: cur.at, WindowSeconds: w.secs, Messages: sum(cur.byLink), TPS: pt.TPS,
		Approved: cur.approved, Financial: cur.financial, ApprovalRate: pt.Approval,
		ApprovalRateTotal: ratio(cur.approved, cur.financial),
		Latency:           percentiles(w.hist(func(s *sample) hist { return allLatency(s.latency) })),
		OverloadPerSecond: w.rate(func(s *sample) float64 { return s.overload }),
	}
	d.Links = linkData(w, links)
	d.Dests = destData(w)
	d.Codes = codeData(w)
	d.Journal = journalData(w)
	d.Workers = WorkerData{Workers: cur.scalar["cardswitch_workers"], Busy: cur.scalar["cardswitch_workers_busy"],
		Utilization: pt.Utilization, QueueDepth: cur.scalar["cardswitch_queue_depth"],
		QueueCapacity: cur.scalar["cardswitch_queue_capacity"]}
	d.History = make([]Point, 0, len(ring))
	for i := range ring {
		var prev *sample
		if i > 0 {
			prev = ring[i-1]
		}
		d.History = append(d.History, newWindow(prev, ring[i]).point())
	}
	return d
}

func linkData(w window, links []Link) []LinkData {
	s := w.cur
	names := links
	if names == nil { // no link list: the links the series name
		for _, n := range sortedKeys(s.linkConns) {
			names = append(names, Link{Name: n, Up: true})
		}
	}
	out := make([]LinkData, 0, len(names))
	for _, l := range names {
		up := l.Up
		ld := LinkData{Name: l.Name, Up: &up, Connections: s.linkConns[l.Name], InFlight: s.linkInFlight[l.Name],
			Messages: s.byLink[l.Name], TPS: w.rate(func(s *sample) float64 { return s.byLink[l.Name] }),
			Latency: percentiles(w.hist(func(s *sample) hist { return s.latency[l.Name] }))}
		if links == nil {
			ld.Up = nil
		}
		out = append(out, ld)
	}
	return out
}

func destData(w window) []DestData {
	s := w.cur
	out := make([]DestData, 0, len(s.destUp))
	for _, n := range sortedKeys(s.destUp) {
		u := s.destUp[n]
		out = append(out, DestData{Name: n, Up: u[0] > 0, ConnsUp: u[0], Conns: u[1], Sent: s.destSent[n],
			TPS: w.rate(func(s *sample) float64 { return s.destSent[n] }), InFlight: s.destInFlight[n],
			SAFDepth: s.safDepth[n], SAFOldestS: s.safOldest[n]})
	}
	return out
}

func codeData(w window) []CodeData {
	s := w.cur
	out := make([]CodeData, 0, len(s.byRC))
	for _, rc := range sortedKeys(s.byRC) {
		out = append(out, CodeData{RC: rc, Total: s.byRC[rc], PerSec: w.rate(func(s *sample) float64 { return s.byRC[rc] })})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Total > out[j].Total })
	return out
}

func journalData(w window) JournalData {
	s := w.cur
	commit := w.hist(func(s *sample) hist { return s.commit })
	batch := w.hist(func(s *sample) hist { return s.batch })
	j := JournalData{CommitMS: percentiles(commit), BatchMean: ratio(batch.sum, batch.count),
		CommitsPerSecond: w.rate(func(s *sample) float64 { return s.commit.count }),
		QueueDepth:       s.scalar["cardswitch_journal_queue_depth"], Failed: s.scalar["cardswitch_journal_failed"] == 1,
		Paused: s.scalar["cardswitch_journal_paused"] == 1, Errors: s.scalar["cardswitch_journal_errors_total"]}
	if v, ok := batch.quantile(0.99); ok {
		j.BatchP99 = some(v)
	}
	return j
}
