package engine

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/clock"
	"github.com/cardswitch/cardswitch/internal/testlog"
)

func TestLogLimit(t *testing.T) {
	l := logLimit{every: time.Second, burst: 3}
	t0 := time.Unix(1000, 0)
	var got []string
	for i := 0; i < 10; i++ {
		n, ok := l.allow(t0.Add(time.Duration(i) * 100 * time.Millisecond))
		got = append(got, fmt.Sprint(ok, n))
	}
	n, ok := l.allow(t0.Add(time.Second))
	got = append(got, fmt.Sprint(ok, n))
	want := "true 0,true 0,true 0,false 0,false 0,false 0,false 0,false 0,false 0,false 0,true 7"
	if s := strings.Join(got, ","); s != want {
		t.Fatalf("%s\nwant %s", s, want)
	}
}

// A peer that sends responses, or a storm of refused connections, writes a
// few log lines a second (lineBurst), not one per message: the first line
// after the held-back ones says how many there were.
func TestLogStormsAreBounded(t *testing.T) {
	var logs testlog.Buffer
	clk := clock.NewFake(testStart)
	ts := startServerOn(t, clk, nil, func(c *Config) {
		c.testLog = &logs
		c.Links[0].MaxConnsPerIP = 2
		c.Links[0].IdleTimeout, c.Links[0].FrameTimeout = time.Hour, time.Hour
	})
	c := ts.dial(t)
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	resp, err := d.Encode(codec.Message{MTI: "0210", Fields: map[string]string{"11": "000001", "39": "00", "41": "TERM0001"}})
	if err != nil {
		t.Fatal(err)
	}
	echo, _ := d.Encode(codec.Message{MTI: "0800", Fields: map[string]string{"7": "1121204500", "11": "000002", "70": "301"}})
	const n = 3000
	var all []byte
	for i := 0; i < n; i++ {
		all, _ = f.Append(all, nil, resp)
	}
	all, _ = f.Append(all, nil, echo)
	if _, err := c.Raw().Write(all); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(time.Now().Add(5 * time.Second)); err != nil { // the echo's reply: all were read
		t.Fatal(err)
	}
	if got := strings.Count(logs.String(), "unexpected response from peer"); got != lineBurst {
		t.Fatalf("%d lines for %d responses in one second, want %d", got, n, lineBurst)
	}
	clk.Advance(lineEvery)
	one, _ := f.Append(nil, nil, resp)
	one, _ = f.Append(one, nil, echo)
	c.Raw().Write(one)
	if _, err := c.Read(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"suppressed":%d,"message":"unexpected response from peer`, n-lineBurst); !strings.Contains(logs.String(), want) {
		t.Fatalf("no line saying %d were held back:\n%s", n-lineBurst, logs.String())
	}

	// refused connections: one more is allowed on this address, then 200
	// refused. The dial returns when the kernel has the connection, maybe
	// before the link counted it (each event loop accepts on its own): wait.
	ts.dial(t)
	ts.conns(t, 2)
	for i := 0; i < 200; i++ {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Read(make([]byte, 1)); err == nil {
			t.Fatal("a connection over max_conns_per_ip was served")
		}
		nc.Close()
	}
	if got := strings.Count(logs.String(), "connection refused"); got != lineBurst {
		t.Fatalf("%d lines for 200 refused connections, want %d", got, lineBurst)
	}
}

// A rate-limited line says how many lines of its kind were held back only
// when some were: the first line of a kind, and one after a quiet spell,
// carry no "suppressed" field (it was "suppressed":0 on every line); the
// first line through after a storm carries the count.
func TestSuppressedOnlyAfterHeldBackLines(t *testing.T) {
	var logs testlog.Buffer
	clk := clock.NewFake(testStart)
	ts := startServerOn(t, clk, nil, func(c *Config) {
		c.testLog, c.testLogInfo = &logs, true
		c.Links[0].IdleTimeout, c.Links[0].FrameTimeout = time.Hour, time.Hour
	})
	c := ts.dial(t)
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	resp, err := d.Encode(codec.Message{MTI: "0210", Fields: map[string]string{"11": "000001", "39": "00", "41": "TERM0001"}})
	if err != nil {
		t.Fatal(err)
	}
	echo, _ := d.Encode(codec.Message{MTI: "0800", Fields: map[string]string{"7": "1121204500", "11": "000002", "70": "301"}})
	// send writes n responses and an echo test, and waits for the echo's
	// reply: by then every response was read and its line written (or not)
	send := func(n int) {
		t.Helper()
		var all []byte
		for i := 0; i < n; i++ {
			all, _ = f.Append(all, nil, resp)
		}
		all, _ = f.Append(all, nil, echo)
		if _, err := c.Raw().Write(all); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// lines returns the log lines with message msg, in order
	lines := func(msg string) []string {
		var out []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"message":"`+msg) {
				out = append(out, l)
			}
		}
		return out
	}

	send(1)
	if got := lines("connection opened"); len(got) != 1 || strings.Contains(got[0], "suppressed") {
		t.Fatalf("the first connection's line: %q, want one without a suppressed field", got)
	}
	first := lines("unexpected response from peer")
	if len(first) != 1 || strings.Contains(first[0], "suppressed") {
		t.Fatalf("the first line of its kind: %q, want one without a suppressed field", first)
	}
	const storm = 500
	send(storm) // the window lets lineBurst-1 more through
	clk.Advance(lineEvery)
	send(1)
	got := lines("unexpected response from peer")
	if len(got) != lineBurst+1 {
		t.Fatalf("%d lines, want %d: the burst, then the one after the storm", len(got), lineBurst+1)
	}
	for i, l := range got[:lineBurst] {
		if strings.Contains(l, "suppressed") {
			t.Fatalf("line %d of the burst, none held back before it: %s", i+1, l)
		}
	}
	if want := fmt.Sprintf(`"suppressed":%d,`, storm-(lineBurst-1)); !strings.Contains(got[lineBurst], want) {
		t.Fatalf("the line after the storm: %s, want %s", got[lineBurst], want)
	}
	clk.Advance(lineEvery) // a quiet spell: nothing held back since
	send(1)
	if got := lines("unexpected response from peer"); len(got) != lineBurst+2 || strings.Contains(got[lineBurst+1], "suppressed") {
		t.Fatalf("the line after a quiet spell: %q, want one without a suppressed field", got[len(got)-1])
	}
}
