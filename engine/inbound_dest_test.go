package engine

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/testlog"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/router"
)

// listenDest is a destination the network connects to (iso87ascii,
// binary2) on a loopback port of the switch's choosing.
func listenDest(name string) DestinationConfig {
	dc := dest(name)
	dc.Listen = []string{"127.0.0.1:0"}
	return dc
}

// dialSim connects an issuer simulator to destination name's listener.
func dialSim(t testing.TB, ts *testServer, name string, cfg sim.Config) *sim.Issuer {
	t.Helper()
	if cfg.Dialect == "" {
		cfg.Dialect, cfg.Framing = codec.ISO87ASCII, "binary2"
	}
	if cfg.Redial == 0 {
		cfg.Redial = 10 * time.Millisecond
	}
	addrs := ts.ListenAddrs(name)
	if len(addrs) != 1 {
		t.Fatalf("destination %s listens on %v", name, addrs)
	}
	is, err := sim.Dial(addrs[0], cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { is.Close() })
	return is
}

func TestListenPeerSignsOnAndIsForwardedTo(t *testing.T) {
	j, jst := journalFor(t)
	dc := listenDest("net")
	dc.SignOn = true
	dc.Timeout = 2 * time.Minute // a 91 within the read's guard is not the timeout
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
	d := ts.dests["net"]
	c := ts.dial(t)

	// no peer: 91 at once
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 1, 100), 5*time.Second)
	if err != nil || field(r, 39) != "91" || testutil.ToFloat64(d.m.allDown) != 1 {
		t.Fatalf("no peer connected: %v, 39 = %s, all_down %v: want 91 at once", err, field(r, 39), testutil.ToFloat64(d.m.allDown))
	}

	// a peer connected but not signed on takes no requests
	is := dialSim(t, ts, "net", sim.Config{Rules: sim.Rules{Default: "00"}})
	waitUntil(t, "the peer accepted", func() bool { return testutil.ToFloat64(d.in.accepted) == 1 })
	r, err = c.RoundTrip(card0200(t, "4761739001010010", 2, 100), 5*time.Second)
	if err != nil || field(r, 39) != "91" || is.Stats().Received != 0 {
		t.Fatalf("peer not signed on: %v, 39 = %s, it received %d: want 91 and nothing sent", err, field(r, 39), is.Stats().Received)
	}

	// its sign-on is answered 00 and puts it in the pool
	if n := is.SignOn(); n != 1 {
		t.Fatalf("sign-on sent on %d connections", n)
	}
	waitUp(t, ts, "net", 1)
	waitUntil(t, "the sign-on answered 00", func() bool { return is.Stats().NetAnswered == 1 })
	if !d.conns[0].signedOn.Load() {
		t.Fatal("the connection is up but not marked signed on")
	}
	r, err = c.RoundTrip(card0200(t, "4761739001010010", 3, 100), 5*time.Second)
	if err != nil || field(r, 39) != "00" || len(field(r, 38)) != 6 || field(r, 11) != "000003" {
		t.Fatalf("signed on: %v, 39 = %s, 38 = %q, 11 = %q: want the peer's 00", err, field(r, 39), field(r, 38), field(r, 11))
	}
	if is.Stats().Answered["00"] != 1 {
		t.Fatalf("the peer answered %v", is.Stats().Answered)
	}
	// the same records as on a dialled connection: forwarded, then answered
	recs := records(t, j)
	fwd, fin := recs[len(recs)-2], recs[len(recs)-1]
	if fwd.UpState != journal.UpForwarded || fwd.Destination != "net" || fin.UpState != journal.UpAnswered || fin.Destination != "net" ||
		fin.UpCode != [2]byte{'0', '0'} || fin.RRNSeq != fwd.RRNSeq || fin.UpSTAN != fwd.UpSTAN {
		t.Fatalf("records:\nforwarded %+v\nfinal %+v", fwd, fin)
	}
}

func TestListenDialledSimSignsOnAtConnect(t *testing.T) {
	// Config.SignOn: the simulator signs on as soon as it is connected,
	// as `cardswitch sim issuer --connect` does
	dc := listenDest("net")
	dc.SignOn = true
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	is := dialSim(t, ts, "net", sim.Config{SignOn: true, Rules: sim.Rules{Default: "05"}})
	waitUp(t, ts, "net", 1)
	c := ts.dial(t)
	if r, err := c.RoundTrip(card0200(t, "4761739001010010", 1, 100), 5*time.Second); err != nil || field(r, 39) != "05" {
		t.Fatalf("%v, want the peer's 05", err)
	}
	if st := is.Stats(); st.Dialled != 1 || st.NetAnswered != 1 {
		t.Fatalf("dialled %d, sign-ons answered %d: want 1 and 1", st.Dialled, st.NetAnswered)
	}
}

func TestListenPeerDropsWithRequestInFlightIsATimeout(t *testing.T) {
	// the peer reads the request and closes its connection: the bytes had
	// left, so it times out (91, journaled as a timeout), never "not sent"
	j, jst := journalFor(t)
	dc := listenDest("net")
	dc.Timeout = 100 * time.Millisecond
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
	d := ts.dests["net"]
	// (financial requests only: the timeout's reversal must not be dropped too)
	dialSim(t, ts, "net", sim.Config{Rules: sim.Rules{Default: "00", Rules: []sim.Rule{{Name: "drop", AmountOver: 100000, MTIClasses: []string{"2"}, Fault: "drop"}}}})
	waitUp(t, ts, "net", 1)
	c := ts.dial(t)
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 1, 500000), 5*time.Second)
	if err != nil || field(r, 39) != "91" {
		t.Fatalf("%v, 39 = %s: want 91", err, field(r, 39))
	}
	if recs := records(t, j); len(recs) < 2 || recs[0].UpState != journal.UpForwarded || recs[1].UpState != journal.UpTimeout {
		t.Fatalf("records %+v, want the forwarded one and its timeout", recs)
	}
	if testutil.ToFloat64(d.m.timeouts) != 1 {
		t.Fatal("the timeout is not counted")
	}
	waitUp(t, ts, "net", 1) // it connects again, in the slot freed
	if r, err := c.RoundTrip(card0200(t, "4761739001010010", 2, 100), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("after the peer reconnected: %v, want 00", err)
	}
}

func TestListenTwoPeersRoundRobinAndSignOff(t *testing.T) {
	dc := listenDest("net")
	dc.SignOn = true
	dc.Timeout = 2 * time.Minute
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	a := dialSim(t, ts, "net", sim.Config{SignOn: true, Rules: sim.Rules{Default: "00"}})
	b := dialSim(t, ts, "net", sim.Config{SignOn: true, Rules: sim.Rules{Default: "00"}})
	waitUp(t, ts, "net", 2)
	c := ts.dial(t)
	for i := 1; i <= 4; i++ {
		if r, err := c.RoundTrip(card0200(t, "4761739001010010", i, 100), 5*time.Second); err != nil || field(r, 39) != "00" {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if na, nb := a.Stats().Answered["00"], b.Stats().Answered["00"]; na != 2 || nb != 2 {
		t.Fatalf("peers answered %d and %d, want 2 each (round robin)", na, nb)
	}
	// a signs off: out of the pool (still connected), b takes everything
	if a.SignOff() != 1 {
		t.Fatal("sign-off not sent")
	}
	waitUp(t, ts, "net", 1)
	waitUntil(t, "the sign-off answered", func() bool { return a.Stats().NetAnswered == 2 })
	for i := 5; i <= 8; i++ {
		if r, err := c.RoundTrip(card0200(t, "4761739001010010", i, 100), 5*time.Second); err != nil || field(r, 39) != "00" {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if na, nb := a.Stats().Answered["00"], b.Stats().Answered["00"]; na != 2 || nb != 6 {
		t.Fatalf("after a's sign-off peers answered %d and %d, want 2 and 6", na, nb)
	}
	if a.Stats().Connections != 1 {
		t.Fatal("a signed-off peer was disconnected")
	}
	b.SignOff()
	waitUp(t, ts, "net", 0)
	if r, err := c.RoundTrip(card0200(t, "4761739001010010", 9, 100), 5*time.Second); err != nil || field(r, 39) != "91" {
		t.Fatalf("both signed off: %v, want 91 at once", err)
	}
	a.SignOn() // and back
	waitUp(t, ts, "net", 1)
	if r, err := c.RoundTrip(card0200(t, "4761739001010010", 10, 100), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("signed on again: %v, want 00", err)
	}
}

func TestListenRefusesPeersBeyondTheBound(t *testing.T) {
	dc := listenDest("net")
	dc.MaxConnections = 1
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	d := ts.dests["net"]
	first := dialSim(t, ts, "net", sim.Config{Rules: sim.Rules{Default: "00"}})
	waitUp(t, ts, "net", 1)
	second := dialSim(t, ts, "net", sim.Config{Rules: sim.Rules{Default: "05"}})
	waitUntil(t, "the second peer refused", func() bool { return testutil.ToFloat64(d.in.refused) >= 1 && second.Stats().Dialled >= 1 })
	c := ts.dial(t)
	for i := 1; i <= 3; i++ {
		if r, err := c.RoundTrip(card0200(t, "4761739001010010", i, 100), 5*time.Second); err != nil || field(r, 39) != "00" {
			t.Fatalf("request %d: %v, want the first peer's 00", i, err)
		}
	}
	if first.Stats().Answered["00"] != 3 || second.Stats().Received != 0 {
		t.Fatalf("first answered %v, second received %d", first.Stats().Answered, second.Stats().Received)
	}
	// the slot freed, the other one gets in
	first.Close()
	waitUntil(t, "the second peer in", func() bool { return testutil.ToFloat64(d.in.accepted) >= 2 && d.pool.Up(0) })
	if r, err := c.RoundTrip(card0200(t, "4761739001010010", 4, 100), 5*time.Second); err != nil || field(r, 39) != "05" {
		t.Fatalf("after the first left: %v, want the second peer's 05", err)
	}
}

func TestListenRefusesSourcesNotAllowed(t *testing.T) {
	dc := listenDest("net")
	dc.Allow = []string{"192.0.2.0/24"} // documentation range: not loopback
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	d := ts.dests["net"]
	dialSim(t, ts, "net", sim.Config{})
	waitUntil(t, "the peer refused", func() bool { return testutil.ToFloat64(d.in.refused) >= 1 })
	if testutil.ToFloat64(d.in.accepted) != 0 || d.pool.Up(0) {
		t.Fatal("a source not allowed was accepted")
	}
}

// rawPeer is a connection to a destination's listener driven by hand.
type rawPeer struct {
	net.Conn
	d *codec.Dialect
}

func dialRaw(t *testing.T, addr string) *rawPeer {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	d, _ := codec.Lookup(codec.ISO87ASCII)
	return &rawPeer{nc, d}
}

// read reads one binary2 frame and decodes it.
func (p *rawPeer) read() (codec.Message, error) {
	_ = p.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(p, h[:]); err != nil {
		return codec.Message{}, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(h[:]))
	if _, err := io.ReadFull(p, msg); err != nil {
		return codec.Message{}, err
	}
	var v codec.View
	if err := p.d.Decode(&v, msg); err != nil {
		return codec.Message{}, err
	}
	return v.ToMessage(false), nil
}

func (p *rawPeer) write(t *testing.T, m codec.Message) {
	t.Helper()
	msg, err := p.d.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if _, err := p.Write(append(out, msg...)); err != nil {
		t.Fatal(err)
	}
}

func TestListenResponseOnAnotherConnectionMatches(t *testing.T) {
	// a network may answer on any of its connections: the destination's
	// table matches the response wherever it arrives
	dc := listenDest("net")
	dc.Timeout = 2 * time.Minute
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	addr := ts.ListenAddrs("net")[0]
	p0, p1 := dialRaw(t, addr), dialRaw(t, addr)
	waitUp(t, ts, "net", 2)
	c := ts.dial(t)
	if err := c.Write(card0200(t, "4761739001010010", 7, 100)); err != nil {
		t.Fatal(err)
	}
	type carried struct {
		peer int
		m    codec.Message
	}
	got := make(chan carried, 2)
	peers := []*rawPeer{p0, p1}
	for i, p := range peers {
		go func() {
			if m, err := p.read(); err == nil {
				got <- carried{i, m}
			}
		}()
	}
	var req carried
	select {
	case req = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no peer received the request")
	}
	req.m.MTI = "0210"
	req.m.Fields["39"], req.m.Fields["38"] = "00", "ABC123"
	peers[1-req.peer].write(t, req.m) // on the connection that did not carry the request
	r, err := c.Read(time.Now().Add(5 * time.Second))
	if err != nil || field(r, 39) != "00" || field(r, 38) != "ABC123" {
		t.Fatalf("%v: want the reply sent on the other connection", err)
	}
	peers[req.peer].write(t, req.m) // a second copy: a response for nothing
	waitUntil(t, "the second copy unknown", func() bool { return testutil.ToFloat64(ts.dests["net"].m.unknown) == 1 })
}

func TestListenEchoTestsFindADeadPeer(t *testing.T) {
	// gnet has no socket deadlines: an accepted connection quiet for
	// echo_interval gets an echo test, as a dialled one does, and one
	// whose echo goes unanswered within timeout is closed; a peer that
	// answers stays
	dc := listenDest("net")
	dc.EchoInterval = time.Second
	dc.Timeout = 100 * time.Millisecond
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	d := ts.dests["net"]
	live := dialSim(t, ts, "net", sim.Config{})
	waitUp(t, ts, "net", 1)
	dead := dialRaw(t, ts.ListenAddrs("net")[0])
	waitUp(t, ts, "net", 2)
	echo, err := dead.read()
	if err != nil || echo.MTI != "0800" || echo.Fields["70"] != "301" {
		t.Fatalf("%v %+v, want an echo test", err, echo)
	}
	if _, err := dead.read(); err != io.EOF {
		t.Fatalf("%v: want the connection closed after the unanswered echo", err)
	}
	waitUp(t, ts, "net", 1)
	if testutil.ToFloat64(d.m.echoMissed) != 1 {
		t.Fatalf("echo_missed %v, want 1", testutil.ToFloat64(d.m.echoMissed))
	}
	waitUntil(t, "the live peer's echo answered", func() bool { return live.Stats().NetworkManagement >= 1 })
	if !d.pool.Up(0) {
		t.Fatal("the peer that answers its echo tests was dropped")
	}
}

func TestListenPortInUseFailsStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dc := listenDest("net")
	dc.Listen = []string{taken.Addr().String()}
	rt, err := router.Compile([]router.Rule{{Name: "a", PANPrefixes: []string{"4"}, Action: router.Upstream, Destination: "net"}}, "15")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Links: []LinkConfig{{Name: "pos", Listen: freeAddr(t), Dialect: codec.ISO87ASCII, Framing: "binary2"}},
		Destinations: []DestinationConfig{dc}, Workers: 1, EventLoops: 1}
	s, err := New(cfg, Deps{Log: zerolog.New(zerolog.NewTestWriter(t)), Router: router.New(rt), Authorizer: authFunc(func(*Txn) {}), Journal: NoJournal{}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "destination net: listen "+taken.Addr().String()) {
		_ = s.Shutdown(context.Background())
		t.Fatalf("%v, want the destination's listen address in use", err)
	}
}

// A peer that signs on again and again, already signed on, is answered
// each time and logged once: the log is on the loop, and the peer sets
// the pace.
func TestListenRepeatedSignOnsLogOnce(t *testing.T) {
	var logs testlog.Buffer
	dc := listenDest("net")
	dc.SignOn = true
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testLog, c.testLogInfo = &logs, true })
	is := dialSim(t, ts, "net", sim.Config{SignOn: true, Rules: sim.Rules{Default: "00"}})
	waitUp(t, ts, "net", 1)
	const again = 20
	waitUntil(t, "the first sign-on answered", func() bool { return is.Stats().NetAnswered == 1 })
	for i := range again {
		is.SignOn()
		waitUntil(t, "the sign-on answered", func() bool { return is.Stats().NetAnswered == uint64(i+2) })
	}
	if n := strings.Count(logs.String(), "destination signed on"); n != 1 {
		t.Fatalf("%d sign-on lines for %d sign-ons of one connection, want 1", n, again+1)
	}
}
