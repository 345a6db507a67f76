package crashtest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/client"
)

// TestAbuse runs attacks on a built switch, each over loopback, and prints
// one line per attack with its verdict. `make abuse` runs the full sizes
// (ABUSE=full); `make test` runs the same attacks, smaller.
//
// Each attack is one that an earlier attack run found to hurt: see the
// hostile-peers issue. An attack's check is what the switch must do, not
// how fast.
func TestAbuse(t *testing.T) {
	full := os.Getenv("ABUSE") == "full"
	size := func(short, long int) int {
		if full {
			return long
		}
		return short
	}
	var mu sync.Mutex
	var verdicts []string
	given := map[string]bool{}
	verdict := func(t *testing.T, name, detail string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		v := "ok  "
		if t.Failed() {
			v = "FAIL"
		}
		given[name] = true
		verdicts = append(verdicts, fmt.Sprintf("%-22s %s  %s", name, v, detail))
	}
	// run is t.Run that gives an attack stopped by a fatal failure, before
	// its verdict, a FAIL line all the same: a failure must not drop out
	// of the list.
	run := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) && !given[name] {
			verdicts = append(verdicts, fmt.Sprintf("%-22s FAIL  stopped early (see the test log)", name))
		}
	}
	defer func() {
		// shown by go test -v (make abuse) and when an attack fails
		t.Log("abuse run (" + map[bool]string{true: "full", false: "short"}[full] + "), one line per attack:\n" + strings.Join(verdicts, "\n"))
	}()

	a := abuse{full: full, verdict: verdict}

	h := setup(t)
	h.setConfig("message_timeout: 30m", "message_timeout: 3s")
	h.setConfig("memory_limit_mb: 2048", fmt.Sprintf("memory_limit_mb: %d", abuseMemoryLimitMB))
	h.start()
	defer h.stop(syscall.SIGTERM)
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")

	run("unserved-mti", func(t *testing.T) {
		c := dialPOS(t, h.pos)
		before := balance(t, c, d, 900001)
		codes := map[string]string{}
		for i, mti := range []string{"1200", "9200", "0208", "0120", "0202"} {
			msg, _ := d.Encode(codec.Message{MTI: mti, Fields: map[string]string{
				"2": "4761739001010010", "3": "000000", "4": "000000001000", "11": fmt.Sprintf("%06d", 800001+i),
				"12": "120000", "13": "1121", "14": "2812", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}})
			r, err := c.RoundTrip(msg, 5*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", mti, err)
			}
			codes[mti] = string(r.View.AppendText(nil, 39))
		}
		after := balance(t, c, d, 900002)
		if after != before || codes["1200"] != "30" || codes["0208"] != "30" || codes["0120"] != "12" {
			t.Errorf("codes %v, balance %s then %s", codes, before, after)
		}
		verdict(t, "unserved-mti", fmt.Sprintf("codes %v, balance unchanged %v", codes, after == before))
	})

	run("iov-max", func(t *testing.T) {
		c := dialPOS(t, h.pos)
		n := size(2000, 20000)
		var all []byte
		for i := 1; i <= n; i++ {
			msg, _ := d.Encode(codec.Message{MTI: "0800", Fields: map[string]string{"7": "1121120000", "11": fmt.Sprintf("%06d", i), "70": "301"}})
			all, _ = f.Append(all, nil, msg)
		}
		if _, err := c.Raw().Write(all); err != nil {
			t.Fatal(err)
		}
		got := 0
		for ; got < n; got++ {
			if _, err := c.Read(time.Now().Add(10 * time.Second)); err != nil {
				t.Errorf("reply %d of %d: %v", got+1, n, err)
				break
			}
		}
		verdict(t, "iov-max", fmt.Sprintf("%d echoes in one write, %d answered", n, got))
	})

	run("never-reading", func(t *testing.T) {
		base := rss(t, h.proc.Pid)
		n := size(10, 100)
		frame, _ := f.Append(nil, nil, purchase(d, 1))
		batch := bytes.Repeat(frame, 200)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for i := 0; i < n; i++ {
			nc, err := net.Dial("tcp", h.pos)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				for {
					select {
					case <-stop:
						return
					default:
					}
					nc.SetWriteDeadline(time.Now().Add(time.Second))
					if _, err := nc.Write(batch); err != nil && !isTimeout(err) {
						return
					}
				}
			}()
		}
		peak := base
		rd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}} // beside the flooders' per-address cap
		nc, err := rd.Dial("tcp", h.pos)
		if err != nil {
			t.Fatal(err)
		}
		c := client.New(nc, d, f, nil)
		defer c.Close()
		end := time.Now().Add(time.Duration(size(3, 40)) * time.Second) // memory grows with the journal's flushes: long enough for several
		for i := 0; time.Now().Before(end); i++ {
			if r, err := c.RoundTrip(purchase(d, uint32(700000+i)), 10*time.Second); err != nil {
				t.Fatalf("a peer that reads, purchase %d: %v", i, err)
			} else if code := string(r.View.AppendText(nil, 39)); code == "96" || code == "91" {
				// a decision (00, or 65 past the card's daily count) is an
				// answer; 96 would be the switch failing the peer that reads
				t.Fatalf("a peer that reads, purchase %d: %s", i, code)
			}
			peak = max(peak, rss(t, h.proc.Pid))
			time.Sleep(10 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		// engine.memory_limit_mb bounds the Go runtime's memory, as long as
		// what is live fits in it: the journal's Badger (memtables, table
		// builders) and the requests in flight. The runtime's own memory
		// outside the limit is small.
		if limit := int64(abuseMemoryLimitMB+128) << 20; peak > limit {
			t.Errorf("anonymous resident memory %d MiB with %d peers that never read (from %d MiB), over %d MiB", peak>>20, n, base>>20, limit>>20)
		}
		verdict(t, "never-reading", fmt.Sprintf("%d flooding peers that never read: anonymous resident %d MiB -> peak %d MiB; a reading peer answered throughout", n, base>>20, peak>>20))
	})

	run("keepalive-slowloris", func(t *testing.T) {
		// four addresses take their per-address cap (100) and send only
		// keep-alives: a fifth address still gets in, and the keep-alive
		// connections are closed after message_timeout (3s here)
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for a := 2; a <= 5; a++ {
			for i := 0; i < 100; i++ {
				dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(a))}}
				nc, err := dl.Dial("tcp", h.pos)
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, nc)
			}
		}
		ka := func() {
			for _, c := range held {
				c.Write([]byte{0, 0})
			}
		}
		ka()
		dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}, Timeout: 2 * time.Second}
		nc, err := dl.Dial("tcp", h.pos)
		if err != nil {
			t.Fatal(err)
		}
		term := client.New(nc, d, f, nil)
		r, err := term.RoundTrip(purchase(d, 600001), 5*time.Second)
		if err != nil {
			t.Fatalf("a new terminal beside the slowloris: %v", err)
		}
		term.Close()
		closed := 0
		for deadline := time.Now().Add(20 * time.Second); closed < len(held) && time.Now().Before(deadline); {
			ka()
			time.Sleep(500 * time.Millisecond)
			closed = 0
			for _, c := range held {
				c.SetReadDeadline(time.Now().Add(time.Millisecond))
				if _, err := c.Read(make([]byte, 1)); err == io.EOF || err != nil && !isTimeout(err) {
					closed++
				}
			}
		}
		if closed < len(held) {
			t.Errorf("%d of %d keep-alive-only connections still open", len(held)-closed, len(held))
		}
		verdict(t, "keepalive-slowloris", fmt.Sprintf("400 keep-alive connections from 4 addresses: a new terminal answered %s; %d closed by message_timeout",
			r.View.AppendText(nil, 39), closed))
	})

	run("log-storm", func(t *testing.T) {
		before := h.stderr.Len()
		c := dialPOS(t, h.pos)
		resp, _ := d.Encode(codec.Message{MTI: "0210", Fields: map[string]string{"11": "000001", "39": "00", "41": "TERM0001"}})
		n := size(20000, 200000)
		var all []byte
		for i := 0; i < n; i++ {
			all, _ = f.Append(all, nil, resp)
		}
		if _, err := c.Raw().Write(all); err != nil {
			t.Fatal(err)
		}
		refused := 0
		for i := 0; i < size(300, 3000); i++ { // over max_conns_per_ip (100): refused
			if nc, err := net.Dial("tcp", h.pos); err == nil {
				held := nc
				defer held.Close()
			} else {
				refused++
			}
		}
		if _, err := c.RoundTrip(purchase(d, 500001), 10*time.Second); err != nil {
			t.Fatal(err)
		}
		logged := h.stderr.Len() - before
		if logged > 256<<10 {
			t.Errorf("%d KiB of log for %d responses and a refused-connection storm", logged>>10, n)
		}
		verdict(t, "log-storm", fmt.Sprintf("%d responses sent to the switch and a connection storm: %d KiB of log", n, logged>>10))
	})

	run("admin-reload", func(t *testing.T) {
		token, err := os.ReadFile(filepath.Join(h.dataDir, "admin.token"))
		if err != nil {
			t.Fatal(err)
		}
		call := func(host, origin, tok string) int {
			req, _ := http.NewRequest(http.MethodPost, "http://"+h.admin+"/reload", nil)
			if host != "" {
				req.Host = host
			}
			if origin != "" {
				req.Header.Set("Origin", origin)
			}
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		tok := strings.TrimSpace(string(token))
		_, port, _ := net.SplitHostPort(h.admin)
		none, rebound, foreign, good := call("", "", ""), call("attacker.example:"+port, "", tok), call("", "http://attacker.example", tok), call("", "", tok)
		if none != 401 || rebound != 421 || foreign != 403 || good != 200 {
			t.Errorf("no token %d, rebound host %d, foreign origin %d, with the token %d", none, rebound, foreign, good)
		}
		verdict(t, "admin-reload", fmt.Sprintf("POST /reload: no token %d, rebound Host %d, foreign Origin %d, with the token %d", none, rebound, foreign, good))
	})

	run("truncated-issuer", func(t *testing.T) {
		path := filepath.Join(filepath.Dir(h.cfg), "issuer.yaml")
		whole, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(path, whole, 0o644)
		cards := bytes.Index(whole, []byte("\ncards:"))
		second := bytes.Index(whole[cards+8:], []byte("\n  - pan:"))
		if cards < 0 || second < 0 {
			t.Fatal("no second card to cut at")
		}
		if err := os.WriteFile(path, whole[:cards+8+second+1], 0o644); err != nil {
			t.Fatal(err)
		}
		token, _ := os.ReadFile(filepath.Join(h.dataDir, "admin.token"))
		req, _ := http.NewRequest(http.MethodPost, "http://"+h.admin+"/reload", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r, err := dialPOS(t, h.pos).RoundTrip(purchase(d, 300001), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		code := string(r.View.AppendText(nil, 39))
		if resp.StatusCode == 200 || code != "00" {
			t.Errorf("reload of a cut file: %d %s; a purchase then %s", resp.StatusCode, body, code)
		}
		verdict(t, "truncated-issuer", fmt.Sprintf("reload of a file cut after one card: %d (%s); a purchase then %s",
			resp.StatusCode, strings.TrimSpace(string(body)), code))
	})

	run("fd-exhaustion", func(t *testing.T) {
		g := setup(t)
		g.wrap, g.execWrap = []string{"sh", "-c", `ulimit -n 700 && exec "$0" "$@"`}, true
		g.start()
		defer g.stop(syscall.SIGTERM)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := 0; i < size(800, 3000); i++ {
			dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/100), byte(1+i%100))}, Timeout: time.Second}
			if nc, err := dl.Dial("tcp", g.pos); err == nil {
				conns = append(conns, nc)
			}
		}
		time.Sleep(200 * time.Millisecond) // the refusals happen
		held := 0
		for _, c := range conns {
			c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); isTimeout(err) {
				held++ // still open: taken, not refused
			}
		}
		ready := readyz(t, g.admin)
		for _, c := range conns {
			c.Close()
		}
		conns = nil
		var r *client.Reply
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			c, derr := client.Dial(g.pos, d, f, nil, time.Second)
			if derr != nil {
				err = derr
				continue
			}
			r, err = c.RoundTrip(purchase(d, 400001), 5*time.Second)
			c.Close()
			if err == nil {
				break
			}
		}
		if err != nil || ready != 200 || held > 700-512 {
			t.Fatalf("under ulimit -n 700: %d connections held, readyz %d, then a purchase: %v", held, ready, err)
		}
		warned := strings.Contains(g.stderr.String(), "open-file limit")
		if !warned {
			t.Errorf("no warning about the open-file limit:\n%s", g.stderr)
		}
		verdict(t, "fd-exhaustion", fmt.Sprintf("ulimit -n 700, %d connections tried, %d taken (the rest refused, no EMFILE): readyz %d, then a purchase answered %s, warned %v",
			size(800, 3000), held, ready, r.View.AppendText(nil, 39), warned))
	})

	run("signon-theft", func(t *testing.T) { signOnTheft(t, a, h) })
	run("track-data", func(t *testing.T) { trackData(t, a, h.bin) })
	run("disk-full", func(t *testing.T) { diskFull(t, a, h.bin) })
	run("missing-sst", func(t *testing.T) { missingSST(t, a, h.bin) })
}

// setConfig edits the harness's configuration file.
func (h *harness) setConfig(old, new string) {
	b, err := os.ReadFile(h.cfg)
	if err != nil || !bytes.Contains(b, []byte(old)) {
		h.t.Fatalf("configuration has no %q (%v)", old, err)
	}
	if err := os.WriteFile(h.cfg, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func dialPOS(t *testing.T, addr string) *client.Conn {
	t.Helper()
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	c, err := client.Dial(addr, d, f, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// balance asks the demo card's available balance (field 54).
func balance(t *testing.T, c *client.Conn, d *codec.Dialect, stan uint32) string {
	t.Helper()
	msg, _ := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
		"2": "4761739001010010", "3": "310000", "11": fmt.Sprintf("%06d", stan), "12": "120000", "13": "1121",
		"14": "2812", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}})
	r, err := c.RoundTrip(msg, 5*time.Second)
	if err != nil || string(r.View.AppendText(nil, 39)) != "00" {
		t.Fatalf("balance inquiry: %v", err)
	}
	return string(r.View.AppendText(nil, 54))
}

// abuseMemoryLimitMB is the abuse run's engine.memory_limit_mb, under the
// default (2048) so that a live set that outgrows it shows: with Badger's
// 64 MB memtables and 8/32 level-0 limits, 100 peers that never read held
// 865 MiB after 40 s and 2 GB after 60 s.
const abuseMemoryLimitMB = 768

// rss is a process's anonymous resident memory in bytes: what it owns. The
// file-backed part is the journal's files mapped by Badger, page cache the
// kernel takes back under pressure, and it grows with the journal.
func rss(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssAnon:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func readyz(t *testing.T, admin string) int {
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
