package peers

import (
	"context"
	"net"
	"sync"
)

// connsMax bounds the connections a peer serves at once: each costs a
// goroutine and up to 128 KiB of buffers (echo) or a handful of goroutines
// (moov); a load run uses a few hundred. Connections beyond it are closed
// at once.
const connsMax = 4096

// server is the accept loop both peers share: it tracks every connection
// so stop can close them, and every goroutine so stop can wait for them.
type server struct {
	ln    net.Listener
	serve func(net.Conn) // runs one connection until it ends; the server closes it after

	wg sync.WaitGroup // the accept loop, one per connection, and tracked work (enter/leave)

	mu     sync.Mutex
	closed bool                  // mu guards closed and conns
	conns  map[net.Conn]struct{} // open connections
}

func newServer(serve func(net.Conn)) *server {
	return &server{serve: serve, conns: make(map[net.Conn]struct{})}
}

// listen starts serving on a loopback port and returns its address. stop
// closes the listener and every connection and waits for the goroutines;
// it runs once, whether called or triggered by ctx ending.
func (s *server) listen(ctx context.Context) (addr string, stop func(), err error) {
	var lc net.ListenConfig
	s.ln, err = lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	s.wg.Add(1)
	go s.acceptLoop()
	once := sync.OnceFunc(s.stop)
	unwatch := context.AfterFunc(ctx, once)
	return s.ln.Addr().String(), func() { unwatch(); once() }, nil
}

func (s *server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			// Closed by stop, or a listener that can no longer accept:
			// either way a baseline has nothing better to do than stop
			// accepting (a load run sees it as refused connections).
			return
		}
		if !s.track(c) {
			c.Close()
			continue
		}
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.untrack(c)
			c.Close()
		}()
	}
}

// track registers c and counts its goroutine, unless the server is stopping
// or full.
func (s *server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= connsMax {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// enter counts a goroutine the server did not start (moov's handlers) so
// stop waits for it; it fails once stop has begun. Adding under mu while
// not closed keeps every Add before stop's Wait.
func (s *server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *server) leave() { s.wg.Done() }

func (s *server) stop() {
	s.mu.Lock()
	s.closed = true
	s.ln.Close()
	for c := range s.conns {
		c.Close() // unblocks the connection's reads and writes
	}
	s.mu.Unlock()
	s.wg.Wait()
}
