// Package crashtest drives the real cardswitch binary under load, kills it
// with SIGKILL at random moments, restarts it each time, and checks that
// every approval a client received is in the journal and that the journal
// verifies. CRASH_KILLS sets the number of kills (make crash-test: 50;
// make test: 3) and CRASH_SEED the moments of the kills (the test logs the
// seed it used). TestSyncBeforeReply runs the switch under strace and checks
// that every reply leaves only after Badger's log and the high-water mark
// were synced.
package crashtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/internal/client"
	"github.com/cardswitch/cardswitch/internal/testlog"
	"github.com/cardswitch/cardswitch/internal/testport"
)

func freeAddr(t testing.TB) string { return testport.Addr(t) }

type harness struct {
	t        testing.TB
	bin, cfg string
	dataDir  string
	pos      string
	cup      string // the UnionPay link (cup-pos, binary2+tpdu)
	admin    string
	args     []string      // serve's flags besides --config and --log-level
	wrap     []string      // a command the switch runs under (strace), or none
	execWrap bool          // wrap execs the switch (same process), rather than running it as a child
	cmd      *exec.Cmd     // the switch, or wrap running it
	proc     *os.Process   // the switch: cmd's process, or wrap's child
	exited   chan struct{} // closed when cmd has been waited for
	stderr   *testlog.Buffer
	logLevel string // the switch's --log-level (default warn)
}

func setup(t testing.TB) *harness {
	bin := filepath.Join(t.TempDir(), "cardswitch")
	build := exec.Command("go", "build", "-o", bin, "github.com/cardswitch/cardswitch/cmd/cardswitch")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return setupWith(t, bin)
}

// setupWith is setup on a binary already built (by another harness's
// setup, which must outlive this one).
func setupWith(t testing.TB, bin string) *harness {
	dir := t.TempDir()
	def, err := exec.Command(bin, "config", "default").Output()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, bin: bin, dataDir: filepath.Join(dir, "data"), pos: freeAddr(t), cup: freeAddr(t), admin: freeAddr(t)}
	cfg := strings.NewReplacer("127.0.0.1:8583", h.pos, "127.0.0.1:8580", h.admin,
		"127.0.0.1:8584", freeAddr(t), "127.0.0.1:8585", h.cup, "data_dir: ./data", "data_dir: "+h.dataDir).Replace(string(def))
	// issuer data without daily limits and with deep funds: the test counts approvals
	demo := strings.NewReplacer("    daily_amount: 1000000", "    daily_amount: 0", "    daily_count: 50\n", "    daily_count: 0\n",
		"merchant_daily_count: 100000", "merchant_daily_count: 0", "terminal_daily_count: 50000", "terminal_daily_count: 0",
		"balance: 500000 ", "balance: 900000000000 ").Replace(string(issuer.DemoYAML()))
	issuerPath := filepath.Join(dir, "issuer.yaml")
	if err := os.WriteFile(issuerPath, []byte(demo), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg = strings.Replace(cfg, `data: ""`, "data: "+issuerPath, 1)
	h.cfg = filepath.Join(dir, "cardswitch.yaml")
	if err := os.WriteFile(h.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.cleanup) // after the test, before t.TempDir's removal
	return h
}

// cleanup kills a switch a failed test left running.
func (h *harness) cleanup() {
	if h.cmd == nil {
		return
	}
	select {
	case <-h.exited:
		return
	default:
	}
	if h.proc != nil {
		_ = h.proc.Kill() // the switch first: killing strace would detach it and leave it running
	}
	_ = h.cmd.Process.Kill()
	select {
	case <-h.exited:
	case <-time.After(20 * time.Second):
	}
}

// start runs the switch and waits until it is ready; a switch that refuses
// to start (a journal that fails verification) fails the test.
func (h *harness) start() {
	h.stderr = &testlog.Buffer{}
	level := h.logLevel
	if level == "" {
		level = "warn"
	}
	args := append(append(append([]string(nil), h.wrap...), h.bin, "serve", "--config", h.cfg, "--log-level", level), h.args...)
	h.cmd = exec.Command(args[0], args[1:]...)
	h.cmd.Stderr = h.stderr
	if err := h.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.proc = h.cmd.Process
	h.exited = make(chan struct{})
	var waitErr error
	go func() { waitErr = h.cmd.Wait(); close(h.exited) }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-h.exited:
			h.t.Fatalf("switch exited at start: %v\n%s", waitErr, h.stderr)
		default:
		}
		if resp, err := http.Get("http://" + h.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if len(h.wrap) > 0 && !h.execWrap {
					h.proc = childOf(h.t, h.cmd.Process.Pid)
				}
				return
			}
		}
	}
	h.t.Fatalf("switch not ready\n%s", h.stderr)
}

func (h *harness) kill() { h.stop(syscall.SIGKILL) }

// childOf finds the one child of process ppid (the switch strace started).
func childOf(t testing.TB, ppid int) *os.Process {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			p, _ := os.FindProcess(pid)
			return p
		}
	}
	t.Fatalf("no child of process %d", ppid)
	return nil
}

// stop signals the switch and waits (bounded) until it has exited.
func (h *harness) stop(sig syscall.Signal) {
	_ = h.proc.Signal(sig)
	select {
	case <-h.exited:
	case <-time.After(20 * time.Second):
		h.t.Fatalf("switch did not exit on %v", sig)
	}
}

// approvals are what clients were told: STAN -> approval code.
type approvals struct {
	mu sync.Mutex
	m  map[uint32]string
}

func (a *approvals) add(stan uint32, code string) {
	a.mu.Lock()
	a.m[stan] = code
	a.mu.Unlock()
}

// purchase is a 1.00 purchase on a demo card with the given STAN.
func purchase(d *codec.Dialect, stan uint32) []byte {
	msg, err := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": "000000000100", "11": fmt.Sprintf("%06d", stan),
		"12": "120000", "13": "1121", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}})
	if err != nil {
		panic(err) // a fixed message: a failure is a bug in this file
	}
	return msg
}

// drive sends purchases with unique STANs on conns connections until stop
// closes, reconnecting while the switch is down.
func drive(t *testing.T, addr string, conns int, next *atomic.Uint32, got *approvals, stop <-chan struct{}) *sync.WaitGroup {
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *client.Conn
			for {
				select {
				case <-stop:
					if c != nil {
						c.Close()
					}
					return
				default:
				}
				if c == nil {
					var err error
					if c, err = client.Dial(addr, d, f, nil, time.Second); err != nil {
						time.Sleep(20 * time.Millisecond)
						continue
					}
				}
				stan := next.Add(1)
				r, err := c.RoundTrip(purchase(d, stan), 2*time.Second)
				if err != nil {
					c.Close()
					c = nil
					continue
				}
				if string(r.View.AppendText(nil, 39)) == "00" {
					got.add(stan, string(r.View.AppendText(nil, 38)))
				}
			}
		}()
	}
	return &wg
}

func TestCrashRecovery(t *testing.T) {
	kills, _ := strconv.Atoi(os.Getenv("CRASH_KILLS"))
	if kills == 0 {
		kills = 3
	}
	h := setup(t)
	got := &approvals{m: map[uint32]string{}}
	var next atomic.Uint32
	seed := time.Now().UnixNano()
	if s := os.Getenv("CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("CRASH_SEED %q: %v", s, err)
		}
	}
	// the seed repeats the moments of the kills, not the scheduling of the run
	t.Logf("seed %d (CRASH_SEED=%d repeats this run's kill times)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	h.start()
	for k := 0; k < kills; k++ {
		stop := make(chan struct{})
		wg := drive(t, h.pos, 16, &next, got, stop)
		time.Sleep(time.Duration(100+rng.Intn(600)) * time.Millisecond)
		h.kill()
		close(stop)
		wg.Wait()
		h.start() // verifies the journal: a loss refuses the start and fails here
	}
	h.stop(syscall.SIGTERM)
	out, err := exec.Command(h.bin, "journal", "verify", "--data-dir", h.dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	dump := exec.Command(h.bin, "journal", "dump", "--json", "--data-dir", h.dataDir)
	stdout, _ := dump.StdoutPipe()
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	inJournal := map[uint32]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var l struct {
			STAN     string `json:"stan"`
			RC       string `json:"rc"`
			Approval string `json:"approval"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.RC == "00" {
			s, _ := strconv.Atoi(l.STAN)
			inJournal[uint32(s)] = l.Approval
		}
	}
	if err := dump.Wait(); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for stan, code := range got.m {
		if inJournal[stan] != code {
			lost++
			if lost <= 5 {
				t.Errorf("approval STAN %06d code %s acknowledged but journaled as %q", stan, code, inJournal[stan])
			}
		}
	}
	t.Logf("kills %d, acknowledged approvals %d, journaled approvals %d, lost %d; %s",
		kills, len(got.m), len(inJournal), lost, strings.TrimSpace(string(out)))
	if lost > 0 || len(got.m) == 0 {
		t.Fatalf("%d acknowledged approvals missing of %d", lost, len(got.m))
	}
	// the state replayed from the journal: the account's available balance
	// is the starting balance less every journaled approval (1.00 each)
	h.start()
	defer h.stop(syscall.SIGTERM)
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	c, err := client.Dial(h.pos, d, f, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg, _ := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{"2": "4761739001010010", "3": "310000",
		"11": "999999", "13": "1121", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}})
	r, err := c.RoundTrip(msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("0002840C%012d", int64(900000000000)-100*int64(len(inJournal)))
	if got := string(r.View.AppendText(nil, 54)); got != want {
		t.Fatalf("balance after replay %s, want %s (%d journaled approvals)", got, want, len(inJournal))
	}

}
