package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
)

// A simScript is what `sim client --script` runs: steps, each a request
// in the tools' JSON form (YAML is a superset of it) with variables, and
// the answer it expects. The README ("Scripted client simulator") has the
// format; examples/scripts has scripts for the demo data.
type simScript struct {
	Dialect  string        `yaml:"dialect"` // defaults for the flags of the same names
	Framing  string        `yaml:"framing"`
	TPDU     string        `yaml:"tpdu"`
	Header   string        `yaml:"header"`
	MAC      string        `yaml:"mac"`      // default of the steps' mac
	Terminal string        `yaml:"terminal"` // whose STAN ledger ${stan} draws from when a request has no field 41
	Timeout  time.Duration `yaml:"timeout"`  // default of the steps' timeout
	Steps    []scriptStep  `yaml:"steps"`
}

type scriptStep struct {
	Name string        `yaml:"name"`
	Send codec.Message `yaml:"send"`
	PIN  string        `yaml:"pin"` // field 52: this clear PIN's ISO 0 block under the terminal's PIN key
	// Chip plays the chip card of field 2 as send --chip does: field 55
	// with an ARQC from its profile's IMK, and the reply's ARPC checked.
	Chip    bool          `yaml:"chip"`
	MAC     string        `yaml:"mac"` // cup, x919, alg1, cmac, none or auto (send's --mac)
	Timeout time.Duration `yaml:"timeout"`
	Expect  expectation   `yaml:"expect"`
	// ExpectNoReply passes when nothing comes back within the timeout
	// (an advice or a message the peer only takes).
	ExpectNoReply bool `yaml:"expect_no_reply"`
	// SessionKeys names the reply field that carries new PIN and MAC keys
	// under the terminal master key, UnionPay's layout (PIN key 16 bytes,
	// its check value 4, MAC key 16, its check value 4): the terminal's
	// later steps use them.
	SessionKeys int `yaml:"session_keys"`
}

type expectation struct {
	MTI    string                 `yaml:"mti"` // default: the request's response (0200: 0210)
	Fields map[string]fieldExpect `yaml:"fields"`
}

// fieldExpect is one field's expectation: a scalar is the value exactly
// (with variables), {regexp: RE} a match (RE is not expanded), {present:
// true|false} present or absent.
type fieldExpect struct {
	value   *string
	re      *regexp.Regexp
	present *bool
}

func (f *fieldExpect) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		v := n.Value
		f.value = &v
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a field's expectation is a value, {regexp: RE} or {present: true|false}", n.Line)
	}
	var m struct{ Regexp, Present *yaml.Node }
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i]; k.Value {
		case "regexp":
			m.Regexp = n.Content[i+1]
		case "present":
			m.Present = n.Content[i+1]
		default:
			return fmt.Errorf("line %d: %q: want regexp or present", k.Line, k.Value)
		}
	}
	switch {
	case (m.Regexp == nil) == (m.Present == nil):
		return fmt.Errorf("line %d: one of regexp and present", n.Line)
	case m.Regexp != nil:
		re, err := regexp.Compile(m.Regexp.Value)
		if err != nil {
			return fmt.Errorf("line %d: %v", m.Regexp.Line, err)
		}
		f.re = re
	default:
		var p bool
		if err := m.Present.Decode(&p); err != nil {
			return fmt.Errorf("line %d: present is true or false", m.Present.Line)
		}
		f.present = &p
	}
	return nil
}

// scriptBytesMax bounds a script file: thousands of steps, not a data set.
const scriptBytesMax = 4 << 20

// scriptStepsMax bounds the steps (and so the replies a run keeps).
const scriptStepsMax = 10000

// stepNameRE is what a step name may be, so that ${NAME.response.N} reads.
var stepNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// loadScript reads and checks a script.
func loadScript(path string) (*simScript, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, scriptBytesMax+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > scriptBytesMax {
		return nil, fmt.Errorf("over %d bytes", scriptBytesMax)
	}
	return parseScript(raw)
}

func parseScript(raw []byte) (*simScript, error) {
	var s simScript
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no steps")
		}
		return nil, errors.New(sim.YAMLError(err))
	}
	if len(s.Steps) == 0 {
		return nil, errors.New("no steps")
	}
	if len(s.Steps) > scriptStepsMax {
		return nil, fmt.Errorf("%d steps: at most %d", len(s.Steps), scriptStepsMax)
	}
	seen := map[string]bool{}
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.Name == "" {
			st.Name = fmt.Sprintf("step%d", i+1)
		}
		if err := st.check(seen); err != nil {
			return nil, fmt.Errorf("step %d (%s): %v", i+1, st.Name, err)
		}
		seen[st.Name] = true
	}
	return &s, nil
}

// check refuses what cannot run: a step's name, its request's MTI and
// field numbers, and references to steps that do not come before it.
func (st *scriptStep) check(before map[string]bool) error {
	if !stepNameRE.MatchString(st.Name) {
		return fmt.Errorf("name %q: letters, digits, _ and -, starting with a letter", st.Name)
	}
	if before[st.Name] {
		return fmt.Errorf("name %q is used by an earlier step", st.Name)
	}
	if err := checkRequestMTI("send.mti", st.Send.MTI); err != nil {
		return err
	}
	if st.ExpectNoReply && (st.Expect.MTI != "" || len(st.Expect.Fields) > 0 || st.SessionKeys != 0) {
		return errors.New("expect_no_reply takes no expect and no session_keys")
	}
	if st.Timeout < 0 {
		return errors.New("timeout must be positive")
	}
	if st.SessionKeys != 0 && (st.SessionKeys < 2 || st.SessionKeys > codec.MaxField) {
		return fmt.Errorf("session_keys %d: a field number", st.SessionKeys)
	}
	sent := []string{st.Send.Header, st.PIN}
	for _, k := range sortedFieldIDs(st.Send.Fields) {
		if _, err := fieldID(k); err != nil {
			return fmt.Errorf("send.fields: %v", err)
		}
		sent = append(sent, st.Send.Fields[k])
	}
	expected := []string{st.Expect.MTI}
	for _, k := range sortedFieldIDs(st.Expect.Fields) {
		if _, err := fieldID(k); err != nil {
			return fmt.Errorf("expect.fields: %v", err)
		}
		if v := st.Expect.Fields[k].value; v != nil {
			expected = append(expected, *v)
		}
	}
	for _, t := range sent {
		if err := checkVariables(t, before, ""); err != nil {
			return err
		}
	}
	for _, t := range expected { // the expectations may name the step's own request and reply
		if err := checkVariables(t, before, st.Name); err != nil {
			return err
		}
	}
	return nil
}

func fieldID(k string) (int, error) {
	id, err := strconv.Atoi(k)
	if err != nil || id < 2 || id > codec.MaxField || k != strconv.Itoa(id) {
		return 0, fmt.Errorf("%q is not a field number (2 to %d)", k, codec.MaxField)
	}
	return id, nil
}

// sortedFieldIDs are a map's keys in field order (unknown keys last).
func sortedFieldIDs[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, ea := strconv.Atoi(keys[i])
		b, eb := strconv.Atoi(keys[j])
		if (ea == nil) != (eb == nil) {
			return ea == nil
		}
		if ea != nil {
			return keys[i] < keys[j]
		}
		return a < b
	})
	return keys
}

// variableRE is one ${...}; $${ stands for a literal ${.
var variableRE = regexp.MustCompile(`\$\$\{|\$\{([^}]*)\}`)

// clockVariables are the variables the clock and the STAN ledger give.
var clockVariables = map[string]bool{"stan": true, "rrn": true, "now": true, "time": true, "date": true, "today": true}

// checkVariables refuses an unknown variable or a reference to a step
// that does not come before this one (or is not self, "" for none).
func checkVariables(text string, before map[string]bool, self string) error {
	for _, m := range variableRE.FindAllStringSubmatch(text, -1) {
		if m[0] == "$${" {
			continue
		}
		name := m[1]
		if clockVariables[name] {
			continue
		}
		step, _, ok := parseReference(name)
		if !ok {
			return fmt.Errorf("${%s}: not a variable (stan, rrn, now, time, date, today, or STEP.request.N, STEP.response.N, STEP.request.mti, ...)", name)
		}
		if !before[step] && step != self {
			return fmt.Errorf("${%s}: no step %q before this one", name, step)
		}
	}
	return nil
}

// parseReference splits STEP.request.N (or .response., or mti / header
// in place of N).
func parseReference(name string) (step, part string, ok bool) {
	parts := strings.Split(name, ".")
	if len(parts) != 3 || (parts[1] != "request" && parts[1] != "response") || !stepNameRE.MatchString(parts[0]) {
		return "", "", false
	}
	if parts[2] != "mti" && parts[2] != "header" {
		if _, err := fieldID(parts[2]); err != nil {
			return "", "", false
		}
	}
	return parts[0], parts[1], true
}

// exchange is what one step sent and received, unmasked, for later
// steps' references (memory only: never printed or written).
type exchange struct {
	request, response *codec.Message
}

// scriptVars expands the variables of one step.
type scriptVars struct {
	now     time.Time
	stan    func() string // the step's STAN, drawn once on first use
	history map[string]*exchange
}

func (v *scriptVars) expand(text string) (string, error) {
	var err error
	out := variableRE.ReplaceAllStringFunc(text, func(m string) string {
		if m == "$${" {
			return "${"
		}
		s, e := v.lookup(m[2 : len(m)-1])
		if e != nil && err == nil {
			err = e
		}
		return s
	})
	return out, err
}

func (v *scriptVars) lookup(name string) (string, error) {
	switch name {
	case "stan":
		return v.stan(), nil
	case "rrn": // YDDDhh + STAN: unique per terminal and day as the STAN is
		return fmt.Sprintf("%d%03d%02d%s", v.now.Year()%10, v.now.YearDay(), v.now.Hour(), v.stan()), nil
	case "now": // field 7, transmission date and time (UTC)
		return v.now.UTC().Format("0102150405"), nil
	case "time": // field 12, local time
		return v.now.Format("150405"), nil
	case "date", "today": // field 13, local date
		return v.now.Format("0102"), nil
	}
	step, part, _ := parseReference(name) // checked when the script loaded
	x := v.history[step]
	var m *codec.Message
	if x != nil {
		m = x.request
		if part == "response" {
			m = x.response
		}
	}
	if m == nil {
		return "", fmt.Errorf("${%s}: step %s has no %s", name, step, part)
	}
	key := name[strings.LastIndexByte(name, '.')+1:]
	switch key {
	case "mti":
		return m.MTI, nil
	case "header":
		return m.Header, nil
	}
	f, ok := m.Fields[key]
	if !ok {
		return "", fmt.Errorf("${%s}: step %s's %s has no field %s", name, step, part, key)
	}
	return f, nil
}

// check compares a reply with the expectation (its values expanded) and
// returns what does not match, one reason each; sensitive fields are
// masked in the reasons.
func (e expectation) check(reply codec.Message, wantMTI string, v *scriptVars) []string {
	var bad []string
	if e.MTI != "" {
		want, err := v.expand(e.MTI)
		if err != nil {
			bad = append(bad, err.Error())
		}
		wantMTI = want
	}
	if reply.MTI != wantMTI {
		bad = append(bad, fmt.Sprintf("MTI %s, want %s", reply.MTI, wantMTI))
	}
	keys := sortedFieldIDs(e.Fields)
	if _, ok := e.Fields["39"]; ok { // the response code first: it tells the most
		keys = append([]string{"39"}, slices.DeleteFunc(keys, func(k string) bool { return k == "39" })...)
	}
	for _, k := range keys {
		id, _ := fieldID(k)
		fe := e.Fields[k]
		got, has := reply.Fields[k]
		shown := codec.MaskField(id, got)
		switch {
		case fe.present != nil:
			if has != *fe.present {
				bad = append(bad, fmt.Sprintf("field %s %s, want it %s", k, presence(has), presence(*fe.present)))
			}
		case !has:
			bad = append(bad, fmt.Sprintf("field %s absent", k))
		case fe.re != nil:
			if !fe.re.MatchString(got) {
				bad = append(bad, fmt.Sprintf("field %s %q does not match %s", k, shown, fe.re))
			}
		default:
			want, err := v.expand(*fe.value)
			if err != nil {
				bad = append(bad, err.Error())
			} else if got != want {
				bad = append(bad, fmt.Sprintf("field %s %q, want %q", k, shown, codec.MaskField(id, want)))
			}
		}
	}
	return bad
}

func presence(has bool) string {
	if has {
		return "present"
	}
	return "absent"
}

// responseMTI is the MTI answering a request: 0200 -> 0210, 0421 -> 0430.
func responseMTI(req string) string {
	mti, ok := codec.ParseMTI(req)
	if !ok {
		return ""
	}
	mti[2]++
	mti[3] = '0'
	return string(mti[:])
}
