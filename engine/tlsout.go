package engine

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/panjf2000/gnet/v2"
)

// A destination with TLS (destinations[].tls) has its connections, dialled
// (the switch is the TLS client) and accepted (listen: the switch is the
// server, with the same cert, key, ca and pins), served like a TLS link's
// (tlslink.go): a crypto/tls client connection
// driven by a streamConn, whose turns run outHandler's own traffic, so
// responses are read, matched and bounded by the code of the gnet
// connections, and the keeper (sign-on, echo tests, redials) is the same.

// enroll serves nc, just dialled for ss: on the destinations' gnet client,
// or, for a TLS destination, after a handshake, on a streamConn. The
// connection is ss.c once it returns.
func (s *Server) enroll(nc net.Conn, ss *outSession) (peer, error) {
	d := ss.oc.d
	if d.tls == nil {
		return s.outClient.EnrollContext(nc, ss)
	}
	host, _, _ := net.SplitHostPort(ss.oc.addr)
	return s.enrollTLS(tls.Client(nc, d.tls.client(host)), ss)
}

// enrollTLS runs tc's handshake (either side: a dialled connection's or
// an accepted one's), within the destination's dial bound, and serves it
// for ss on a streamConn.
func (s *Server) enrollTLS(tc *tls.Conn, ss *outSession) (peer, error) {
	d := ss.oc.d
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout(d))
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = tc.NetConn().Close()
		d.m.tlsFailed.Inc()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	h := &outHandler{s: s}
	sc := newStreamConn(tc, outStream{h: h, ss: ss}, d.cfg.MaxFrame+streamReadBytes, func(p any) { s.panicked(p, "tls destination loop") })
	ss.c = sc
	ss.last.Store(s.clock.Now().UnixNano())
	go sc.run(nil)
	return sc, nil
}

// outStream is a TLS destination connection's handler: outHandler's own.
type outStream struct {
	h  *outHandler
	ss *outSession
}

func (o outStream) streamTraffic() gnet.Action { return o.h.traffic(o.ss) }
func (o outStream) streamClosed(err error)     { o.h.closed(o.ss, err) }
