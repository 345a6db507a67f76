package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

const scriptsDir = "../../examples/scripts"

// The scripts shipped for the demo data pass against the default
// configuration, each on its link (settlement.yaml first, while its
// terminal's batch holds nothing else).
func TestSimClientShippedScriptsPass(t *testing.T) {
	addrs := serveDefault(t)
	for _, c := range []struct {
		script, port string
		steps        int
	}{
		{"settlement.yaml", "8583", 2}, // first: TERM0001's batch holds its purchase alone
		{"signon-purchase.yaml", "8585", 2},
		{"purchase-reversal.yaml", "8583", 3},
		{"preauth-completion.yaml", "8583", 3},
		{"chip-purchase.yaml", "8583", 3},
	} {
		junit := filepath.Join(t.TempDir(), "report.xml")
		code, out, errOut := cli(t, "", "sim", "client", "--script", filepath.Join(scriptsDir, c.script), "--addr", addrs[c.port], "--junit", junit)
		n := strconv.Itoa(c.steps)
		if code != 0 || !strings.HasSuffix(out, "\n"+n+" steps: "+n+" passed, 0 failed\n") {
			t.Errorf("%s: exit %d\n%s%s", c.script, code, out, errOut)
			continue
		}
		x, err := os.ReadFile(junit)
		if err != nil || !strings.Contains(string(x), `tests="`+n+`" failures="0"`) {
			t.Errorf("%s: JUnit report %v\n%s", c.script, err, x)
		}
		if strings.Contains(out, "476173900101") || strings.Contains(out, "6228480402564890018") {
			t.Errorf("%s: the report shows a PAN:\n%s", c.script, out)
		}
	}
}

// Every shipped script loads and names only fields its dialect has
// (the settlement among them).
func TestSimClientShippedScriptsLoad(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(scriptsDir, "*.yaml"))
	if err != nil || len(paths) < 5 {
		t.Fatalf("%v %v", paths, err)
	}
	for _, p := range paths {
		s, err := loadScript(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		d, err := codec.Lookup(s.Dialect)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if err := checkScriptFields(s, d); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// A step whose answer is not what the script expects fails with the
// reasons on its line, the others still run, the exit status is 1 and
// the JUnit report counts the failure.
func TestSimClientFailingExpectation(t *testing.T) {
	addrs := serveDefault(t)
	script := writeScript(t, `
steps:
  - name: purchase
    send:
      mti: "0200"
      fields: {"2": "4761739001010010", "3": "000000", "4": "000000001000", "7": "${now}", "11": "${stan}",
               "14": "2812", "22": "012", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}
    expect:
      fields:
        "39": "51"
        "2": "4761739001010011"
        "38": {regexp: "^X"}
        "37": {present: false}
        "54": {present: true}
  - name: echo
    send: {mti: "0800", fields: {"7": "${now}", "11": "${stan}", "70": "301"}}
    expect: {fields: {"39": "00", "11": "${echo.request.11}"}}
  - name: wrong-pin
    pin: "4321"
    send:
      mti: "0200"
      fields: {"2": "4761739001010010", "3": "000000", "4": "000000001000", "7": "${now}", "11": "${stan}",
               "14": "2812", "22": "012", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}
    expect: {fields: {"39": "55"}}
  - name: reversal
    send:
      mti: "0400"
      fields: {"2": "${purchase.request.2}", "3": "000000", "4": "${purchase.request.4}", "11": "${stan}",
               "41": "TERM0001", "42": "MERCHANT0000001", "49": "840", "90": "${purchase.request.90}"}
`)
	junit := filepath.Join(t.TempDir(), "report.xml")
	code, out, errOut := cli(t, "", "sim", "client", "--script", script, "--addr", addrs["8583"], "--junit", junit)
	if code != 1 || !strings.HasPrefix(errOut, "cardswitch sim: 2 of 4 steps failed") {
		t.Fatalf("exit %d %q\n%s", code, errOut, out)
	}
	lines := strings.Split(out, "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^script .*: 4 steps against 127\.0\.0\.1:\d+ \(iso87ascii, binary2\)$`),
		regexp.MustCompile(`^step  name +sent  got   39  result +latency$`),
		regexp.MustCompile(`^   1  purchase +0200  0210  00  FAIL +\S+  field 39 "00", want "51"; field 2 "476173\*\*\*\*\*\*0010", want "476173\*\*\*\*\*\*0011"; ` +
			`field 37 present, want it absent; field 38 "\w+" does not match \^X; field 54 absent, want it present$`),
		regexp.MustCompile(`^   2  echo +0800  0810  00  pass +\S+$`),
		regexp.MustCompile(`^   3  wrong-pin +0200  0210  55  pass +\S+$`),
		regexp.MustCompile(`^   4  reversal +0400  -     -   FAIL +-  \$\{purchase\.request\.90\}: step purchase's request has no field 90$`),
		regexp.MustCompile(`^4 steps: 2 passed, 2 failed$`),
	}
	if len(lines) != len(want)+1 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i+1, lines[i], re)
		}
	}
	x, err := os.ReadFile(junit)
	if err != nil || !strings.Contains(string(x), `tests="4" failures="2"`) || !strings.Contains(string(x), `<failure message="field 39 &#34;00&#34;, want &#34;51&#34;;`) {
		t.Errorf("JUnit report %v\n%s", err, x)
	}
}

// Without session_keys the purchase after the sign-on is MACed under the
// configured key, which the sign-on replaced: A0, and the reply's MAC
// (under the new key) does not verify.
func TestSimClientSessionKeysAreUsed(t *testing.T) {
	addrs := serveDefault(t)
	raw, err := os.ReadFile(filepath.Join(scriptsDir, "signon-purchase.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(raw), "    session_keys: 62\n", "", 1)
	if body == string(raw) {
		t.Fatal("no session_keys in the script")
	}
	code, out, _ := cli(t, "", "sim", "client", "--script", writeScript(t, body), "--addr", addrs["8585"])
	if code != 1 || !strings.Contains(out, `field 39 "A0", want "00"`) || !strings.Contains(out, "the reply's MAC does not verify under the terminal's MAC key") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// expect_no_reply passes when nothing comes back in the step's timeout,
// and fails when a reply does; a step expecting a reply that does not
// come says so.
func TestSimClientExpectNoReply(t *testing.T) {
	silent := peer(t, "silent") // takes everything, answers nothing
	script := writeScript(t, `
timeout: 100ms
steps:
  - name: advice
    send: {mti: "0220", fields: {"11": "000001", "41": "TERM0001"}}
    expect_no_reply: true
  - name: purchase
    send: {mti: "0200", fields: {"11": "000002", "41": "TERM0001"}}
    expect: {fields: {"39": "00"}}
`)
	code, out, _ := cli(t, "", "sim", "client", "--script", script, "--addr", silent)
	if code != 1 || !regexp.MustCompile(`(?m)^   1  advice +0220  -     -   pass +-$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^   2  purchase +0200  -     -   FAIL +\S+  no reply within 100ms$`).MatchString(out) {
		t.Fatalf("exit %d\n%s", code, out)
	}
	addrs := serveDefault(t)
	code, out, _ = cli(t, "", "sim", "client", "--script", writeScript(t, `
steps:
  - name: echo
    send: {mti: "0800", fields: {"7": "${now}", "11": "${stan}", "70": "301"}}
    expect_no_reply: true
`), "--addr", addrs["8583"])
	if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "a reply (0810), want none within 10s") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// A script that cannot run is refused before anything is sent, with the
// step and what is wrong.
func TestSimClientRefusesBadScripts(t *testing.T) {
	const ok = `send: {mti: "0200", fields: {"11": "${stan}"}}`
	for _, c := range []struct{ body, want string }{
		{"", "no steps"},
		{"steps: []", "no steps"},
		{"step:\n  - name: x", "line 1: field step not found"},
		{"steps:\n  - name: a\n    " + ok + "\n    expct: {}", "line 4: field expct not found"},
		{"steps:\n  - name: a\n    send: {mti: \"0210\"}", "step 1 (a): send.mti 0210 is not a request or an advice"},
		{"steps:\n  - name: a\n    " + ok + "\n  - name: a\n    " + ok, `step 2 (a): name "a" is used by an earlier step`},
		{"steps:\n  - name: 1a\n    " + ok, `step 1 (1a): name "1a"`},
		{"steps:\n  - name: a\n    send: {mti: \"0200\", fields: {\"11\": \"${b.request.11}\"}}\n  - name: b\n    " + ok, `step 1 (a): ${b.request.11}: no step "b" before this one`},
		{"steps:\n  - name: a\n    send: {mti: \"0200\", fields: {\"11\": \"${a.request.11}\"}}", `step 1 (a): ${a.request.11}: no step "a" before this one`},
		{"steps:\n  - name: a\n    send: {mti: \"0200\", fields: {\"11\": \"${stna}\"}}", "step 1 (a): ${stna}: not a variable"},
		{"steps:\n  - name: a\n    send: {mti: \"0200\", fields: {\"129\": \"1\"}}", `step 1 (a): send.fields: "129" is not a field number`},
		{"steps:\n  - name: a\n    " + ok + "\n    expect: {fields: {\"39\": {regexp: \"(\"}}}", "line 4: error parsing regexp"},
		{"steps:\n  - name: a\n    " + ok + "\n    expect: {fields: {\"39\": {regex: \"0\"}}}", `line 4: "regex": want regexp or present`},
		{"steps:\n  - name: a\n    " + ok + "\n    expect: {fields: {\"39\": {present: maybe}}}", "line 4: present is true or false"},
		{"steps:\n  - name: a\n    " + ok + "\n    expect_no_reply: true\n    expect: {mti: \"0210\"}", "step 1 (a): expect_no_reply takes no expect"},
		{"dialect: cup-pos\nsteps:\n  - name: a\n    send: {mti: \"0200\", fields: {\"7\": \"1\"}}", "step 1 (a): send.fields: dialect cup-pos has no field 7"},
	} {
		code, _, errOut := cli(t, "", "sim", "client", "--script", writeScript(t, c.body), "--addr", "127.0.0.1:1")
		if first, _, _ := strings.Cut(errOut, "\n"); code != 1 || !strings.Contains(first, c.want) {
			t.Errorf("%q: exit %d %q, want %q", c.body, code, first, c.want)
		}
	}
	if code, _, errOut := cli(t, "", "sim", "client"); code != 2 || !strings.Contains(errOut, "client needs --script FILE") {
		t.Errorf("no --script: %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, "", "sim", "issuer", "--script", "x.yaml"); code != 2 || !strings.Contains(errOut, "--script goes with client") {
		t.Errorf("issuer --script: %d %q", code, errOut)
	}
}

// ${stan} is one STAN per step, ${rrn} is 12 digits ending with it, $${
// is a literal ${, and the clock variables have their fields' forms.
func TestScriptVariables(t *testing.T) {
	now := time.Date(2026, 12, 2, 19, 5, 6, 0, time.UTC)
	v := &scriptVars{now: now, stan: func() string { return "000042" }, history: map[string]*exchange{
		"a": {request: &codec.Message{MTI: "0200", Fields: map[string]string{"11": "000007"}}},
	}}
	got, err := v.expand("${stan}/${rrn}/${now}/${time}/${date}/${today}/$${x}/${a.request.11}/${a.request.mti}")
	if want := "000042/633619000042/1202190506/190506/1202/1202/${x}/000007/0200"; err != nil || got != want {
		t.Fatalf("%q %v, want %q", got, err, want)
	}
	if _, err := v.expand("${a.response.39}"); err == nil || err.Error() != "${a.response.39}: step a has no response" {
		t.Fatalf("%v", err)
	}
}

func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "script.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The README's example script loads, on the dialect it names.
func TestSimClientREADMEScriptLoads(t *testing.T) {
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(text), "## Scripted client simulator\n")
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("no YAML example in the README's section")
	}
	s, err := parseScript([]byte(block))
	if err != nil {
		t.Fatal(err)
	}
	d, err := codec.Lookup(s.Dialect)
	if err != nil || len(s.Steps) != 3 {
		t.Fatalf("%v, %d steps", err, len(s.Steps))
	}
	if err := checkScriptFields(s, d); err != nil {
		t.Fatal(err)
	}
}
