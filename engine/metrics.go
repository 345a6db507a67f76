package engine

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cardswitch/cardswitch/journal"
)

// metrics are the engine's Prometheus series, on a registry of its own so
// several servers can live in one process (tests).
type metrics struct {
	messages   *prometheus.CounterVec   // link, mti, rc
	latency    *prometheus.HistogramVec // link
	inflight   *prometheus.GaugeVec
	conns      *prometheus.GaugeVec
	overload   *prometheus.CounterVec
	events     *prometheus.CounterVec // link, event
	panics     prometheus.Counter
	journalErr prometheus.Counter
	withheld   prometheus.Counter
	journalBad prometheus.Gauge

	mu    sync.RWMutex
	cache map[msgKey]prometheus.Counter // mu guards cache: messages by label, resolved once
}

type msgKey struct {
	link string
	mti  [4]byte
	rc   [2]byte
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardswitch_messages_total",
			Help: "Requests answered, by link, request MTI and response code."}, []string{"link", "mti", "rc"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cardswitch_latency_seconds",
			Help:    "Time from a request's frame being read to its reply being written.",
			Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1}},
			[]string{"link"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cardswitch_in_flight",
			Help: "Requests handed to workers and not yet answered."}, []string{"link"}),
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cardswitch_connections",
			Help: "Open connections."}, []string{"link"}),
		overload: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardswitch_overload_rejections_total",
			Help: "Requests answered at once because a queue or a per-connection cap was full."}, []string{"link"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardswitch_connection_events_total",
			Help: "Connections refused or closed by the switch, and frames it could not use, by reason."}, []string{"link", "event"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "cardswitch_panics_total",
			Help: "Panics recovered while handling a message (each one is a bug)."}),
		journalErr: prometheus.NewCounter(prometheus.CounterOpts{Name: "cardswitch_journal_errors_total",
			Help: "Journal appends refused by a failed journal; their requests were answered 96 without effect."}),
		withheld: prometheus.NewCounter(prometheus.CounterOpts{Name: "cardswitch_replies_withheld_total",
			Help: "Replies not sent because their journal write failed in doubt (the record may be durable): the terminal times out and reverses."}),
		journalBad: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cardswitch_journal_failed",
			Help: "1 when the journal has failed: the switch is out of service (/readyz answers 503) until restarted."}),
		cache: map[msgKey]prometheus.Counter{},
	}
	reg.MustRegister(m.messages, m.latency, m.inflight, m.conns, m.overload, m.events, m.panics, m.journalErr, m.withheld, m.journalBad)
	return m
}

// message counts one answered request.
func (m *metrics) message(link string, mti [4]byte, rc [2]byte) {
	k := msgKey{link, mti, rc}
	m.mu.RLock()
	c, ok := m.cache[k]
	m.mu.RUnlock()
	if !ok {
		c = m.messages.WithLabelValues(link, string(mti[:]), string(rc[:]))
		m.mu.Lock()
		if len(m.cache) < 100000 { // bound the cache: labels come from peers
			m.cache[k] = c
		}
		m.mu.Unlock()
	}
	c.Inc()
}

// linkMetrics are the series of one link, resolved once.
type linkMetrics struct {
	latency                                                                                prometheus.Observer
	inflight, conns                                                                        prometheus.Gauge
	overload                                                                               prometheus.Counter
	refused, badFrames, undecodable, unexpected, clearText                                 prometheus.Counter
	slowClosed, frameTimeouts, idleClosed, quietClosed, memoryClosed, restarts, journalErr prometheus.Counter
	unjournaled, withheld                                                                  prometheus.Counter
	signOnRefused                                                                          prometheus.Counter
	tlsFailed                                                                              prometheus.Counter // handshakes refused (tls.go)
}

func (m *metrics) forLink(name string) *linkMetrics {
	ev := func(e string) prometheus.Counter { return m.events.WithLabelValues(name, e) }
	return &linkMetrics{
		latency:       m.latency.WithLabelValues(name),
		inflight:      m.inflight.WithLabelValues(name),
		conns:         m.conns.WithLabelValues(name),
		overload:      m.overload.WithLabelValues(name),
		refused:       ev("refused"),
		badFrames:     ev("bad_frame"),
		undecodable:   ev("undecodable"),
		unexpected:    ev("unexpected_response"),
		clearText:     ev("clear_text_refused"),
		slowClosed:    ev("slow_reader_closed"),
		frameTimeouts: ev("frame_timeout"),
		idleClosed:    ev("idle_timeout"),
		quietClosed:   ev("message_timeout"),
		memoryClosed:  ev("buffered_bytes_closed"),
		restarts:      ev("link_restarted"),
		unjournaled:   ev("reply_not_journaled"),
		signOnRefused: ev("sign_on_refused"),
		tlsFailed:     ev("tls_handshake_failed"),
		journalErr:    m.journalErr,
		withheld:      m.withheld,
	}
}

// registerPoolMetrics shows the worker queue and the workers: depth against
// capacity, and utilisation as busy workers now and busy seconds in all
// (rate(cardswitch_worker_busy_seconds_total) / cardswitch_workers is the
// share of the pool in use). Read when scraped: nothing on the hot path.
func (s *Server) registerPoolMetrics(reg prometheus.Registerer) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		gauge("cardswitch_queue_depth", "Requests waiting for a worker.", func() float64 { return float64(s.queued.Load()) }),
		gauge("cardswitch_queue_capacity", "Requests the worker queue holds at most (engine.queue_depth); beyond, the overload code.",
			func() float64 { return float64(s.cfg.QueueDepth) }),
		gauge("cardswitch_workers", "Transaction workers (engine.workers).", func() float64 { return float64(s.cfg.Workers) }),
		gauge("cardswitch_workers_busy", "Workers running requests now.", func() float64 { return float64(s.busy.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cardswitch_worker_busy_seconds_total",
			Help: "Time workers have spent running requests, summed over the workers."},
			func() float64 { return float64(s.busyNS.Load()) / 1e9 }),
	)
}

// CommitMetrics are the journal committer's histograms: one observation
// per group commit (journal.Options.OnCommit), none per message.
type CommitMetrics struct {
	latency, records prometheus.Histogram
}

// NewCommitMetrics registers the commit histograms on reg.
func NewCommitMetrics(reg prometheus.Registerer) *CommitMetrics {
	m := &CommitMetrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cardswitch_journal_commit_seconds",
			Help:    "Time of one group commit: the Badger write and its sync, then the high-water mark's sync.",
			Buckets: []float64{100e-6, 250e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1}}),
		records: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cardswitch_journal_commit_records",
			Help:    "Records in one group commit (at most journal.max_batch).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 15)}), // 1 to 16384: journal.MaxBatchLimit
	}
	reg.MustRegister(m.latency, m.records)
	return m
}

// Observe records one commit; it runs on the journal's committer.
func (m *CommitMetrics) Observe(c journal.Commit) {
	m.latency.Observe(c.Took.Seconds())
	m.records.Observe(float64(c.Records))
}

// RegisterJournalQueue shows the records waiting for a commit and, for a
// journal that watches its disk, whether it is paused and the free space.
func RegisterJournalQueue(reg prometheus.Registerer, j interface{ QueueLen() int }) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cardswitch_journal_queue_depth",
		Help: "Records waiting for a journal commit."}, func() float64 { return float64(j.QueueLen()) }))
	d, ok := j.(interface {
		Paused() error
		FreeBytes() uint64
	})
	if !ok {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cardswitch_journal_paused",
		Help: "1 while the journal is paused for disk space: requests are answered 96 and /readyz answers 503 until space is freed."},
		func() float64 {
			if d.Paused() != nil {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cardswitch_journal_disk_free_bytes",
			Help: "Free space where the journal lives, at its last check (each commit, each second while paused)."},
			func() float64 { return float64(d.FreeBytes()) }))
}

// NewRegistry is the switch's metrics registry: its own (not the global
// one), with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
