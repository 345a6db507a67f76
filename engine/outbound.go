package engine

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/standin"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/internal/logline"
)

// destination is a configured upstream host at run time: its connections
// (outConn), the pool that picks among them, the table of its requests in
// flight and the compiled mappings from every link's dialect.
type destination struct {
	cfg     DestinationConfig
	dialect *codec.Dialect
	framing codec.Framing
	tpdu    []byte
	header  []byte // nil: the originator's when it speaks the dialect, else zeros
	ks      upstream.KeySpec
	pool    *upstream.Pool
	table   *upstream.Table[*Txn]
	conns   []*outConn
	plans   []*upstream.Plan // per link index: [2i] restores the originator's 37, [2i+1] does not (it had none)
	backoff upstream.Backoff
	log     zerolog.Logger
	m       destMetrics
	lines   [destLineKinds]logLimit
	in      *destListen    // nil: the destination has no listen addresses (inbound_dest.go)
	zone    *zoneState     // its zone keys and MAC method (zone.go)
	saf     *safRunner     // nil: store-and-forward disabled (saf.go)
	stip    *standin.Stand // nil: no stand-in (standin.go)
	brk     *destBreaker   // nil: no circuit breaker
	tls     *tlsSource     // nil: plain TCP; else the connections it dials are TLS (tls.go)
	tlsIn   *tlsSource     // nil: plain TCP; else the connections it accepts (listen) are TLS
	// signedOff: the operator signed the destination off (destctl.go):
	// its connections stay up for echo tests, and take no traffic
	signedOff atomic.Bool
}

type destLineKind int

const (
	destLineLate destLineKind = iota
	destLineUnknown
	destLineBad
	destLineRefused
	destLineUnmapped
	destLineStandIn // a stand-in decision: one per request through an outage
	destLineSession // a connection up, accepted, signed on or off, down: a peer that reconnects in a loop must not flood the log
	destLineKinds
)

func (d *destination) line(k destLineKind) (int64, bool) { return d.lines[k].allow(time.Now()) }

// outConn is one of a destination's connections: its endpoint and, while
// it is connected, its session. A keeper goroutine per connection (never
// per request) dials, signs on, sends echo tests and redials; the reading
// side runs on the gnet client's event loops (outHandler).
type outConn struct {
	d    *destination
	idx  int // in d.pool and d.conns
	addr string
	tier int
	// accepted: a slot for a connection the destination opens
	// (inbound_dest.go), which no keeper dials
	accepted bool

	mu        sync.Mutex
	sess      *outSession // mu guards sess, lastErr and lastErrAt: nil while down
	lastErr   string
	lastErrAt time.Time

	up       prometheus.Gauge
	signedOn atomic.Bool
	ctl      chan destCtl  // the operator's actions, for the keeper (destctl.go)
	sessions atomic.Uint64 // sessions enrolled (connected): the state's reconnects are all but the first
}

// outSession is one connection's life, from the dial to its close.
type outSession struct {
	oc     *outConn
	c      peer          // a gnet.Conn, or a streamConn (TLS)
	closed chan struct{} // closed by OnClose
	nm     chan nmAnswer // network management responses, for the keeper
	kc     chan []byte   // the destination's key changes (0800 frames), for the keeper: HSM and journal must not run on the loop
	queued atomic.Int64  // bytes handed to send and not yet given to the socket
	outBuf atomic.Int64  // gnet's outbound buffer after the last write (the peer does not read)
	last   atomic.Int64  // unix nanoseconds of the last bytes received
	view   codec.View    // the loop's: the response being read

	mu      sync.Mutex
	pending [][]byte // mu guards pending, woken and dead: requests for the loop to write
	woken   bool     // a Wake is on its way to the loop
	dead    bool     // OnClose has run: nothing more is taken
	writing [][]byte // the loop's: the batch being written
}

type nmAnswer struct {
	stan uint32
	code [2]byte
}

// newDestination builds destination cfg for the server's links.
func newDestination(s *Server, cfg DestinationConfig) (*destination, error) {
	dialect, _ := codec.Lookup(cfg.Dialect)
	framing, _ := codec.ParseFraming(cfg.Framing)
	framing.MaxFrame = cfg.MaxFrame
	d := &destination{cfg: cfg, dialect: dialect, framing: framing, log: s.log.With().Str("destination", cfg.Name).Logger(),
		backoff: upstream.Backoff{Base: cfg.ReconnectMin, Max: cfg.ReconnectMax, Jitter: 0.5}}
	for i := range d.lines {
		d.lines[i] = logLimit{every: lineEvery, burst: lineBurst}
	}
	d.tpdu, _ = hex.DecodeString(cfg.TPDU)
	if cfg.Header != "" {
		d.header, _ = hex.DecodeString(cfg.Header)
	}
	d.ks, _ = upstream.ParseKeySpec(cfg.Key)
	var tiers []uint8
	for _, e := range cfg.Endpoints {
		for range cfg.Connections {
			tiers = append(tiers, uint8(e.Tier))
			d.conns = append(d.conns, &outConn{d: d, idx: len(d.conns), addr: e.Address, tier: e.Tier, ctl: make(chan destCtl)})
		}
	}
	tiers = d.addAccepted(s, tiers) // slots for the connections the destination opens (inbound_dest.go)
	strategy, _ := upstream.ParseStrategy(cfg.Strategy)
	var err error
	if d.pool, err = upstream.NewPool(strategy, tiers); err != nil {
		return nil, fmt.Errorf("destination %s: %w", cfg.Name, err)
	}
	if d.table, err = upstream.NewTable[*Txn](upstream.Config{Cap: cfg.MaxInFlight}, s.clock.Now()); err != nil {
		return nil, fmt.Errorf("destination %s: %w", cfg.Name, err)
	}
	for _, lc := range s.cfg.Links {
		orig, _ := codec.Lookup(lc.Dialect)
		for _, with37 := range []bool{true, false} {
			p, err := compilePlan(cfg.Mapping, orig, dialect, with37)
			if err != nil {
				return nil, fmt.Errorf("destination %s, link %s: %w", cfg.Name, lc.Name, err)
			}
			d.plans = append(d.plans, p)
		}
	}
	d.initZone(s)
	d.m = s.um.forDestination(d)
	if !cfg.SAF.Disabled {
		d.saf = newSAFRunner(s, d)
	}
	if cfg.StandIn.Enabled {
		neg, err := standin.NewNegative(cfg.StandIn.Negative)
		if err != nil {
			return nil, fmt.Errorf("destination %s: negative file: %w", cfg.Name, err)
		}
		d.stip = standin.New(cfg.StandIn.Config, neg)
	}
	if cfg.StandIn.Enabled || cfg.Breaker.Failures > 0 {
		d.brk = newDestBreaker(cfg.Breaker)
		s.um.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cardswitch_upstream_breaker_state",
			Help: "A destination's circuit breaker: 0 closed, 1 open, 2 half-open (probing with an echo test).", ConstLabels: prometheus.Labels{"destination": cfg.Name}},
			func() float64 { return float64(d.brk.state(s.clock.Now())) }))
	}
	for _, oc := range d.conns {
		oc.up = s.um.up.WithLabelValues(cfg.Name, strconv.Itoa(oc.idx), oc.addr)
	}
	return d, nil
}

// session is the live session of oc, nil while it is down.
func (oc *outConn) session() *outSession {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	return oc.sess
}

// down takes oc out of the pool once its session ss has ended.
func (oc *outConn) down(ss *outSession) {
	oc.d.pool.SetUp(oc.idx, false)
	oc.up.Set(0)
	oc.signedOn.Store(false)
	oc.mu.Lock()
	if oc.sess == ss {
		oc.sess = nil
	}
	oc.mu.Unlock()
}

func (oc *outConn) setErr(err error, now time.Time) {
	oc.mu.Lock()
	oc.lastErr, oc.lastErrAt = err.Error(), now
	oc.mu.Unlock()
}

var (
	errConnDown   = errors.New("connection down")
	errConnBusy   = errors.New("connection's write queue full")
	errEchoMissed = errors.New("echo test unanswered: closed")
)

// send hands buf to the session's loop without waiting: the requests of
// all the workers gather in pending and the loop writes them in one writev
// per turn, woken once (as the inbound links write their replies). An
// error means nothing was sent; nil means the bytes may leave (or be lost
// with the connection: then the request times out).
func (ss *outSession) send(buf []byte) error {
	n := int64(len(buf))
	if ss.queued.Add(n)+ss.outBuf.Load() > int64(ss.oc.d.cfg.MaxPendingBytes) {
		ss.queued.Add(-n)
		return errConnBusy
	}
	ss.mu.Lock()
	if ss.dead {
		ss.mu.Unlock()
		ss.queued.Add(-n)
		return errConnDown
	}
	ss.pending = append(ss.pending, buf)
	wake := !ss.woken
	ss.woken = true
	ss.mu.Unlock()
	if wake {
		_ = ss.c.Wake(nil) // fails only with the loop gone: the requests then time out
	}
	return nil
}

// flush writes what the workers queued, on the loop.
func (ss *outSession) flush(c peer) error {
	ss.mu.Lock()
	ss.writing, ss.pending = ss.pending, ss.writing[:0]
	ss.woken = false
	ss.mu.Unlock()
	if len(ss.writing) == 0 {
		return nil
	}
	n := 0
	for _, b := range ss.writing {
		n += len(b)
	}
	err := writeAll(c, ss.writing)
	clear(ss.writing)
	ss.queued.Add(-int64(n))
	ss.outBuf.Store(int64(c.OutboundBuffered()))
	return err
}

// outHandler is the gnet client's event handler for every destination's
// connections: it reads responses on the loops.
type outHandler struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (h *outHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	ss := c.Context().(*outSession)
	ss.c = c // before any OnTraffic, and before EnrollContext returns to the keeper
	ss.last.Store(h.s.clock.Now().UnixNano())
	return nil, gnet.None
}

func (h *outHandler) OnClose(c gnet.Conn, err error) gnet.Action {
	if ss, ok := c.Context().(*outSession); ok {
		h.closed(ss, err)
	}
	return gnet.None
}

// closed is OnClose's work, for a gnet connection or a TLS one.
func (h *outHandler) closed(ss *outSession, err error) {
	oc := ss.oc
	oc.d.pool.SetUp(oc.idx, false) // at once: the next Pick skips it
	oc.up.Set(0)
	oc.signedOn.Store(false)
	oc.mu.Lock()
	if oc.sess == ss {
		oc.sess = nil
	}
	if err != nil {
		oc.lastErr, oc.lastErrAt = err.Error(), h.s.clock.Now()
	}
	oc.mu.Unlock()
	ss.mu.Lock()
	ss.dead = true
	clear(ss.pending)
	ss.pending = nil
	ss.mu.Unlock()
	close(ss.closed)
}

// OnTraffic reads the frames of a destination's connection: responses to
// requests in flight, answers to the keeper's network management messages,
// and the destination's own echo tests, answered here.
func (h *outHandler) OnTraffic(c gnet.Conn) gnet.Action {
	return h.traffic(c.Context().(*outSession))
}

// traffic is OnTraffic's work, for a gnet connection or a TLS one.
func (h *outHandler) traffic(ss *outSession) gnet.Action {
	c := ss.c
	d := ss.oc.d
	if err := ss.flush(c); err != nil {
		return gnet.Close
	}
	buf, _ := c.Peek(-1)
	if len(buf) == 0 {
		return gnet.None
	}
	ss.last.Store(h.s.clock.Now().UnixNano())
	used := 0
	action := gnet.None
	for used < len(buf) {
		fr, n, err := d.framing.Next(buf[used:])
		if errors.Is(err, codec.ErrNeedMore) {
			break
		}
		if err != nil {
			d.m.badFrames.Inc()
			if n, ok := d.line(destLineBad); ok {
				logline.Held(d.log.Error().Err(err).Str("remote", ss.oc.addr), "suppressed", n).Msg("bad frame header from destination: closing")
			}
			action = gnet.Close
			break
		}
		used += n
		if fr.Msg != nil {
			h.s.upstreamFrame(ss, fr.Msg)
		}
	}
	if used > 0 {
		_, _ = c.Discard(used)
	}
	ss.outBuf.Store(int64(c.OutboundBuffered()))
	return action
}

// keep runs oc until the server stops: dial, sign on, serve (echo tests
// when idle), and redial after a backoff with jitter when the connection
// fails or ends.
func (s *Server) keep(oc *outConn) {
	defer s.outWG.Done()
	attempt := 0
	for {
		err := s.connect(oc)
		if errors.Is(err, errStopping) {
			return
		}
		if err == nil {
			attempt = 0 // it was up: the first redial comes soon
		} else {
			oc.setErr(err, s.clock.Now())
		}
		delay := oc.d.backoff.Delay(attempt, rand.Float64())
		attempt++
		if n, ok := oc.d.line(destLineRefused); ok && err != nil {
			logline.Held(oc.d.log.Warn().Str("remote", oc.addr).Int("conn", oc.idx).AnErr("cause", err).Dur("again_in", delay), "suppressed", n).
				Msg("destination connection failed")
		}
		t := time.NewTimer(delay)
		select {
		case <-s.outStop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

var errStopping = errors.New("stopping")

// connect makes one session of oc and serves it until it ends: nil once it
// was up (connected and signed on when required).
func (s *Server) connect(oc *outConn) error {
	d := oc.d
	nc, err := net.DialTimeout("tcp", oc.addr, dialTimeout(d))
	if err != nil {
		return err
	}
	ss := newSession(oc)
	c, err := s.enroll(nc, ss)
	if err != nil {
		return err
	}
	oc.sessions.Add(1)
	oc.mu.Lock()
	oc.sess = ss
	oc.mu.Unlock()
	defer oc.down(ss) // however it ended (OnClose may have run before sess was set)
	select {
	case <-s.outStop:
		_ = c.Close()
		return errStopping
	default:
	}
	if d.cfg.SignOn {
		if err := s.netMessage(ss, netSignOn); err != nil {
			_ = c.Close()
			<-ss.closed
			return fmt.Errorf("sign-on: %w", err)
		}
		oc.signedOn.Store(true)
	}
	if !d.signedOff.Load() { // signed off by the operator: connected, echo tests, no traffic
		d.pool.SetUp(oc.idx, true)
	}
	oc.up.Set(1)
	if n, ok := d.line(destLineSession); ok {
		logline.Held(d.log.Info().Str("remote", oc.addr).Int("conn", oc.idx).Bool("signed_on", d.cfg.SignOn), "suppressed", n).Msg("destination connection up")
	}
	if s.keepSession(ss, c, oc.addr) {
		return errStopping
	}
	return nil
}

// dialTimeout bounds a dial, and a TLS destination's handshake after it.
func dialTimeout(d *destination) time.Duration { return min(d.cfg.Timeout, 5*time.Second) }

// netSTAN numbers the switch's own network management messages (not
// journaled: their answers are matched by the keeper, not the table).
func (s *Server) netSTAN() uint32 { return upstream.STAN(s.netSeq.Add(1)) }

// netMessage sends an 0800 with network code code on ss and waits (the
// keeper's goroutine) for its answer: 00 or an error.
func (s *Server) netMessage(ss *outSession, code int) error {
	d := ss.oc.d
	stan := s.netSTAN()
	buf, err := s.buildNet(d, codec.MTI{'0', '8', '0', '0'}, stan, code, nil)
	if err != nil {
		return err
	}
	return s.netExchange(ss, stan, buf)
}

// netExchange sends the network management request buf (its STAN stan)
// on ss and waits (the keeper's goroutine) for its answer: 00 or an error.
func (s *Server) netExchange(ss *outSession, stan uint32, buf []byte) error {
	d := ss.oc.d
	if err := ss.send(buf); err != nil {
		return err
	}
	t := time.NewTimer(d.cfg.Timeout)
	defer t.Stop()
	for {
		select {
		case a := <-ss.nm:
			if a.stan != stan {
				continue
			}
			if a.code != [2]byte{'0', '0'} {
				return fmt.Errorf("answered %s", a.code[:])
			}
			return nil
		case <-ss.closed:
			return errConnDown
		case <-s.outStop:
			return errStopping
		case <-t.C:
			return errors.New("no answer")
		}
	}
}

// buildNet builds a network management message (or, with req, the answer
// 00 to the destination's own): 7, 11 and 70, or 60.3 in UnionPay's
// dialect.
func (s *Server) buildNet(d *destination, mti codec.MTI, stan uint32, code int, req *codec.View) ([]byte, error) {
	return s.buildNetAnswer(d, mti, stan, code, req, "00")
}

// buildNetAnswer is buildNet answering req with rc.
func (s *Server) buildNetAnswer(d *destination, mti codec.MTI, stan uint32, code int, req *codec.View, rc string) ([]byte, error) {
	var b codec.Builder
	frame := d.framing.Reserve(nil, d.tpdu)
	b.Begin(d.dialect, frame, mti, d.header)
	var tmp [16]byte
	if req != nil {
		for id := 2; id <= codec.MaxField; id++ {
			switch {
			case id == codec.FieldResponseCode:
				b.String(id, rc)
			case id == codec.FieldTransmission || id == codec.FieldSTAN || id == 41 || id == 42 || id == 60 || id == codec.FieldNetworkCode:
				b.Copy(req, id)
			}
		}
	} else {
		if d.dialect.Field(codec.FieldTransmission) != nil {
			b.Text(codec.FieldTransmission, upstream.AppendTransmission(tmp[:0], s.clock.Now()))
		}
		b.Text(codec.FieldSTAN, upstream.AppendSTAN(tmp[:0], stan))
		if d.dialect.Field(codec.FieldNetworkCode) != nil {
			b.Uint(codec.FieldNetworkCode, uint64(code))
		} else if d.dialect.Field(60) != nil {
			b.String(60, fmt.Sprintf("00000000%03d", code))
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil, err
	}
	return d.framing.Seal(out, 0)
}

// destMetrics are one destination's series.
type destMetrics struct {
	sent, timeouts, late, lateReverse, unknown, badFrames, allDown, refused, echoMissed, undelivered, breakerOpened prometheus.Counter
	standIn                                                                                                         *prometheus.CounterVec
	answered                                                                                                        *prometheus.CounterVec
	expiryLate                                                                                                      prometheus.Observer
	badMAC, keyChange, keyRefused                                                                                   prometheus.Counter // zone keys (zone.go)
	tlsFailed                                                                                                       prometheus.Counter // TLS handshakes that failed (tlsout.go)
}

// upstreamMetrics are the series of every destination.
type upstreamMetrics struct {
	up       *prometheus.GaugeVec
	events   *prometheus.CounterVec
	answered *prometheus.CounterVec
	lateness *prometheus.HistogramVec
	// store-and-forward (saf.go)
	safEvents                    *prometheus.CounterVec
	standIn                      *prometheus.CounterVec
	safDepth, safOldest, safSent *prometheus.GaugeVec
	reg                          prometheus.Registerer
}

func newUpstreamMetrics(reg prometheus.Registerer) *upstreamMetrics {
	m := &upstreamMetrics{reg: reg,
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cardswitch_upstream_up",
			Help: "1 when a destination's connection is up (connected, and signed on when required)."}, []string{"destination", "conn", "address"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardswitch_upstream_events_total",
			Help: "Forwarding events by destination: sent (requests handed to a connection), timeout, late, late_reversal, unknown_response, bad_frame, all_down, refused, echo_missed, bad_mac, key_change, key_change_refused, breaker_opened, tls_handshake_failed, undelivered (an approval whose reply could not reach the originator)."},
			[]string{"destination", "event"}),
		answered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardswitch_upstream_answered_total",
			Help: "Responses from a destination in time, by its response code."}, []string{"destination", "rc"}),
		// the bound is 5 ms: the buckets straddle it
		lateness: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cardswitch_upstream_expiry_lateness_seconds",
			Help:    "How long after its deadline a forwarded request's expiry was handed to the workers.",
			Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1}}, []string{"destination"}),
	}
	m.safEvents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardswitch_saf_events_total",
		Help: "Store-and-forward events by destination: added, deduped (a second reason to reverse the same request), sent, repeats (sent as xxx1), delivered, rejected, expired, retried, full (not queued: the queue was full), dropped (not queued: the inbox was full), ignored (an answer for no entry in flight)."},
		[]string{"destination", "event"})
	m.safDepth = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cardswitch_saf_depth",
		Help: "Store-and-forward entries a destination is owed (waiting or in flight)."}, []string{"destination"})
	m.safOldest = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cardswitch_saf_oldest_seconds",
		Help: "Age of a destination's oldest store-and-forward entry (0: none)."}, []string{"destination"})
	m.safSent = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cardswitch_saf_in_flight",
		Help: "Store-and-forward entries sent to a destination and not answered."}, []string{"destination"})
	m.standIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cardswitch_standin_total",
		Help: "Stand-in decisions (the destination unavailable: the switch decided in its place), by response code."}, []string{"destination", "rc"})
	reg.MustRegister(m.up, m.events, m.answered, m.lateness, m.safEvents, m.safDepth, m.safOldest, m.safSent, m.standIn)
	return m
}

func (m *upstreamMetrics) forSAF(name string) safMetrics {
	ev := func(e string) prometheus.Counter { return m.safEvents.WithLabelValues(name, e) }
	return safMetrics{added: ev("added"), deduped: ev("deduped"), sent: ev("sent"), repeats: ev("repeats"),
		delivered: ev("delivered"), rejected: ev("rejected"), expired: ev("expired"), retried: ev("retried"),
		full: ev("full"), dropped: ev("dropped"), ignored: ev("ignored"),
		depth: m.safDepth.WithLabelValues(name), oldest: m.safOldest.WithLabelValues(name), inFlight: m.safSent.WithLabelValues(name)}
}

func (m *upstreamMetrics) forDestination(d *destination) destMetrics {
	ev := func(e string) prometheus.Counter { return m.events.WithLabelValues(d.cfg.Name, e) }
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cardswitch_upstream_in_flight",
		Help: "Requests forwarded to a destination and waiting for its answer.", ConstLabels: prometheus.Labels{"destination": d.cfg.Name}},
		func() float64 { return float64(d.table.Len()) }))
	return destMetrics{sent: ev("sent"), timeouts: ev("timeout"), late: ev("late"), lateReverse: ev("late_reversal"), unknown: ev("unknown_response"),
		badFrames: ev("bad_frame"), allDown: ev("all_down"), refused: ev("refused"), echoMissed: ev("echo_missed"), badMAC: ev("bad_mac"),
		keyChange: ev("key_change"), keyRefused: ev("key_change_refused"), undelivered: ev("undelivered"), breakerOpened: ev("breaker_opened"), tlsFailed: ev("tls_handshake_failed"),
		standIn:    m.standIn.MustCurryWith(prometheus.Labels{"destination": d.cfg.Name}),
		answered:   m.answered.MustCurryWith(prometheus.Labels{"destination": d.cfg.Name}),
		expiryLate: m.lateness.WithLabelValues(d.cfg.Name)}
}

// keepSession serves one up session of oc (dialled, or accepted:
// inbound_dest.go) until it closes (false) or the server stops (true):
// echo tests when it is idle, closing it when one goes unanswered; the
// destination's key changes and the switch's own (zone.go), which need
// the HSM and the journal and so never run on the loop.
func (s *Server) keepSession(ss *outSession, c peer, remote string) (stopped bool) {
	oc := ss.oc
	d := oc.d
	tick := time.NewTicker(min(d.cfg.EchoInterval/4, time.Second))
	defer tick.Stop()
	var echoSTAN uint32
	var echoSent int64
	probing := false // the echo out is the circuit breaker's half-open probe
	defer func() {
		if probing { // the connection went with the probe unanswered: the circuit opens again
			d.brk.probed(false, s.clock.Now())
		}
	}()
	for {
		select {
		case <-ss.closed:
			if n, ok := d.line(destLineSession); ok {
				logline.Held(d.log.Warn().Str("remote", remote).Int("conn", oc.idx), "suppressed", n).Msg("destination connection down")
			}
			return false
		case <-s.outStop:
			_ = c.Close()
			<-ss.closed
			return true
		case a := <-ss.nm:
			if a.stan == echoSTAN {
				echoSTAN = 0
				if probing {
					probing = false
					d.brk.probed(a.code == [2]byte{'0', '0'}, s.clock.Now())
					d.log.Info().Str("rc", string(a.code[:])).Str("circuit", d.brk.state(s.clock.Now()).String()).Msg("circuit breaker probe answered")
				}
			}
		case msg := <-ss.kc: // the destination's key change
			s.answerKeyChange(ss, msg)
		case kc := <-d.zone.changes: // the admin API's
			kc.done <- s.proposeKey(ss, kc.kind)
		case op := <-oc.ctl: // the operator's (destctl.go)
			op.done <- s.runControl(ss, op.op)
		case <-tick.C:
			now := s.clock.Now().UnixNano()
			if d.dueKeyChange(s.clock.Now()) {
				for _, kind := range []string{zonePIN, zoneMAC} {
					if err := s.proposeKey(ss, kind); err != nil {
						d.log.Warn().Err(err).Msg("scheduled zone key change failed: old key kept")
					}
				}
			}
			switch {
			case echoSTAN != 0 && now-echoSent > int64(d.cfg.Timeout):
				if probing {
					probing = false
					d.brk.probed(false, s.clock.Now())
				}
				d.m.echoMissed.Inc()
				d.log.Warn().Str("remote", remote).Int("conn", oc.idx).Msg("echo test unanswered: closing the connection")
				oc.setErr(errEchoMissed, s.clock.Now())
				d.pool.SetUp(oc.idx, false)
				_ = c.Close()
			case echoSTAN == 0 && d.brk.probe(s.clock.Now()): // half-open: one echo test before live traffic returns
				echoSTAN, echoSent, probing = s.netSTAN(), now, true
				if buf, err := s.buildNet(d, codec.MTI{'0', '8', '0', '0'}, echoSTAN, netEcho, nil); err == nil {
					_ = ss.send(buf)
				}
			case echoSTAN == 0 && now-ss.last.Load() > int64(d.cfg.EchoInterval):
				echoSTAN, echoSent = s.netSTAN(), now
				if buf, err := s.buildNet(d, codec.MTI{'0', '8', '0', '0'}, echoSTAN, netEcho, nil); err == nil {
					_ = ss.send(buf)
				}
			}
		}
	}
}

// newSession is a session of oc before it is enrolled.
func newSession(oc *outConn) *outSession {
	return &outSession{oc: oc, closed: make(chan struct{}), nm: make(chan nmAnswer, 4), kc: make(chan []byte, 2)}
}
