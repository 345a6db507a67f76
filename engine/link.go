package engine

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/logline"
)

// Link is one listening link and its gnet event handler.
type Link struct {
	gnet.BuiltinEventEngine
	cfg     LinkConfig
	idx     int // in Server.links: the destinations' plans per link
	srv     *Server
	log     zerolog.Logger
	dialect *codec.Dialect
	framing codec.Framing
	codes   CodeTable
	// echo: the fields a reply copies from its request (codec.Echo), but
	// not 37, 41 and 42 of a request whose content check failed
	// (Txn.clearBad): they may hold a misaligned track
	echo    *codec.FieldSet
	macAlg  hsm.MACAlgorithm // 0: no MACs on this link
	settle  settleLayout     // where settlements carry their batch and totals
	bcdPad  codec.PadNibble  // pad nibble of variable BCD values in replies
	metrics *linkMetrics
	signOns *signOnLimiter // UnionPay sign-ons per terminal (links[].sign_on_limit)
	tls     *tlsSource     // nil: plain TCP
	// streamed: served by tlslink.go (TLS, or a test's plain streamConns),
	// not gnet
	streamed bool

	// a TLS link's listener and connections (tlslink.go)
	tlsLn      net.Listener // engMu guards tlsLn
	tlsStop    chan struct{}
	tlsStopped sync.Once
	streams    sync.WaitGroup // TLS connections not yet closed

	engMu  sync.Mutex
	eng    gnet.Engine   // engMu guards eng: the current run's (a link that stopped runs again)
	booted chan struct{} // closed at the first boot
	boot   sync.Once
	up     atomic.Bool // listening now

	conns   sync.Map // *connState -> struct{}: for the ticker and shutdown
	nConns  atomic.Int64
	ipMu    sync.Mutex
	perIP   map[string]int // ipMu guards perIP
	closing atomic.Bool
	lines   [nLineKinds]logLimit // per kind of per-connection log line
}

// The per-connection log lines, each bounded on its own: a peer (or many)
// can cause them as fast as it sends, so each writes at most lineBurst
// lines per lineEvery, and the next line written says how many were held
// back ("suppressed", only when some were: logline.Held). The metrics
// count every event.
type lineKind int

const (
	lineRefused lineKind = iota
	lineOpened
	lineClosed
	lineSlowPeer
	lineBadFrame
	lineUnanswerable
	lineUnexpected
	lineClearText
	lineWriteFailed
	lineTimeout
	lineMemory
	lineSignOnRefused
	lineKSNRefused
	nLineKinds

	lineEvery = time.Second
	lineBurst = 20
)

// line reports whether a line of kind k may be written now, and how many
// were held back before it.
func (l *Link) line(k lineKind) (suppressed int64, ok bool) {
	return l.lines[k].allow(l.srv.clock.Now())
}

// Name is the link's configured name.
func (l *Link) Name() string { return l.cfg.Name }

// Dialect is the link's dialect.
func (l *Link) Dialect() *codec.Dialect { return l.dialect }

// OnBoot records the engine handle and signals that the link listens.
func (l *Link) OnBoot(eng gnet.Engine) gnet.Action {
	l.engMu.Lock()
	l.eng = eng
	l.engMu.Unlock()
	if l.closing.Load() {
		l.boot.Do(func() { close(l.booted) })
		return gnet.Shutdown // shutdown began while it was starting again
	}
	// up before booted: Start returns once booted is closed, and a Ready
	// asked right after must see the link listening
	l.up.Store(true)
	l.boot.Do(func() { close(l.booted) })
	return gnet.None
}

// engine is the link's current gnet engine.
func (l *Link) engine() gnet.Engine {
	l.engMu.Lock()
	defer l.engMu.Unlock()
	return l.eng
}

// OnOpen admits a connection within the link's caps.
func (l *Link) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	cs := l.newConn(c)
	c.SetContext(cs)
	if !l.admit(cs) {
		return nil, gnet.Close
	}
	return nil, gnet.None
}

func (l *Link) newConn(c peer) *connState {
	return &connState{c: c, id: connIDs.Add(1), link: l, remote: c.RemoteAddr().String(), toWork: batchPool.Get().(*batch)}
}

// admit counts cs in the link's caps, or refuses it (false) with a logged
// reason.
func (l *Link) admit(cs *connState) bool {
	remote := cs.remote
	ip, _, _ := net.SplitHostPort(remote)
	reason := ""
	switch {
	case l.closing.Load():
		reason = "shutting down"
	case l.nConns.Load() >= int64(l.cfg.MaxConns):
		reason = "max_conns reached"
	case l.srv.conns() >= l.srv.maxConns:
		reason = "the open-file limit's connections reached (all links together)"
	default:
		l.ipMu.Lock()
		if l.perIP[ip] >= l.cfg.MaxConnsPerIP {
			reason = "max_conns_per_ip reached"
		} else {
			l.perIP[ip]++
			cs.ip = ip
		}
		l.ipMu.Unlock()
	}
	if reason != "" {
		l.metrics.refused.Inc()
		if n, ok := l.line(lineRefused); ok {
			logline.Held(l.log.Warn().Str("remote", remote).Str("reason", reason), "suppressed", n).Msg("connection refused")
		}
		return false
	}
	l.nConns.Add(1)
	l.metrics.conns.Inc()
	cs.lastActivity.Store(l.srv.clock.Now().UnixNano())
	cs.lastMessage.Store(cs.lastActivity.Load())
	l.conns.Store(cs, struct{}{})
	if n, ok := l.line(lineOpened); ok {
		logline.Held(l.log.Info().Str("remote", remote), "suppressed", n).Msg("connection opened")
	}
	return true
}

// OnClose releases the connection's counts and its unwritten replies.
func (l *Link) OnClose(c gnet.Conn, err error) gnet.Action {
	if cs, ok := c.Context().(*connState); ok {
		l.release(cs, err)
	}
	return gnet.None
}

// release is OnClose's work, for a gnet connection or a TLS one.
func (l *Link) release(cs *connState, err error) {
	if cs.ip == "" {
		return // refused by admit: never counted
	}
	l.conns.Delete(cs)
	l.srv.setBuffered(cs, 0)
	l.nConns.Add(-1)
	l.metrics.conns.Dec()
	l.ipMu.Lock()
	if l.perIP[cs.ip]--; l.perIP[cs.ip] <= 0 {
		delete(l.perIP, cs.ip)
	}
	l.ipMu.Unlock()
	cs.mu.Lock()
	cs.closed = true
	pending := append(cs.sent, cs.done...)
	cs.done, cs.sent = nil, nil
	cs.mu.Unlock()
	for _, t := range pending {
		l.srv.finished(t, false)
	}
	for _, t := range cs.local {
		t.release()
	}
	cs.local = nil
	if cs.toWork != nil {
		cs.toWork.release() // empty: every turn dispatches what it read
		cs.toWork = nil
	}
	if n, ok := l.line(lineClosed); ok {
		ev := logline.Held(l.log.Info().Str("remote", cs.remote), "suppressed", n)
		if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
			ev = ev.AnErr("cause", err)
		}
		ev.Msg("connection closed")
	}
}

// OnTraffic writes finished replies, then cuts and handles every complete
// frame. It never blocks: work that may wait goes to the worker pool.
func (l *Link) OnTraffic(c gnet.Conn) gnet.Action {
	return l.traffic(c.Context().(*connState))
}

// traffic is OnTraffic's work, for a gnet connection or a TLS one.
func (l *Link) traffic(cs *connState) gnet.Action {
	c := cs.c
	cs.takeDone()
	action := gnet.None
	// A peer that does not read its replies gets no new ones: past half its
	// max_pending_bytes its requests stay unread in gnet's buffer until the
	// replies drain (the ticker wakes the loop to look again), and when
	// those unread requests pass max_pending_bytes too, it is closed. Per
	// connection, replies and requests are both bounded.
	paused := c.OutboundBuffered() > l.cfg.MaxPendingBytes/2
	if cs.paused.Store(paused); !paused {
		action = l.readFrames(cs)
	}
	err := l.flush(cs)
	pending, unread := c.OutboundBuffered(), c.InboundBuffered()
	cs.outBuffered.Store(int64(pending)) // shutdown waits for this to reach 0
	l.srv.setBuffered(cs, int64(pending+unread))
	if err != nil {
		return gnet.Close
	}
	if l.srv.overFairShare(int64(pending + unread)) {
		l.closeForMemory(cs)
		return gnet.Close
	}
	if action == gnet.None && (pending > l.cfg.MaxPendingBytes || paused && unread > l.cfg.MaxPendingBytes) {
		l.metrics.slowClosed.Inc()
		if n, ok := l.line(lineSlowPeer); ok {
			logline.Held(l.log.Warn().Str("remote", cs.remote).Int("pending_bytes", pending).Int("unread_bytes", unread), "suppressed", n).
				Msg("peer does not read its replies: closing")
		}
		return gnet.Close
	}
	return action
}

func (l *Link) readFrames(cs *connState) gnet.Action {
	c := cs.c
	if l.closing.Load() {
		return gnet.None // draining: leave new requests unread
	}
	buf, _ := c.Peek(-1)
	if len(buf) == 0 {
		return gnet.None
	}
	now := l.srv.clock.Now()
	cs.lastActivity.Store(now.UnixNano())
	used := 0
	action := gnet.None
	for used < len(buf) {
		fr, n, err := l.framing.Next(buf[used:])
		if errors.Is(err, codec.ErrNeedMore) {
			break
		}
		if err != nil {
			l.metrics.badFrames.Inc()
			if n, ok := l.line(lineBadFrame); ok {
				logline.Held(l.log.Error().Err(err).Str("remote", cs.remote), "suppressed", n).Msg("bad frame header: closing")
			}
			action = gnet.Close
			break
		}
		used += n
		if fr.Msg == nil {
			continue // keep-alive
		}
		cs.lastMessage.Store(now.UnixNano())
		if !l.guard(cs, fr, now) {
			action = gnet.Close
			break
		}
		if len(cs.toWork.txns) == maxBatch {
			l.dispatch(cs)
		}
	}
	l.dispatch(cs)
	if used > 0 {
		_, _ = c.Discard(used) // gnet's Discard(0) would drop everything buffered
	}
	if used < len(buf) && action == gnet.None {
		if cs.partialSince.Load() == 0 {
			cs.partialSince.Store(now.UnixNano())
		}
	} else {
		cs.partialSince.Store(0)
	}
	return action
}

// guard handles one frame behind a panic guard: a panic answers the message
// with 96 (when it can be answered), is logged with its stack, and the
// process lives. It reports whether the connection stays open.
func (l *Link) guard(cs *connState, fr codec.Frame, now time.Time) (keep bool) {
	t := getTxn(l, cs, now)
	t.frame = append(t.frame[:0], fr.Msg...)
	if t.hasTPDU = fr.TPDU != nil; t.hasTPDU {
		copy(t.tpdu[:], fr.TPDU)
	}
	defer func() {
		if p := recover(); p != nil {
			l.srv.panicked(p, "loop")
			keep = l.answerPanicked(cs, t)
		}
	}()
	return l.handle(cs, t)
}

// answerPanicked answers a message whose handling panicked with 96, if its
// MTI could be read.
func (l *Link) answerPanicked(cs *connState, t *Txn) (keep bool) {
	defer func() {
		if recover() != nil {
			t.release()
			keep = false
		}
	}()
	if !t.View.MTI().IsRequest() {
		t.release()
		return true
	}
	t.Fail(ErrSystem)
	l.srv.respond(t)
	cs.local = append(cs.local, t)
	return true
}

// handle runs the loop's share of a request: decode, validate, network
// management, sign-on, routing, admission. It reports whether the
// connection stays open.
func (l *Link) handle(cs *connState, t *Txn) bool {
	v := &t.View
	// A bad field does not hide the fields after it: a format-error reply
	// carries 11, 41, 7 and 37 when they can be read, so that the peer's
	// MUX matches it to its request instead of timing out.
	err := l.dialect.DecodeSalvage(v, t.frame)
	// the clear-text fields are checked by content first, whatever else
	// fails: a misaligned track (bit 35 off, its bytes read as 37, 41 and
	// 42) must reach neither the reply's echo nor the journal
	clearErr := v.CheckClearText()
	t.clearBad = clearErr != nil
	if err != nil {
		var fe *codec.FieldError
		if errors.As(err, &fe) && fe.Field == 0 || !v.MTI().IsRequest() {
			l.metrics.undecodable.Inc()
			if n, ok := l.line(lineUnanswerable); ok {
				logline.Held(l.log.Error().Str("remote", cs.remote).Str("error", codec.DescribeError(l.dialect, err)), "suppressed", n).
					Msg("message cannot be answered: closing")
			}
			t.release()
			// Close, as logged: a bad MTI means the stream is not ISO 8583,
			// and a response or notification that does not decode has no
			// answer to give; a peer left waiting would only see a timeout.
			return false
		}
		l.log.Debug().Str("remote", cs.remote).Str("mti", v.MTI().String()).
			Str("error", codec.DescribeError(l.dialect, err)).Msg("format error")
		if clearErr != nil {
			l.clearTextRefused(cs, v, clearErr)
		}
		return l.answerNow(cs, t, ErrFormat)
	}
	mti := v.MTI()
	if !mti.IsRequest() {
		l.metrics.unexpected.Inc()
		if n, ok := l.line(lineUnexpected); ok {
			logline.Held(l.log.Warn().Str("remote", cs.remote).Str("mti", mti.String()), "suppressed", n).Msg("unexpected response from peer: ignored")
		}
		t.release()
		return true
	}
	if err := checkMTI(mti, l.settle.cup); err != nil {
		l.log.Debug().Str("remote", cs.remote).Str("mti", mti.String()).Msg("MTI not served")
		return l.answerNow(cs, t, err)
	}
	t.settle = l.settle.isSettlement(mti)
	if err := v.Validate(); err != nil {
		l.log.Debug().Str("remote", cs.remote).Str("mti", mti.String()).
			Str("error", codec.DescribeError(l.dialect, err)).Msg("format error")
		return l.answerNow(cs, t, ErrFormat)
	}
	if clearErr != nil {
		l.clearTextRefused(cs, v, clearErr)
		return l.answerNow(cs, t, ErrFormat)
	}
	if mti.Class() == '4' {
		if _, err := replacementOf(v); err != nil { // a partial reversal must leave less than the whole
			l.log.Debug().Str("remote", cs.remote).Str("mti", mti.String()).Msg("format error: field 95")
			return l.answerNow(cs, t, err)
		}
	}
	t.cutover = mti.Class() == '8' && l.cfg.AcceptCutover && isCutover(v) // to a worker: journaling it waits
	if mti.Class() == '8' && !t.cutover && !isCUPSignOn(l, v) {
		l.networkManagement(cs, t)
		return true
	}
	t.signOn = mti.Class() == '8' && !t.cutover
	if !t.signOn && !t.cutover && l.cfg.RequireSignOn && !cs.signedOn {
		return l.answerNow(cs, t, ErrNotSignedOn)
	}
	if !t.cutover && !t.settle {
		t.Route = l.srv.route(t)
	}
	if cs.inflight+len(cs.toWork.txns) >= l.cfg.MaxInFlight {
		l.metrics.overload.Inc()
		return l.answerNow(cs, t, ErrOverload)
	}
	cs.toWork.txns = append(cs.toWork.txns, t)
	return true
}

// clearTextRefused counts and logs (rate-limited, naming the field, never
// its content) a request whose clear-text fields failed their content
// check: it is answered 30.
func (l *Link) clearTextRefused(cs *connState, v *codec.View, err error) {
	l.metrics.clearText.Inc()
	if n, ok := l.line(lineClearText); ok {
		logline.Held(l.log.Warn().Str("remote", cs.remote).Str("mti", v.MTI().String()).Str("error", codec.DescribeError(l.dialect, err)),
			"suppressed", n).Msg("clear-text field fails its content check (misaligned track data?): answered 30")
	}
}

// maxBatch bounds the requests handed to one worker at once, so one busy
// connection cannot keep a worker from the others for long.
const maxBatch = 64

// dispatch hands the requests read so far to the workers.
func (l *Link) dispatch(cs *connState) {
	if len(cs.toWork.txns) == 0 {
		return
	}
	l.srv.dispatch(cs, cs.toWork)
	cs.toWork = batchPool.Get().(*batch)
}

// answerNow answers on the loop with the code for err, without the workers.
func (l *Link) answerNow(cs *connState, t *Txn, err error) bool {
	t.Fail(err)
	if l.settle.isSettlement(t.View.MTI()) {
		l.settle.echoBatch(t) // a settlement's 30 names its batch (t.settle may not be set yet)
	}
	l.srv.respond(t)
	l.journalLocal(cs, t)
	return true
}

// journalLocal records a reply made on the loop, without waiting: it goes
// out when the journal has it. When the journal cannot take it at once
// (saturated), the reply goes out unrecorded and is counted: such replies
// (format errors, network management, sign-on refusals, overload) change
// no issuer state. Overload replies are never journaled, so overload does
// not feed the journal.
func (l *Link) journalLocal(cs *connState, t *Txn) {
	if errors.Is(t.Err, ErrOverload) {
		cs.local = append(cs.local, t)
		return
	}
	cs.inflight++
	l.srv.inflight.Add(1)
	l.metrics.inflight.Inc()
	if l.srv.journal.TryAppend(t) {
		return
	}
	cs.inflight--
	l.srv.inflight.Add(-1)
	l.metrics.inflight.Dec()
	l.metrics.unjournaled.Inc()
	cs.local = append(cs.local, t)
}

// flush writes the loop's replies and the workers' finished ones in one
// writev, then releases them.
func (l *Link) flush(cs *connState) error {
	if len(cs.local) == 0 && len(cs.sent) == 0 {
		return nil
	}
	cs.batch = cs.batch[:0]
	for _, t := range cs.local {
		if len(t.out) > 0 {
			cs.batch = append(cs.batch, t.out)
		}
	}
	for _, t := range cs.sent {
		if len(t.out) > 0 {
			cs.batch = append(cs.batch, t.out)
		}
	}
	err := writeAll(cs.c, cs.batch)
	clear(cs.batch)
	for _, t := range cs.local {
		l.srv.observe(t)
		t.release()
	}
	cs.inflight -= len(cs.sent)
	for _, t := range cs.sent {
		written := len(t.out) > 0 // a reply withheld (journal in doubt) was not
		if t.signOn && t.Approved() && written {
			cs.signedOn = true // a UnionPay sign-on the workers answered 00
		}
		l.srv.finished(t, written)
	}
	clear(cs.local)
	clear(cs.sent)
	cs.local, cs.sent = cs.local[:0], cs.sent[:0]
	if err != nil {
		if n, ok := l.line(lineWriteFailed); ok {
			logline.Held(l.log.Warn().Err(err).Str("remote", cs.remote), "suppressed", n).Msg("write failed")
		}
	}
	return err
}

// iovMax is the most buffers one writev takes: Linux's IOV_MAX (UIO_MAXIOV).
// More fail with EINVAL, which closed the connection and lost its replies.
const iovMax = 1024

// writeAll writes bufs in writevs of at most iovMax buffers. gnet queues
// what a writev leaves unwritten and appends later writes behind it, so
// the replies keep their order.
func writeAll(c peer, bufs [][]byte) error {
	for len(bufs) > 0 {
		n := min(len(bufs), iovMax)
		if _, err := c.Writev(bufs[:n]); err != nil {
			return err
		}
		bufs = bufs[n:]
	}
	return nil
}

// OnTick closes connections idle too long or stuck in an incomplete frame,
// wakes the paused ones to look at their replies again, and, while the
// switch holds more than engine.max_buffered_bytes for its peers, closes
// this link's worst offender. It runs on gnet's ticker goroutine: it only
// reads atomics, wakes and closes.
func (l *Link) OnTick() (time.Duration, gnet.Action) {
	now := l.srv.clock.Now().UnixNano()
	idle, frame, quiet := l.cfg.IdleTimeout.Nanoseconds(), l.cfg.FrameTimeout.Nanoseconds(), l.cfg.MessageTimeout.Nanoseconds()
	over := l.srv.buffered.Load() > l.srv.cfg.MaxBufferedBytes
	var worst *connState
	l.conns.Range(func(k, _ any) bool {
		cs := k.(*connState)
		if cs.paused.Load() {
			_ = cs.c.Wake(nil)
		}
		if over && (worst == nil || cs.buffered.Load() > worst.buffered.Load()) {
			worst = cs
		}
		reason := ""
		if ps := cs.partialSince.Load(); ps != 0 && now-ps > frame {
			reason = "frame not completed within frame_timeout"
			l.metrics.frameTimeouts.Inc()
		} else if now-cs.lastActivity.Load() > idle {
			reason = "idle_timeout"
			l.metrics.idleClosed.Inc()
		} else if now-cs.lastMessage.Load() > quiet {
			reason = "message_timeout: keep-alives only" // they would hold the slot for ever
			l.metrics.quietClosed.Inc()
		}
		if reason != "" {
			if n, ok := l.line(lineTimeout); ok {
				logline.Held(l.log.Warn().Str("remote", cs.remote).Str("reason", reason), "suppressed", n).Msg("closing connection")
			}
			_ = cs.c.Close()
		}
		return true
	})
	if worst != nil && worst.buffered.Load() > 0 {
		l.closeForMemory(worst)
		_ = worst.c.Close()
	}
	return tickEvery(l.cfg), gnet.None
}

// closeForMemory counts and logs the closing of cs for the switch-wide
// bound on what it holds for its peers.
func (l *Link) closeForMemory(cs *connState) {
	l.metrics.memoryClosed.Inc()
	if n, ok := l.line(lineMemory); ok {
		logline.Held(l.log.Warn().Str("remote", cs.remote).Int64("buffered_bytes", cs.buffered.Load()).
			Int64("switch_buffered_bytes", l.srv.buffered.Load()), "suppressed", n).
			Msg("the switch holds more than engine.max_buffered_bytes for its peers: closing a connection holding more than its share")
	}
}

// tickEvery checks timers often enough for the shortest timeout.
func tickEvery(c LinkConfig) time.Duration {
	d := min(c.FrameTimeout, c.IdleTimeout) / 4
	return max(min(d, 250*time.Millisecond), 5*time.Millisecond)
}
