package engine

import (
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// When accept fails with EMFILE, gnet shuts the link's engine down: its
// connections drop and its port stops listening. The link is then not
// ready (/readyz says which), and listens again on its own once files are
// free, and the refusal is counted. (The start sizes the open-file limit to
// the links' max_conns so that this does not happen in the first place:
// TestPlanFDs.)
func TestLinkListensAgainAfterEMFILE(t *testing.T) {
	if os.Getenv("ENGINE_TEST_STREAM") == "1" {
		t.Skip("gnet stops a link whose accept fails; a streamed (TLS) link retries accept and never stops")
	}
	ts := startServer(t, nil, nil)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := rl
	low.Cur = uint64(len(fds) + 16)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := 0; ts.links[0].up.Load(); i++ {
		if i > 1000 {
			restore()
			t.Fatal("the link never ran out of files")
		}
		if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
			clients = append(clients, c)
		}
		time.Sleep(time.Millisecond) // let the loop accept
	}
	restore()
	if ts.Ready() || ts.downLink() != "pos" {
		t.Fatalf("ready %v with link %q down", ts.Ready(), ts.downLink())
	}
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	waitUntil(t, "the link listening again", func() bool { return ts.links[0].up.Load() && ts.Ready() })
	if v := testutil.ToFloat64(ts.m.events.WithLabelValues("pos", "link_restarted")); v < 1 {
		t.Fatalf("restarts counted %v", v)
	}
	r, err := ts.dial(t).RoundTrip(purchase(t, 1, 100), 5*time.Second)
	if err != nil || field(r, 39) != "00" {
		t.Fatalf("after the restart: %v", err)
	}
}
