package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/internal/testlog"
	"github.com/cardswitch/cardswitch/journal"
)

const openUpEnv = "CARDSWITCH_TEST_OPENUP_CONFIG"

// TestOpenUpstreamKilledSwitch is TestOpenUpstreamAtRestart's child: it
// serves the configuration it is given until it is killed.
func TestOpenUpstreamKilledSwitch(t *testing.T) {
	path := os.Getenv(openUpEnv)
	if path == "" {
		return // only as a child
	}
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := serve(context.Background(), c, zerolog.New(io.Discard), nil); err != nil {
		t.Fatal(err)
	}
}

// openUpConfig is the test configuration with destination visa-host at
// the simulator simAddr for the PANs starting with 4, and a timeout far
// beyond the test's life: a request the simulator does not answer stays in
// flight until the switch is killed.
func openUpConfig(t *testing.T, simAddr string) (string, map[string]string) {
	body, addrs := testConfig(t)
	dests := fmt.Sprintf("destinations:\n  - name: visa-host\n    dialect: iso87ascii\n    framing: binary2\n"+
		"    endpoints: [{address: %s}]\n    timeout: 2m\n", simAddr)
	rules := "    - name: visa-issuers\n      pan_prefixes: [\"4761739001\"]\n      action: upstream\n      destination: visa-host\n"
	return withDestinationsIn(t, body, dests, rules), addrs
}

// purchase is a 0200 of amount (minor units) with its own STAN and RRN.
func purchase(t *testing.T, d *codec.Dialect, stan, rrn string, amount int) []byte {
	t.Helper()
	msg, err := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": fmt.Sprintf("%012d", amount), "7": "1201101500", "11": stan, "12": "101500",
		"13": "1201", "14": "2812", "22": "051", "37": rrn, "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// A switch killed with requests in flight upstream: at the restart, what
// was answered stays answered, what was open is listed open (the tool
// before the start, the log, the metric and the admin port after it) and
// recorded to be reversed once, and a second restart finds nothing open.
func TestOpenUpstreamAtRestart(t *testing.T) {
	const answered, open = 3, 5
	is, err := sim.Start("127.0.0.1:0", sim.Config{Dialect: "iso87ascii", Framing: "binary2",
		Rules: sim.Rules{Rules: []sim.Rule{{Name: "never", AmountOver: 5000, Fault: "no_answer"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	body, addrs := openUpConfig(t, is.Addr())
	path := writeFile(t, body)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^TestOpenUpstreamKilledSwitch$", "-test.count=1")
	child.Env = append(os.Environ(), openUpEnv+"="+path)
	var childOut testlog.Buffer
	child.Stdout, child.Stderr = &childOut, &childOut
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	}()
	waitReady(t, addrs["8580"], childOut.String)
	waitDestinationUp(t, addrs["8580"], "visa-host")

	conn, d := dialPOS(t, addrs["8583"])
	defer conn.Close()
	for i := 0; i < answered; i++ {
		r, err := conn.RoundTrip(purchase(t, d, fmt.Sprintf("%06d", i+1), fmt.Sprintf("ANSWERED%04d", i), 1000), 5*time.Second)
		if err != nil || string(r.View.AppendText(nil, 39)) != "00" {
			t.Fatalf("answered purchase %d: %v", i, err)
		}
	}
	var openRRNs []string
	for i := 0; i < open; i++ {
		rrn := fmt.Sprintf("OPENUP%06d", i)
		openRRNs = append(openRRNs, rrn)
		if err := conn.Write(purchase(t, d, fmt.Sprintf("%06d", 100+i), rrn, 9000)); err != nil {
			t.Fatal(err)
		}
	}
	// the simulator has them: their forwarded records are durable
	// (nothing leaves before), and no final record can come (2m timeout)
	for deadline := time.Now().Add(10 * time.Second); is.Stats().Faults["no_answer"] < open; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the simulator saw %d requests of %d: %+v\n%s", is.Stats().Faults["no_answer"], open, is.Stats(), body)
		}
	}
	_ = child.Process.Signal(syscall.SIGKILL)
	_ = child.Wait()
	killed = true

	// before the start: the tool lists them
	code, stdout, stderr := cli(t, "", "journal", "--data-dir", c.file.DataDir, "open-upstream", "--json")
	if code != 0 {
		t.Fatalf("open-upstream: %d %s", code, stderr)
	}
	if got := sorted(rrnsOf(t, stdout)); !slices.Equal(got, openRRNs) {
		t.Fatalf("open-upstream lists %q, want %q\n%s", got, openRRNs, stderr)
	}
	if strings.Contains(stdout, "4761739001010010") {
		t.Fatal("open-upstream shows a PAN in clear")
	}
	code, stdout, stderr = cli(t, "", "journal", "--data-dir", c.file.DataDir, "open-upstream")
	if code != 0 || strings.Count(stdout, "visa-host") != open || strings.Count(stdout, "476173******0010") != open ||
		!strings.Contains(stderr, fmt.Sprintf("%d requests open upstream", open)) {
		t.Fatalf("open-upstream as text: %d\n%s%s", code, stdout, stderr)
	}

	for run := 1; run <= 2; run++ {
		var logBuf testlog.Buffer
		stop := startServeLog(t, c, zerolog.New(&logBuf))
		want := open
		if run == 2 {
			want = 0
		}
		res, err := http.Get("http://" + addrs["8580"] + "/upstream/open-at-start")
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Open    int `json:"open"`
			Records []struct {
				RRN, PAN, Destination string
				Recorded              *bool `json:"recorded_to_reverse"`
			} `json:"records"`
		}
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if err != nil || got.Open != want || len(got.Records) != want {
			t.Fatalf("run %d: /upstream/open-at-start: %v %+v", run, err, got)
		}
		var rrns []string
		for i, r := range got.Records {
			rrns = append(rrns, r.RRN)
			if r.PAN != "476173******0010" || r.Destination != "visa-host" || r.Recorded == nil || !*r.Recorded {
				t.Fatalf("run %d: open record %d: %+v", run, i, r)
			}
		}
		if want > 0 && !slices.Equal(sorted(rrns), openRRNs) {
			t.Fatalf("run %d: open %q, want %q", run, rrns, openRRNs)
		}
		if m := scrape(t, addrs["8580"]); m[`cardswitch_upstream_open_at_start{destination="visa-host"}`] != float64(want) {
			t.Fatalf("run %d: metric %v", run, m[`cardswitch_upstream_open_at_start{destination="visa-host"}`])
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		logs := logBuf.String()
		summary := fmt.Sprintf(`"open":%d,"by_destination":{"visa-host":%d}`, open, open)
		if (run == 1) != strings.Contains(logs, summary) || strings.Contains(logs, "4761739001010010") {
			t.Fatalf("run %d: log:\n%s", run, logs)
		}
		if run == 1 && strings.Count(logs, "request open upstream at start: to be reversed") != open {
			t.Fatalf("run %d: one line per open request wanted:\n%s", run, logs)
		}
	}

	// the journal: the answered ones answered, each open one closed once
	var upAnswered, reversals []string
	if _, err := journal.Replay(filepath.Join(c.file.DataDir, "journal"), func(r *journal.Record) error {
		switch r.UpState {
		case journal.UpAnswered:
			if r.RespCode == [2]byte{'0', '0'} {
				upAnswered = append(upAnswered, r.RRN)
			}
		case journal.UpOpenAtRestart:
			if r.RespCode != [2]byte{} || r.PANMasked != "476173******0010" || len(r.PANSealed) == 0 || r.RRNSeq == 0 || r.UpRRN == "" {
				t.Errorf("open at restart record: %+v", r)
			}
			reversals = append(reversals, r.RRN)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(upAnswered) != answered || !slices.Equal(sorted(reversals), openRRNs) {
		t.Fatalf("journal: answered %q, open at restart %q", upAnswered, reversals)
	}
	if _, stdout, _ := cli(t, "", "journal", "--data-dir", c.file.DataDir, "open-upstream", "--json"); strings.TrimSpace(stdout) != "" {
		t.Fatalf("open-upstream after the restarts: %s", stdout)
	}
}

// sorted is s in order: the workers journal requests sent together in any
// order.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func rrnsOf(t *testing.T, jsonLines string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(jsonLines), "\n") {
		if l == "" {
			continue
		}
		var d dumpLine
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, d.RRN)
	}
	return out
}

// waitDestinationUp waits until GET /destinations shows a connection of
// destination name up.
func waitDestinationUp(t *testing.T, admin, name string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var got struct{ Destinations []engine.DestinationState }
		if res, err := http.Get("http://" + admin + "/destinations"); err == nil {
			err = json.NewDecoder(res.Body).Decode(&got)
			res.Body.Close()
			for _, d := range got.Destinations {
				for _, c := range d.Conns {
					if d.Name == name && c.Up && err == nil {
						return
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("destination %s: no connection up", name)
		}
	}
}

// waitReady waits for the admin port's /readyz (the child switch's).
func waitReady(t *testing.T, admin string, out func() string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if res, err := http.Get("http://" + admin + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the switch is not ready:\n%s", out())
		}
	}
}

// fwd is a forwarded request's record and its final record of state up.
func fwd(seq, rrnSeq uint64, up journal.UpState) *journal.Record {
	return &journal.Record{Seq: seq, Link: "pos", MTI: [4]byte{'0', '2', '0', '0'}, Destination: "visa-host", RRNSeq: rrnSeq,
		UpSTAN: uint32(rrnSeq), UpRRN: fmt.Sprintf("633520%06d", rrnSeq), RRN: fmt.Sprintf("633520%06d", rrnSeq),
		PANMasked: "476173******0010", UpState: up}
}

// A request forwarded before a snapshot's point and never closed is still
// open after a start from the snapshot; one the journal after the point
// closes is not (a timeout, a response with a bad MAC); one closed before
// the point is not in it.
func TestOpenUpstreamAcrossASnapshot(t *testing.T) {
	c, prot, before := testState(t)
	p := newReplayer(before)
	for _, r := range []*journal.Record{fwd(1, 1, journal.UpForwarded), fwd(2, 2, journal.UpForwarded), fwd(3, 3, journal.UpForwarded),
		fwd(4, 1, journal.UpAnswered)} {
		if err := p.add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.wait(); err != nil {
		t.Fatal(err)
	}
	after := throughSnapshot(t, c, prot, before, 4)
	p = newReplayer(after)
	for _, r := range []*journal.Record{fwd(5, 3, journal.UpTimeout), fwd(6, 4, journal.UpForwarded), fwd(7, 4, journal.UpBadMAC)} {
		if err := p.add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.wait(); err != nil {
		t.Fatal(err)
	}
	recs, err := after.open.records()
	if err != nil || len(recs) != 1 || recs[0].Seq != 2 || recs[0].UpRRN != "633520000002" || recs[0].PANMasked != "476173******0010" {
		t.Fatalf("open after the snapshot: %v %+v", err, recs)
	}

	// the tool reads the snapshot's too: here the journal lost the day
	// they were forwarded on (it holds other records only)
	fillJournal(t, c.file.DataDir, []uint32{20261121}, 2).Close()
	code, stdout, stderr := cli(t, "", "journal", "--data-dir", c.file.DataDir, "open-upstream", "--json")
	if got := rrnsOf(t, stdout); code != 0 || !slices.Equal(got, []string{"633520000002", "633520000003"}) {
		t.Fatalf("open-upstream with a snapshot: %d %q %s", code, got, stderr)
	}
}

// BenchmarkReplayForwarded replays forwarded requests, each a forwarded
// record and its final one, through the start's replayer: with the open
// set (as a start runs) and without (as it ran before), to show what
// finding the open requests costs a restart.
func BenchmarkReplayForwarded(b *testing.B) {
	body, _ := testConfig(b)
	c, err := loadConfig(writeFile(b, body))
	if err != nil {
		b.Fatal(err)
	}
	prot, err := journal.NewProtector(make([]byte, 64))
	if err != nil {
		b.Fatal(err)
	}
	for _, track := range []bool{false, true} {
		b.Run(fmt.Sprintf("open_set=%v", track), func(b *testing.B) {
			st, err := newState(c, prot)
			if err != nil {
				b.Fatal(err)
			}
			p := newReplayer(st)
			f, final := fwd(0, 0, journal.UpForwarded), fwd(0, 0, journal.UpAnswered)
			f.PANSealed, f.Terminal, f.Merchant = make([]byte, 44), "TERM0001", "MERCHANT0000001"
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				seq := uint64(i)
				f.Seq, f.RRNSeq, final.Seq, final.RRNSeq = 2*seq+1, seq+1, 2*seq+2, seq+1
				if !track {
					f.UpState, final.UpState = journal.UpNone, journal.UpNone // the replayer passes over them
				}
				if err := p.add(f); err != nil {
					b.Fatal(err)
				}
				if err := p.add(final); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.wait(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/record")
		})
	}
}

// The open set's arena is compacted as closed records pile up, and the
// open ones come back whole and in order after many compactions; the
// admin list is capped at openListMax with the full count beside it.
func TestOpenSetCompactsAndListsCapped(t *testing.T) {
	o := newOpenSet()
	const n = 60_000 // some 10 MB of encodings: past arenaSlack several times
	seq := uint64(0)
	var open []uint64
	for i := uint64(1); i <= n; i++ {
		seq++
		o.observe(fwd(seq, i, journal.UpForwarded))
		if i%50 == 0 {
			open = append(open, i) // every 50th stays open
			continue
		}
		seq++
		o.observe(fwd(seq, i, journal.UpAnswered))
	}
	if len(o.arena) > 2*o.live+arenaSlack+4096 {
		t.Fatalf("arena %d bytes for %d live", len(o.arena), o.live)
	}
	recs, err := o.records()
	if err != nil || len(recs) != len(open) {
		t.Fatalf("%d open records (%v), want %d", len(recs), err, len(open))
	}
	for i, r := range recs {
		if r.RRNSeq != open[i] || r.UpRRN != fmt.Sprintf("633520%06d", open[i]) || r.UpState != journal.UpForwarded {
			t.Fatalf("open record %d: %+v, want RRNSeq %d", i, r, open[i])
		}
	}
	many := make([]journal.Record, openListMax+5)
	var got struct {
		Open, Listed int
		Records      []json.RawMessage
	}
	if err := json.Unmarshal(openList(many, make([]bool, len(many)), 0), &got); err != nil ||
		got.Open != openListMax+5 || got.Listed != openListMax || len(got.Records) != openListMax {
		t.Fatalf("list of %d: open %d listed %d records %d (%v)", len(many), got.Open, got.Listed, len(got.Records), err)
	}
}
