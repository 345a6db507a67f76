package auth

// Data-driven scenarios (as etcd-io/raft's datadriven tests): every file in
// testdata/scenarios/*.txt is one subtest of TestScenarios. The format, one
// directive per line ('#' starts a comment line, blank lines are ignored):
//
//	issuer <file>             issuer data from testdata/issuer/<file>
//	override <<EOF            YAML merged onto it, up to a line "EOF": maps merge,
//	...                       lists of maps merge element by name/id/pan, anything
//	EOF                       else is replaced
//	alias <NAME>=<PAN> ...    more card names (the built-in ones are in aliases)
//	set <key>=<value> ...     sticky request attributes (see below)
//	<MTI> <tt> <key>=<value>... -> <code> [bal=<n>] [day=<YYYYMMDD>] [repeat=<0|1>]
//	                          one request; tt is the processing code's transaction
//	                          type (00 purchase, 01 cash, 02 void, 20 refund, 30
//	                          balance); the answer must be <code>, for a balance
//	                          inquiry bal= is Decision.Balance, day= is
//	                          Decision.Date (the business date it counted in),
//	                          repeat= Decision.Repeat (a stored answer)
//	state account=<id> [avail=<n>] [held=<n>] [delta=<n>]
//	state card=<alias> [usage=<n>] [count=<n>] [pinfails=<n>]
//	state merchant=<id> [usage=<n>] [count=<n>]
//	state terminal=<id> [usage=<n>] [count=<n>]
//	state index [entries=<n>] [placeholders=<n>] [refused=<n>] [full=<0|1>]
//	            [batches=<n>] [batchesrefused=<n>] [batchesfull=<0|1>]
//	state batch=<terminal> [dn= da= rn= ra= vn= va= cn= ca= crn= cra=<n>]
//	            [gen=<n>] [closed=<batch number>] [uploading=<0|1>]
//	                          the open batch's counts (d debits, r their
//	                          reversals, v voids, c credits, cr credit reversals;
//	                          n count, a amount), batches closed, the last number
//	settle [op=totals|upload|end] [term=T1] [merch=M1] [link=pos] batch=<n>
//	       [upload=1] [dn=...] ... -> <code> [closed=<0|1>] [balanced=<0|1>]
//	                          a settlement (Authorizer.Settle) whose totals (as
//	                          state batch=) agree when they equal the switch's
//	                          state read from inside the package; daily counters
//	                          read as zero when they belong to an older business
//	                          date than the newest the scenario used
//	limits <field>=<value>... the index's Limits (retention, decline, as Go
//	                          durations; max, maxplaceholders, maxbatches), before any request
//	replay                    build a fresh Authorizer, Replay every Outcome so far
//	                          (with its code) into it and carry on with that one
//	swap                      swap the last two journal entries: a journal that
//	                          appended two decisions in the other order
//	abort                     Abort the last decision, journaling what Abort returns
//	                          in place of its outcome (as the engine does for a
//	                          reply that became 96)
//	wait                      let background work finish (Decide starts a purge of
//	                          the transaction index as request time passes)
//	snapshot                  write the state (WriteState), read it into a fresh
//	                          Authorizer (ReadState) and carry on with that one: a
//	                          restart from a snapshot
//
// Request attributes (defaults in parentheses): card (A: an alias or a
// PAN), amt (0), stan (a fresh one per line), term (T1), merch (M1), mcc
// (none: the merchant's), link (pos: the link it came in on), entry (05
// chip: the PAN entry mode, field 22's first two digits), pin (none | right | wrong | error: the deterministic
// PIN verifier's answer; with none the verifier must not be called), exp
// (field 14, 0: absent), date (business date, 20260115), ldate (local date
// MMDD: the business date's), time (HHMMSS of the business date, UTC:
// Request.Received; default 12:00:00 plus a second per request line),
// today (YYMM, 2601), orig (STAN[@MMDD][/TERM]
// of the original, defaulting to the request's date and terminal: sets
// HasOriginal), oclass (the original's MTI class digit, 0 for none;
// default: the class the scenario sent that Ref with, else 0), arqc (ok |
// wrong | format | system | none: the engine's check of the cryptogram,
// Request.ARQC; default ok when NeedsARQC, else none), atc (9F36, 1).
// PANHash is sha256 of the PAN. Every scenario also runs in
// TestScenarioReplay and TestStateRoundTrip.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"gopkg.in/yaml.v3"
)

// aliases name the cards of testdata/issuer/base.yaml and a few bad numbers.
var aliases = map[string]string{
	"A":       "4111110000000013", // ACC-1, standard
	"B":       "4111110000000021", // ACC-2 (50.00), standard
	"BLK":     "4111110000000039", // blocked
	"LOST":    "4111110000000047", // lost
	"STOL":    "4111110000000054", // stolen
	"EXP":     "4111110000000062", // expired 2512
	"G":       "4111110000000070", // ACC-3, gold: no limits
	"A2":      "4111110000000088", // second card on ACC-1
	"UNK":     "4111111111111111", // valid Luhn, not on file
	"BADLUHN": "4111110000000014", // wrong check digit
	"SHORT":   "4111111116",       // 10 digits
}

func sha256PAN(pan []byte) [32]byte { return sha256.Sum256(pan) }

// journalEntry is one journaled decision, as Replay takes it.
type journalEntry struct {
	outcome []byte
	code    [2]byte
}

// world is one running scenario.
type world struct {
	t        testing.TB
	where    string // file:line of the directive being run
	data     *issuer.Data
	a        *Authorizer
	journal  []journalEntry
	sticky   map[string]string
	aliases  map[string]string
	classOf  map[Ref]byte // the class each Ref was sent with
	nextSTAN uint32
	date     uint32 // the newest business date the scenario used
	now      int64  // the newest request time
	lines    int64  // request lines so far: the default time moves a second each
	limits   Limits
}

func newWorld(t testing.TB) *world {
	w := &world{t: t, sticky: map[string]string{}, aliases: map[string]string{}, classOf: map[Ref]byte{}, nextSTAN: 100000, date: 20260115}
	for k, v := range aliases {
		w.aliases[k] = v
	}
	return w
}

func (w *world) fatalf(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("%s: %s", w.where, fmt.Sprintf(format, args...))
}

func (w *world) errorf(format string, args ...any) {
	w.t.Helper()
	w.t.Errorf("%s: %s", w.where, fmt.Sprintf(format, args...))
}

// scenario is a parsed file: its directives with their line numbers.
type scenario struct {
	path  string
	lines []scenarioLine
}

type scenarioLine struct {
	n    int
	text string
	body []byte // an override's YAML
}

func readScenario(path string) (*scenario, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sc := &scenario{path: path}
	in := bufio.NewScanner(bytes.NewReader(raw))
	n := 0
	for in.Scan() {
		n++
		line := strings.TrimSpace(in.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		}
		l := scenarioLine{n: n, text: line}
		if strings.HasSuffix(line, "<<EOF") {
			var body bytes.Buffer
			for in.Scan() {
				n++
				if strings.TrimSpace(in.Text()) == "EOF" {
					break
				}
				body.WriteString(in.Text() + "\n")
			}
			l.body = body.Bytes()
		}
		sc.lines = append(sc.lines, l)
	}
	return sc, in.Err()
}

func scenarioFiles(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	sort.Strings(files)
	return files
}

func TestScenarios(t *testing.T) {
	for _, f := range scenarioFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			sc, err := readScenario(f)
			if err != nil {
				t.Fatal(err)
			}
			runScenario(t, sc)
		})
	}
}

// runScenario runs every directive and returns the world it leaves.
func runScenario(t testing.TB, sc *scenario) *world {
	w := newWorld(t)
	var base []byte
	for _, l := range sc.lines {
		w.where = fmt.Sprintf("%s:%d", sc.path, l.n)
		word, rest, _ := strings.Cut(l.text, " ")
		switch word {
		case "issuer":
			b, err := os.ReadFile(filepath.Join("testdata", "issuer", strings.TrimSpace(rest)))
			if err != nil {
				w.fatalf("%v", err)
			}
			base = b
			w.load(base)
		case "override":
			merged, err := mergeYAML(base, l.body)
			if err != nil {
				w.fatalf("override: %v", err)
			}
			base = merged
			w.load(base)
		case "alias":
			for k, v := range attrs(w, strings.Fields(rest)) {
				w.aliases[k] = v
			}
		case "set":
			for k, v := range attrs(w, strings.Fields(rest)) {
				w.sticky[k] = v
				if k == "date" {
					w.date = max(w.date, uint32(w.num(v)))
				}
			}
		case "state":
			f := strings.Fields(rest)
			if len(f) > 0 && f[0] == "index" {
				m := attrs(w, f[1:])
				m["index"] = ""
				w.checkState(m)
				break
			}
			w.checkState(attrs(w, f))
		case "limits":
			w.setLimits(attrs(w, strings.Fields(rest)))
		case "replay":
			w.a = w.replayed()
		case "swap":
			if n := len(w.journal); n >= 2 {
				w.journal[n-2], w.journal[n-1] = w.journal[n-1], w.journal[n-2]
			}
		case "abort":
			w.abort()
		case "wait":
			w.a.bg.Wait()
		case "snapshot":
			w.a = w.snapshotted()
		case "settle":
			w.settle(rest)
		default:
			if w.a == nil {
				w.fatalf("a request before issuer data")
			}
			w.request(l.text)
		}
	}
	return w
}

// load parses issuer data; before any request it (re)builds the authorizer.
func (w *world) load(raw []byte) {
	d, err := issuer.Parse(raw)
	if err != nil {
		w.fatalf("%v", err)
	}
	w.data = d
	if w.a == nil || len(w.journal) == 0 {
		w.a = newAuth(w.t, d, w.limits)
		return
	}
	w.a.Reload(d)
}

// setLimits sets the index's limits (before any request).
func (w *world) setLimits(m map[string]string) {
	if len(w.journal) > 0 || w.data == nil {
		w.fatalf("limits go after the issuer data and before any request")
	}
	for k, v := range m {
		switch k {
		case "retention", "decline":
			d, err := time.ParseDuration(v)
			if err != nil {
				w.fatalf("%s=%s: %v", k, v, err)
			}
			if k == "retention" {
				w.limits.Retention = d
			} else {
				w.limits.DeclineWindow = d
			}
		case "max":
			w.limits.MaxTransactions = int(w.num(v))
		case "maxplaceholders":
			w.limits.MaxPlaceholders = int(w.num(v))
		case "maxbatches":
			w.limits.MaxBatches = int(w.num(v))
		default:
			w.fatalf("unknown limit %q", k)
		}
	}
	w.a = newAuth(w.t, w.data, w.limits)
}

// abort aborts the last decision as the engine does when its reply
// becomes 96: what Abort returns is journaled instead of its outcome.
func (w *world) abort() {
	if len(w.journal) == 0 {
		w.fatalf("abort: nothing decided")
	}
	last := &w.journal[len(w.journal)-1]
	last.outcome = w.a.Abort(last.outcome)
	last.code = [2]byte{'9', '6'}
}

// replayed is a fresh authorizer rebuilt from the journal.
func (w *world) replayed() *Authorizer {
	w.t.Helper()
	fresh := newAuth(w.t, w.data, w.limits)
	for i, j := range w.journal {
		if err := fresh.Replay(j.outcome, j.code); err != nil {
			w.fatalf("replay of entry %d: %v", i, err)
		}
	}
	return fresh
}

// snapshotted is a fresh authorizer that read the state's snapshot.
func (w *world) snapshotted() *Authorizer {
	w.t.Helper()
	var b bytes.Buffer
	if err := w.a.WriteState(&b); err != nil {
		w.fatalf("snapshot: %v", err)
	}
	fresh := newAuth(w.t, w.data, w.limits)
	if err := fresh.ReadState(&b); err != nil {
		w.fatalf("snapshot read back: %v", err)
	}
	return fresh
}

func attrs(w *world, fields []string) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			w.fatalf("%q is not key=value", f)
		}
		m[k] = v
	}
	return m
}

func (w *world) num(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		w.fatalf("%q is not a number", s)
	}
	return n
}

// request runs one request line and checks its answer.
func (w *world) request(line string) {
	w.t.Helper()
	lhs, rhs, ok := strings.Cut(line, "->")
	if !ok {
		w.fatalf("a request needs -> <code>")
	}
	f := strings.Fields(lhs)
	if len(f) < 2 {
		w.fatalf("a request is <MTI> <tt> [key=value...]")
	}
	r, pin := w.build(f[0], f[1], attrs(w, f[2:]))
	want := strings.Fields(rhs)
	if len(want) == 0 {
		w.fatalf("no expected code")
	}
	d, called := decideWith(w.a, r, pin)
	if called && pin == "none" {
		w.errorf("PIN verifier called without a PIN block")
	}
	w.record(d)
	w.classOf[r.Ref()] = r.MTI.Class()
	if d.Code != want[0] {
		w.errorf("%s: got %s, want %s", strings.TrimSpace(lhs), d.Code, want[0])
	}
	if d.Approved != (d.Code == Approved) {
		w.errorf("Approved=%v with code %s", d.Approved, d.Code)
	}
	for k, v := range attrs(w, want[1:]) {
		switch k {
		case "bal":
			if d.Balance != w.num(v) {
				w.errorf("balance %d, want %s", d.Balance, v)
			}
		case "day":
			if int64(d.Date) != w.num(v) {
				w.errorf("counted on %d, want %s", d.Date, v)
			}
		case "repeat":
			if d.Repeat() != (v == "1") {
				w.errorf("repeat %v, want %s", d.Repeat(), v)
			}
		default:
			w.fatalf("unknown expectation %q", k)
		}
	}
}

// record journals a decision as the engine does: its outcome and code.
func (w *world) record(d Decision) {
	if len(d.Outcome) == 0 {
		return
	}
	var c [2]byte
	copy(c[:], d.Code)
	w.journal = append(w.journal, journalEntry{append([]byte(nil), d.Outcome...), c})
}

var errHSM = errors.New("test: HSM down")

// decideWith decides with a deterministic PIN verifier and reports
// whether it was called.
func decideWith(a *Authorizer, r *Request, pin string) (Decision, bool) {
	called := false
	d := a.Decide(r, func(*issuer.Card) (bool, error) {
		called = true
		switch pin {
		case "right":
			return true, nil
		case "error":
			return false, errHSM
		}
		return false, nil
	}, testApproval)
	return d, called
}

// testCode is the approval code testApproval allocates.
var testCode = [6]byte{'1', '2', '3', '4', '5', '6'}

func testApproval() [6]byte { return testCode }

// newAuth is New for tests.
func newAuth(t testing.TB, d *issuer.Data, lim Limits) *Authorizer {
	t.Helper()
	a, err := New(d, sha256PAN, lim)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// build makes a Request from the line's attributes over the sticky ones.
func (w *world) build(mti, tt string, own map[string]string) (*Request, string) {
	m := map[string]string{"card": "A", "amt": "0", "term": "T1", "merch": "M1", "link": "pos", "entry": "05",
		"pin": "none", "date": "20260115", "today": "2601"}
	w.lines++
	for k, v := range w.sticky {
		m[k] = v
	}
	for k, v := range own {
		m[k] = v
	}
	mt, ok := codec.ParseMTI(mti)
	if !ok {
		w.fatalf("bad MTI %q", mti)
	}
	pan := m["card"]
	if p, ok := w.aliases[pan]; ok {
		pan = p
	}
	r := &Request{MTI: mt, Proc: uint32(w.num(tt)) * 10000, PAN: []byte(pan), PANHash: sha256PAN([]byte(pan)),
		Amount: w.num(m["amt"]), Terminal: m["term"], Merchant: m["merch"], Link: m["link"], MCC: m["mcc"],
		EntryMode: uint32(w.num(m["entry"])) * 10, HasPIN: m["pin"] != "none",
		BusinessDate: uint32(w.num(m["date"])), Today: uint32(w.num(m["today"]))}
	if v, ok := m["exp"]; ok {
		r.Expiry = uint32(w.num(v))
	}
	r.LocalDate = r.BusinessDate % 10000
	if v, ok := m["ldate"]; ok {
		r.LocalDate = uint32(w.num(v))
	}
	if v, ok := m["stan"]; ok {
		r.STAN = uint32(w.num(v))
	} else {
		w.nextSTAN++
		r.STAN = w.nextSTAN
	}
	r.Received = dayStart(r.BusinessDate) + 12*3600 + w.lines
	if v, ok := m["time"]; ok {
		hms := w.num(v)
		r.Received = dayStart(r.BusinessDate) + hms/10000*3600 + hms/100%100*60 + hms%100
	}
	w.date, w.now = max(w.date, r.BusinessDate), max(w.now, r.Received)
	if v, ok := m["orig"]; ok {
		r.HasOriginal = true
		r.Original = w.ref(v, r)
		r.OriginalClass = w.classOf[r.Original]
	}
	if v, ok := m["oclass"]; ok {
		r.OriginalClass = byte(w.num(v)) + '0'
		if v == "0" {
			r.OriginalClass = 0
		}
	}
	switch m["pin"] {
	case "none", "right", "wrong", "error":
	default:
		w.fatalf("pin=%s: none, right, wrong or error", m["pin"])
	}
	w.chip(r, m)
	return r, m["pin"]
}

// chip sets the request's cryptogram check (arqc=, atc=).
func (w *world) chip(r *Request, m map[string]string) {
	r.ATC = 1
	if v, ok := m["atc"]; ok {
		r.ATC = uint16(w.num(v))
	}
	var p *issuer.Profile
	if c, ok := w.a.Data().Card(r.PAN); ok {
		p = w.a.Data().Profile(c.ProfileName())
	}
	v, ok := m["arqc"]
	if !ok {
		if !NeedsARQC(r, p) {
			return
		}
		v = "ok"
	}
	r.ARQC = map[string]ARQCResult{"none": ARQCNone, "ok": ARQCVerified, "wrong": ARQCWrong, "format": ARQCFormat, "system": ARQCSystem}[v]
	if r.ARQC == ARQCNone && v != "none" {
		w.fatalf("arqc=%s: ok, wrong, format, system or none", v)
	}
	if p != nil {
		r.ARQCFor = p.EMV
	}
}

// ref reads STAN[@MMDD][/TERM]; the date and terminal default to the request's.
func (w *world) ref(s string, r *Request) Ref {
	ref := Ref{Terminal: r.Terminal, LocalDate: r.LocalDate}
	if i := strings.Index(s, "/"); i >= 0 {
		ref.Terminal, s = s[i+1:], s[:i]
	}
	if i := strings.Index(s, "@"); i >= 0 {
		ref.LocalDate, s = uint32(w.num(s[i+1:])), s[:i]
	}
	ref.STAN = uint32(w.num(s))
	return ref
}

// checkState compares state read from inside the package.
func (w *world) checkState(m map[string]string) {
	w.t.Helper()
	got := map[string]int64{}
	switch {
	case m["account"] != "":
		avail, held, delta := accountState(w.a, m["account"])
		got["avail"], got["held"], got["delta"] = avail, held, delta
		delete(m, "account")
	case m["card"] != "":
		pan := m["card"]
		if p, ok := w.aliases[pan]; ok {
			pan = p
		}
		u, fails, atc := cardState(w.a, sha256PAN([]byte(pan)), w.date)
		got["usage"], got["count"], got["pinfails"], got["atc"] = u.amount, int64(u.count), int64(fails), int64(atc)-1
		delete(m, "card")
	case m["merchant"] != "":
		u := acceptorState(w.a.merchants, m["merchant"], w.date)
		got["usage"], got["count"] = u.amount, int64(u.count)
		delete(m, "merchant")
	case m["terminal"] != "":
		u := acceptorState(w.a.terminals, m["terminal"], w.date)
		got["usage"], got["count"] = u.amount, int64(u.count)
		delete(m, "terminal")
	case hasKey(m, "index"):
		st := w.a.Stats()
		got["entries"], got["placeholders"], got["refused"] = st.Transactions, st.Placeholders, int64(st.Refused)
		got["full"] = map[bool]int64{false: 0, true: 1}[st.Full]
		got["batches"], got["batchesrefused"] = st.Batches, int64(st.BatchesRefused)
		got["batchesfull"] = map[bool]int64{false: 0, true: 1}[st.BatchesFull]
		delete(m, "index")
	case m["batch"] != "":
		batchNames(w.a.Batch(m["batch"]), got)
		delete(m, "batch")
	default:
		w.fatalf("state of what? account=, card=, merchant=, terminal= or index")
	}
	for k, v := range m {
		g, ok := got[k]
		if !ok {
			w.fatalf("unknown state %q", k)
		}
		if g != w.num(v) {
			w.errorf("state %s = %d, want %s", k, g, v)
		}
	}
}

// accountState reads available, held and the movements since load.
func accountState(a *Authorizer, id string) (avail, held, delta int64) {
	acc, _ := a.accounts.get(id)
	acc.mu.Lock()
	defer acc.mu.Unlock()
	balance := a.Data().Account(id).Balance + acc.delta
	return balance - acc.held, acc.held, acc.delta
}

// cardState reads a card's daily usage and wrong PINs on a business date,
// and its last ATC plus one (0: none seen).
func cardState(a *Authorizer, h [32]byte, date uint32) (counter, int, uint32) {
	c, ok := a.snap.Load().byHash[h]
	if !ok {
		return counter{}, 0, 0
	}
	acc, _ := a.accounts.get(c.Account)
	acc.mu.Lock()
	defer acc.mu.Unlock()
	cs, _ := a.cards.get(h)
	u, _ := cs.usage.on(date)
	f, _ := cs.pinFails.on(date)
	return u, int(f.count), cs.atc
}

func acceptorState(m *store[string, acceptor], id string, date uint32) counter {
	x, _ := m.get(id)
	x.mu.Lock()
	defer x.mu.Unlock()
	u, _ := x.usage.on(date)
	return u
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// mergeYAML merges over onto base (see the format above).
func mergeYAML(base, over []byte) ([]byte, error) {
	var b, o any
	if err := yaml.Unmarshal(base, &b); err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(over, &o); err != nil {
		return nil, err
	}
	return yaml.Marshal(merge(b, o))
}

func merge(b, o any) any {
	switch ov := o.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return o
		}
		for k, v := range ov {
			bm[k] = merge(bm[k], v)
		}
		return bm
	case []any:
		bl, ok := b.([]any)
		if !ok {
			return o
		}
		for _, e := range ov {
			i := indexByKey(bl, e)
			if i < 0 {
				if elemKey(e) == "" {
					return o // not a keyed list: replaced whole
				}
				bl = append(bl, e)
				continue
			}
			bl[i] = merge(bl[i], e)
		}
		return bl
	}
	return o
}

func elemKey(e any) string {
	m, ok := e.(map[string]any)
	if !ok {
		return ""
	}
	for _, k := range []string{"name", "id", "pan"} {
		if v, ok := m[k]; ok {
			return k + "=" + fmt.Sprint(v)
		}
	}
	return ""
}

func indexByKey(l []any, e any) int {
	k := elemKey(e)
	if k == "" {
		return -1
	}
	for i, x := range l {
		if elemKey(x) == k {
			return i
		}
	}
	return -1
}

// TestMergeYAML keeps the override rule honest.
func TestMergeYAML(t *testing.T) {
	got, err := mergeYAML([]byte("a: 1\nl: [{name: x, v: 1}, {name: y, v: 2}]\ns: [1, 2]\n"),
		[]byte("l: [{name: y, v: 3}, {name: z}]\ns: [9]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var m any
	if err := yaml.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": 1, "s": []any{9}, "l": []any{
		map[string]any{"name": "x", "v": 1}, map[string]any{"name": "y", "v": 3}, map[string]any{"name": "z"}}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("merge: %v, want %v", m, want)
	}
}
