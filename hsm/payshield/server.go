package payshield

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/cardswitch/cardswitch/hsm"
)

// ServerConfig configures the simulator. The zero value is usable.
type ServerConfig struct {
	// LMK is the variant LMK set keys are stored under; default hsm.ThalesTestLMK().
	LMK *hsm.VariantLMK
	// Rand is the random source for keys and PIN block fill; default crypto/rand.
	Rand io.Reader
	// HeaderLen is the message header length (default 4, at most 255).
	HeaderLen int
	// FrameBytesMax bounds a message; a longer one closes the connection
	// (default 32 KiB, at most 65535).
	FrameBytesMax int
	// InFlightMax bounds the commands one connection may have executing at
	// once; the reader stops reading when it is reached (default 64).
	InFlightMax int
	// ConnsMax bounds concurrent connections; more are closed at accept (default 256).
	ConnsMax int
	// Disabled lists command codes answered with error 68.
	Disabled []string
}

func (c *ServerConfig) setDefaults() {
	if c.LMK == nil {
		c.LMK = hsm.ThalesTestLMK()
	}
	if c.HeaderLen == 0 {
		c.HeaderLen = headerLenDefault
	}
	if c.FrameBytesMax == 0 {
		c.FrameBytesMax = frameBytesDefault
	}
	if c.InFlightMax == 0 {
		c.InFlightMax = 64
	}
	if c.ConnsMax == 0 {
		c.ConnsMax = 256
	}
}

// Validate reports a configuration the server cannot run with.
func (c *ServerConfig) Validate() error {
	switch {
	case c.HeaderLen < 0 || c.HeaderLen > 255:
		return errors.New("payshield: HeaderLen must be 0 to 255")
	case c.FrameBytesMax < c.HeaderLen+2 || c.FrameBytesMax > frameBytesLimit:
		return errors.New("payshield: FrameBytesMax out of range")
	case c.InFlightMax < 1 || c.ConnsMax < 1:
		return errors.New("payshield: InFlightMax and ConnsMax must be positive")
	}
	return nil
}

// Server is a payShield host-command simulator over the software HSM
// primitives. It answers NC, A0, A6, BU, CA, CC, DA, DC, EA, EC, FA, G0,
// KQ, M6, M8, MA and MC; anything else gets error 68. Malformed fields get
// error 15; a malformed frame (too long) closes the connection.
type Server struct {
	cfg      ServerConfig
	handlers map[string]handler
	sem      chan struct{} // connection slots (ConnsMax)

	mu     sync.Mutex // guards the fields below
	lns    map[net.Listener]struct{}
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup // connection goroutines
}

// NewServer returns a simulator; call Serve to answer connections.
func NewServer(cfg ServerConfig) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, handlers: make(map[string]handler), sem: make(chan struct{}, cfg.ConnsMax),
		lns: make(map[net.Listener]struct{}), conns: make(map[net.Conn]struct{}),
	}
	for code, h := range commandTable {
		s.handlers[code] = h
	}
	for _, code := range cfg.Disabled {
		delete(s.handlers, code)
	}
	return s, nil
}

// ListenAndServe listens on addr and serves until ctx is done.
func ListenAndServe(ctx context.Context, addr string, cfg ServerConfig) error {
	s, err := NewServer(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	err = s.Serve(ln)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Serve accepts connections on l until Close; it always closes l.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l, nil) {
		_ = l.Close()
		return ErrClosed
	}
	defer s.untrack(l, nil)
	for {
		c, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		select {
		case s.sem <- struct{}{}:
		default: // over ConnsMax: refuse rather than queue
			_ = c.Close()
			continue
		}
		if !s.track(nil, c) {
			_ = c.Close()
			<-s.sem
			return nil
		}
		go s.serveConn(c)
	}
}

// Close stops every Serve, closes every connection and waits for their
// goroutines to finish.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for l := range s.lns {
		_ = l.Close()
	}
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// track registers a listener or connection; false once the server is closed.
func (s *Server) track(l net.Listener, c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if l != nil {
		s.lns[l] = struct{}{}
	}
	if c != nil {
		s.conns[c] = struct{}{}
		s.wg.Add(1)
	}
	return true
}

func (s *Server) untrack(l net.Listener, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l != nil {
		delete(s.lns, l)
		_ = l.Close()
	}
	if c != nil {
		delete(s.conns, c)
		_ = c.Close()
	}
}
