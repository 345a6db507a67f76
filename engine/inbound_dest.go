package engine

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/internal/logline"
)

// Issuer-initiated links: some networks open the connection to the switch
// rather than wait for it to dial (destinations[].listen). The switch
// listens on the destination's addresses and each connection it accepts
// takes one of the destination's accepted slots (outConn.accepted, after
// the dialled ones in its Pool, tier 0), so that requests are picked,
// forwarded, matched (the same table and key: a response on any of the
// destination's connections matches) and journaled exactly as on a
// dialled connection.
//
// Which engine serves them: neither the inbound links' gnet servers (their
// handler serves terminals) nor a gnet server per destination (a second
// handler to keep in step with outHandler), but the destinations' own gnet
// client: an accepted net.Conn is enrolled in it (gnet.Client.EnrollContext,
// as a dialled one is), so outHandler and outSession read and write it
// with the very code of the dialled connections. Accept itself runs on one
// goroutine per listen address (never on a loop), and each accepted
// connection has a keeper goroutine, as a dialled one has, that sends the
// echo tests when it is idle and closes it when one is unanswered: gnet
// has no socket deadlines, so a dead peer is found that way. Both are
// bounded: by the listen addresses and by max_connections.

// destListen is a destination's listening side.
type destListen struct {
	name     string         // "listen ADDR...": an accepted slot's address while it holds no connection
	allow    []netip.Prefix // empty: any source
	refused  prometheus.Counter
	mu       sync.Mutex
	free     []*outConn // mu guards free: accepted slots not holding a connection
	lns      []net.Listener
	accepted prometheus.Counter
}

// validateListen checks the listening keys of a destination.
func (d *DestinationConfig) validateListen(key func(string) string) error {
	for j, a := range d.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%s: %q is not host:port", key(fmt.Sprintf("listen[%d]", j)), a)
		}
	}
	dialled := d.Connections * len(d.Endpoints)
	switch {
	case len(d.Listen) == 0 && d.MaxConnections != 0:
		return fmt.Errorf("%s: needs listen addresses", key("max_connections"))
	case len(d.Listen) == 0 && len(d.Allow) != 0:
		return fmt.Errorf("%s: needs listen addresses", key("allow"))
	case len(d.Listen) > 0 && (d.MaxConnections < 1 || dialled+d.MaxConnections > upstream.ConnsMax):
		return fmt.Errorf("%s: %d: with the %d dialled, the destination may hold at most %d connections", key("max_connections"),
			d.MaxConnections, dialled, upstream.ConnsMax)
	}
	if _, err := parseAllow(d.Allow); err != nil {
		return fmt.Errorf("%s: %v", key("allow"), err)
	}
	return nil
}

// parseAllow reads source addresses: IPs or CIDR prefixes.
func parseAllow(allow []string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, a := range allow {
		if p, err := netip.ParsePrefix(a); err == nil {
			ps = append(ps, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP nor a CIDR prefix", a)
		}
		ps = append(ps, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return ps, nil
}

// addAccepted appends d's accepted slots to its connections and their tiers
// (0: an accepted connection counts as a primary).
func (d *destination) addAccepted(s *Server, tiers []uint8) []uint8 {
	if len(d.cfg.Listen) == 0 {
		return tiers
	}
	allow, _ := parseAllow(d.cfg.Allow) // checked by validate
	d.in = &destListen{name: "listen " + strings.Join(d.cfg.Listen, " "), allow: allow,
		refused:  s.um.events.WithLabelValues(d.cfg.Name, "accept_refused"),
		accepted: s.um.events.WithLabelValues(d.cfg.Name, "accepted")}
	for range d.cfg.MaxConnections {
		oc := &outConn{d: d, idx: len(d.conns), addr: d.in.name, accepted: true, ctl: make(chan destCtl)}
		d.conns = append(d.conns, oc)
		tiers = append(tiers, 0)
	}
	for i := len(d.conns) - 1; i >= len(d.conns)-d.cfg.MaxConnections; i-- {
		d.in.free = append(d.in.free, d.conns[i]) // a stack: the lowest slot is taken first
	}
	return tiers
}

// listenDestinations binds every destination's listen addresses, all or
// none (a port in use fails Start, as a link's does), and starts accepting.
func (s *Server) listenDestinations() error {
	var bound []net.Listener
	for _, d := range s.destList {
		if d.in == nil {
			continue
		}
		for _, a := range d.cfg.Listen {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				for _, l := range bound {
					_ = l.Close()
				}
				return fmt.Errorf("destination %s: listen %s: %w", d.cfg.Name, a, err)
			}
			bound = append(bound, ln)
			d.in.lns = append(d.in.lns, ln)
		}
	}
	for _, d := range s.destList {
		if d.in == nil {
			continue
		}
		for _, ln := range d.in.lns {
			d.log.Info().Str("listen", ln.Addr().String()).Msg("destination listening")
			s.outWG.Add(2)
			go s.acceptDest(d, ln)
			go func() { defer s.outWG.Done(); <-s.outStop; _ = ln.Close() }()
		}
	}
	return nil
}

// ListenAddrs returns the addresses destination name listens on (the ports
// taken when the configuration gave 0).
func (s *Server) ListenAddrs(name string) []string {
	d := s.dests[name]
	if d == nil || d.in == nil {
		return nil
	}
	var as []string
	for _, ln := range d.in.lns {
		as = append(as, ln.Addr().String())
	}
	return as
}

// acceptDest accepts d's connections on ln until the server stops. A
// failing accept (out of file descriptors) is tried again after 5 ms
// doubling to 1 s, as net/http's Serve does.
func (s *Server) acceptDest(d *destination, ln net.Listener) {
	defer s.outWG.Done()
	acceptLoop(ln, s.outStop, func(err error, wait time.Duration) {
		d.log.Warn().Err(err).Dur("again_in", wait).Msg("destination listener: accept failed")
	}, func(nc net.Conn) { s.admit(d, nc) })
}

// admit gives nc a free accepted slot of d and serves it, or closes it
// with a logged reason: its source is not allowed, every slot is taken,
// or the server is stopping.
func (s *Server) admit(d *destination, nc net.Conn) {
	remote := nc.RemoteAddr().String()
	refuse := func(why string) {
		_ = nc.Close()
		d.in.refused.Inc()
		if n, ok := d.line(destLineRefused); ok {
			logline.Held(d.log.Warn().Str("remote", remote), "suppressed", n).Str("reason", why).Msg("destination connection refused")
		}
	}
	if !d.in.allowed(remote) {
		refuse("source not allowed")
		return
	}
	select {
	case <-s.outStop:
		refuse("stopping")
		return
	default:
	}
	oc := d.in.take()
	if oc == nil {
		refuse(fmt.Sprintf("max_connections (%d) held", d.cfg.MaxConnections))
		return
	}
	// The slot was released by its last keeper after that session closed:
	// nothing of it reads oc.addr any more but the admin API's state,
	// under oc.mu.
	oc.mu.Lock()
	oc.addr = remote
	oc.mu.Unlock()
	if d.tlsIn != nil {
		// the handshake must not hold the acceptor: on a goroutine of its
		// own, which holds a count of outWG as the acceptor does
		s.outWG.Add(1)
		go func() {
			defer s.outWG.Done()
			s.enrollAccepted(d, oc, nc, refuse)
		}()
		return
	}
	s.enrollAccepted(d, oc, nc, refuse)
}

// enrollAccepted serves nc on the accepted slot oc: on the destinations'
// gnet client, or after a TLS handshake on a streamConn (tlsout.go); a
// failure frees the slot and refuses nc, saying why.
func (s *Server) enrollAccepted(d *destination, oc *outConn, nc net.Conn, refuse func(string)) {
	ss := newSession(oc)
	var c peer
	var err error
	if d.tlsIn != nil {
		c, err = s.enrollTLS(tls.Server(nc, d.tlsIn.server()), ss)
	} else {
		c, err = s.outClient.EnrollContext(nc, ss) // closes nc: gnet holds a copy of the socket
	}
	if err != nil {
		d.in.release(oc)
		refuse("enrolling: " + err.Error())
		return
	}
	oc.sessions.Add(1)
	// Published only now that OnOpen has given ss its gnet.Conn (a worker
	// may send on it at once). The peer may have signed on already, on
	// the loop: oc.mu orders that with this, so the connection is up
	// exactly when it is published and signed on (or needs no sign-on).
	oc.mu.Lock()
	oc.sess = ss
	if (!d.cfg.SignOn || oc.signedOn.Load()) && !d.signedOff.Load() {
		d.pool.SetUp(oc.idx, true)
		oc.up.Set(1)
	}
	oc.mu.Unlock()
	d.in.accepted.Inc()
	s.outWG.Add(1) // the caller holds a count: never from zero during Wait
	go s.serveAccepted(oc, ss, c)
}

func (in *destListen) allowed(remote string) bool {
	if len(in.allow) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range in.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (in *destListen) take() *outConn {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.free) == 0 {
		return nil
	}
	oc := in.free[len(in.free)-1]
	in.free = in.free[:len(in.free)-1]
	return oc
}

func (in *destListen) release(oc *outConn) {
	in.mu.Lock()
	in.free = append(in.free, oc)
	in.mu.Unlock()
}

// serveAccepted is the keeper of an accepted connection (up already, or
// once the peer signs on: admit, peerNetwork) until it closes: the same
// keepSession as a dialled one's (echo tests, key changes); the slot
// freed at the end.
func (s *Server) serveAccepted(oc *outConn, ss *outSession, c peer) {
	defer s.outWG.Done()
	d := oc.d
	defer func() { // however it ended: down, then the slot is free again, named by its listener
		oc.down(ss)
		oc.mu.Lock()
		oc.addr = d.in.name
		oc.mu.Unlock()
		d.in.release(oc)
	}()
	remote := oc.addr
	if n, ok := d.line(destLineSession); ok {
		logline.Held(d.log.Info().Str("remote", remote).Int("conn", oc.idx).Bool("sign_on", d.cfg.SignOn), "suppressed", n).Msg("destination connection accepted")
	}
	s.keepSession(ss, c, remote)
}

// peerNetwork acts on a network management request the destination sent
// on an accepted connection, on its loop, once its 0810 is queued: a
// sign-on (001) puts the connection in the pool (signed on), a sign-off
// (002) takes it out; it stays open and may sign on again. Echo tests and
// other codes change nothing.
func (s *Server) peerNetwork(ss *outSession, v *codec.View) {
	oc := ss.oc
	code, ok := v.NetworkCode()
	if !ok && oc.d.dialect.Name == codec.CUPPOS {
		code, ok = codec.CUPNetworkCode(v)
	}
	if !ok || (code != netSignOn && code != netSignOff) {
		return
	}
	on := code == netSignOn
	oc.mu.Lock() // held for a few loads and stores: with admit's, see there
	changed := oc.signedOn.Swap(on) != on
	remote := oc.addr
	if oc.sess == ss { // else admit marks it up once it has published ss
		oc.d.pool.SetUp(oc.idx, on && !oc.d.signedOff.Load())
		up := 0.0
		if on {
			up = 1
		}
		oc.up.Set(up)
	}
	oc.mu.Unlock()
	if !changed { // a repeated sign-on or sign-off: answered, nothing to tell
		return
	}
	msg := "destination signed off"
	if on {
		msg = "destination signed on"
	}
	if n, ok := oc.d.line(destLineSession); ok { // on the loop, and the peer sets the pace: rate-limited
		logline.Held(oc.d.log.Info().Str("remote", remote).Int("conn", oc.idx), "suppressed", n).Msg(msg)
	}
}
