package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/bizday"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/clock"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/router"
)

// Deps are the parts the engine is built from.
type Deps struct {
	Log        zerolog.Logger
	Clock      clock.Clock // default: the system clock
	Router     Router
	Authorizer Authorizer
	Journal    Journal
	// HSM and Keys serve MACs, PINs and sign-on keys; required when a link
	// sets mac or serves UnionPay terminals' sign-on.
	HSM  HSM
	Keys *Keys
	// IDs allocates RRNs and approval codes; the caller restores its
	// counters from the journal and the snapshot. Default: counters at 0.
	IDs *IDs
	// Registry receives the engine's metrics; default: a new registry.
	Registry *prometheus.Registry
	// Day is the business day the server dates transactions by, shared
	// with whoever journaled before it started (its calendar must be
	// Config.BusinessDay's). Default: Config.BusinessDay's calendar with
	// the journal's newest date as its floor, so an early cutover outlives
	// a restart.
	Day *bizday.Day
}

// Server is the switch's data plane: its links, the worker pool and the
// stages.
type Server struct {
	cfg     Config
	log     zerolog.Logger
	clock   clock.Clock
	router  Router
	auth    Authorizer
	journal Journal
	hsm     HSM
	keys    *Keys
	reg     *prometheus.Registry
	m       *metrics
	links   []*Link
	ids     *IDs

	// forwarding (forward.go, outbound.go)
	dests     map[string]*destination
	destList  []*destination
	um        *upstreamMetrics
	cont      chan *Txn      // forwarded requests answered or expired, for the workers
	lateQ     chan *lateItem // late approvals to journal
	outStop   chan struct{}
	outWG     sync.WaitGroup
	outClient *gnet.Client
	netSeq    atomic.Uint64 // STANs of the switch's own network management messages

	// the business day (cutover.go): read once per request, lock-free
	day   *bizday.Day
	cutMu sync.Mutex // serializes early cutovers (rare: an operator or a host)

	journalDown atomic.Bool  // the journal has failed: out of service
	buffered    atomic.Int64 // bytes gnet holds for all peers: the sum of connState.buffered
	maxConns    int64        // connections all links may hold together (the open-file limit's share)
	failLog     logLimit     // "journal failed" lines
	refuseLog   logLimit     // "not journaled" lines

	queue    chan *batch  // requests for the workers, a loop turn's worth at a time
	queued   atomic.Int64 // requests in queue: bounded by QueueDepth
	busy     atomic.Int64 // workers running a batch
	busyNS   atomic.Int64 // nanoseconds workers have spent running batches
	inflight atomic.Int64 // requests handed to workers and not yet written or dropped
	workers  sync.WaitGroup
	ready    atomic.Bool
	stopOnce sync.Once
	runErr   chan error
}

// New checks the configuration and builds a server; Start runs it.
func New(cfg Config, d Deps) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Router == nil || d.Authorizer == nil || d.Journal == nil {
		return nil, errors.New("engine: router, authorizer and journal are required")
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.IDs == nil {
		d.IDs = &IDs{}
	}
	s := &Server{cfg: cfg, log: d.Log, clock: d.Clock, router: d.Router, auth: d.Authorizer, journal: d.Journal, hsm: d.HSM, keys: d.Keys, ids: d.IDs,
		reg: d.Registry, queue: make(chan *batch, cfg.QueueDepth), runErr: make(chan error, len(cfg.Links))}
	day, err := businessDay(cfg.BusinessDay, d)
	if err != nil {
		return nil, err
	}
	s.day = day
	s.m = newMetrics(d.Registry)
	s.registerPoolMetrics(d.Registry)
	s.failLog.every, s.refuseLog.every = failLogEvery, failLogEvery
	d.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cardswitch_buffered_bytes",
		Help: "Bytes held for all peers: replies not yet read and requests not yet handled (engine.max_buffered_bytes bounds it)."},
		func() float64 { return float64(s.buffered.Load()) }))
	if as, ok := d.Authorizer.(AuthStage); ok {
		registerAuthMetrics(d.Registry, as.A)
	}
	for i, lc := range cfg.Links {
		dialect, _ := codec.Lookup(lc.Dialect)
		framing, _ := codec.ParseFraming(lc.Framing)
		framing.MaxFrame = lc.MaxFrame
		l := &Link{cfg: lc, srv: s, dialect: dialect, framing: framing, codes: CodesFor(dialect.Name),
			echo: codec.Echo(dialect), metrics: s.m.forLink(lc.Name), booted: make(chan struct{}),
			perIP: map[string]int{}, signOns: newSignOnLimiter(lc.SignOnLimit), log: d.Log.With().Str("link", lc.Name).Logger()}
		for i := range l.lines {
			l.lines[i] = logLimit{every: lineEvery, burst: lineBurst}
		}
		l.codes[ErrOverload], l.codes[ErrNotSignedOn], l.codes[ErrMAC] = lc.OverloadCode, lc.NotSignedOnCode, lc.MACFailureCode
		l.macAlg = hsm.MACMethods[lc.MAC]
		l.settle = settleLayoutFor(dialect, lc)
		if f := l.settle.batchField; f != defaultBatchField && dialect.Field(f) == nil { // the default, 60, may be absent: settlements then answer 30
			return nil, fmt.Errorf("links %s: settle_batch_field %d is not a field of dialect %s", lc.Name, f, dialect.Name)
		}
		l.bcdPad, _ = codec.ParsePadNibble(lc.BCDPad)
		if l.macAlg != 0 && (d.HSM == nil || d.Keys == nil) {
			return nil, fmt.Errorf("links %s: mac %s needs an HSM and keys", lc.Name, lc.MAC)
		}
		if err := l.codes.Validate(); err != nil {
			return nil, fmt.Errorf("links %s: %w", lc.Name, err)
		}
		if lc.TLS != nil {
			if l.tls, err = newTLSSource(*lc.TLS, fmt.Sprintf("links[%d].tls", i), tlsServer, d.Clock.Now()); err != nil {
				return nil, err
			}
		}
		if l.streamed = lc.TLS != nil || cfg.testStream; l.streamed {
			l.tlsStop = make(chan struct{})
		}
		l.idx = len(s.links)
		s.links = append(s.links, l)
	}
	s.um = newUpstreamMetrics(d.Registry)
	s.dests, s.outStop = map[string]*destination{}, make(chan struct{})
	contCap := 0
	for i, dc := range cfg.Destinations {
		if dc.needsHSM() && d.HSM == nil {
			return nil, fmt.Errorf("destinations %s: zone keys and MACs need an HSM", dc.Name)
		}
		dst, err := newDestination(s, dc)
		if err != nil {
			return nil, err
		}
		if dc.TLS != nil && len(dc.Endpoints) > 0 {
			if dst.tls, err = newTLSSource(*dc.TLS, fmt.Sprintf("destinations[%d].tls", i), tlsClient, d.Clock.Now()); err != nil {
				return nil, err
			}
		}
		if dc.TLS != nil && len(dc.Listen) > 0 {
			if dst.tlsIn, err = newTLSSource(*dc.TLS, fmt.Sprintf("destinations[%d].tls", i), tlsServer, d.Clock.Now()); err != nil {
				return nil, err
			}
		}
		s.dests[dc.Name] = dst
		s.destList = append(s.destList, dst)
		contCap += dc.MaxInFlight
	}
	// lateQ holds the late approvals (and approvals with a bad MAC) on
	// their way to the journal: as many as the tables hold requests, at
	// least 4096, drained a group commit at a time (journalLate)
	s.cont, s.lateQ = make(chan *Txn, contCap), make(chan *lateItem, max(4096, contCap))
	s.registerConnState()
	if js, ok := s.journal.(JournalStage); ok && js.J != nil && len(s.destList) > 0 {
		js.J.SetOnRecord(s.ObserveRecord) // store-and-forward follows the journal (saf.go)
	}
	return s, nil
}

// Links returns the server's links.
func (s *Server) Links() []*Link { return s.links }

// Start starts the workers and every link, and returns once all listen (or
// the first fails, e.g. a port in use: then everything started is stopped).
func (s *Server) Start(ctx context.Context) error {
	want := int64(0)
	for _, l := range s.links {
		want += int64(l.cfg.MaxConns)
	}
	maxConns, warning, err := applyFDLimit(want)
	if err != nil {
		s.log.Warn().Err(err).Msg("open-file limit not read or raised")
	}
	if warning != "" {
		s.log.Warn().Int64("max_conns_together", maxConns).Msg(warning)
	}
	s.maxConns = maxConns
	if err := s.startForwarding(); err != nil {
		return fmt.Errorf("destinations: %w", err)
	}
	for i := 0; i < s.cfg.Workers; i++ {
		s.workers.Add(1)
		go s.work()
	}
	for _, l := range s.links {
		if l.streamed {
			go s.runTLSLink(l)
		} else {
			go s.runLink(l, s.linkOptions(l))
		}
		select {
		case <-l.booted:
			l.log.Info().Str("listen", l.cfg.Listen).Str("dialect", l.dialect.Name).Str("framing", l.framing.String()).Bool("tls", l.tls != nil).Msg("link listening")
		case err := <-s.runErr:
			s.stopLinks(ctx)
			close(s.queue)
			s.workers.Wait()
			s.stopForwarding(ctx)
			return fmt.Errorf("link %s: listen %s: %v", l.cfg.Name, l.cfg.Listen, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.ready.Store(true)
	return nil
}

// linkOptions are the gnet options of a plain link's engine.
func (s *Server) linkOptions(l *Link) []gnet.Option {
	opts := []gnet.Option{gnet.WithMulticore(true), gnet.WithNumEventLoop(s.cfg.EventLoops),
		gnet.WithTicker(true), gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReuseAddr(true), gnet.WithReusePort(false), // rebind at once after a crash, as net.Listen does
		gnet.WithLogger(gnetLogger{l.log})}
	if b := l.cfg.SocketBuffer; b > 0 {
		opts = append(opts, gnet.WithSocketSendBuffer(b), gnet.WithSocketRecvBuffer(b))
	}
	return opts
}

// linkRestartMax bounds the wait between attempts to listen again.
const linkRestartMax = 30 * time.Second

// runLink runs l's engine. The first failure to listen goes to Start; a
// link that stops later (gnet shuts an engine down when accept fails, as
// with EMFILE) is not ready (/readyz) and listens again after a backoff
// of 1 s doubling to linkRestartMax, until shutdown.
func (s *Server) runLink(l *Link, opts []gnet.Option) {
	wait := time.Second
	for {
		err := gnet.Run(l, "tcp://"+l.cfg.Listen, opts...)
		l.up.Store(false)
		select {
		case <-l.booted:
		default:
			s.runErr <- err // it never listened: Start says why
			return
		}
		if l.closing.Load() {
			return
		}
		l.metrics.restarts.Inc()
		l.log.Error().AnErr("cause", err).Dur("again_in", wait).Msg("link stopped listening: its connections are gone; listening again")
		time.Sleep(wait)
		if l.closing.Load() {
			return
		}
		wait = min(2*wait, linkRestartMax)
	}
}

// Shutdown stops taking new connections and requests, waits (up to the
// drain timeout or ctx) for requests in flight to be answered and written,
// then stops the links and the workers.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		s.ready.Store(false)
		for _, l := range s.links {
			l.closing.Store(true)
		}
		deadline := s.clock.Now().Add(s.cfg.DrainTimeout)
		for s.inflight.Load() > 0 || s.unflushed() {
			if s.clock.Now().After(deadline) || ctx.Err() != nil {
				err = fmt.Errorf("engine: %d requests still in flight at shutdown", s.inflight.Load())
				break
			}
			s.wakeAll()
			time.Sleep(5 * time.Millisecond)
		}
		s.stopLinks(ctx)
		close(s.queue)
		s.workers.Wait()
		s.stopForwarding(ctx)
	})
	return err
}

// unflushed reports replies still in gnet's outbound buffers.
func (s *Server) unflushed() bool {
	pending := false
	for _, l := range s.links {
		l.conns.Range(func(k, _ any) bool {
			pending = pending || k.(*connState).outBuffered.Load() > 0
			return !pending
		})
	}
	return pending
}

// wakeAll asks every connection's loop to write what it holds.
func (s *Server) wakeAll() {
	for _, l := range s.links {
		l.conns.Range(func(k, _ any) bool {
			_ = k.(*connState).c.Wake(nil)
			return true
		})
	}
}

func (s *Server) stopLinks(ctx context.Context) {
	for _, l := range s.links {
		if l.streamed {
			l.stopTLS(ctx)
			continue
		}
		select {
		case <-l.booted:
			if !l.up.Load() {
				continue // stopped on its own: runLink sees closing and ends
			}
			if err := l.engine().Stop(ctx); err != nil {
				l.log.Warn().Err(err).Msg("stopping link")
			}
		default:
		}
	}
}

// Ready reports whether every link listens, the journal works (not failed,
// not paused for disk space) and the server is not shutting down.
func (s *Server) Ready() bool {
	return s.ready.Load() && !s.journalDown.Load() && s.journalErr() == nil && s.journalPause() == nil && s.downLink() == ""
}

// journalPause is the journal's pause for disk space, if it reports one:
// requests are answered 96 until it clears on its own.
func (s *Server) journalPause() error {
	if h, ok := s.journal.(interface{ Paused() error }); ok {
		return h.Paused()
	}
	return nil
}

// downLink names a link that is not listening, if one is not.
func (s *Server) downLink() string {
	for _, l := range s.links {
		if !l.up.Load() {
			return l.cfg.Name
		}
	}
	return ""
}

// conns counts the connections of every link.
func (s *Server) conns() int64 {
	n := int64(0)
	for _, l := range s.links {
		n += l.nConns.Load()
	}
	return n
}

// journalErr is the journal's failure, if it reports one.
func (s *Server) journalErr() error {
	if h, ok := s.journal.(interface{ Err() error }); ok {
		return h.Err()
	}
	return nil
}

// setBuffered records what gnet holds for cs (0 when it closes) in the
// switch-wide sum that engine.max_buffered_bytes bounds.
func (s *Server) setBuffered(cs *connState, n int64) {
	if d := n - cs.buffered.Swap(n); d != 0 {
		s.buffered.Add(d)
	}
}

// overFairShare reports whether the switch holds more than
// engine.max_buffered_bytes for its peers and a connection holding n bytes
// holds more than its share of that bound: such a connection is closed at
// once, on its own loop, so the peers that flood do not wait for a tick;
// one that reads its replies holds next to nothing and is never closed.
func (s *Server) overFairShare(n int64) bool {
	limit := s.cfg.MaxBufferedBytes
	if s.buffered.Load() <= limit {
		return false
	}
	return n > limit/max(s.conns(), 1)
}

// failLogEvery bounds the "journal failed" log lines: one per interval,
// with the number of requests refused or withheld since the last one.
const failLogEvery = 10 * time.Second

// journalFailed takes the switch out of service when the journal fails:
// /readyz answers 503 (Ready), the gauge says so, and a log line says why,
// at most once per failLogEvery.
func (s *Server) journalFailed(err error) {
	s.journalDown.Store(true)
	s.m.journalBad.Set(1)
	if n, ok := s.failLog.allow(s.clock.Now()); ok {
		s.log.Error().Err(err).Int64("requests", n+1).
			Msg("journal failed: the switch is out of service until it is restarted (requests answered 96, or withheld when in doubt)")
	}
}

// journalPaused logs, at most once per failLogEvery, a request refused
// because the journal is paused for disk space (answered 96). The switch is
// out of service (/readyz, cardswitch_journal_paused) until space is freed
// and the journal resumes on its own.
func (s *Server) journalPaused(err error) {
	if n, ok := s.failLog.allow(s.clock.Now()); ok {
		s.log.Error().Err(err).Int64("requests", n+1).
			Msg("journal paused, disk full: requests answered 96 until space is freed (it resumes on its own)")
	}
}

// notJournaled logs, rate-limited, a request the journal refused on its
// own (a record too large, the journal closed at shutdown): answered 96.
func (s *Server) notJournaled(t *Txn, err error) {
	if n, ok := s.refuseLog.allow(s.clock.Now()); ok {
		s.log.Error().Err(err).Str("link", t.Link.cfg.Name).Int64("requests", n+1).Msg("requests not journaled: answered 96")
	}
}

// logLimit bounds one kind of log line: at most burst lines per every
// (burst 0: 1), counting the events it held back so the next line says how
// many. A storm (a peer sending responses, a flood of refused connections)
// then writes a few lines a second, not one per event.
type logLimit struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	start   int64 // unix nanoseconds: the current period began
	lines   int   // lines let through in it
	dropped int64 // events held back since the last line
}

// allow reports whether a line may be written now, and how many events were
// held back before it.
func (l *logLimit) allow(now time.Time) (dropped int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ns := now.UnixNano(); l.start == 0 || ns-l.start >= int64(l.every) {
		l.start, l.lines = ns, 0
	}
	if l.lines >= max(l.burst, 1) {
		l.dropped++
		return 0, false
	}
	l.lines++
	dropped, l.dropped = l.dropped, 0
	return dropped, true
}

// AdminHandler serves /metrics, /healthz, /readyz and /destinations.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/destinations", s.destinationsHandler)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.journalErr(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err := s.journalPause(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if name := s.downLink(); name != "" && s.ready.Load() {
			http.Error(w, "not ready: link "+name+" is not listening (it listens again after a backoff)", http.StatusServiceUnavailable)
			return
		}
		if !s.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// route decides on the loop: routing is pure and cheap.
func (s *Server) route(t *Txn) router.Decision {
	v := &t.View
	// the facts point into the Txn's scratch: arrays on the stack would
	// escape through the Router interface, an allocation per request
	proc, term, merch := t.routeScratch[:0:6], t.routeScratch[6:6:21], t.routeScratch[21:21:36]
	return s.router.Route(router.Facts{
		MTI:            v.MTI(),
		ProcessingCode: v.AppendText(proc, codec.FieldProcessingCode),
		PAN:            t.PAN(),
		Link:           t.Link.cfg.Name,
		Terminal:       bytes.TrimRight(v.TerminalID(term), " "),
		Merchant:       bytes.TrimRight(v.MerchantID(merch), " "),
	})
}

// work runs the stages of queued requests until the queue closes.
func (s *Server) work() {
	defer s.workers.Done()
	for {
		select {
		case b, ok := <-s.queue:
			if !ok {
				return
			}
			s.queued.Add(-int64(len(b.txns)))
			s.busy.Add(1)
			began := s.clock.Now()
			for _, t := range b.txns {
				s.process(t)
			}
			s.busyNS.Add(int64(s.clock.Now().Sub(began)))
			s.busy.Add(-1)
			b.release()
		case t := <-s.cont:
			s.busy.Add(1)
			began := s.clock.Now()
			s.resume(t)
			s.busyNS.Add(int64(s.clock.Now().Sub(began)))
			s.busy.Add(-1)
		}
	}
}

// batch is the requests one loop turn of one connection hands to the
// workers: one queue operation for all of them.
type batch struct{ txns []*Txn }

var batchPool = sync.Pool{New: func() any { return &batch{txns: make([]*Txn, 0, 16)} }}

func (b *batch) release() {
	clear(b.txns)
	b.txns = b.txns[:0]
	batchPool.Put(b)
}

// dispatch queues a connection's batch, or answers all of it with the
// overload code when the queue is full. It runs on the loop.
func (s *Server) dispatch(cs *connState, b *batch) {
	n := int64(len(b.txns))
	if s.queued.Add(n) <= int64(s.cfg.QueueDepth) {
		select {
		case s.queue <- b: // b belongs to the workers now
			cs.inflight += int(n)
			s.inflight.Add(n)
			cs.link.metrics.inflight.Add(float64(n))
			return
		default:
		}
	}
	s.queued.Add(-n)
	for _, t := range b.txns {
		cs.link.metrics.overload.Inc()
		t.Fail(ErrOverload)
		s.respond(t)
		cs.local = append(cs.local, t)
	}
	b.release()
}

// process runs authorize, respond and journal for one request; a panic in
// any stage answers 96.
func (s *Server) process(t *Txn) {
	defer func() {
		if p := recover(); p != nil {
			s.panicked(p, "worker")
			s.answerAfterPanic(t)
		}
	}()
	s.assignRRN(t)
	if s.decide(t) {
		return // parked at its destination: resume answers it
	}
	s.respondSigned(t)
	t.journaling = true
	s.journal.Append(t)
}

// decide runs the stages that set t's outcome: the MAC check, then the
// sign-on or the route's action. It reports whether t was forwarded: then
// it is parked at its destination and no longer the caller's.
func (s *Server) decide(t *Txn) (parked bool) {
	if t.cutover {
		s.cutoverRequest(t)
		return false
	}
	if t.Link.macAlg != 0 && !t.signOn {
		if err := s.checkMAC(t); err != nil {
			t.Fail(err)
			return false
		}
	}
	if t.settle {
		s.settleRequest(t)
		return false
	}
	if t.signOn {
		if s.hsm == nil || s.keys == nil {
			t.Fail(ErrInvalidTxn)
			return false
		}
		if err := s.cupSignOn(t); err != nil {
			t.Fail(err)
		}
		return false
	}
	switch t.Route.Action {
	case router.Local:
		s.auth.Authorize(t)
	case router.Decline:
		t.SetCode(t.Route.Code)
	case router.Upstream:
		if d := s.dests[t.Route.Destination]; d != nil && d.saf != nil && storedAndForwarded(t, d, s.clock.Now()) {
			s.acceptAdvice(t, d) // stored and forwarded, never online (saf.go)
			return false
		}
		return s.forward(t)
	default:
		t.Fail(ErrSystem)
	}
	return false
}

// answerAfterPanic answers 96 for a request whose stages panicked; if even
// that panics, the request is dropped as answered (counted, logged) so the
// process and the accounting live.
func (s *Server) answerAfterPanic(t *Txn) {
	defer func() {
		if p := recover(); p != nil {
			s.panicked(p, "worker reply")
			t.out = t.out[:0]
			t.conn.deliver(t, s)
		}
	}()
	s.takeBack(t) // whatever the decision did is undone: the answer is 96
	t.rrnLen = 0
	s.respond(t)
	if !t.journaling { // the panic came before the journal: journal the 96 (a PIN try it counted stays counted)
		t.journaling = true
		s.journal.Append(t) // Committed delivers
		return
	}
	t.conn.deliver(t, s) // the record's building panicked: it never reached the journal
}

// finished accounts for a worker's transaction once its reply is written
// (or its connection is gone) and releases it.
func (s *Server) finished(t *Txn, written bool) {
	s.inflight.Add(-1)
	t.Link.metrics.inflight.Dec()
	if written {
		s.observe(t)
	} else if t.dest != nil && t.Approved() && t.rec.Seq != 0 &&
		(t.upState == journal.UpAnswered || (t.upState == journal.UpStandIn && t.dest.saf != nil)) {
		s.undelivered(t) // the issuer (or stand-in) approved, the originator never heard: reversed by store-and-forward
	}
	t.release()
}

// observe records an answered request in the metrics and the debug log.
func (s *Server) observe(t *Txn) {
	l := t.Link
	s.m.message(l.cfg.Name, t.View.MTI(), t.Code)
	l.metrics.latency.Observe(s.clock.Now().Sub(t.Received).Seconds())
	if e := l.log.Debug(); e.Enabled() {
		var stan uint32
		stan, _ = t.View.STAN()
		e.Str("mti", t.View.MTI().String()).Uint32("stan", stan).
			Str("pan", codec.MaskPAN(string(t.PAN()))).Str("rc", string(t.Code[:])).
			Str("route", t.Route.Rule).Msg("answered")
	}
}

// panicked logs a recovered panic with its stack.
func (s *Server) panicked(p any, where string) {
	s.m.panics.Inc()
	s.log.Error().Str("where", where).Str("panic", fmt.Sprint(p)).Bytes("stack", debug.Stack()).
		Msg("panic recovered: message answered 96")
}

// gnetLogger sends gnet's own log lines to zerolog.
type gnetLogger struct{ l zerolog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug().Msgf(f, a...) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug().Msgf(f, a...) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn().Msgf(f, a...) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error().Msgf(f, a...) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error().Msgf(f, a...) }
