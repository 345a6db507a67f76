package engine

import (
	"context"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/internal/client"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/router"
)

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// authFunc adapts a function to Authorizer.
type authFunc func(t *Txn)

func (f authFunc) Authorize(t *Txn) { f(t) }

type testServer struct {
	*Server
	addr string
	link LinkConfig
}

// startServer runs a one-link server; change adjusts the configuration.
func startServer(t testing.TB, auth Authorizer, change func(*Config)) *testServer {
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
	if change != nil {
		change(&cfg)
	}
	rt, err := router.Compile([]router.Rule{
		{Name: "net", MTIClasses: []string{"8"}, Action: router.Local},
		{Name: "on-us", PANPrefixes: []string{"4", "62"}, Action: router.Local},
	}, "15")
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
	s, err := New(cfg, Deps{Log: zerolog.New(zerolog.NewTestWriter(t)).Level(testLogLevel), Router: router.New(rt), Authorizer: auth, Journal: j,
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

var testLogLevel = zerolog.WarnLevel

var benchWorkers = envInt("CS_TEST_WORKERS", 8)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
