package engine

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardswitch/cardswitch/codec"
)

func TestApproveDeclineAndEcho(t *testing.T) {
	ts := startServer(t, nil, nil)
	c := ts.dial(t)
	r, err := c.RoundTrip(purchase(t, 1, 1500), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.View.MTI().String() != "0210" || field(r, 39) != "00" || len(field(r, 38)) != 6 {
		t.Fatalf("reply %s 39=%q 38=%q", r.View.MTI(), field(r, 39), field(r, 38))
	}
	for _, id := range []int{2, 3, 4, 7, 11, 12, 13, 41, 42, 49} {
		if !r.View.Has(id) {
			t.Errorf("field %d not echoed", id)
		}
	}
	if len(field(r, 37)) != 12 {
		t.Errorf("no RRN generated: %q", field(r, 37))
	}
	// an unknown BIN: no route, 15
	d, _ := codec.Lookup(codec.ISO87ASCII)
	msg, _ := d.Encode(codec.Message{MTI: "0100", Fields: map[string]string{"2": "5413330089010012", "3": "000000", "4": "1", "11": "2", "41": "T"}})
	if r, err = c.RoundTrip(msg, 5*time.Second); err != nil || field(r, 39) != "15" || r.View.MTI().String() != "0110" {
		t.Fatalf("no route: %v %q", err, field(r, 39))
	}
}

func TestEveryKindHasACodeInEveryTable(t *testing.T) {
	for _, name := range codec.Builtins() {
		if err := CodesFor(name).Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if CodesFor(codec.CUPPOS).Code(ErrMAC) != "A0" || CodesFor(codec.ISO87ASCII).Code(ErrFormat) != "30" || CodesFor(codec.ISO87ASCII).Code(ErrWrongPIN) != "55" {
		t.Fatal("table contents")
	}
	if CodesFor(codec.ISO87ASCII).Code(net.ErrClosed) != "96" {
		t.Fatal("unknown errors must be 96")
	}
}

func TestPipelinedRepliesOutOfOrder(t *testing.T) {
	// STAN 1 takes long; the ones sent after it on the same connection, in
	// later loop turns, go to other workers and must be answered first.
	slow := authFunc(func(tx *Txn) {
		if s, _ := tx.View.STAN(); s == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		tx.SetCode("00")
	})
	ts := startServer(t, slow, nil)
	c := ts.dial(t)
	const n = 10
	for i := 1; i <= n; i++ {
		if err := c.Write(purchase(t, i, int64(i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // separate reads, separate batches
	}
	var order []uint32
	got := map[uint32]bool{}
	for i := 0; i < n; i++ {
		r, err := c.Read(time.Now().Add(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		s, _ := r.View.STAN()
		if a, _ := r.View.Amount(); int64(s) != a || got[s] || field(r, 39) != "00" {
			t.Fatalf("STAN %d amount %d (duplicate %v)", s, a, got[s])
		}
		got[s] = true
		order = append(order, s)
	}
	if order[0] == 1 {
		t.Fatalf("no request overtook the slow one: %v", order)
	}
}

func TestDribbledOneByteAtATime(t *testing.T) {
	ts := startServer(t, nil, nil)
	c := ts.dial(t)
	f, _ := codec.ParseFraming("binary2")
	frame, _ := f.Append(nil, nil, purchase(t, 7, 100))
	frame2, _ := f.Append(nil, nil, purchase(t, 8, 100))
	all := append(frame, frame2...)
	for i := range all {
		if _, err := c.Raw().Write(all[i : i+1]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	got := readAll(t, c, 2)
	if field(got[7], 39) != "00" || field(got[8], 39) != "00" {
		t.Fatal("dribbled frames not answered")
	}
}

func TestOversizedLengthHeaderCloses(t *testing.T) {
	ts := startServer(t, nil, nil)
	c := ts.dial(t)
	if _, err := c.Raw().Write([]byte{0xFF, 0xFF, '0', '2'}); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c.Raw(), 3*time.Second)
	if v := testutil.ToFloat64(ts.m.events.WithLabelValues("pos", "bad_frame")); v != 1 {
		t.Fatalf("bad_frame = %v", v)
	}
}

func TestGarbage(t *testing.T) {
	ts := startServer(t, nil, nil)
	// a frame that is not ISO 8583 at all: closed
	c := ts.dial(t)
	if err := c.Write([]byte("\x00\x01garbage garbage")); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c.Raw(), 3*time.Second)

	// a request with a readable MTI and a bad field: answered 30, echoing what
	// came before the bad field, and the connection stays up
	c = ts.dial(t)
	bad := purchase(t, 42, 100)
	i := bytes.Index(bad, []byte("TERM0001"))
	bad[i] = 0xFF
	r, err := c.RoundTrip(bad, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if field(r, 39) != "30" || field(r, 11) != "000042" || r.View.MTI().String() != "0210" {
		t.Fatalf("format error reply: %s 39=%q 11=%q", r.View.MTI(), field(r, 39), field(r, 11))
	}
	// a mandatory field missing: 30 too
	d, _ := codec.Lookup(codec.ISO87ASCII)
	msg, _ := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{"2": "4761739001010010", "3": "000000", "11": "000043"}})
	if r, err = c.RoundTrip(msg, 5*time.Second); err != nil || field(r, 39) != "30" {
		t.Fatalf("missing field: %v %q", err, field(r, 39))
	}
	// and a good request still works on the same connection
	if r, err = c.RoundTrip(purchase(t, 44, 100), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("after errors: %v", err)
	}
}

func TestFrameAndIdleTimeouts(t *testing.T) {
	ts := startServer(t, nil, func(c *Config) {
		c.Links[0].FrameTimeout = 100 * time.Millisecond
		c.Links[0].IdleTimeout = time.Second
	})
	c := ts.dial(t)
	if _, err := c.Raw().Write([]byte{0x00, 0x40, '0', '2'}); err != nil { // 64 bytes announced, 2 sent
		t.Fatal(err)
	}
	start := time.Now()
	expectClosed(t, c.Raw(), 3*time.Second)
	if time.Since(start) > 2*time.Second {
		t.Fatal("frame timeout too slow")
	}
	c = ts.dial(t)
	start = time.Now()
	expectClosed(t, c.Raw(), 4*time.Second)
	if time.Since(start) < 900*time.Millisecond {
		t.Fatalf("idle connection closed after %v", time.Since(start))
	}
}

func TestClientThatNeverReads(t *testing.T) {
	ts := startServer(t, nil, func(c *Config) {
		c.Links[0].MaxPendingBytes = 64 << 10
		c.Links[0].MaxFrame = 1024
		c.Links[0].SocketBuffer = 16 << 10 // the kernel must not absorb megabytes of replies
		c.Links[0].FrameTimeout = time.Minute
	})
	f, _ := codec.ParseFraming("binary2")
	// a small receive window, set before connecting, so the server's
	// replies back up quickly
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	raw, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	frame, _ := f.Append(nil, nil, purchase(t, 1, 1))
	batch := bytes.Repeat(frame, 200)
	go func() { // write whole batches until the server gives up on us
		for {
			if _, err := raw.Write(batch); err != nil {
				return
			}
		}
	}()
	closed := testutil.ToFloat64(ts.m.events.WithLabelValues("pos", "slow_reader_closed"))
	for deadline := time.Now().Add(30 * time.Second); closed < 1 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		closed = testutil.ToFloat64(ts.m.events.WithLabelValues("pos", "slow_reader_closed"))
	}
	if closed < 1 {
		t.Fatal("server kept a connection that never reads")
	}
	if v := testutil.ToFloat64(ts.m.events.WithLabelValues("pos", "bad_frame")); v != 0 {
		t.Fatalf("bad frames: %v", v)
	}
}

func TestConnectionCaps(t *testing.T) {
	ts := startServer(t, nil, func(c *Config) {
		c.Links[0].MaxConnsPerIP = 2
		c.Links[0].MaxConns = 3
	})
	dialFrom := func(ip string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	isOpen := func(c net.Conn) bool {
		f, _ := codec.ParseFraming("binary2")
		frame, _ := f.Append(nil, nil, purchase(t, 5, 1))
		if _, err := c.Write(frame); err != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		var hdr [2]byte
		_, err := c.Read(hdr[:])
		return err == nil
	}
	// one at a time: OnOpen runs on the event loops, in no set order
	for i, c := range []struct {
		ip   string
		open bool
	}{{"127.0.0.1", true}, {"127.0.0.1", true}, {"127.0.0.1", false}, {"127.0.0.2", true}, {"127.0.0.3", false}} {
		if got := isOpen(dialFrom(c.ip)); got != c.open {
			t.Fatalf("connection %d from %s: open %v, want %v (per-IP cap 2, link cap 3)", i+1, c.ip, got, c.open)
		}
	}
	if v := testutil.ToFloat64(ts.m.events.WithLabelValues("pos", "refused")); v != 2 {
		t.Fatalf("refused = %v", v)
	}
}

func TestOverloadAnswers96(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	block := authFunc(func(tx *Txn) { <-release; tx.SetCode("00") })
	ts := startServer(t, block, func(c *Config) {
		c.Links[0].MaxInFlight = 4
		c.Workers = 2
		c.QueueDepth = 100
	})
	defer once.Do(func() { close(release) })
	c := ts.dial(t)
	for i := 1; i <= 10; i++ {
		if err := c.Write(purchase(t, i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	// 6 over the per-connection cap come back at once with 96
	for i := 0; i < 6; i++ {
		r, err := c.Read(time.Now().Add(3 * time.Second))
		if err != nil || field(r, 39) != "96" {
			t.Fatalf("overload reply %d: %v %q", i, err, field(r, 39))
		}
	}
	once.Do(func() { close(release) })
	for i := 0; i < 4; i++ {
		r, err := c.Read(time.Now().Add(3 * time.Second))
		if err != nil || field(r, 39) != "00" {
			t.Fatalf("held reply %d: %v", i, err)
		}
	}
	if v := testutil.ToFloat64(ts.m.overload.WithLabelValues("pos")); v != 6 {
		t.Fatalf("overload rejections = %v", v)
	}
}

func TestPanicInAStage(t *testing.T) {
	boom := authFunc(func(tx *Txn) {
		if a, _ := tx.View.Amount(); a == 666 {
			panic("injected")
		}
		tx.SetCode("00")
	})
	ts := startServer(t, boom, nil)
	c := ts.dial(t)
	r, err := c.RoundTrip(purchase(t, 1, 666), 5*time.Second)
	if err != nil || field(r, 39) != "96" {
		t.Fatalf("panicking stage: %v %q", err, field(r, 39))
	}
	if r, err = c.RoundTrip(purchase(t, 2, 1), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("after the panic: %v", err)
	}
	if v := testutil.ToFloat64(ts.m.panics); v != 1 {
		t.Fatalf("panics = %v", v)
	}
}

func TestSignOnRequired(t *testing.T) {
	ts := startServer(t, nil, func(c *Config) { c.Links[0].RequireSignOn = true })
	c := ts.dial(t)
	if r, err := c.RoundTrip(purchase(t, 1, 1), 5*time.Second); err != nil || field(r, 39) != "91" {
		t.Fatalf("before sign-on: %v %q", err, field(r, 39))
	}
	d, _ := codec.Lookup(codec.ISO87ASCII)
	for _, nc := range []string{"301", "001"} {
		msg, _ := d.Encode(codec.Message{MTI: "0800", Fields: map[string]string{"7": "1121204500", "11": "000009", "70": nc}})
		r, err := c.RoundTrip(msg, 5*time.Second)
		if err != nil || r.View.MTI().String() != "0810" || field(r, 39) != "00" || field(r, 70) != nc {
			t.Fatalf("0800 %s: %v %s %q", nc, err, r.View.MTI(), field(r, 39))
		}
	}
	if r, err := c.RoundTrip(purchase(t, 2, 1), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("after sign-on: %v %q", err, field(r, 39))
	}
	// sign-on is per connection
	if r, err := ts.dial(t).RoundTrip(purchase(t, 3, 1), 5*time.Second); err != nil || field(r, 39) != "91" {
		t.Fatalf("other connection: %v %q", err, field(r, 39))
	}
}

func TestShutdownWithRequestsInFlight(t *testing.T) {
	var started atomic.Int32
	slow := authFunc(func(tx *Txn) { started.Add(1); time.Sleep(200 * time.Millisecond); tx.SetCode("00") })
	ts := startServer(t, slow, func(c *Config) { c.Workers = 16 })
	c := ts.dial(t)
	for i := 1; i <= 10; i++ {
		if err := c.Write(purchase(t, i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	for started.Load() < 10 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(context.Background()) }()
	got := readAll(t, c, 10)
	if len(got) != 10 {
		t.Fatalf("%d replies", len(got))
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if ts.Ready() {
		t.Fatal("ready after shutdown")
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		// the listener may take a moment to go; a connection must not be served
		t.Log("listener still accepting right after shutdown")
	}
}

func TestKeepAliveFramesIgnored(t *testing.T) {
	ts := startServer(t, nil, nil)
	c := ts.dial(t)
	f, _ := codec.ParseFraming("binary2")
	frame, _ := f.Append([]byte{0, 0, 0, 0}, nil, purchase(t, 3, 1))
	if _, err := c.Raw().Write(frame); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Read(time.Now().Add(5 * time.Second)); err != nil || field(r, 39) != "00" {
		t.Fatalf("%v", err)
	}
}

func TestAdminEndpoints(t *testing.T) {
	ts := startServer(t, nil, nil)
	c := ts.dial(t)
	if _, err := c.RoundTrip(purchase(t, 1, 1), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	h := ts.AdminHandler()
	for path, want := range map[string]string{
		"/healthz": "ok", "/readyz": "ready",
		"/metrics": `cardswitch_messages_total{link="pos",mti="0200",rc="00"} 1`,
	} {
		// The counter is bumped after the reply is written, so the client
		// can see the reply first; poll briefly instead of racing it.
		var body string
		for deadline := time.Now().Add(2 * time.Second); ; {
			rec := newRecorder()
			h.ServeHTTP(rec, mustRequest(path))
			body = rec.body.String()
			if strings.Contains(body, want) || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !strings.Contains(body, want) {
			t.Errorf("%s: %q", path, body)
		}
	}
}
