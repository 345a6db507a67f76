package engine

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/internal/client"
	"github.com/cardswitch/cardswitch/internal/clock"
	"github.com/cardswitch/cardswitch/internal/testport"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/router"
)

// freeAddr returns a loopback address with a port free a moment ago
// (outside the ephemeral range: testport).
func freeAddr(t testing.TB) string {
	t.Helper()
	return testport.Addr(t)
}

// authFunc adapts a function to Authorizer.
type authFunc func(t *Txn)

func (f authFunc) Authorize(t *Txn) { f(t) }

type testServer struct {
	*Server
	addr string
	link LinkConfig
}

// startServer runs a one-link server on the system clock; change adjusts
// the configuration.
func startServer(t testing.TB, auth Authorizer, change func(*Config)) *testServer {
	t.Helper()
	return startServerOn(t, nil, auth, change)
}

// startServerOn runs a one-link server on clk (nil: the system clock). Tests
// of the switch's timeouts pass a clock.Fake and advance it.
func startServerOn(t testing.TB, clk clock.Clock, auth Authorizer, change func(*Config)) *testServer {
	t.Helper()
	data, err := issuer.Parse(issuer.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	if auth == nil {
		auth = DemoAuthorizer{Data: data}
	}
	cfg := Config{Links: []LinkConfig{{Name: "pos", Listen: freeAddr(t), Dialect: codec.ISO87ASCII, Framing: "binary2"}},
		Workers: benchWorkers, EventLoops: 2}
	// ENGINE_TEST_STREAM=1 runs the suite's plain links on streamConns,
	// the TLS links' path (make test-stream): every protection the tests
	// check on gnet, checked there too
	cfg.testStream = os.Getenv("ENGINE_TEST_STREAM") == "1"
	if change != nil {
		change(&cfg)
	}
	rules := []router.Rule{
		{Name: "net", MTIClasses: []string{"8"}, Action: router.Local},
		{Name: "on-us", PANPrefixes: []string{"4", "62"}, Action: router.Local},
	}
	if cfg.testRules != nil {
		rules = cfg.testRules
	}
	rt, err := router.Compile(rules, "15")
	if err != nil {
		t.Fatal(err)
	}
	var j Journal = NoJournal{}
	if cfg.testJournal != nil {
		j = cfg.testJournal
	}
	if cfg.testJournalDir != "" {
		jn, err := journal.Open(journal.Options{Dir: cfg.testJournalDir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { jn.Close() })
		p, _ := journal.NewProtector(make([]byte, journal.KeyFileLen))
		j = JournalStage{J: jn, P: p}
	}
	var logw io.Writer = zerolog.NewTestWriter(t)
	if cfg.testLog != nil {
		logw = io.MultiWriter(logw, cfg.testLog)
	}
	level := testLogLevel
	if cfg.testLogInfo {
		level = zerolog.InfoLevel
	}
	s, err := New(cfg, Deps{Log: zerolog.New(logw).Level(level), Clock: clk, Router: router.New(rt), Authorizer: auth, Journal: j,
		HSM: cfg.testHSM, Keys: cfg.testKeys})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, addr: cfg.Links[0].Listen, link: s.links[0].cfg}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ts
}

func (ts *testServer) dial(t testing.TB) *client.Conn {
	t.Helper()
	d, _ := codec.Lookup(ts.link.Dialect)
	f, _ := codec.ParseFraming(ts.link.Framing)
	c, err := client.Dial(ts.addr, d, f, []byte{0x60, 0, 1, 0, 2}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// purchase builds an iso87ascii 0200 for the demo card.
func purchase(t testing.TB, stan int, amount int64) []byte {
	t.Helper()
	d, _ := codec.Lookup(codec.ISO87ASCII)
	msg, err := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": strconv.FormatInt(amount, 10), "7": "1121204500",
		"11": strconv.Itoa(stan), "12": "204500", "13": "1121", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func field(r *client.Reply, id int) string { return string(r.View.AppendText(nil, id)) }

// readAll reads n replies, keyed by STAN.
func readAll(t testing.TB, c *client.Conn, n int) map[uint32]*client.Reply {
	t.Helper()
	got := map[uint32]*client.Reply{}
	for i := 0; i < n; i++ {
		r, err := c.Read(time.Now().Add(5 * time.Second))
		if err != nil {
			t.Fatalf("reply %d of %d: %v", i+1, n, err)
		}
		stan, _ := r.View.STAN()
		if got[stan] != nil {
			t.Fatalf("two replies for STAN %d", stan)
		}
		got[stan] = r
	}
	return got
}

// expectClosed waits for the server to close c.
func expectClosed(t testing.TB, c net.Conn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after %v", within)
			}
			return
		}
	}
}

// waitUntil polls cond, state another goroutine sets, and fails after a
// generous bound: it asserts no duration.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(100 * time.Microsecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}

// conns waits until the link holds n connections (OnOpen has run for each)
// and returns their states.
func (ts *testServer) conns(t testing.TB, n int) []*connState {
	t.Helper()
	var got []*connState
	waitUntil(t, fmt.Sprintf("%d connections on the link", n), func() bool {
		got = got[:0]
		ts.links[0].conns.Range(func(k, _ any) bool {
			got = append(got, k.(*connState))
			return true
		})
		return len(got) == n
	})
	return got
}

// testStart is the fake clock's start: any time whose UnixNano is not 0
// (0 means "no partial frame" to the link).
var testStart = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

var testLogLevel = zerolog.WarnLevel

var benchWorkers = envInt("CS_TEST_WORKERS", 8)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
