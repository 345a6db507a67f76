package engine

import (
	"net"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// peer is what the links and the destinations' sessions use of a
// connection. A gnet.Conn is one; a streamConn (a TLS connection) is the
// other, so both are read, framed, decoded, bounded and written by the
// same code (Link.traffic, outHandler.traffic).
type peer interface {
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
	InboundBuffered() int
	Writev(bs [][]byte) (int, error)
	OutboundBuffered() int
	Wake(cb gnet.AsyncCallback) error
	Close() error
	RemoteAddr() net.Addr
}

var _ peer = gnet.Conn(nil)

// streamHandler is what a streamConn drives: the counterparts of gnet's
// OnTraffic and OnClose.
type streamHandler interface {
	streamTraffic() gnet.Action // a turn: bytes arrived, or a Wake
	streamClosed(err error)     // once, after the last turn
}

// streamReadBytes is what one read takes from the connection: a frame of
// the default max_frame at once. crypto/tls decrypts a record (16 KiB at
// most) into it in as many reads as it takes.
const streamReadBytes = 8 << 10

// streamConn serves a net.Conn (a *tls.Conn: gnet cannot read one, it
// reads sockets) the way a gnet loop serves a socket, with three
// goroutines of its own: the reader appends what the connection gives to
// the inbound buffer and asks for a turn; the loop runs the turns (the
// handler's code, as on a gnet loop: never two at once, and Wake asks for
// one); the writer sends what the turns wrote, so a turn never waits for
// a peer that does not read. The handler sees gnet's semantics: Peek and
// Discard over what arrived, Writev that queues and returns,
// OutboundBuffered counting what is not yet sent, Close that ends the
// connection and, on the loop, calls streamClosed once. What it holds is
// bounded: the reader stops while inMax bytes are unhandled, and the
// handler closes a connection whose unsent replies pass its bound, as it
// does on gnet.
type streamConn struct {
	nc       net.Conn
	remote   net.Addr
	h        streamHandler
	inMax    int       // the reader waits while this many bytes are unhandled
	panicked func(any) // a turn that panicked closes the connection, logged here

	kick  chan struct{} // cap 1: a turn is due (bytes read, a Wake)
	wkick chan struct{} // cap 1: bytes for the writer
	room  chan struct{} // cap 1: the loop discarded, the reader may read again
	done  chan struct{} // closed once, by fail
	once  sync.Once

	mu      sync.Mutex
	in      []byte // mu guards in, out, writing and err: bytes read, not yet discarded
	out     []byte // bytes written by turns, not yet taken by the writer
	writing int    // bytes the writer is sending
	err     error  // why the connection ended, nil while it is open
}

func newStreamConn(nc net.Conn, h streamHandler, inMax int, panicked func(any)) *streamConn {
	return &streamConn{nc: nc, remote: nc.RemoteAddr(), h: h, inMax: inMax, panicked: panicked,
		kick: make(chan struct{}, 1), wkick: make(chan struct{}, 1), room: make(chan struct{}, 1), done: make(chan struct{})}
}

// run serves the connection until it ends, on the caller's goroutine (the
// reader's): handshake first, when given (its error ends the connection
// before any turn).
func (sc *streamConn) run(handshake func() error) {
	if handshake != nil {
		if err := handshake(); err != nil {
			sc.fail(err)
			sc.finish()
			return
		}
	}
	go sc.loop()
	go sc.write()
	sc.read()
}

func (sc *streamConn) read() {
	buf := make([]byte, streamReadBytes)
	for {
		n, err := sc.nc.Read(buf)
		if n > 0 {
			sc.mu.Lock()
			sc.in = append(sc.in, buf[:n]...)
			full := len(sc.in) >= sc.inMax
			sc.mu.Unlock()
			signal(sc.kick)
			for full {
				select {
				case <-sc.room:
				case <-sc.done:
					return
				}
				sc.mu.Lock()
				full = len(sc.in) >= sc.inMax
				sc.mu.Unlock()
			}
		}
		if err != nil {
			sc.fail(err)
			return
		}
	}
}

func (sc *streamConn) loop() {
	defer sc.finish()
	for {
		select {
		case <-sc.done:
			return
		case <-sc.kick:
			if sc.turn() == gnet.Close {
				sc.fail(net.ErrClosed)
				return
			}
		}
	}
}

// turn runs one of the handler's turns; a panic outside the handler's own
// guards closes the connection, as a bad frame does, and the process lives.
func (sc *streamConn) turn() (a gnet.Action) {
	defer func() {
		if p := recover(); p != nil {
			sc.panicked(p)
			a = gnet.Close
		}
	}()
	return sc.h.streamTraffic()
}

func (sc *streamConn) write() {
	var spare []byte
	for {
		select {
		case <-sc.wkick:
		case <-sc.done:
			return
		}
		sc.mu.Lock()
		buf := sc.out
		sc.out, sc.writing = spare[:0], len(buf)
		sc.mu.Unlock()
		if len(buf) == 0 {
			spare = buf
			continue
		}
		_, err := sc.nc.Write(buf) // crypto/tls cuts it into records
		sc.mu.Lock()
		sc.writing = 0
		sc.mu.Unlock()
		if cap(buf) <= 1<<20 { // a burst's buffer is not kept for the connection's life
			spare = buf[:0]
		} else {
			spare = nil
		}
		if err != nil {
			sc.fail(err)
			return
		}
	}
}

// finish closes the connection and tells the handler, once, on the loop
// (or on the reader, when the handshake failed and no loop ran).
func (sc *streamConn) finish() {
	_ = sc.nc.Close() // a Write in flight makes crypto/tls close at once, without its close_notify
	sc.mu.Lock()
	err := sc.err
	sc.in, sc.out = nil, nil
	sc.mu.Unlock()
	sc.h.streamClosed(err)
}

// fail ends the connection for err (the first reason wins).
func (sc *streamConn) fail(err error) {
	sc.once.Do(func() {
		sc.mu.Lock()
		sc.err = err
		sc.mu.Unlock()
		close(sc.done)
		// the reader may be blocked in Read: an expired deadline wakes it
		// (the close itself happens on the loop, after the last turn)
		_ = sc.nc.SetReadDeadline(time.Unix(1, 0))
	})
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Peek returns what arrived and was not discarded (n < 0), or its first n
// bytes. It stays valid until Discard: the reader only appends.
func (sc *streamConn) Peek(n int) ([]byte, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if n < 0 || n > len(sc.in) {
		return sc.in, nil
	}
	return sc.in[:n], nil
}

// Discard drops the first n bytes read: the loop has handled them.
func (sc *streamConn) Discard(n int) (int, error) {
	sc.mu.Lock()
	n = min(max(n, 0), len(sc.in))
	sc.in = sc.in[:copy(sc.in, sc.in[n:])]
	if len(sc.in) == 0 && cap(sc.in) > 2*sc.inMax {
		sc.in = nil
	}
	sc.mu.Unlock()
	signal(sc.room)
	return n, nil
}

// InboundBuffered is the bytes read and not discarded.
func (sc *streamConn) InboundBuffered() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.in)
}

// Writev queues bs for the writer and returns: nothing waits for the peer.
func (sc *streamConn) Writev(bs [][]byte) (int, error) {
	n := 0
	sc.mu.Lock()
	if sc.err != nil {
		sc.mu.Unlock()
		return 0, sc.err
	}
	for _, b := range bs {
		sc.out = append(sc.out, b...)
		n += len(b)
	}
	sc.mu.Unlock()
	signal(sc.wkick)
	return n, nil
}

// OutboundBuffered is the bytes written and not yet sent.
func (sc *streamConn) OutboundBuffered() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.out) + sc.writing
}

// Wake asks for a turn (cb is not supported: the engine passes nil).
func (sc *streamConn) Wake(gnet.AsyncCallback) error {
	signal(sc.kick)
	return nil
}

// Close ends the connection: streamClosed follows on the loop.
func (sc *streamConn) Close() error {
	sc.fail(net.ErrClosed)
	return nil
}

// RemoteAddr is the peer's address.
func (sc *streamConn) RemoteAddr() net.Addr { return sc.remote }
