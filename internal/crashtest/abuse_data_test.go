package crashtest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/cardscan"
	"github.com/cardswitch/cardswitch/internal/client"
	"github.com/cardswitch/cardswitch/internal/cuptest"
	"github.com/cardswitch/cardswitch/internal/testdisk"
	"github.com/cardswitch/cardswitch/internal/testlog"
)

// The attacks on the terminals' keys, the card data and the journal's
// disk. Each gets the abuse run's sizes and verdict line.

// abuse is what an attack gets from TestAbuse.
type abuse struct {
	full    bool
	verdict func(t *testing.T, name, detail string)
}

func (a abuse) size(short, long int) int {
	if a.full {
		return long
	}
	return short
}

// signOnTheft: UnionPay sign-ons on the cup link naming TERM0001 (a
// terminal of the pos link) and a terminal the issuer data does not have
// are refused 58 with no keys, and change nothing: TERM0001's right PIN
// under its configured PIN key is still approved on pos (a key issued to
// the thief would make it 55). The pos link of the default configuration
// takes no MACs, so there are none of TERM0001's to check. A sign-on
// storm by the UnionPay terminal is refused past sign_on_limit (6 a
// minute by default), and the refused sign-ons leave its last keys in
// force: a purchase MACed under the last issued MAC key is approved, one
// under the first is refused A0.
func signOnTheft(t *testing.T, a abuse, h *harness) {
	demo, err := issuer.Parse(issuer.DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	lmk := hsm.ThalesTestLMK()
	cup := cuptest.Dial(t, h.cup)
	signOn := func(stan int, terminal, merchant string) (string, []byte) {
		t.Helper()
		r, err := cup.RoundTrip(cuptest.SignOn(t, fmt.Sprintf("%06d", stan), terminal, merchant, nil, nil), 5*time.Second)
		if err != nil {
			t.Fatalf("sign-on by %s: %v", terminal, err)
		}
		var keys []byte
		if r.View.Has(62) {
			keys = r.View.AppendBytes(nil, 62)
		}
		return string(r.View.AppendText(nil, 39)), keys
	}
	stolen, stolenKeys := signOn(200001, "TERM0001", "MERCHANT0000001")
	unknown, unknownKeys := signOn(200002, "NOSUCH01", "MERCHANT0000001")
	if stolen != "58" || unknown != "58" || stolenKeys != nil || unknownKeys != nil {
		t.Errorf("sign-on on cup naming pos's TERM0001: %s (keys %v); naming an unknown terminal: %s (keys %v); want 58, no keys",
			stolen, stolenKeys != nil, unknown, unknownKeys != nil)
	}

	term, _ := demo.Terminal([]byte("TERM0001"))
	tpk, err := lmk.DecryptKey(hsm.KeyTypeTPK, term.TPK)
	if err != nil {
		t.Fatal(err)
	}
	pos := dialPOS(t, h.pos)
	d, _ := codec.Lookup(codec.ISO87ASCII)
	var pinCodes []string
	for i, pin := range []string{"4321", "1234", "1234", "1234"} { // a wrong PIN, then the right one
		r, err := pos.RoundTrip(pinPurchase(t, d, 200010+i, tpk, pin), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		pinCodes = append(pinCodes, string(r.View.AppendText(nil, 39)))
	}
	if strings.Join(pinCodes, " ") != "55 00 00 00" {
		t.Errorf("TERM0001 on pos after the sign-ons, a wrong PIN then the right one three times: %v, want 55 00 00 00", pinCodes)
	}

	// the storm: sign_on_limit is 6 a minute in the default configuration
	const limit = 6
	n := a.size(limit+6, limit+200)
	var issued [][]byte
	refused := 0
	for i := 0; i < n; i++ {
		code, keys := signOn(210000+i, "12345678", "123456789012345")
		switch {
		case code == "00" && len(keys) == 40:
			issued = append(issued, keys)
		case code == "58" && keys == nil:
			refused++
		default:
			t.Errorf("sign-on %d of the storm: %s with %d bytes of keys", i+1, code, len(keys))
		}
	}
	if len(issued) != limit || refused != n-limit {
		t.Fatalf("a storm of %d sign-ons: %d issued keys, %d refused; want %d issued", n, len(issued), refused, limit)
	}
	cupTerm, _ := demo.Terminal([]byte("12345678"))
	tmk, err := lmk.DecryptKey(hsm.KeyTypeTPK, cupTerm.TMK)
	if err != nil {
		t.Fatal(err)
	}
	last := cuptest.SessionKey(t, tmk, issued[limit-1][20:36])
	first := cuptest.SessionKey(t, tmk, issued[0][20:36])
	withLast, withFirst := cupPurchase(t, cup, 220001, last), cupPurchase(t, cup, 220002, first)
	if withLast != "00" || withFirst != "A0" {
		t.Errorf("after the storm, a purchase MACed under the last issued key: %s (want 00), under the first: %s (want A0)", withLast, withFirst)
	}
	a.verdict(t, "signon-theft", fmt.Sprintf("cup sign-on as pos's TERM0001 %s, as an unknown terminal %s; TERM0001 on pos then: wrong PIN %s, right PIN %s (pos takes no MACs); "+
		"a storm of %d sign-ons: %d issued, %d refused, the last keys in force (MAC under them %s, under the first %s)",
		stolen, unknown, pinCodes[0], strings.Join(pinCodes[1:], ","), n, len(issued), refused, withLast, withFirst))
}

// pinPurchase is a 1.00 purchase by TERM0001 on the demo card with pin
// under tpk.
func pinPurchase(t *testing.T, d *codec.Dialect, stan int, tpk hsm.Key, pin string) []byte {
	t.Helper()
	const card = "4761739001010010"
	p, err := hsm.ParsePIN(pin)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hsm.EncryptPINBlock(tpk, hsm.ISO0, p, card, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
		"2": card, "3": "000000", "4": "000000000100", "11": fmt.Sprintf("%06d", stan), "12": "120000", "13": "1121",
		"14": "2812", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
		"52": strings.ToUpper(hex.EncodeToString(b))}})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// cupPurchase sends a UnionPay purchase by the demo UnionPay terminal,
// MACed under mak, and returns its field 39.
func cupPurchase(t *testing.T, c *client.Conn, stan int, mak hsm.Key) string {
	t.Helper()
	d, _ := codec.Lookup(codec.CUPPOS)
	msg, err := d.EncodeMAC(codec.Message{MTI: "0200", Header: cuptest.Header, Fields: map[string]string{
		"2": "6228480402564890018", "3": "000000", "4": "000000001000", "11": fmt.Sprintf("%06d", stan), "22": "021", "25": "00",
		"41": "12345678", "42": "123456789012345", "49": "156", "60": "22000001000"}}, 64,
		func(in []byte) ([]byte, error) { return hsm.GenerateMAC(mak, hsm.MACUnionPay, hsm.MACPaddingNone, in) })
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.RoundTrip(msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return string(r.View.AppendText(nil, 39))
}

// The card data trackData sends: the demo card's track 2, and another
// Luhn-valid PAN written into free-text fields.
const (
	abuseTrack   = "4761739001010010=28121011234567890"
	freeTextCard = "4111111111111111"
)

// trackData: on a switch logging at debug, an 0200 whose bitmap omits bit
// 35 while the track's bytes are there (read as 37, 41 and 42) and one
// carrying a Luhn-valid PAN in its acceptor name (43) are answered 30 (the
// clear-text check, engine/link.go handle), a PAN in the private fields 48
// and 63 is let through; a well-formed stripe purchase is approved. Then
// the replies, the log, /metrics, `journal dump` (both forms) and the
// journal's files hold none of the track, its pieces or the PANs.
func trackData(t *testing.T, a abuse, bin string) {
	g := setupWith(t, bin)
	g.logLevel = "debug"
	g.start()
	d, _ := codec.Lookup(codec.ISO87ASCII)
	c := dialPOS(t, g.pos)
	var scan cardscan.Scanner
	scan.Track(abuseTrack)
	scan.Card(freeTextCard)
	var replies [][]byte // scanned one by one: two replies side by side can make a track-like run (digits, a bitmap's D, digits)
	codes := map[string]map[string]int{}
	stan := 300000
	send := func(kind string, msg []byte) {
		t.Helper()
		r, err := c.RoundTrip(msg, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		replies = append(replies, bytes.Clone(r.Raw))
		if codes[kind] == nil {
			codes[kind] = map[string]int{}
		}
		codes[kind][string(r.View.AppendText(nil, 39))]++
	}
	n := a.size(3, 300)
	for i := 0; i < n; i++ {
		stan++
		send("stripe", stripePurchase(t, d, stan, nil))
		stan++
		send("misaligned track", misalignedTrack(t, d, stan))
		stan++
		send("PAN in 43", stripePurchase(t, d, stan, map[string]string{"43": fmt.Sprintf("%-40s", "SHOP "+freeTextCard+" SPRINGFIELD")}))
		stan++
		send("PAN in 48, 63", stripePurchase(t, d, stan, map[string]string{"48": "NOTE " + freeTextCard, "63": "NOTE " + freeTextCard}))
	}
	if codes["stripe"]["00"] != n || codes["misaligned track"]["30"] != n || codes["PAN in 43"]["30"] != n {
		t.Errorf("replies %v: want every stripe purchase 00, every misaligned track and PAN in 43 answered 30", codes)
	}
	metrics := scrape(t, g.admin)
	g.stop(syscall.SIGTERM)

	found := 0
	report := func(where string, b []byte) {
		for _, f := range scan.Scan(where, b) {
			if found++; found <= 10 {
				t.Error(f)
			}
		}
	}
	// A raw reply packs fixed fields side by side with no separator: the
	// patterns match across them (an RRN ending in D before an approval
	// code of digits reads as track 2). In replies the exact secrets are
	// looked for: the track, its pieces and the PANs.
	for i, r := range replies {
		for _, f := range scan.Scan(fmt.Sprintf("reply %d", i+1), r) {
			if f.Kind == "luhn" || f.Kind == "track2" {
				continue
			}
			if found++; found <= 10 {
				t.Error(f)
			}
		}
	}
	report("log", []byte(g.stderr.String()))
	report("/metrics", metrics)
	dumped := 0
	for _, args := range [][]string{{"dump", "--json"}, {"dump"}} {
		out, err := exec.Command(g.bin, append([]string{"journal", "--data-dir", g.dataDir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("journal %v: %v\n%s", args, err, out)
		}
		dumped = bytes.Count(out, []byte("\n"))
		report("journal "+strings.Join(args, " "), out)
	}
	if dumped < 4*n {
		t.Errorf("journal dump: %d lines for %d requests", dumped, 4*n)
	}
	files, err := cardscan.Files(filepath.Join(g.dataDir, "journal"), report)
	if err != nil || files == 0 {
		t.Fatalf("journal files: %d, %v", files, err)
	}
	a.verdict(t, "track-data", fmt.Sprintf("%d of each at debug: replies %v; card data found in replies, log (%d KiB), /metrics, journal dump, %d journal files: %d",
		n, codes, g.stderr.Len()>>10, files, found))
}

// stripePurchase is a 1.00 purchase on the demo card read from its stripe
// (track 2 in 35, no 2), with extra fields.
func stripePurchase(t *testing.T, d *codec.Dialect, stan int, extra map[string]string) []byte {
	t.Helper()
	msg, err := d.Encode(stripeMessage(stan, extra))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func stripeMessage(stan int, extra map[string]string) codec.Message {
	f := map[string]string{"3": "000000", "4": "000000000100", "11": fmt.Sprintf("%06d", stan), "12": "120000", "13": "1121",
		"22": "901", "35": abuseTrack, "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}
	for k, v := range extra {
		f[k] = v
	}
	return codec.Message{MTI: "0200", Fields: f}
}

// misalignedTrack is stripePurchase with bit 35 cleared in the bitmap and
// the track's bytes left where field 35 was: they read as 37, 41 and 42.
func misalignedTrack(t *testing.T, d *codec.Dialect, stan int) []byte {
	t.Helper()
	m := stripeMessage(stan, nil)
	with, err := d.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	delete(m.Fields, "35")
	without, err := d.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	// the bitmaps differ in one place (bit 35): the attack is the message
	// with the track and the bitmap of the one without it
	i := 0
	for i < len(without) && with[i] == without[i] {
		i++
	}
	attack := bytes.Clone(with)
	attack[i] = without[i]
	return attack
}

func scrape(t *testing.T, admin string) []byte {
	t.Helper()
	res, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func get(t *testing.T, admin, path string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// waitFor polls cond until it holds; a minute without is a failure (the
// switch stopped doing what it must, not a slow one).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s", what)
		}
	}
}

// purchaser sends purchases on one POS connection until stopped, counting
// replies by field 39 and keeping the approved STANs.
type purchaser struct {
	mu       sync.Mutex
	codes    map[string]int
	approved map[uint32]bool
	err      error // the connection failed: the switch died or dropped the terminal
	stop     chan struct{}
	done     chan struct{}
}

func startPurchaser(t *testing.T, addr string, first uint32) *purchaser {
	p := &purchaser{codes: map[string]int{}, approved: map[uint32]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	c, err := client.Dial(addr, d, f, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		defer c.Close()
		for stan := first; ; stan++ {
			select {
			case <-p.stop:
				return
			default:
			}
			r, err := c.RoundTrip(purchase(d, stan), 10*time.Second)
			p.mu.Lock()
			if err != nil {
				p.err = err
				p.mu.Unlock()
				return
			}
			code := string(r.View.AppendText(nil, 39))
			p.codes[code]++
			if code == "00" {
				p.approved[stan] = true
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// count is the replies with code so far; a failed connection fails the test.
func (p *purchaser) count(t *testing.T, code string) int {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		t.Fatalf("the purchasing terminal: %v", p.err)
	}
	return p.codes[code]
}

func (p *purchaser) finish() {
	close(p.stop)
	<-p.done
}

// diskFull: the switch's data_dir on a small tmpfs, filled under a running
// purchaser: purchases are answered 96 (never 00 without a journal record),
// the process stays up, /readyz answers 503 naming the disk and
// cardswitch_journal_paused is 1; freeing the space resumes it on its own
// (00 again, /readyz 200, paused 0). Then, filled again and stopped,
// `journal verify` works on the full disk and the journal holds every
// approval the terminal was given.
func diskFull(t *testing.T, a abuse, bin string) {
	// the default configuration's journal.min_free_mb (48) and reserve_mb
	// (64): commits pause below 48 MiB free and resume at 112
	const diskMB = 192
	root := testdisk.Tmpfs(t, diskMB)
	g := setupWith(t, bin) // its cleanup (kill the switch) runs before the unmount
	g.setConfig("data_dir: "+g.dataDir, "data_dir: "+root)
	g.dataDir = root
	g.start()
	p := startPurchaser(t, g.pos, 1)
	defer func() {
		select {
		case <-p.stop:
		default:
			p.finish()
		}
	}()
	fill := func() (n96 int) {
		t.Helper()
		before := p.count(t, "96")
		testdisk.Fill(t, root, "filler", 8<<20)
		waitFor(t, "96 on a full disk", func() bool { return p.count(t, "96") >= before+20 })
		testdisk.Fill(t, root, "filler2", 0) // and the last block
		waitFor(t, "more 96", func() bool { return p.count(t, "96") >= before+40 })
		return p.count(t, "96") - before
	}
	free := func() {
		t.Helper()
		for _, f := range []string{"filler", "filler2"} {
			if err := os.Remove(filepath.Join(root, f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cycles := a.size(1, 5)
	var readyFull, readyFreed int
	var bodyFull string
	pausedFull, pausedFreed := true, true
	for i := 0; i < cycles; i++ {
		n00 := p.count(t, "00")
		waitFor(t, "approvals", func() bool { return p.count(t, "00") >= n00+a.size(20, 500) })
		fill()
		readyFull, bodyFull = get(t, g.admin, "/readyz")
		pausedFull = pausedFull && bytes.Contains(scrape(t, g.admin), []byte("\ncardswitch_journal_paused 1\n"))
		free()
		waitFor(t, "/readyz 200 after freeing the disk", func() bool { readyFreed, _ = get(t, g.admin, "/readyz"); return readyFreed == 200 })
		n00 = p.count(t, "00")
		waitFor(t, "approvals after freeing the disk", func() bool { return p.count(t, "00") >= n00+20 })
		pausedFreed = pausedFreed && bytes.Contains(scrape(t, g.admin), []byte("\ncardswitch_journal_paused 0\n"))
	}
	if readyFull != 503 || !strings.Contains(bodyFull, "disk full") || !pausedFull || !pausedFreed {
		t.Errorf("full disk: /readyz %d %q, paused gauge 1: %v; freed: paused gauge 0: %v", readyFull, bodyFull, pausedFull, pausedFreed)
	}
	fill()
	p.finish()
	g.stop(syscall.SIGTERM)
	var st syscall.Statfs_t
	_ = syscall.Statfs(root, &st)
	freeKiB := st.Bavail * uint64(st.Bsize) >> 10
	verify, err := exec.Command(g.bin, "journal", "verify", "--data-dir", root).CombinedOutput()
	if err != nil {
		t.Errorf("journal verify on the full disk (%d KiB free): %v\n%s", freeKiB, err, verify)
	}
	journaled := journaledApprovals(t, g.bin, root)
	lost := 0
	for stan := range p.approved {
		if !journaled[stan] {
			if lost++; lost <= 5 {
				t.Errorf("STAN %06d approved without a journal record", stan)
			}
		}
	}
	other := 0
	for code, n := range p.codes {
		if code != "00" && code != "96" {
			other += n
			t.Errorf("%d replies %s", n, code)
		}
	}
	a.verdict(t, "disk-full", fmt.Sprintf("%d fill/free cycles on a %d MiB tmpfs: replies %v (other %d); full: /readyz %d %q, paused gauge %v; freed: /readyz %d, 00 again; "+
		"verify on the full disk (%d KiB free): %s; %d approvals, %d unjournaled",
		cycles, diskMB, p.codes, other, readyFull, strings.TrimSpace(bodyFull), pausedFull, readyFreed, freeKiB, lastLine(verify), len(p.approved), lost))
}

// journaledApprovals reads the approved STANs from `journal dump --json`.
func journaledApprovals(t *testing.T, bin, dataDir string) map[uint32]bool {
	t.Helper()
	out, err := exec.Command(bin, "journal", "dump", "--json", "--data-dir", dataDir).Output()
	if err != nil {
		t.Fatalf("journal dump: %v", err)
	}
	m := map[uint32]bool{}
	for _, line := range bytes.Split(out, []byte("\n")) {
		var stan uint32
		if !bytes.Contains(line, []byte(`"rc":"00"`)) {
			continue
		}
		if i := bytes.Index(line, []byte(`"stan":"`)); i >= 0 {
			fmt.Sscanf(string(line[i+8:]), "%06d", &stan)
			m[stan] = true
		}
	}
	return m
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// lastLine is the last line of a tool's output: its summary, after notes.
func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// missingSST: three runs of purchases, each stopped with SIGTERM (each
// stop flushes Badger's memtable: one table file a run), then the middle
// table file is deleted. Without --accept-journal-loss the switch refuses
// to start and says why and what to do; with it, it starts, says at warn
// what it set aside, and approves a purchase; the journal then verifies.
func missingSST(t *testing.T, a abuse, bin string) {
	g := setupWith(t, bin)
	d, _ := codec.Lookup(codec.ISO87ASCII)
	stan := uint32(400000)
	per := a.size(20, 2000)
	for run := 0; run < 3; run++ {
		g.start()
		c := dialPOS(t, g.pos)
		for i := 0; i < per; i++ {
			stan++
			r, err := c.RoundTrip(purchase(d, stan), 5*time.Second)
			if err != nil || string(r.View.AppendText(nil, 39)) != "00" {
				t.Fatalf("run %d purchase %d: %v", run+1, i+1, err)
			}
		}
		c.Close()
		g.stop(syscall.SIGTERM)
	}
	tables, err := filepath.Glob(filepath.Join(g.dataDir, "journal", "badger", "*.sst"))
	if err != nil || len(tables) < 3 {
		t.Fatalf("table files after three runs: %v %v", tables, err)
	}
	sort.Strings(tables)
	lost := tables[len(tables)/2]
	if err := os.Remove(lost); err != nil {
		t.Fatal(err)
	}
	refusal := g.startRefused()
	clear := strings.Contains(refusal, "lost a table file") && strings.Contains(refusal, "--accept-journal-loss")
	if !clear {
		t.Errorf("the refusal does not say that a table file is lost and what to do:\n%s", refusal)
	}
	g.args = []string{"--accept-journal-loss"}
	g.start()
	// the warn line names the table struck and counts the third run's
	// records, after the gap, as quarantined
	name := filepath.Base(lost)
	var report string
	for _, line := range strings.Split(g.stderr.String(), "\n") {
		if strings.Contains(line, "journal loss accepted") {
			report = line
		}
	}
	reported := strings.Contains(report, `"tables_struck":["`+name+`"]`) && strings.Contains(report, fmt.Sprintf(`"records_quarantined":%d,`, per))
	if !reported {
		t.Errorf("started on an accepted loss without saying what it set aside (the table %s, %d records quarantined):\n%s", name, per, g.stderr)
	}
	r, err := dialPOS(t, g.pos).RoundTrip(purchase(d, stan+1), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code := string(r.View.AppendText(nil, 39))
	if code != "00" {
		t.Errorf("a purchase after the accepted loss: %s", code)
	}
	g.stop(syscall.SIGTERM)
	verify, err := exec.Command(g.bin, "journal", "verify", "--data-dir", g.dataDir).CombinedOutput()
	if err != nil {
		t.Errorf("journal verify after the accepted loss: %v\n%s", err, verify)
	}
	var loss struct {
		Loss string `json:"loss"`
	}
	_ = json.Unmarshal([]byte(report), &loss)
	a.verdict(t, "missing-sst", fmt.Sprintf("3 runs of %d purchases, %s of %d tables deleted: without the flag refused (%q); with it started and said %q; a purchase %s; then verify: %s",
		per, name, len(tables), firstLine([]byte(refusal)), loss.Loss, code, lastLine(verify)))
}

// startRefused runs serve expecting it to refuse to start, and returns
// what it printed; a switch that becomes ready instead fails the test.
func (h *harness) startRefused() string {
	h.t.Helper()
	var out testlog.Buffer
	cmd := exec.Command(h.bin, append([]string{"serve", "--config", h.cfg, "--log-level", "warn"}, h.args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			if err == nil {
				h.t.Fatalf("serve exited 0 on a journal it should refuse:\n%s", &out)
			}
			return out.String()
		default:
		}
		if resp, err := http.Get("http://" + h.admin + "/readyz"); err == nil {
			resp.Body.Close()
			_ = cmd.Process.Kill()
			<-exited
			h.t.Fatalf("the switch started on a journal it should refuse:\n%s", &out)
		}
	}
	_ = cmd.Process.Kill()
	<-exited
	h.t.Fatalf("serve neither started nor refused:\n%s", &out)
	return ""
}
