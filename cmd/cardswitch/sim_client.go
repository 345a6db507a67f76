package main

import (
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/client"
)

// clientFlags are sim client's (the dialect and the framing are sim's own
// flags, shared with sim issuer).
type clientFlags struct {
	script, junit, addr, tpdu, header, config string
	timeout                                   time.Duration
	set                                       map[string]bool // the flags given on the command line
}

// runSimClient runs f's script against the switch and prints the report;
// a step that fails makes the error (exit status 1).
func runSimClient(e *env, f *simFlags) error {
	c := &f.client
	if c.script == "" {
		return usagef("client needs --script FILE")
	}
	s, err := loadScript(c.script)
	if err != nil {
		return fmt.Errorf("--script %s: %v", c.script, err)
	}
	link := linkFlags{addr: c.addr, dialect: f.dialect, framing: f.framing, tpdu: c.tpdu, tlsFlags: f.tls}
	header := c.header
	for _, d := range []struct {
		flag       string
		to         *string
		fromScript string
	}{{"dialect", &link.dialect, s.Dialect}, {"framing", &link.framing, s.Framing}, {"tpdu", &link.tpdu, s.TPDU}, {"header", &header, s.Header}} {
		if !c.set[d.flag] && d.fromScript != "" {
			*d.to = d.fromScript
		}
	}
	d, fr, tpdu, err := link.resolve()
	if err != nil {
		return err
	}
	if err := checkScriptFields(s, d); err != nil {
		return fmt.Errorf("--script %s: %v", c.script, err)
	}
	r := &scriptRun{script: s, link: link, d: d, fr: fr, tpdu: tpdu, header: header, config: c.config,
		timeout: c.timeout, history: map[string]*exchange{}, keys: map[string]*sendKeys{}}
	if r.tls, err = link.client(); err != nil { // --tls: the switch's link is TLS
		return err
	}
	if s.Timeout > 0 && !c.set["timeout"] {
		r.timeout = s.Timeout
	}
	defer r.close()
	fmt.Fprintf(e.stdout, "script %s: %d steps against %s (%s, %s)\n", c.script, len(s.Steps), link.addr, d.Name, link.framing)
	fmt.Fprintf(e.stdout, "%4s  %-20s %-4s  %-4s  %-2s  %-6s %10s\n", "step", "name", "sent", "got", "39", "result", "latency")
	results := make([]stepResult, 0, len(s.Steps))
	failed := 0
	for i := range s.Steps {
		res := r.step(&s.Steps[i])
		if len(res.reasons) > 0 {
			failed++
		}
		res.print(e.stdout, i+1)
		results = append(results, res)
	}
	fmt.Fprintf(e.stdout, "%d steps: %d passed, %d failed\n", len(results), len(results)-failed, failed)
	if c.junit != "" {
		if err := writeJUnit(c.junit, c.script, results); err != nil {
			return fmt.Errorf("--junit: %v", err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d steps failed", failed, len(results))
	}
	return nil
}

// checkScriptFields refuses fields the dialect does not have, once the
// dialect is known.
func checkScriptFields(s *simScript, d *codec.Dialect) error {
	for i, st := range s.Steps {
		for _, set := range []struct {
			name string
			ids  []string
		}{{"send.fields", sortedFieldIDs(st.Send.Fields)}, {"expect.fields", sortedFieldIDs(st.Expect.Fields)}} {
			for _, k := range set.ids {
				if id, _ := fieldID(k); d.Field(id) == nil {
					return fmt.Errorf("step %d (%s): %s: dialect %s has no field %s", i+1, st.Name, set.name, d.Name, k)
				}
			}
		}
		if st.Chip && d.Field(codec.FieldEMV) == nil {
			return fmt.Errorf("step %d (%s): chip: dialect %s has no field 55", i+1, st.Name, d.Name)
		}
		if st.SessionKeys != 0 && d.Field(st.SessionKeys) == nil {
			return fmt.Errorf("step %d (%s): session_keys: dialect %s has no field %d", i+1, st.Name, d.Name, st.SessionKeys)
		}
	}
	return nil
}

// scriptRun is one run of a script: one connection, dialled again after
// it breaks, and what the steps so far sent and received.
type scriptRun struct {
	script  *simScript
	link    linkFlags
	d       *codec.Dialect
	fr      codec.Framing
	tpdu    []byte
	header  string
	config  string
	timeout time.Duration
	conn    *client.Conn
	tls     *tls.Config          // nil: plain TCP
	history map[string]*exchange // by step name; at most scriptStepsMax
	keys    map[string]*sendKeys // by terminal: its configured keys, or the last session_keys
}

func (r *scriptRun) close() {
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
}

// stepResult is one line of the report.
type stepResult struct {
	name, sent, got, code string
	latency               time.Duration
	reasons               []string // empty: passed
}

func (res *stepResult) fail(format string, a ...any) {
	res.reasons = append(res.reasons, fmt.Sprintf(format, a...))
}

func (res stepResult) print(w io.Writer, n int) {
	result := "pass"
	if len(res.reasons) > 0 {
		result = "FAIL"
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	lat := "-"
	if res.latency > 0 {
		lat = res.latency.Round(time.Microsecond).String()
	}
	fmt.Fprintf(w, "%4d  %-20s %-4s  %-4s  %-2s  %-6s %10s", n, res.name, dash(res.sent), dash(res.got), dash(res.code), result, lat)
	if len(res.reasons) > 0 {
		fmt.Fprintf(w, "  %s", strings.Join(res.reasons, "; "))
	}
	fmt.Fprintln(w)
}

// step runs one step: builds its request, sends it, waits for the reply
// and checks it.
func (r *scriptRun) step(st *scriptStep) stepResult {
	res := stepResult{name: st.Name, sent: st.Send.MTI}
	now := time.Now()
	m, vars, err := r.build(st, now)
	if err != nil {
		res.fail("%v", err)
		return res
	}
	res.sent = m.MTI
	var chip *sendChip
	if st.Chip {
		if chip, err = newSendChip(&sendFlags{config: r.config, atc: -1}, &m, now); err != nil {
			res.fail("chip: %v", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "usage: "), "--chip: "))
			return res
		}
	}
	keys, err := r.terminalKeys(st, m)
	if err != nil {
		res.fail("%v", err)
		return res
	}
	if st.PIN != "" {
		pin, err := vars.expand(st.PIN)
		if err == nil {
			m.Fields["52"], err = keys.pinBlock(pin, m.Fields["2"])
		}
		if err != nil {
			res.fail("pin: %v", err)
			return res
		}
	}
	macName := r.macName(st)
	sign, err := keys.macFunc(macName, r.d)
	if err != nil {
		res.fail("mac: %v", strings.TrimPrefix(err.Error(), "usage: "))
		return res
	}
	macField := 0
	if sign != nil {
		macField = 64
	}
	msg, err := r.d.EncodeMAC(m, macField, sign)
	if err != nil {
		res.fail("%s", codec.DescribeError(r.d, err))
		return res
	}
	x := &exchange{request: &m}
	r.history[st.Name] = x
	timeout := r.timeout
	if st.Timeout > 0 {
		timeout = st.Timeout
	}
	reply, latency, err := r.roundTrip(msg, m.Fields["11"], timeout, st.ExpectNoReply)
	res.latency = latency
	var ne interface{ Timeout() bool }
	switch {
	case st.ExpectNoReply && errors.As(err, &ne) && ne.Timeout():
		res.latency = 0
		return res
	case err != nil:
		res.fail("%s", r.explain(err, timeout))
		return res
	case st.ExpectNoReply:
		res.got = reply.View.MTI().String()
		res.fail("a reply (%s), want none within %v", res.got, timeout)
		return res
	}
	got := reply.View.ToMessage(false)
	x.response = &got
	res.got, res.code = got.MTI, got.Fields["39"]
	res.reasons = append(res.reasons, st.Expect.check(got, responseMTI(m.MTI), vars)...)
	if sign != nil {
		if reason := verifyReplyMAC(reply, keys, macName, r.d); reason != "" {
			res.fail("%s", reason)
		}
	}
	if chip != nil {
		if _, err := chip.check(reply); err != nil {
			res.fail("chip: %v", err)
		}
	}
	if st.SessionKeys != 0 {
		if err := keys.takeSessionKeys(reply, st.SessionKeys); err != nil {
			res.fail("session_keys: %v", err)
		}
	}
	return res
}

// build expands the step's request: field 41 first (the STAN ledger is
// the terminal's), then the header and the other fields.
func (r *scriptRun) build(st *scriptStep, now time.Time) (codec.Message, *scriptVars, error) {
	m := codec.Message{MTI: st.Send.MTI, Fields: make(map[string]string, len(st.Send.Fields)+2)}
	stan := ""
	vars := &scriptVars{now: now, history: r.history}
	vars.stan = func() string {
		if stan == "" {
			terminal, ok := m.Fields["41"]
			if !ok {
				terminal = r.script.Terminal
			}
			stan = sendSTAN(strings.TrimSpace(terminal), now)
		}
		return stan
	}
	ids := sortedFieldIDs(st.Send.Fields)
	if _, ok := st.Send.Fields["41"]; ok {
		ids = append([]string{"41"}, ids...)
	}
	for _, k := range ids {
		if _, done := m.Fields[k]; done {
			continue
		}
		v, err := vars.expand(st.Send.Fields[k])
		if err != nil {
			return m, nil, err
		}
		m.Fields[k] = v
	}
	var err error
	if m.MTI, err = vars.expand(st.Send.MTI); err != nil {
		return m, nil, err
	}
	if r.d.HeaderLen > 0 {
		h := st.Send.Header
		if h == "" {
			h = r.header
		}
		if m.Header, err = vars.expand(h); err != nil {
			return m, nil, err
		}
	}
	return m, vars, nil
}

// macName is the step's MAC method, else the script's, else auto.
func (r *scriptRun) macName(st *scriptStep) string {
	for _, n := range []string{st.MAC, r.script.MAC} {
		if n != "" {
			return n
		}
	}
	return "auto"
}

// terminalKeys are the keys of the request's terminal (field 41), loaded
// from the issuer data when a step first needs them (a PIN or a MAC).
func (r *scriptRun) terminalKeys(st *scriptStep, m codec.Message) (*sendKeys, error) {
	alg, err := macMethod(r.macName(st), r.d)
	if err != nil {
		return nil, fmt.Errorf("mac: %v", strings.TrimPrefix(err.Error(), "usage: "))
	}
	terminal := strings.TrimSpace(m.Fields["41"])
	if k, ok := r.keys[terminal]; ok {
		return k, nil
	}
	if st.PIN == "" && alg == 0 && st.SessionKeys == 0 {
		return &sendKeys{}, nil
	}
	k, err := loadTerminalKeys(r.config, terminal)
	if err != nil {
		return nil, err
	}
	r.keys[terminal] = &k
	return &k, nil
}

// roundTrip sends msg and waits for its reply: the first one with the
// request's STAN (or with none); others (late replies to earlier steps)
// are passed over, a few at most. quiet is a step that expects no reply:
// its timeout keeps the connection.
func (r *scriptRun) roundTrip(msg []byte, stan string, timeout time.Duration, quiet bool) (*client.Reply, time.Duration, error) {
	if r.conn == nil {
		var c *client.Conn
		var err error
		if r.tls != nil {
			c, err = client.DialTLS(r.link.addr, r.d, r.fr, r.tpdu, timeout, r.tls)
		} else {
			c, err = client.Dial(r.link.addr, r.d, r.fr, r.tpdu, timeout)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("connect %s: %w", r.link.addr, err)
		}
		r.conn = c
	}
	start := time.Now()
	deadline := start.Add(timeout)
	if err := r.conn.Raw().SetWriteDeadline(deadline); err != nil {
		return nil, 0, err
	}
	if err := r.conn.Write(msg); err != nil {
		r.close()
		return nil, 0, err
	}
	const strayRepliesMax = 16 // bounds the wait on a peer that answers out of turn
	for range strayRepliesMax {
		reply, err := r.conn.Read(deadline)
		if err != nil {
			var ne interface{ Timeout() bool }
			timedOut := errors.As(err, &ne) && ne.Timeout()
			if !(timedOut && quiet) && !strings.HasPrefix(err.Error(), "client: reply: ") {
				r.close() // broken, or maybe within a frame: dialled again for the next step
			}
			return reply, time.Since(start), err
		}
		got := string(reply.View.AppendText(nil, 11))
		if stan == "" || got == "" || got == stan {
			return reply, time.Since(start), nil
		}
	}
	r.close()
	return nil, time.Since(start), fmt.Errorf("%d replies with other STANs than %s", strayRepliesMax, stan)
}

// explain says why a step got no reply, with the usual causes.
func (r *scriptRun) explain(err error, timeout time.Duration) string {
	hint := fmt.Sprintf("does %s speak %s with %s framing?", r.link.addr, r.d.Name, r.link.framing)
	var ne interface{ Timeout() bool }
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no reply within %v", timeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Sprintf("the switch closed the connection without a reply (%v): %s", err, hint)
	}
	return err.Error()
}

// verifyReplyMAC checks the reply's MAC under the terminal's MAC key, as
// the terminal does; a reply without one (a MAC failure's) is not checked.
func verifyReplyMAC(reply *client.Reply, k *sendKeys, macName string, d *codec.Dialect) string {
	if !reply.View.Has(64) {
		return ""
	}
	alg, _ := macMethod(macName, d) // the request was MACed with it
	in, ok := reply.View.MACInput()
	if !ok || hsm.VerifyMAC(k.tak, alg, hsm.MACPaddingFor(alg), in, reply.View.MAC(nil)) != nil {
		return "the reply's MAC does not verify under the terminal's MAC key"
	}
	return ""
}

// takeSessionKeys installs the PIN and MAC keys the reply's field id
// carries under the terminal master key (UnionPay's layout: PIN key 16
// bytes, its check value 4, MAC key 16, its check value 4), once their
// check values match.
func (k *sendKeys) takeSessionKeys(reply *client.Reply, id int) error {
	if !k.found || !k.tmk.Valid() {
		return errors.New("the terminal has no master key in the configuration")
	}
	raw := reply.View.AppendBytes(nil, id)
	if len(raw) != 40 {
		return fmt.Errorf("field %d has %d bytes, want 40 (PIN key, check value, MAC key, check value)", id, len(raw))
	}
	var keys [2]hsm.Key
	for i, name := range []string{"PIN", "MAC"} {
		part := raw[20*i : 20*i+20]
		key, err := hsm.DecryptUnderZMK(k.tmk, fmt.Sprintf("%X", part[:16])) // untagged: ECB under the master key
		if err != nil {
			return fmt.Errorf("%s key: %v", name, err)
		}
		kcv, err := key.CheckValue(hsm.KCVZeroBlock)
		if err != nil || len(kcv) < 4 || string(kcv[:4]) != string(part[16:20]) {
			return fmt.Errorf("%s key: the check value does not match", name)
		}
		keys[i] = key
	}
	k.tpk, k.tak = keys[0], keys[1]
	return nil
}

// writeJUnit writes the results as a JUnit XML report (one test case a
// step), which CI servers show.
func writeJUnit(path, script string, results []stepResult) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testCase struct {
		Name      string   `xml:"name,attr"`
		ClassName string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
	}
	type suite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Time     string     `xml:"time,attr"`
		Cases    []testCase `xml:"testcase"`
	}
	s := suite{Name: script, Tests: len(results)}
	var total time.Duration
	for i, res := range results {
		tc := testCase{Name: fmt.Sprintf("%d %s", i+1, res.name), ClassName: "cardswitch.sim.client", Time: seconds(res.latency)}
		if len(res.reasons) > 0 {
			s.Failures++
			msg := strings.Join(res.reasons, "; ")
			tc.Failure = &failure{Message: msg, Text: fmt.Sprintf("sent %s, got %s, 39 %s: %s", res.sent, res.got, res.code, msg)}
		}
		total += res.latency
		s.Cases = append(s.Cases, tc)
	}
	s.Time = seconds(total)
	out, err := xml.MarshalIndent(struct {
		XMLName xml.Name `xml:"testsuites"`
		Suites  []suite  `xml:"testsuite"`
	}{Suites: []suite{s}}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(out, '\n')...), 0o644)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.6f", d.Seconds()) }
