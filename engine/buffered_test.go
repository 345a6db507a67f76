package engine

import (
	"bytes"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardswitch/cardswitch/codec"
)

// dialSmallWindow connects with a 4 KiB receive buffer, so the server's
// replies back up quickly when the peer does not read.
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A peer that reads its replies late is paused, not lost: past half its
// max_pending_bytes its requests wait unread, and once it reads, the ticker
// wakes the loop and every request is answered.
func TestPausedPeerIsAnsweredWhenItReads(t *testing.T) {
	ts := startServer(t, nil, func(c *Config) {
		c.Links[0].MaxPendingBytes = 64 << 10
		c.Links[0].MaxFrame = 1024
		c.Links[0].SocketBuffer = 4096
	})
	raw := dialSmallWindow(t, ts.addr)
	f, _ := codec.ParseFraming("binary2")
	d, _ := codec.Lookup(codec.ISO87ASCII)
	// as many requests as fit under max_pending_bytes: their replies, a
	// little longer, fill more than the kernel's buffers and half of it
	one, _ := f.Append(nil, nil, purchase(t, 1, 1))
	n := (64<<10 - 1024) / len(one)
	var all []byte
	for i := 1; i <= n; i++ {
		all, _ = f.Append(all, nil, purchase(t, i, 1))
	}
	if len(all) >= 64<<10 {
		t.Fatalf("%d bytes of requests: more than max_pending_bytes would be closed", len(all))
	}
	// in pieces, so that later requests meet the replies to earlier ones
	for piece := len(all) / 16; len(all) > 0; {
		k := min(piece, len(all))
		if _, err := raw.Write(all[:k]); err != nil {
			t.Fatal(err)
		}
		all = all[k:]
		time.Sleep(10 * time.Millisecond) // pacing only: nothing is timed
	}
	waitUntil(t, "the connection paused", func() bool {
		for _, cs := range ts.conns(t, 1) {
			if cs.paused.Load() {
				return true
			}
		}
		return false
	})
	raw.SetReadDeadline(time.Now().Add(30 * time.Second))
	got := map[uint32]bool{}
	var buf []byte
	chunk := make([]byte, 4096)
	for len(got) < n {
		k, err := raw.Read(chunk)
		if err != nil {
			t.Fatalf("%d of %d answered: %v", len(got), n, err)
		}
		buf = append(buf, chunk[:k]...)
		for {
			fr, used, err := f.Next(buf)
			if err != nil {
				break
			}
			var v codec.View
			if err := d.Decode(&v, fr.Msg); err != nil {
				t.Fatal(err)
			}
			stan, _ := v.STAN()
			got[stan] = true
			buf = buf[used:]
		}
	}
	if v := testutil.ToFloat64(ts.m.events.WithLabelValues("pos", "slow_reader_closed")); v != 0 {
		t.Fatalf("closed %v times", v)
	}
}

// Peers that never read cannot take the switch's memory: over
// engine.max_buffered_bytes the connection holding most is closed (and
// the next, while still over), and a peer that reads is answered all along.
func TestBufferedBytesBoundAcrossConnections(t *testing.T) {
	if os.Getenv("ENGINE_TEST_STREAM") == "1" {
		// the bound closes the two largest there too, but a streamConn
		// reads a flooder no faster than it answers it (gnet reads all it
		// can), so the last one alone takes far more purchases to pass it
		t.Skip("gnet's read-ahead makes the flood fast enough for this test's purchase budget")
	}
	ts := startServer(t, nil, func(c *Config) {
		c.MaxBufferedBytes = 1 << 20
		c.Links[0].MaxPendingBytes = 4 << 20 // each alone may hold 4 MiB: only the total stops them
		c.Links[0].MaxFrame = 1024
		c.Links[0].SocketBuffer = 4096
		c.Links[0].FrameTimeout = time.Minute
	})
	f, _ := codec.ParseFraming("binary2")
	frame, _ := f.Append(nil, nil, purchase(t, 1, 1))
	batch := bytes.Repeat(frame, 200)
	for i := 0; i < 3; i++ {
		raw := dialSmallWindow(t, ts.addr)
		go func() {
			for {
				if _, err := raw.Write(batch); err != nil {
					return
				}
			}
		}()
	}
	good := ts.dial(t)
	closed := func() float64 { return testutil.ToFloat64(ts.m.events.WithLabelValues("pos", "buffered_bytes_closed")) }
	for stan := 1; closed() < 3; stan++ {
		if stan > 100000 {
			t.Fatalf("after %d purchases, %v connections closed for holding most", stan, closed())
		}
		r, err := good.RoundTrip(purchase(t, stan, 1), 10*time.Second)
		if err != nil || field(r, 39) != "00" {
			t.Fatalf("the reading peer, purchase %d: %v", stan, err)
		}
	}
	waitUntil(t, "the buffered bytes back under the bound", func() bool { return ts.buffered.Load() <= ts.cfg.MaxBufferedBytes })
	if v := testutil.ToFloat64(ts.m.events.WithLabelValues("pos", "slow_reader_closed")); v != 0 {
		t.Fatalf("%v closed by their own max_pending_bytes, not by the total", v)
	}
}
