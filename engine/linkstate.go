package engine

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// LinkState is one inbound link as the admin API shows it (GET /links).
type LinkState struct {
	Name          string `json:"name"`
	Listen        string `json:"listen"`
	Dialect       string `json:"dialect"`
	Framing       string `json:"framing"`
	Up            bool   `json:"up"` // listening now (after a failure it listens again after a backoff)
	Conns         int64  `json:"connections"`
	MaxConns      int    `json:"max_connections"`
	RequireSignOn bool   `json:"require_sign_on"`
	MAC           string `json:"mac,omitempty"`
	TLS           bool   `json:"tls,omitempty"` // links[].tls: served over TLS
}

// LinkStates returns the state of every link, in configuration order. It
// reads atomics only: it may be called at any time, from any goroutine.
func (s *Server) LinkStates() []LinkState {
	out := make([]LinkState, 0, len(s.links))
	for _, l := range s.links {
		out = append(out, LinkState{Name: l.cfg.Name, Listen: l.cfg.Listen, Dialect: l.dialect.Name, Framing: l.cfg.Framing,
			Up: l.up.Load(), Conns: l.nConns.Load(), MaxConns: l.cfg.MaxConns, RequireSignOn: l.cfg.RequireSignOn, MAC: l.cfg.MAC,
			TLS: l.tls != nil})
	}
	return out
}

// LinkConn is one connection of an inbound link as the admin API lists it.
type LinkConn struct {
	ID           uint64    `json:"id"` // the connection number of logs and journal records
	Remote       string    `json:"remote"`
	LastActivity time.Time `json:"last_activity"` // the last bytes received
}

// ErrNoLink is a link name the server does not have.
var ErrNoLink = errors.New("engine: no such link")

func (s *Server) link(name string) *Link {
	for _, l := range s.links {
		if l.cfg.Name == name {
			return l
		}
	}
	return nil
}

// LinkConnections lists at most max of link name's connections, by ID,
// and how many it has; it reads atomics only.
func (s *Server) LinkConnections(name string, max int) ([]LinkConn, int, error) {
	l := s.link(name)
	if l == nil {
		return nil, 0, fmt.Errorf("%w: %q", ErrNoLink, name)
	}
	var out []LinkConn
	n := 0
	l.conns.Range(func(k, _ any) bool {
		cs := k.(*connState)
		n++
		out = append(out, LinkConn{ID: cs.id, Remote: cs.remote, LastActivity: time.Unix(0, cs.lastActivity.Load()).UTC()})
		return true
	})
	slices.SortFunc(out, func(a, b LinkConn) int { return cmp.Compare(a.ID, b.ID) })
	if len(out) > max {
		out = out[:max]
	}
	return out, n, nil
}

// ErrNoConn is a connection a link does not hold (closed already).
var ErrNoConn = errors.New("engine: no such connection")

// CloseLinkConnection closes connection id of link name (the operator's:
// logged), as the idle timeout closes one: its requests in flight are
// answered to no one, their effects journaled as for any peer that hangs up.
func (s *Server) CloseLinkConnection(name string, id uint64) error {
	l := s.link(name)
	if l == nil {
		return fmt.Errorf("%w: %q", ErrNoLink, name)
	}
	var found *connState
	l.conns.Range(func(k, _ any) bool {
		if cs := k.(*connState); cs.id == id {
			found = cs
			return false
		}
		return true
	})
	if found == nil {
		return fmt.Errorf("%w: %d on link %s", ErrNoConn, id, name)
	}
	l.log.Warn().Str("remote", found.remote).Uint64("conn", id).Msg("closing connection: the operator's (admin API)")
	return found.c.Close()
}
