package engine

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
}

// LinkStates returns the state of every link, in configuration order. It
// reads atomics only: it may be called at any time, from any goroutine.
func (s *Server) LinkStates() []LinkState {
	out := make([]LinkState, 0, len(s.links))
	for _, l := range s.links {
		out = append(out, LinkState{Name: l.cfg.Name, Listen: l.cfg.Listen, Dialect: l.dialect.Name, Framing: l.cfg.Framing,
			Up: l.up.Load(), Conns: l.nConns.Load(), MaxConns: l.cfg.MaxConns, RequireSignOn: l.cfg.RequireSignOn, MAC: l.cfg.MAC})
	}
	return out
}
