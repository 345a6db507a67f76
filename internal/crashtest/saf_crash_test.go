package crashtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/client"
)

// safModes are the destination's behaviours between kills: it never
// answers a purchase (each one times out: a reversal is owed), and it
// answers the reversals at once, slowly (past the entry's timeout: each
// goes again as a repeat), or not at all (down in effect).
var safModes = []struct {
	name  string
	rules sim.Rules
}{
	{"answering", sim.Rules{Default: "00", Rules: []sim.Rule{{Name: "purchases", MTIClasses: []string{"2"}, Fault: "no_answer"}}}},
	{"slow", sim.Rules{Default: "00", Rules: []sim.Rule{{Name: "purchases", MTIClasses: []string{"2"}, Fault: "no_answer"},
		{Name: "slow-reversals", MTIClasses: []string{"4"}, Fault: "slow", Delay: 150 * time.Millisecond}}}},
	{"silent", sim.Rules{Rules: []sim.Rule{{Name: "nothing", Fault: "no_answer"}}}},
}

// TestSAFCrashRecovery kills the switch with SIGKILL at random moments
// while it owes its destination reversals and the destination is slow or
// silent, SAF_KILLS times (default 20; make saf-crash-test: 100), then
// lets the destination answer and the switch drain. Then every reversal
// the journal owes (a timeout, a request open at a restart) has its
// delivered record, the destination applied each once (never two first
// sends of one entry: after a restart an entry goes as a repeat), and
// what the destination applied is what the switch journaled delivered.
func TestSAFCrashRecovery(t *testing.T) {
	kills, _ := strconv.Atoi(os.Getenv("SAF_KILLS"))
	if kills == 0 {
		kills = 20
	}
	is, err := sim.Start("127.0.0.1:0", sim.Config{Dialect: "iso87ascii", Framing: "binary2", Rules: safModes[2].rules})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	h := setup(t)
	withDestination(t, h, is.Addr())
	seed := time.Now().UnixNano()
	if s := os.Getenv("CRASH_SEED"); s != "" {
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("CRASH_SEED %q: %v", s, err)
		}
	}
	t.Logf("seed %d (CRASH_SEED=%d repeats this run's modes and kill times)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	var next atomic.Uint32
	h.start()
	timedOut := 0
	for k := 0; k < kills; k++ {
		mode := safModes[rng.Intn(len(safModes))]
		if err := is.SetRules(mode.rules); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var n atomic.Int64
		wg := driveUpstream(t, h.pos, 4, &next, &n, stop)
		time.Sleep(time.Duration(100+rng.Intn(600)) * time.Millisecond)
		h.kill()
		close(stop)
		wg.Wait()
		timedOut += int(n.Load())
		h.start()
	}
	if err := is.SetRules(safModes[0].rules); err != nil { // the destination is back
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); safDepth(t, h.admin) != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("store-and-forward not drained: depth %d\n%s", safDepth(t, h.admin), h.stderr)
		}
	}
	h.stop(syscall.SIGTERM)

	// the switch's side, from its journal
	owed, delivered := map[uint64]string{}, map[uint64]int{}
	deliveredKeys := map[string]bool{}
	dump := exec.Command(h.bin, "journal", "dump", "--json", "--data-dir", h.dataDir)
	stdout, _ := dump.StdoutPipe()
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			RRNSeq  uint64 `json:"rrn_seq"`
			UpState string `json:"up_state"`
			UpSTAN  string `json:"up_stan"`
			UpRRN   string `json:"up_rrn"`
			UpRC    string `json:"up_rc"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		switch l.UpState {
		case "timeout", "open at restart: needs reversal", "late approval: needs reversal", "bad MAC":
			owed[l.RRNSeq] = l.UpState
		case "saf delivered":
			delivered[l.RRNSeq]++
			deliveredKeys[l.UpRRN+"/"+l.UpSTAN] = true
			if l.UpRC != "00" {
				t.Errorf("entry %d delivered with %q", l.RRNSeq, l.UpRC)
			}
		case "saf rejected", "saf expired":
			t.Errorf("entry %d ended %s (%s): the destination answers 00 in the end", l.RRNSeq, l.UpState, l.UpRC)
		}
	}
	if err := dump.Wait(); err != nil {
		t.Fatal(err)
	}
	lost, twice := 0, 0
	for ref, why := range owed {
		switch delivered[ref] {
		case 0:
			lost++
			if lost <= 5 {
				t.Errorf("reversal owed for %d (%s) never delivered", ref, why)
			}
		case 1:
		default:
			twice++
		}
	}
	// the destination's side, from its ledger
	applied, firstTwice, repeats := 0, 0, 0
	for _, e := range is.Ledger() {
		if e.Class != '4' {
			continue
		}
		repeats += e.Repeats
		if e.Received-e.Repeats > 1 {
			firstTwice++ // sent as 0420 twice: a restart must send it as 0421
		}
		if e.Applied {
			applied++
			if !deliveredKeys[e.RRN+"/"+fmt.Sprintf("%06d", e.STAN)] {
				t.Errorf("the destination applied reversal RRN %s STAN %06d, the switch has no delivered record of it", e.RRN, e.STAN)
			}
		}
	}
	t.Logf("kills %d, purchases timed out (seen by clients) %d, reversals owed %d, delivered %d, applied by the destination %d, repeats %d, lost %d, delivered twice %d, first sends twice %d",
		kills, timedOut, len(owed), len(deliveredKeys), applied, repeats, lost, twice, firstTwice)
	if lost > 0 || twice > 0 || firstTwice > 0 || applied != len(deliveredKeys) || len(owed) == 0 {
		t.Fatalf("lost %d, delivered twice %d, first sends twice %d; applied %d, delivered %d, owed %d",
			lost, twice, firstTwice, applied, len(deliveredKeys), len(owed))
	}
}

// withDestination adds destination visa-host (the simulator at addr, short
// timeouts, quick store-and-forward retries) to h's configuration and
// routes the demo card's BIN to it.
func withDestination(t *testing.T, h *harness, addr string) {
	b, err := os.ReadFile(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	dest := fmt.Sprintf("destinations:\n  - name: visa-host\n    dialect: iso87ascii\n    framing: binary2\n"+
		"    endpoints: [{address: %s}]\n    timeout: 100ms\n    reconnect_min: 10ms\n    reconnect_max: 50ms\n"+
		"    saf: {timeout: 100ms, retry_base: 20ms, retry_max: 100ms, max_retries: 1000}\n", addr)
	rule := "    - name: visa-issuers\n      pan_prefixes: [\"4761739001\"]\n      action: upstream\n      destination: visa-host\n"
	i := strings.Index(cfg, "\n  rules:")
	j := strings.Index(cfg[i+1:], "\n") + i + 2 // the line after "rules:" and its comment
	if !strings.Contains(cfg, "destinations: []\n") || i < 0 {
		t.Fatal("the default configuration changed: destinations: [] or rules: not found")
	}
	cfg = cfg[:j] + rule + cfg[j:]
	cfg = strings.Replace(cfg, "destinations: []\n", dest, 1)
	if err := os.WriteFile(h.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// driveUpstream sends purchases of the demo card (routed upstream) with
// unique STANs and RRNs on conns connections until stop closes, and counts
// the 91s (timeouts) clients were told.
func driveUpstream(t *testing.T, addr string, conns int, next *atomic.Uint32, n *atomic.Int64, stop <-chan struct{}) *sync.WaitGroup {
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := client.Dial(addr, d, f, nil, time.Second)
				if err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				for {
					stan := next.Add(1)
					msg, _ := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{"2": "4761739001010010", "3": "000000",
						"4": "000000000100", "7": "1201101500", "11": fmt.Sprintf("%06d", stan%1000000), "12": "101500", "13": "1201",
						"22": "051", "37": fmt.Sprintf("SAFK%08d", stan), "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}})
					r, err := c.RoundTrip(msg, 2*time.Second)
					if err != nil {
						break
					}
					if string(r.View.AppendText(nil, 39)) == "91" {
						n.Add(1)
					}
				}
				c.Close()
			}
		}()
	}
	return &wg
}

func safDepth(t *testing.T, admin string) int {
	resp, err := http.Get("http://" + admin + "/saf?max=0")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st []struct {
		Depth int `json:"depth"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st) != 1 {
		return -1
	}
	return st[0].Depth
}
