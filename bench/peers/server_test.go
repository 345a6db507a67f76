package peers

import (
	"context"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/bench"
	"github.com/cardswitch/cardswitch/codec"
)

func bothPeers(framing string) []bench.Target {
	return []bench.Target{Echo(framing), Moov("iso87ascii", framing)}
}

// Stop closes idle connections, busy ones and one whose client writes
// without reading (the socket buffers full), and returns.
func TestStopWithOpenConnections(t *testing.T) {
	d := mustDialect(t, "iso87ascii")
	f := mustFraming(t, "binary2")
	for _, target := range bothPeers("binary2") {
		t.Run(target.Name, func(t *testing.T) {
			addr, stop, err := target.Start(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			idle := dial(t, addr)
			answered := dial(t, addr)
			req := frame(t, d, f, request0200(7))
			if _, err := answered.Write(req); err != nil {
				t.Fatal(err)
			}
			if _, err := codec.NewReader(answered, f).Next(); err != nil {
				t.Fatal(err)
			}
			flood := dialSmallWindow(t, addr) // its replies back up at once
			flooding := make(chan struct{})
			go func() {
				defer close(flooding)
				floodWithoutReading(flood, req)
			}()
			// Wait until the socket buffers are full: the echo peer parked
			// writing replies nobody reads; the moov peer, which reads far
			// slower than the flood comes, leaves the client parked writing
			// with a backlog it cannot finish (its own write side fills
			// only after seconds of work under -race).
			parked := "peers.echoConn"
			if target.Name != "echo" {
				parked = "peers.floodWithoutReading"
			}
			for deadline := time.Now().Add(ioTimeout); !parkedWriting(parked); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s never parked on a full socket", parked)
				}
			}
			if peerGoroutines() == 0 {
				t.Fatal("peerGoroutines sees none of the running peer's goroutines")
			}
			stopped := make(chan struct{})
			go func() { stop(); close(stopped) }()
			select {
			case <-stopped:
			case <-time.After(10 * time.Second):
				t.Fatal("stop did not return")
			}
			stop() // a second call is harmless
			// stop has waited for them; give the last ones the moment
			// they need to return after their deferred Done.
			n := peerGoroutines()
			for deadline := time.Now().Add(ioTimeout); n != 0 && time.Now().Before(deadline); n = peerGoroutines() {
				time.Sleep(10 * time.Millisecond)
			}
			if n != 0 {
				t.Errorf("%d of the peer's goroutines still running after stop", n)
			}
			expectClosed(t, idle)
			expectClosed(t, answered)
			<-flooding
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatal("still accepting after stop")
			}
		})
	}
}

func TestContextEndStops(t *testing.T) {
	for _, target := range bothPeers("ascii4") {
		t.Run(target.Name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			addr, stop, err := target.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			c := dial(t, addr)
			cancel()
			expectClosed(t, c)
		})
	}
}

// A header announcing more than the link maximum, or one that is not a
// length, closes the connection; what came before it is answered.
func TestBadLengthHeaderCloses(t *testing.T) {
	d := mustDialect(t, "iso87ascii")
	for _, tc := range []struct {
		framing string
		header  []byte
	}{
		{"binary2", []byte{0xff, 0xff}},
		{"binary2", []byte{0x20, 0x01}}, // 8193: one over
		{"ascii4", []byte("9999")},
		{"ascii4", []byte("12x4")},
		{"bcd2", []byte{0x99, 0x99}},
		{"bcd2", []byte{0x0a, 0x00}},
	} {
		for _, target := range bothPeers(tc.framing) {
			t.Run(target.Name+"/"+tc.framing, func(t *testing.T) {
				f := mustFraming(t, tc.framing)
				conn := dial(t, start(t, target))
				out := append(frame(t, d, f, request0200(1)), tc.header...)
				out = append(out, make([]byte, 100)...)
				if _, err := conn.Write(out); err != nil {
					t.Fatal(err)
				}
				if _, err := codec.NewReader(conn, f).Next(); err != nil {
					t.Fatalf("request before the bad header: %v", err)
				}
				expectClosed(t, conn)
			})
		}
	}
}

// dialSmallWindow connects with a 4 KiB receive buffer, set before the
// connection so the window stays small (no autotuning).
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	return c
}

// floodWithoutReading writes about 15 MB of req, far more than the socket
// buffers hold, and never reads; it returns when stop closes c.
func floodWithoutReading(c net.Conn, req []byte) {
	batch := make([]byte, 0, 64*len(req))
	for i := 0; i < 64; i++ {
		batch = append(batch, req...)
	}
	for i := 0; i < 4096; i++ {
		if _, err := c.Write(batch); err != nil {
			return
		}
	}
}

// parkedWriting reports a goroutine running fn parked writing to a socket
// that takes no more bytes.
func parkedWriting(fn string) bool {
	for _, g := range goroutines() {
		if strings.Contains(g, fn) && strings.Contains(g, "[IO wait") && strings.Contains(g, "poll.(*FD).Write") {
			return true
		}
	}
	return false
}

func goroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// peerGoroutines counts goroutines running the peers' own code (not the
// tests', not iso8583-connection's loops, which this package cannot join).
func peerGoroutines() int {
	n := 0
	for _, g := range goroutines() {
		for _, fn := range []string{"peers.(*server)", "peers.echoConn", "peers.(*moovPeer)", "peers.(*moovReader)"} {
			if strings.Contains(g, fn) {
				n++
				break
			}
		}
	}
	return n
}
