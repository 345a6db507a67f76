package payshield

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/hsm"
)

// fakeHSM accepts connections and runs serve on each until the test ends.
func fakeHSM(t *testing.T, serve func(c net.Conn, n int)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); serve(c, n) }()
		}
	}()
	return ln.Addr().String()
}

// TestClientTimeout: an HSM that reads but never answers costs the
// configured timeout (or the context's, if earlier), never a hang.
func TestClientTimeout(t *testing.T) {
	stop := make(chan struct{})
	addr := fakeHSM(t, func(c net.Conn, _ int) {
		go func() { <-stop; _ = c.Close() }()
		_, _ = bufio.NewReader(c).WriteTo(discard{})
	})
	defer close(stop)
	c, err := NewClient(Config{Addr: addr, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, ctxTimeout := range []time.Duration{0, 30 * time.Millisecond} {
		ctx := context.Background()
		if ctxTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, ctxTimeout)
			defer cancel()
		}
		// a client that never gave up would hang here (the test's own
		// timeout catches it): no wall-clock bound on a shared machine
		err := c.Health(ctx)
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want ErrTimeout", err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestClientReconnect: the HSM closes each connection after one reply;
// every command still succeeds (the client redials, retrying a command
// caught by the close once).
func TestClientReconnect(t *testing.T) {
	s, err := NewServer(ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	addr := fakeHSM(t, func(c net.Conn, _ int) {
		conns.Add(1)
		r := bufio.NewReader(c)
		msg, err := readFrame(r, nil, frameBytesDefault)
		if err != nil || len(msg) < 6 {
			return
		}
		_, _ = c.Write(s.respond(msg))
	})
	c, err := NewClient(Config{Addr: addr, Conns: 1, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 5 {
		if _, err := c.KCV(context.Background(), zpkU); err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
	}
	if n := conns.Load(); n < 5 {
		t.Errorf("%d connections for 5 commands, want a new one each", n)
	}
}

// TestClientRefused: no HSM listening fails fast with ErrConnBroken.
func TestClientRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	_ = ln.Close()
	c, _ := NewClient(Config{Addr: addr, Timeout: time.Second})
	defer c.Close()
	if err := c.Health(context.Background()); !errors.Is(err, ErrConnBroken) {
		t.Errorf("Health = %v, want ErrConnBroken", err)
	}
}

// TestClientPipelining: many goroutines share a pool of 2 connections;
// every reply reaches its own caller (the simulator answers out of order).
func TestClientPipelining(t *testing.T) {
	c, _ := newPair(t, Config{Conns: 2})
	ctx := context.Background()
	const workers, each = 32, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pipelineWorker(ctx, c, w, each)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// pipelineWorker mixes commands whose answers differ, so a reply
// delivered to the wrong caller shows.
func pipelineWorker(ctx context.Context, c *Client, w, n int) error {
	pvv := hsm.PINCheck{PINKey: tpkU, Format: hsm.Diebold, Block: blockTPKDiebold, PAN: vecPAN, PVV: &hsm.PVVData{PVK: pvkX, PVKI: 1, PVV: "4402"}}
	keys := []hsm.KeyRef{zpkU, zmkU, takS}
	want := []string{"6F1E3F", "B70AD2", ""}
	for i := range n {
		switch (w + i) % 3 {
		case 0:
			if err := c.VerifyPIN(ctx, pvv); err != nil {
				return err
			}
		case 1:
			bad := pvv
			bad.PVV = &hsm.PVVData{PVK: pvkX, PVKI: 1, PVV: "4401"}
			if err := c.VerifyPIN(ctx, bad); !errors.Is(err, hsm.ErrPINMismatch) {
				return fmt.Errorf("wrong PIN: %v", err)
			}
		default:
			k := (w + i) % 2
			got, err := c.KCV(ctx, keys[k])
			if err != nil || got != want[k] {
				return fmt.Errorf("KCV %d = %s, %v", k, got, err)
			}
		}
	}
	return nil
}

// TestServerDisabledAndMalformed: disabled and unknown commands get 68,
// malformed fields 15, and an oversized frame closes the connection.
func TestServerDisabledAndMalformed(t *testing.T) {
	_, addr := startServer(t, ServerConfig{Disabled: []string{"A0"}, FrameBytesMax: 256})
	rc := dialRaw(t, addr)
	for _, tc := range []struct{ req, want string }{
		{"A01001U", "A168"}, {"ZZ", "Z[68"}, {"DC", "DD15"}, {"DCU84", "DD15"},
		{"BU01", "BV15"}, {"M60000300", "M715"}, {"CA\xff\xff", "CB15"},
	} {
		if got := rc.send("0001", tc.req); got != tc.want {
			t.Errorf("%q -> %q, want %q", tc.req, got, tc.want)
		}
	}
	rc.write("0001NC" + string(make([]byte, 300)))
	_ = rc.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := rc.r.ReadByte(); err == nil {
		t.Error("oversized frame: connection still open")
	}
}
