package dashboard

import (
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// codesMax bounds the response codes a sample keeps apart: the rc label is
// the switch's own answer, but a mapping table could make many; the rest
// are summed under "other".
const codesMax = 64

// hist is one cumulative histogram: counts at or below each upper bound,
// the last bound +Inf.
type hist struct {
	upper []float64
	cum   []float64
	count float64
	sum   float64
}

// add sums h2 into h (same buckets: series of one family).
func (h *hist) add(h2 hist) {
	if h.upper == nil {
		h.upper = h2.upper
		h.cum = make([]float64, len(h2.cum))
	}
	if len(h2.cum) != len(h.cum) {
		return
	}
	for i := range h2.cum {
		h.cum[i] += h2.cum[i]
	}
	h.count += h2.count
	h.sum += h2.sum
}

// minus is h less an earlier sample of the same series: the observations
// between the two. A series that went backwards (a restart) gives h.
func (h hist) minus(old hist) hist {
	if len(old.cum) != len(h.cum) || old.count > h.count {
		return h
	}
	d := hist{upper: h.upper, cum: make([]float64, len(h.cum)), count: h.count - old.count, sum: h.sum - old.sum}
	for i := range h.cum {
		d.cum[i] = h.cum[i] - old.cum[i]
	}
	return d
}

// quantile is Prometheus's histogram_quantile: linear inside the bucket
// holding the q-th observation, the highest finite bound when it is in
// +Inf's. ok is false without observations.
func (h hist) quantile(q float64) (v float64, ok bool) {
	if h.count == 0 || len(h.upper) == 0 {
		return 0, false
	}
	rank := q * h.count
	lower, below := 0.0, 0.0
	for i, up := range h.upper {
		if h.cum[i] >= rank {
			if i == len(h.upper)-1 && i > 0 { // +Inf
				return h.upper[i-1], true
			}
			in := h.cum[i] - below
			if in <= 0 {
				return up, true
			}
			return lower + (up-lower)*(rank-below)/in, true
		}
		lower, below = up, h.cum[i]
	}
	return lower, true
}

// sample is what one gather of the registry says, reduced to what the
// page shows.
type sample struct {
	at time.Time

	byLink    map[string]float64 // requests answered
	byRC      map[string]float64
	financial float64         // 01xx and 02xx requests answered (x1xx, x2xx in 1993)
	approved  float64         // of those, answered with an approval code
	latency   map[string]hist // by link
	commit    hist            // journal group commit seconds
	batch     hist            // records per group commit

	destSent     map[string]float64 // requests handed to a destination
	destUp       map[string][2]int  // connections up, connections
	destInFlight map[string]float64
	safDepth     map[string]float64
	safOldest    map[string]float64

	linkConns    map[string]float64
	linkInFlight map[string]float64
	overload     float64

	scalar map[string]float64 // the unlabelled series by name
}

// scalars are the unlabelled series the page shows.
var scalars = []string{
	"cardswitch_queue_depth", "cardswitch_queue_capacity", "cardswitch_workers", "cardswitch_workers_busy",
	"cardswitch_worker_busy_seconds_total", "cardswitch_journal_queue_depth", "cardswitch_journal_failed",
	"cardswitch_journal_paused", "cardswitch_journal_errors_total",
}

// approvals are the response codes counted as approved: approved, honour
// with identification, partial and VIP approvals (ISO 8583:1987).
var approvals = map[string]bool{"00": true, "08": true, "10": true, "11": true, "16": true}

func newSample(at time.Time, families []*dto.MetricFamily) sample {
	s := sample{at: at, byLink: map[string]float64{}, byRC: map[string]float64{}, latency: map[string]hist{},
		destSent: map[string]float64{}, destUp: map[string][2]int{}, destInFlight: map[string]float64{},
		safDepth: map[string]float64{}, safOldest: map[string]float64{}, linkConns: map[string]float64{},
		linkInFlight: map[string]float64{}, scalar: map[string]float64{}}
	want := map[string]bool{}
	for _, n := range scalars {
		want[n] = true
	}
	for _, f := range families {
		name := f.GetName()
		for _, m := range f.GetMetric() {
			s.add(name, m, want[name])
		}
	}
	return s
}

func (s *sample) add(name string, m *dto.Metric, scalar bool) {
	l := func(k string) string {
		for _, p := range m.GetLabel() {
			if p.GetName() == k {
				return p.GetValue()
			}
		}
		return ""
	}
	v := value(m)
	switch name {
	case "cardswitch_messages_total":
		s.byLink[l("link")] += v
		rc := l("rc")
		if _, ok := s.byRC[rc]; !ok && len(s.byRC) >= codesMax {
			rc = "other"
		}
		s.byRC[rc] += v
		if mti := l("mti"); len(mti) == 4 && (mti[1] == '1' || mti[1] == '2') {
			s.financial += v
			if approvals[l("rc")] {
				s.approved += v
			}
		}
	case "cardswitch_latency_seconds":
		h := s.latency[l("link")]
		h.add(histOf(m))
		s.latency[l("link")] = h
	case "cardswitch_journal_commit_seconds":
		s.commit.add(histOf(m))
	case "cardswitch_journal_commit_records":
		s.batch.add(histOf(m))
	case "cardswitch_upstream_events_total":
		if l("event") == "sent" {
			s.destSent[l("destination")] += v
		}
	case "cardswitch_upstream_up":
		u := s.destUp[l("destination")]
		if v == 1 {
			u[0]++
		}
		u[1]++
		s.destUp[l("destination")] = u
	case "cardswitch_upstream_in_flight":
		s.destInFlight[l("destination")] += v
	case "cardswitch_saf_depth":
		s.safDepth[l("destination")] += v
	case "cardswitch_saf_oldest_seconds":
		s.safOldest[l("destination")] = v
	case "cardswitch_connections":
		s.linkConns[l("link")] += v
	case "cardswitch_in_flight":
		s.linkInFlight[l("link")] += v
	case "cardswitch_overload_rejections_total":
		s.overload += v
	default:
		if scalar {
			s.scalar[name] = v
		}
	}
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

func histOf(m *dto.Metric) hist {
	ph := m.GetHistogram()
	if ph == nil {
		return hist{}
	}
	h := hist{count: float64(ph.GetSampleCount()), sum: ph.GetSampleSum()}
	for _, b := range ph.GetBucket() {
		h.upper = append(h.upper, b.GetUpperBound())
		h.cum = append(h.cum, float64(b.GetCumulativeCount()))
	}
	h.upper = append(h.upper, inf)
	h.cum = append(h.cum, h.count)
	return h
}

var inf = math.Inf(1)
