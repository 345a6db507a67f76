package payshield

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// call is one command in flight. Calls are pooled: whoever removes a call
// from a connection's pending map signals done, except the caller itself,
// so done holds at most one token and is empty when the call is reused.
type call struct {
	cmd  [2]byte
	req  []byte // framed: length, header, command, fields
	resp []byte // the reply after its header
	err  error
	done chan struct{} // cap 1
}

// conn is one pipelined connection: many calls in flight, matched to
// replies by the header, which holds a decimal counter.
type conn struct {
	nc       net.Conn
	hdrLen   int
	mod      uint32        // 10^hdrLen: the counter wraps here
	inFlight int           // InFlightMax: live calls, and also the tombstone limit
	wlock    chan struct{} // cap 1: held while writing a request
	slots    chan struct{} // cap InFlightMax: live calls
	lastRead atomic.Int64  // unix nanoseconds of the last reply
	dead     atomic.Bool

	mu      sync.Mutex       // guards the fields below
	pending map[uint32]*call // nil value: a tombstone for a timed-out call
	stale   int              // tombstones in pending
	seq     uint32
	err     error
}

// dial opens a connection and starts its reader.
func dial(ctx context.Context, cfg *Config) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, timeoutError("dial", ctx)
		}
		return nil, fmt.Errorf("%w: %w", ErrConnBroken, err)
	}
	cn := &conn{
		nc: nc, hdrLen: cfg.HeaderLen, mod: uint32(pow10(cfg.HeaderLen)), inFlight: cfg.InFlightMax,
		wlock: make(chan struct{}, 1), slots: make(chan struct{}, cfg.InFlightMax),
		pending: make(map[uint32]*call, cfg.InFlightMax),
	}
	go cn.readLoop(cfg.FrameBytesMax)
	return cn, nil
}

func (cn *conn) alive() bool { return !cn.dead.Load() }

// roundTrip sends cl and waits for its reply, the deadline or a failure.
func (cn *conn) roundTrip(ctx context.Context, cl *call) error {
	select {
	case cn.slots <- struct{}{}:
	case <-ctx.Done():
		return timeoutError(string(cl.cmd[:]), ctx)
	}
	defer func() { <-cn.slots }()
	id, err := cn.register(cl)
	if err != nil {
		return err
	}
	putCounter(cl.req[lengthPrefixBytes:lengthPrefixBytes+cn.hdrLen], id)
	select {
	case cn.wlock <- struct{}{}:
	case <-ctx.Done():
		cn.forget(cl, id, false)
		return timeoutError(string(cl.cmd[:]), ctx)
	}
	sent := time.Now().UnixNano()
	dl, _ := ctx.Deadline()
	_ = cn.nc.SetWriteDeadline(dl)
	_, err = cn.nc.Write(cl.req)
	<-cn.wlock
	if err != nil {
		cn.fail(err) // a partial write leaves the stream unusable
	}
	select {
	case <-cl.done:
		return cl.err
	case <-ctx.Done():
		cn.forget(cl, id, true)
		if cn.lastRead.Load() < sent {
			cn.fail(ErrTimeout) // nothing came back since we sent: the link is dead
		}
		return timeoutError(string(cl.cmd[:]), ctx)
	}
}

// register gives cl the next free counter value.
func (cn *conn) register(cl *call) (uint32, error) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.err != nil {
		return 0, brokenError(cn.err)
	}
	// At most inFlight live calls and inFlight tombstones are pending, and
	// Config.Validate keeps 2*inFlight below mod, so a free value exists.
	for {
		cn.seq++
		if cn.seq >= cn.mod {
			cn.seq = 0
		}
		if _, used := cn.pending[cn.seq]; !used {
			break
		}
	}
	cn.pending[cn.seq] = cl
	return cn.seq, nil
}

// forget removes a call the caller gave up on. If another party already
// took it, it drains the token they sent. A sent call leaves a tombstone
// so a late reply is never matched to a new call with the same counter;
// too many tombstones mean a sick link, and the connection is dropped.
func (cn *conn) forget(cl *call, id uint32, sent bool) {
	cn.mu.Lock()
	mine := cn.pending[id] == cl
	if mine && sent {
		cn.pending[id] = nil
		cn.stale++
	} else if mine {
		delete(cn.pending, id)
	}
	tooStale := cn.stale > cn.inFlight
	cn.mu.Unlock()
	if !mine {
		<-cl.done
	}
	if tooStale {
		cn.fail(errors.New("payshield: too many late replies"))
	}
}

// fail breaks the connection once: it closes the socket and fails every
// pending call.
func (cn *conn) fail(cause error) {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return
	}
	cn.err = cause
	cn.dead.Store(true)
	p := cn.pending
	cn.pending, cn.stale = nil, 0
	cn.mu.Unlock()
	_ = cn.nc.Close()
	for _, cl := range p {
		if cl != nil {
			cl.err = brokenError(cause)
			cl.done <- struct{}{}
		}
	}
}

// brokenError is what a call gets when its connection fails.
func brokenError(cause error) error {
	if errors.Is(cause, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrConnBroken, cause)
}

// readLoop delivers replies to their calls until the connection fails.
func (cn *conn) readLoop(frameMax int) {
	r := bufio.NewReaderSize(cn.nc, 4096)
	var buf []byte
	for {
		var err error
		if buf, err = readFrame(r, buf, frameMax); err != nil {
			cn.fail(err)
			return
		}
		cn.lastRead.Store(time.Now().UnixNano())
		id, ok := parseCounter(buf, cn.hdrLen)
		if !ok {
			cn.fail(fmt.Errorf("%w: reply header %q", ErrProtocol, buf[:min(len(buf), cn.hdrLen)]))
			return
		}
		cn.mu.Lock()
		cl, found := cn.pending[id]
		if found {
			delete(cn.pending, id)
			if cl == nil {
				cn.stale--
			}
		}
		cn.mu.Unlock()
		if cl == nil {
			continue // a late reply to a timed-out call, or unknown
		}
		cl.resp = append(cl.resp[:0], buf[cn.hdrLen:]...)
		cl.err = nil
		cl.done <- struct{}{}
	}
}

// putCounter writes id as len(dst) decimal digits.
func putCounter(dst []byte, id uint32) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + id%10)
		id /= 10
	}
}

// parseCounter reads the decimal counter from a reply's header.
func parseCounter(msg []byte, n int) (uint32, bool) {
	if len(msg) < n {
		return 0, false
	}
	var id uint32
	for _, c := range msg[:n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		id = id*10 + uint32(c-'0')
	}
	return id, true
}
