package engine

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/client"
	"github.com/cardswitch/cardswitch/internal/clock"
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
	// STAN 1 is held in its stage until every request sent after it on the
	// same connection (in a later loop turn, so a later batch for another
	// worker) has been answered: a connection whose replies wait for the
	// slow one never answers them, and the test fails on a read.
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := authFunc(func(tx *Txn) {
		if s, _ := tx.View.STAN(); s == 1 {
			close(started)
			<-release
		}
		tx.SetCode("00")
	})
	ts := startServer(t, slow, func(c *Config) { c.Workers = max(c.Workers, 2) })
	defer once.Do(func() { close(release) })
	c := ts.dial(t)
	if err := c.Write(purchase(t, 1, 1)); err != nil {
		t.Fatal(err)
	}
	<-started // STAN 1 is on a worker: what follows is another batch
	const n = 10
	for i := 2; i <= n; i++ {
		if err := c.Write(purchase(t, i, int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	got := map[uint32]bool{}
	check := func(r *client.Reply) uint32 {
		t.Helper()
		s, _ := r.View.STAN()
		if a, _ := r.View.Amount(); int64(s) != a || got[s] || field(r, 39) != "00" {
			t.Fatalf("STAN %d amount %d (duplicate %v)", s, a, got[s])
		}
		got[s] = true
		return s
	}
	for i := 2; i <= n; i++ {
		r, err := c.Read(time.Now().Add(10 * time.Second))
		if err != nil {
			t.Fatalf("reply %d of the %d sent after the held one: %v", i-1, n-1, err)
		}
		if s := check(r); s == 1 {
			t.Fatal("the held request was answered")
		}
	}
	once.Do(func() { close(release) })
	r, err := c.Read(time.Now().Add(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if s := check(r); s != 1 {
		t.Fatalf("last reply STAN %d", s)
	}
}

func TestDribbledOneByteAtATime(t *testing.T) {
	// Each byte is read by the server on its own: the fake clock moves
	// before each write, and the next byte waits until the link has
	// recorded a read at that time (lastActivity). No reply is pending
	// while a frame is dribbled, so no wake-up can read for it.
	clk := clock.NewFake(testStart)
	ts := startServerOn(t, clk, nil, nil)
	c := ts.dial(t)
	cs := ts.conns(t, 1)[0]
	f, _ := codec.ParseFraming("binary2")
	for _, stan := range []int{7, 8} {
		frame, _ := f.Append(nil, nil, purchase(t, stan, 100))
		for i := range frame {
			clk.Advance(time.Millisecond)
			now := clk.Now().UnixNano()
			if _, err := c.Raw().Write(frame[i : i+1]); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, fmt.Sprintf("byte %d of STAN %d read", i, stan), func() bool { return cs.lastActivity.Load() == now })
		}
		r, err := c.Read(time.Now().Add(10 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := r.View.STAN(); int(s) != stan || field(r, 39) != "00" {
			t.Fatalf("dribbled frame STAN %d: reply STAN %d %q", stan, s, field(r, 39))
		}
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
	// The timeouts run on the fake clock: the link's ticker (every 5ms of
	// real time) reads it, and the test also calls OnTick itself to check,
	// at once, what a tick decides at exactly the timeout.
	const frameTimeout, idleTimeout = 20 * time.Millisecond, time.Second // fake time: ticks every 5ms of real time
	clk := clock.NewFake(testStart)
	ts := startServerOn(t, clk, nil, func(c *Config) {
		c.Links[0].FrameTimeout = frameTimeout
		c.Links[0].IdleTimeout = idleTimeout
	})
	l := ts.links[0]
	closedFor := func(reason string) float64 { return testutil.ToFloat64(ts.m.events.WithLabelValues("pos", reason)) }
	idle := ts.dial(t)
	ts.conns(t, 1) // opened at testStart: idle since then
	partial := ts.dial(t)
	if _, err := partial.Raw().Write([]byte{0x00, 0x40, '0', '2'}); err != nil { // 64 bytes announced, 2 sent
		t.Fatal(err)
	}
	waitUntil(t, "the partial frame read", func() bool {
		for _, cs := range ts.conns(t, 2) {
			if cs.partialSince.Load() != 0 {
				return true
			}
		}
		return false
	})

	clk.Advance(frameTimeout) // exactly the frame timeout: not over it yet
	l.OnTick()
	if v := closedFor("frame_timeout"); v != 0 {
		t.Fatalf("frame timeout at exactly frame_timeout: %v", v)
	}
	clk.Advance(time.Nanosecond)
	expectClosed(t, partial.Raw(), 10*time.Second)
	l.OnTick()
	if closedFor("frame_timeout") < 1 || closedFor("idle_timeout") != 0 {
		t.Fatalf("frame timeouts %v, idle timeouts %v", closedFor("frame_timeout"), closedFor("idle_timeout"))
	}

	clk.Advance(idleTimeout - frameTimeout - time.Nanosecond) // idle exactly idle_timeout
	l.OnTick()
	if v := closedFor("idle_timeout"); v != 0 {
		t.Fatalf("idle timeout at exactly idle_timeout: %v", v)
	}
	clk.Advance(time.Nanosecond)
	expectClosed(t, idle.Raw(), 10*time.Second)
	if v := closedFor("idle_timeout"); v < 1 {
		t.Fatalf("idle timeouts %v", v)
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
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a refused one reads EOF at once
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

// drainClock is a fake clock that counts the times Shutdown reads it (its
// drain deadline, then once a turn of its drain loop), so a test knows
// where the drain is without sleeping.
type drainClock struct {
	*clock.Fake
	reads atomic.Int64
}

func (c *drainClock) Now() time.Time {
	if pc, _, _, ok := runtime.Caller(1); ok && strings.Contains(runtime.FuncForPC(pc).Name(), ".(*Server).Shutdown") {
		c.reads.Add(1)
	}
	return c.Fake.Now()
}

// waitReads waits until Shutdown has read the clock n times.
func (c *drainClock) waitReads(t *testing.T, n int64) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("shutdown to read the clock %d times", n), func() bool { return c.reads.Load() >= n })
}

func TestShutdownWithRequestsInFlight(t *testing.T) {
	// The requests are held in the stage until the drain has looked at the
	// clock at exactly its deadline and gone on waiting; the fake clock
	// goes no further, so the drain waits however slow the machine is.
	release := make(chan struct{})
	var once sync.Once
	hold := authFunc(func(tx *Txn) { <-release; tx.SetCode("00") })
	clk := &drainClock{Fake: clock.NewFake(testStart)}
	ts := startServerOn(t, clk, hold, func(c *Config) { c.Workers = 16 })
	defer once.Do(func() { close(release) })
	c := ts.dial(t)
	for i := 1; i <= 10; i++ {
		if err := c.Write(purchase(t, i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "10 requests in flight", func() bool { return ts.inflight.Load() == 10 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard, not a bound
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(ctx) }()
	clk.waitReads(t, 1) // the deadline is set
	clk.Advance(ts.cfg.DrainTimeout)
	clk.waitReads(t, clk.reads.Load()+2) // a whole turn of the drain at the deadline: not past it, still draining
	if ts.Ready() {
		t.Fatal("ready while shutting down")
	}
	once.Do(func() { close(release) })
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
}

func TestShutdownDrainTimeout(t *testing.T) {
	// A request held in its stage: Shutdown gives up draining when the
	// fake clock passes the drain timeout, stops the links (the client sees
	// its connection close), and once the stage lets go (Shutdown waits
	// for the workers) says how many requests it left unanswered.
	release := make(chan struct{})
	var once sync.Once
	hold := authFunc(func(tx *Txn) { <-release; tx.SetCode("00") })
	clk := &drainClock{Fake: clock.NewFake(testStart)}
	ts := startServerOn(t, clk, hold, nil)
	defer once.Do(func() { close(release) })
	c := ts.dial(t)
	if err := c.Write(purchase(t, 1, 1)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the request in flight", func() bool { return ts.inflight.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard, not a bound
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(ctx) }()
	clk.waitReads(t, 1) // the deadline is set
	clk.Advance(ts.cfg.DrainTimeout + time.Nanosecond)
	expectClosed(t, c.Raw(), 10*time.Second) // the links stop only once the drain has ended
	once.Do(func() { close(release) })
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "1 requests still in flight") {
		t.Fatalf("shutdown past the drain timeout: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("shutdown ended with its context, not at the drain timeout")
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
	// The 0200 is counted after its reply is written, in the same loop
	// turn; the connection's next request is read in a later turn, so its
	// reply means the count is in. An 0800 echo, counted under its own MTI.
	d, _ := codec.Lookup(codec.ISO87ASCII)
	echo, _ := d.Encode(codec.Message{MTI: "0800", Fields: map[string]string{"7": "1121204500", "11": "000002", "70": "301"}})
	if r, err := c.RoundTrip(echo, 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("echo: %v", err)
	}
	h := ts.AdminHandler()
	for path, want := range map[string]string{
		"/healthz": "ok", "/readyz": "ready",
		"/metrics": `cardswitch_messages_total{link="pos",mti="0200",rc="00"} 1`,
	} {
		rec := newRecorder()
		h.ServeHTTP(rec, mustRequest(path))
		if body := rec.body.String(); !strings.Contains(body, want) {
			t.Errorf("%s: %q", path, body)
		}
	}
}

// More replies than the kernel takes in one writev (IOV_MAX, 1024 on
// Linux) are written in several: thousands of echoes sent in one write are
// all answered, none lost with the connection.
func TestMoreRepliesThanIOVMax(t *testing.T) {
	ts := startServer(t, nil, func(c *Config) { c.Links[0].MaxPendingBytes = 64 << 20 })
	c := ts.dial(t)
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	const n = 4000
	var all []byte
	for i := 1; i <= n; i++ {
		msg, err := d.Encode(codec.Message{MTI: "0800", Fields: map[string]string{"7": "1121204500", "11": fmt.Sprintf("%06d", i), "70": "301"}})
		if err != nil {
			t.Fatal(err)
		}
		if all, err = f.Append(all, nil, msg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Raw().Write(all); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, c, n)
	if len(got) != n {
		t.Fatalf("%d distinct replies, want %d", len(got), n)
	}
}

// What a stage adds to the reply (a balance in 54) goes only on an
// approval: a stage that adds a balance and then declines, or fails with
// 96, sends no balance.
func TestDeclineCarriesNoBalance(t *testing.T) {
	for _, code := range []string{"00", "96", "51"} {
		ts := startServer(t, authFunc(func(tx *Txn) {
			tx.AddReplyField(codec.FieldAdditionalAmounts, []byte("0002840C000000012345"))
			tx.SetCode(code)
		}), nil)
		r, err := ts.dial(t).RoundTrip(purchase(t, 1, 100), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if has := r.View.Has(codec.FieldAdditionalAmounts); field(r, 39) != code || has != (code == "00") {
			t.Errorf("code %s: reply %s with field 54 %v", code, field(r, 39), has)
		}
	}
}

// Keep-alives alone do not hold a connection: one that sends only empty
// frames is closed after message_timeout, though never idle_timeout idle
// (the keep-alive slowloris that locked new terminals out); one that sends
// messages stays.
func TestKeepAlivesAloneTimeOut(t *testing.T) {
	const idle, quiet = time.Minute, 5 * time.Minute
	clk := clock.NewFake(testStart)
	ts := startServerOn(t, clk, nil, func(c *Config) {
		c.Links[0].IdleTimeout, c.Links[0].MessageTimeout = idle, quiet
	})
	l := ts.links[0]
	closed := func() float64 { return testutil.ToFloat64(ts.m.events.WithLabelValues("pos", "message_timeout")) }
	slow, busy := ts.dial(t), ts.dial(t)
	ts.conns(t, 2)
	keepAlive := []byte{0, 0}
	for elapsed := time.Duration(0); elapsed < quiet; elapsed += idle / 2 {
		clk.Advance(idle / 2)
		if _, err := slow.Raw().Write(keepAlive); err != nil {
			t.Fatal(err)
		}
		if r, err := busy.RoundTrip(purchase(t, int(elapsed/time.Second)+1, 1), 5*time.Second); err != nil || field(r, 39) != "00" {
			t.Fatalf("busy connection at %v: %v", elapsed, err)
		}
		now := clk.Now().UnixNano()
		waitUntil(t, "the keep-alive read", func() bool {
			for _, cs := range ts.conns(t, 2) {
				if cs.lastActivity.Load() != now {
					return false
				}
			}
			return true
		})
		l.OnTick()
		if closed() != 0 {
			t.Fatalf("closed after %v of keep-alives, message_timeout %v", elapsed+idle/2, quiet)
		}
	}
	clk.Advance(time.Nanosecond)
	expectClosed(t, slow.Raw(), 10*time.Second)
	if closed() != 1 {
		t.Fatalf("message_timeout closings %v, want 1 (the busy connection stays)", closed())
	}
	if r, err := busy.RoundTrip(purchase(t, 999, 1), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("busy connection closed: %v", err)
	}
}
