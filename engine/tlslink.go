package engine

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/cardswitch/cardswitch/internal/logline"
)

// A TLS link (links[].tls) is not served by gnet, which reads sockets and
// has no TLS: each accepted connection is a crypto/tls server connection
// driven by a streamConn (its reader, loop and writer goroutines), whose
// turns run the link's own traffic, with the link's caps, timers, bounds,
// panic guard, metrics and log lines (ARCHITECTURE.md, "TLS links run on goroutines"). The
// caps are applied at accept, before the handshake costs anything; the
// handshake must end within frame_timeout.

// runTLSLink listens on l's address and accepts until the link stops
// (acceptLoop): it never stops listening on its own, unlike a gnet one.
func (s *Server) runTLSLink(l *Link) {
	ln, err := net.Listen("tcp", l.cfg.Listen)
	if err != nil {
		s.runErr <- err // it never listened: Start says why
		return
	}
	l.engMu.Lock()
	l.tlsLn = ln
	l.engMu.Unlock()
	l.up.Store(true)
	l.boot.Do(func() { close(l.booted) })
	go l.tickTLS()
	acceptLoop(ln, l.tlsStop, func(err error, wait time.Duration) {
		l.log.Warn().Err(err).Dur("again_in", wait).Msg("accept failed")
	}, l.serveTLS)
}

// acceptLoop accepts on ln and serves each connection until stop closes.
// A failing accept (out of file descriptors) is said and tried again after
// 5 ms doubling to 1 s, as net/http's Serve does.
func acceptLoop(ln net.Listener, stop <-chan struct{}, failed func(err error, wait time.Duration), serve func(net.Conn)) {
	var wait time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-stop:
				return
			default:
			}
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			failed(err, wait)
			select {
			case <-stop:
				return
			case <-time.After(wait):
			}
			continue
		}
		wait = 0
		serve(nc)
	}
}

// serveTLS admits nc within the link's caps and serves it on goroutines of
// its own.
func (l *Link) serveTLS(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok && l.cfg.SocketBuffer > 0 {
		_ = tc.SetReadBuffer(l.cfg.SocketBuffer)
		_ = tc.SetWriteBuffer(l.cfg.SocketBuffer)
	}
	conn, handshake := nc, func() error { return nil }
	if l.tls != nil { // else a test's plain streamConn (Config.testStream)
		tc := tls.Server(nc, l.tls.server())
		conn, handshake = tc, func() error { return l.handshake(tc) }
	}
	// the reader stops past max_pending_bytes unhandled (plus a read), so
	// the turn that finds a paused peer over it closes it, as on gnet
	sc := newStreamConn(conn, nil, l.cfg.MaxPendingBytes+streamReadBytes, func(p any) { l.srv.panicked(p, "tls loop") })
	cs := l.newConn(sc)
	sc.h = linkStream{l: l, cs: cs}
	if !l.admit(cs) {
		_ = nc.Close()
		return
	}
	l.streams.Add(1)
	go sc.run(handshake)
}

// handshake runs the server side of the handshake, within frame_timeout.
func (l *Link) handshake(tc *tls.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.FrameTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		l.metrics.tlsFailed.Inc()
		return fmt.Errorf("TLS handshake: %w", err) // the "connection closed" line carries it
	}
	if e := l.log.Debug(); e.Enabled() {
		st := tc.ConnectionState()
		e = e.Str("remote", tc.RemoteAddr().String()).Str("version", tls.VersionName(st.Version))
		if len(st.PeerCertificates) > 0 {
			e = e.Str("client", st.PeerCertificates[0].Subject.String())
		}
		e.Msg("TLS handshake done")
	}
	return nil
}

// tickTLS runs the link's timers (OnTick: idle, frame and message
// timeouts, paused peers, the switch-wide buffer bound), as gnet's ticker
// does for a plain link.
func (l *Link) tickTLS() {
	for {
		d, _ := l.OnTick()
		t := time.NewTimer(d)
		select {
		case <-l.tlsStop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// stopTLS closes a TLS link's listener and its connections, and waits (up
// to ctx) until every one has been released.
func (l *Link) stopTLS(ctx context.Context) {
	l.closing.Store(true)
	l.tlsStopped.Do(func() { close(l.tlsStop) })
	l.engMu.Lock()
	ln := l.tlsLn
	l.engMu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	l.up.Store(false)
	l.conns.Range(func(k, _ any) bool {
		_ = k.(*connState).c.Close()
		return true
	})
	done := make(chan struct{})
	go func() { l.streams.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if n, ok := l.line(lineClosed); ok {
			logline.Held(l.log.Warn(), "suppressed", n).Msg("TLS connections still closing at shutdown")
		}
	}
}

// linkStream is a TLS connection's handler: the link's own.
type linkStream struct {
	l  *Link
	cs *connState
}

func (ls linkStream) streamTraffic() gnet.Action { return ls.l.traffic(ls.cs) }

func (ls linkStream) streamClosed(err error) {
	ls.l.release(ls.cs, err)
	ls.l.streams.Done()
}
