package engine

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DestinationState is a destination's state at one moment, as the admin
// API shows it (GET /destinations).
type DestinationState struct {
	Name string `json:"name"`
	// InFlight is the requests waiting for the destination's answers, of
	// every connection: they share one table, and a response is matched
	// whichever of them it comes back on.
	InFlight    int         `json:"in_flight"`
	MaxInFlight int         `json:"max_in_flight"`
	Timeout     string      `json:"timeout"`
	Strategy    string      `json:"strategy"`
	Conns       []ConnState `json:"connections"`
	// Circuit is the circuit breaker's state (closed, open, half-open),
	// "" without one; StandIn says whether the switch stands in for it.
	Circuit string `json:"circuit,omitempty"`
	StandIn bool   `json:"stand_in"`
	// TLS says that its connections are TLS (destinations[].tls).
	TLS bool `json:"tls,omitempty"`
}

// ConnState is one connection of a destination.
type ConnState struct {
	Conn     int    `json:"conn"`
	Endpoint string `json:"endpoint"`
	Tier     int    `json:"tier"`
	// Accepted is a slot for a connection the destination opens (listen):
	// Endpoint is then the peer's address while connected.
	Accepted bool `json:"accepted,omitempty"`
	Up       bool `json:"up"`        // takes requests: connected, and signed on when the destination requires it
	SignedOn bool `json:"signed_on"` // its sign-on was answered 00 (false where none is required)
	// QueuedBytes is the request bytes handed to the connection and not
	// yet taken by the peer (queued for the loop, then in gnet's buffer).
	QueuedBytes int64      `json:"queued_bytes"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	// Reconnects is the sessions enrolled after the first (dialled, or
	// accepted on the slot).
	Reconnects uint64 `json:"reconnects"`
}

// Destinations returns the state of every destination, in configuration
// order. It takes each connection's lock briefly and nothing else: it may
// be called at any time, from any goroutine.
func (s *Server) Destinations() []DestinationState {
	out := make([]DestinationState, 0, len(s.destList))
	for _, d := range s.destList {
		ds := DestinationState{Name: d.cfg.Name, InFlight: d.table.Len(), MaxInFlight: d.cfg.MaxInFlight,
			Timeout: d.cfg.Timeout.String(), Strategy: d.cfg.Strategy, Conns: make([]ConnState, 0, len(d.conns)), StandIn: d.stip != nil,
			TLS: d.cfg.TLS != nil}
		if d.brk != nil {
			ds.Circuit = d.brk.state(s.clock.Now()).String()
		}
		for _, oc := range d.conns {
			ds.Conns = append(ds.Conns, oc.state())
		}
		out = append(out, ds)
	}
	return out
}

func (oc *outConn) state() ConnState {
	cs := ConnState{Conn: oc.idx, Tier: oc.tier, Accepted: oc.accepted, Up: oc.d.pool.Up(oc.idx), SignedOn: oc.signedOn.Load()}
	if n := oc.sessions.Load(); n > 1 {
		cs.Reconnects = n - 1
	}
	oc.mu.Lock()
	ss := oc.sess
	cs.Endpoint = oc.addr // an accepted slot's changes with each connection
	cs.LastError = oc.lastErr
	if !oc.lastErrAt.IsZero() {
		at := oc.lastErrAt.UTC()
		cs.LastErrorAt = &at
	}
	oc.mu.Unlock()
	if ss != nil {
		cs.QueuedBytes = ss.queued.Load() + ss.outBuf.Load()
	}
	return cs
}

// destinationsHandler serves GET /destinations: Destinations as JSON.
func (s *Server) destinationsHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "GET shows the destinations' connections", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Destinations []DestinationState `json:"destinations"`
	}{s.Destinations()})
}

// registerConnState adds the series of each connection that
// cardswitch_upstream_up does not say: signed on, bytes queued and
// reconnects (read when scraped).
func (s *Server) registerConnState() {
	for _, d := range s.destList {
		for _, oc := range d.conns {
			labels := prometheus.Labels{"destination": d.cfg.Name, "conn": strconv.Itoa(oc.idx), "address": oc.addr}
			s.reg.MustRegister(
				prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cardswitch_upstream_signed_on", ConstLabels: labels,
					Help: "1 when a destination's connection is signed on (its 0800 sign-on answered 00)."},
					func() float64 { return b2f(oc.signedOn.Load()) }),
				prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cardswitch_upstream_queued_bytes", ConstLabels: labels,
					Help: "Request bytes handed to a destination's connection and not yet taken by the peer."},
					func() float64 { return float64(oc.state().QueuedBytes) }),
				prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cardswitch_upstream_reconnects_total", ConstLabels: labels,
					Help: "Sessions of a destination's connection after its first."},
					func() float64 { return float64(oc.state().Reconnects) }))
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// RegisterOpenAtStart exposes what a start found open upstream (forwarded
// requests without their final record, recorded to be reversed) as
// cardswitch_upstream_open_at_start{destination}: a series for every name
// of dests (0 when none was open) and of counts.
func RegisterOpenAtStart(reg prometheus.Registerer, dests []string, counts map[string]int) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cardswitch_upstream_open_at_start",
		Help: "Forwarded requests found open upstream at the start (in flight when the switch stopped), recorded to be reversed."},
		[]string{"destination"})
	for _, d := range dests {
		g.WithLabelValues(d)
	}
	for d, n := range counts {
		g.WithLabelValues(d).Set(float64(n))
	}
	reg.MustRegister(g)
}
