package payshield

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardswitch/cardswitch/hsm"
)

// Config configures a Client. Defaults are filled in by NewClient.
type Config struct {
	// Addr is the HSM's host:port.
	Addr string
	// Conns is the pool size: connections opened on demand and shared by
	// all callers, round robin (default 2, at most 64).
	Conns int
	// HeaderLen is the message header length the HSM is configured with
	// (default 4). The client puts a decimal request counter there to match
	// pipelined replies, so it must be 2 to 9.
	HeaderLen int
	// Timeout bounds each command, dial included, when the context has no
	// earlier deadline (default 2s).
	Timeout time.Duration
	// InFlightMax bounds the commands in flight on one connection (default
	// 128). It must be below 10^HeaderLen/2: a counter stays reserved after
	// its command times out, until the late reply or a reconnection, so a
	// late reply is never taken for another command's.
	InFlightMax int
	// FrameBytesMax bounds a message either way (default 32 KiB, at most 65535).
	FrameBytesMax int
}

func (c *Config) setDefaults() {
	if c.Conns == 0 {
		c.Conns = 2
	}
	if c.HeaderLen == 0 {
		c.HeaderLen = headerLenDefault
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	if c.InFlightMax == 0 {
		c.InFlightMax = 128
	}
	if c.FrameBytesMax == 0 {
		c.FrameBytesMax = frameBytesDefault
	}
}

// Validate reports a configuration the client cannot run with.
func (c *Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("payshield: no Addr")
	case c.Conns < 1 || c.Conns > 64:
		return errors.New("payshield: Conns must be 1 to 64")
	case c.HeaderLen < 2 || c.HeaderLen > headerLenMax:
		return errors.New("payshield: HeaderLen must be 2 to 9")
	case c.Timeout <= 0:
		return errors.New("payshield: Timeout must be positive")
	case c.InFlightMax < 1 || 2*uint64(c.InFlightMax) >= pow10(c.HeaderLen):
		return errors.New("payshield: InFlightMax must be 1 to 10^HeaderLen/2-1")
	case c.FrameBytesMax < 64 || c.FrameBytesMax > frameBytesLimit:
		return errors.New("payshield: FrameBytesMax must be 64 to 65535")
	}
	return nil
}

func pow10(n int) uint64 {
	v := uint64(1)
	for range n {
		v *= 10
	}
	return v
}

// Client is an hsm.Service over payShield host commands. It keeps a pool
// of connections, pipelines commands on each, reconnects after a failure,
// and bounds every command by its deadline. Safe for concurrent use.
type Client struct {
	cfg    Config
	slots  []slot
	next   atomic.Uint32
	closed atomic.Bool
	calls  sync.Pool // *call
}

var _ hsm.Service = (*Client)(nil)

// slot is one pool position.
type slot struct {
	lock chan struct{} // cap 1: held while (re)dialing
	cur  atomic.Pointer[conn]
}

// NewClient returns a client; connections are opened on first use, so an
// HSM that is down is reported by the commands (and Health), not here.
func NewClient(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, slots: make([]slot, cfg.Conns)}
	for i := range c.slots {
		c.slots[i].lock = make(chan struct{}, 1)
	}
	c.calls.New = func() any { return &call{done: make(chan struct{}, 1)} }
	return c, nil
}

// Close closes every connection; commands in flight fail with ErrClosed.
func (c *Client) Close() error {
	c.closed.Store(true)
	for i := range c.slots {
		s := &c.slots[i]
		s.lock <- struct{}{}
		if cn := s.cur.Swap(nil); cn != nil {
			cn.fail(ErrClosed)
		}
		<-s.lock
	}
	return nil
}

// conn returns a live connection, dialing one if its slot has none.
func (c *Client) conn(ctx context.Context) (*conn, error) {
	s := &c.slots[int(c.next.Add(1))%len(c.slots)]
	if cn := s.cur.Load(); cn != nil && cn.alive() {
		return cn, nil
	}
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, timeoutError("dial", ctx)
	}
	defer func() { <-s.lock }()
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if cn := s.cur.Load(); cn != nil && cn.alive() {
		return cn, nil
	}
	cn, err := dial(ctx, &c.cfg)
	if err != nil {
		return nil, err
	}
	s.cur.Store(cn)
	return cn, nil
}

// timeoutError reports a command that ran out of time.
func timeoutError(cmd string, ctx context.Context) error {
	return &timeoutErr{cmd: cmd, cause: context.Cause(ctx)}
}

type timeoutErr struct {
	cmd   string
	cause error
}

func (e *timeoutErr) Error() string {
	return "payshield: " + e.cmd + ": command timed out: " + e.cause.Error()
}

// Unwrap lets errors.Is match ErrTimeout and the context's error.
func (e *timeoutErr) Unwrap() []error { return []error{ErrTimeout, e.cause} }
