package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cardswitch/cardswitch/hsm"
)

// Rules are the simulator's behaviour as data: how it decides, how long
// it takes, and which faults it injects. The CLI reads them from YAML
// (LoadRules); a test builds them as a literal.
type Rules struct {
	// Seed varies every draw (percentages, latency, approval codes). The
	// same seed and the same requests give the same answers, whatever the
	// order or timing they arrive in: each draw hashes the seed with the
	// request's identity (see draw.go).
	Seed uint64 `yaml:"seed"`
	// Latency is the answer delay: "" or "0" (none), "2ms" (fixed),
	// "uniform 1ms 5ms", "normal mean=2ms p99=5ms", "lognormal mean=2ms
	// p99=20ms" (see ParseLatency).
	Latency string `yaml:"latency"`
	// Default is the answer when no rule sets a code: "00" when empty.
	Default string `yaml:"default"`
	// Rules are tried in order: the first one that matches and sets a code
	// decides the code, the first one that matches and sets a fault decides
	// the fault (so one rule can decline and another slow the same request).
	Rules []Rule `yaml:"rules"`
	// MAC, when Method is set, makes the simulator verify the MAC of every
	// request but 0800s (missing or wrong: FailureCode) and MAC every reply
	// but 0810s, as a switch link with `mac` does.
	MAC MACConfig `yaml:"mac"`
}

// Rule is one decision: criteria (all must hold) and what it does.
type Rule struct {
	Name string `yaml:"name"`
	// MTIClasses are second MTI digits: "1" authorization, "2" financial,
	// "4" reversal, "8" network management. Empty: every class but "8", so
	// a decline or fault rule does not touch echo tests and sign-ons unless
	// it names them.
	MTIClasses []string `yaml:"mti_classes"`
	// PANPrefixes match the start of field 2 (or of track 2's PAN): a prefix
	// ("476173") or a range of equal-length prefixes ("400000-499999").
	PANPrefixes []string `yaml:"pan_prefixes"`
	// AmountOver matches a field 4 above it (minor units); AmountUnder one
	// below it. Zero: no bound. A request without field 4 matches neither.
	AmountOver  int64 `yaml:"amount_over"`
	AmountUnder int64 `yaml:"amount_under"`
	// Percent is the share of the requests matching the rest that the rule
	// applies to, 0.0001 to 100. Zero (absent): all of them.
	Percent Percent `yaml:"percent"`
	// Code is the response code the rule answers (two characters, 0-9 A-Z).
	Code string `yaml:"code"`
	// Fault is what the rule does to the answer: slow, no_answer, drop,
	// wrong_mac, twice or late (see Fault).
	Fault string `yaml:"fault"`
	// Delay is a slow fault's extra delay (on top of the latency) and a late
	// fault's whole delay.
	Delay time.Duration `yaml:"delay"`
}

// Percent is a share in percent. In YAML an explicit 0 is refused: it
// would mean "every request" (0 is the absent value), surely not what
// "percent: 0" intends; delete the rule to turn it off.
type Percent float64

// UnmarshalYAML refuses 0, which reads as "never" but would mean "always".
func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	var f float64
	if err := n.Decode(&f); err != nil {
		return fmt.Errorf("percent (line %d): %q is not a number", n.Line, n.Value)
	}
	if f == 0 {
		return fmt.Errorf("percent (line %d): 0 would apply the rule to every request (absent means all); delete the rule to turn it off", n.Line)
	}
	*p = Percent(f)
	return nil
}

// MACConfig is the MAC the simulator's link uses, with a clear key: the
// simulator stands for a host, it has no HSM.
type MACConfig struct {
	Method string `yaml:"method"` // x919, alg1, cmac or cup; "" no MACs
	Key    string `yaml:"key"`    // hex: 16, 32 or 48 digits (TDES), or 32, 48, 64 with aes
	AES    bool   `yaml:"aes"`
	// FailureCode answers a request whose MAC is missing or wrong: "A0"
	// when empty.
	FailureCode string `yaml:"failure_code"`
}

// Fault is what the simulator does wrong on purpose.
type Fault uint8

const (
	FaultNone     Fault = iota
	FaultSlow           // answer after the latency plus the rule's delay
	FaultNoAnswer       // read the request, never answer it
	FaultDrop           // close the connection instead of answering
	FaultWrongMAC       // answer with a MAC that does not verify (needs mac)
	FaultTwice          // answer, then answer again (the same bytes)
	FaultLate           // answer after the rule's delay instead of the latency
	faultCount
)

var faultNames = [faultCount]string{"", "slow", "no_answer", "drop", "wrong_mac", "twice", "late"}

func (f Fault) String() string {
	if f < faultCount {
		return faultNames[f]
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// ParseFault reads a fault's name.
func ParseFault(s string) (Fault, error) {
	for i, n := range faultNames {
		if i > 0 && n == s {
			return Fault(i), nil
		}
	}
	return FaultNone, fmt.Errorf("sim: unknown fault %q (slow, no_answer, drop, wrong_mac, twice or late)", s)
}

// ruleCountMax bounds the rules in force: each is tried on every request.
const ruleCountMax = 1000

// delayMax bounds any delay (a latency draw, slow or late): a reply held
// longer than this is not a late answer any switch waits for, and a bound
// keeps the scheduler's queue from holding replies for days.
const delayMax = 10 * time.Minute

// LoadRules reads rules from a YAML file; an unknown key is refused with
// its line.
func LoadRules(path string) (Rules, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Rules{}, err
	}
	return ParseRules(raw)
}

// ParseRules reads rules from YAML and checks them (Validate).
func ParseRules(raw []byte) (Rules, error) {
	var r Rules
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file, approve all at once
		return Rules{}, fmt.Errorf("sim: rules: %s", YAMLError(err))
	}
	if _, err := r.compile(); err != nil {
		return Rules{}, err
	}
	return r, nil
}

// YAMLError says what yaml.v3 found in one line, without its Go type
// names ("line 3: field amout_over not found"); sim client's scripts
// (cmd/cardswitch) use it too.
func YAMLError(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	out := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		if at := strings.Index(e, " in type "); at >= 0 {
			e = e[:at]
		}
		out[i] = e
	}
	return strings.Join(out, "; ")
}

// Validate checks the rules as Issuer.SetRules would.
func (r Rules) Validate() error {
	_, err := r.compile()
	return err
}

// compiled is a rule set ready for requests: immutable, swapped whole.
type compiled struct {
	seed      uint64
	latency   Latency
	dflt      [2]byte
	rules     []rule
	mac       *macKey // nil: no MACs
	macFail   [2]byte
	wrongMACs bool // a rule injects wrong_mac (needs mac)
}

type rule struct {
	name        string
	classes     uint16 // bit per MTI class digit; 0: all but 8
	prefixes    []prefixRange
	over, under int64
	perMillion  uint32 // 0: always
	code        [2]byte
	hasCode     bool
	fault       Fault
	delay       time.Duration
}

// prefixRange is lo..hi over the first len(lo) digits of the PAN.
type prefixRange struct{ lo, hi string }

func (r Rules) compile() (*compiled, error) {
	c := &compiled{seed: r.Seed, dflt: [2]byte{'0', '0'}, macFail: [2]byte{'A', '0'}}
	var err error
	if c.latency, err = ParseLatency(r.Latency); err != nil {
		return nil, err
	}
	if r.Default != "" {
		if c.dflt, err = parseCode(r.Default); err != nil {
			return nil, fmt.Errorf("sim: default: %v", err)
		}
	}
	if len(r.Rules) > ruleCountMax {
		return nil, fmt.Errorf("sim: %d rules, at most %d", len(r.Rules), ruleCountMax)
	}
	for i, in := range r.Rules {
		cr, err := compileRule(in)
		if err != nil {
			name := in.Name
			if name == "" {
				name = "#" + strconv.Itoa(i+1)
			}
			return nil, fmt.Errorf("sim: rules[%d] (%s): %v", i, name, err)
		}
		c.wrongMACs = c.wrongMACs || cr.fault == FaultWrongMAC
		c.rules = append(c.rules, cr)
	}
	if c.mac, err = compileMAC(r.MAC); err != nil {
		return nil, err
	}
	if r.MAC.FailureCode != "" {
		if c.macFail, err = parseCode(r.MAC.FailureCode); err != nil {
			return nil, fmt.Errorf("sim: mac.failure_code: %v", err)
		}
	}
	if c.wrongMACs && c.mac == nil {
		return nil, errors.New("sim: a rule injects wrong_mac but no mac.method is set: a reply without a MAC cannot carry a wrong one")
	}
	return c, nil
}

func compileRule(in Rule) (rule, error) {
	r := rule{name: in.Name, over: in.AmountOver, under: in.AmountUnder, delay: in.Delay}
	for _, cl := range in.MTIClasses {
		if len(cl) != 1 || cl[0] < '0' || cl[0] > '9' {
			return r, fmt.Errorf("mti_classes: %q is not one digit (1 authorization, 2 financial, 4 reversal, 8 network management)", cl)
		}
		r.classes |= 1 << (cl[0] - '0')
	}
	for _, p := range in.PANPrefixes {
		pr, err := parsePrefix(p)
		if err != nil {
			return r, fmt.Errorf("pan_prefixes: %v", err)
		}
		r.prefixes = append(r.prefixes, pr)
	}
	if in.AmountOver < 0 || in.AmountUnder < 0 {
		return r, errors.New("amount_over and amount_under must not be negative")
	}
	if !(in.Percent >= 0 && in.Percent <= 100) || (in.Percent > 0 && in.Percent < 0.0001) { // (NaN fails the first)
		return r, fmt.Errorf("percent: %v must be 0.0001 to 100", float64(in.Percent))
	}
	r.perMillion = uint32(float64(in.Percent)*10000 + 0.5)
	if in.Code != "" {
		var err error
		if r.code, err = parseCode(in.Code); err != nil {
			return r, fmt.Errorf("code: %v", err)
		}
		r.hasCode = true
	}
	if in.Fault != "" {
		f, err := ParseFault(in.Fault)
		if err != nil {
			return r, err
		}
		r.fault = f
	}
	if !r.hasCode && r.fault == FaultNone {
		return r, errors.New("sets neither a code nor a fault")
	}
	needsDelay := r.fault == FaultSlow || r.fault == FaultLate
	switch {
	case needsDelay && (in.Delay <= 0 || in.Delay > delayMax):
		return r, fmt.Errorf("fault %s needs a delay from 1ns to %v, e.g. delay: 2s", r.fault, delayMax)
	case !needsDelay && in.Delay != 0:
		return r, fmt.Errorf("delay is only for the slow and late faults")
	}
	return r, nil
}

// parseCode reads a response code: two characters, digits or upper-case
// letters (the counters index them).
func parseCode(s string) ([2]byte, error) {
	var c [2]byte
	if len(s) != 2 || codeIndex([2]byte{s[0], s[1]}) < 0 {
		return c, fmt.Errorf("%q is not a response code (two characters, 0-9 or A-Z)", s)
	}
	copy(c[:], s)
	return c, nil
}

// panDigitsMax is the longest PAN (ISO/IEC 7812: 19 digits).
const panDigitsMax = 19

func parsePrefix(s string) (prefixRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	ok := func(p string) bool {
		if len(p) == 0 || len(p) > panDigitsMax {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
		return true
	}
	switch {
	case !ok(lo) || !ok(hi):
		return prefixRange{}, fmt.Errorf("%q is not a PAN prefix (1 to 19 digits) or a range of two (400000-499999)", s)
	case len(lo) != len(hi):
		return prefixRange{}, fmt.Errorf("%q: both ends of a range have the same number of digits", s)
	case lo > hi:
		return prefixRange{}, fmt.Errorf("%q: the range ends before it starts", s)
	}
	return prefixRange{lo, hi}, nil
}

// macKey is a link's MAC method and clear key.
type macKey struct {
	alg hsm.MACAlgorithm
	pad hsm.MACPadding
	key hsm.Key
}

func compileMAC(m MACConfig) (*macKey, error) {
	if m.Method == "" {
		if m.Key != "" {
			return nil, errors.New("sim: mac.key without mac.method")
		}
		return nil, nil
	}
	alg, ok := hsm.MACMethods[m.Method]
	if !ok {
		return nil, fmt.Errorf("sim: mac.method: %q must be x919, alg1, cmac or cup", m.Method)
	}
	var k hsm.Key
	var err error
	if m.AES {
		k, err = hsm.ParseAESKey(m.Key)
	} else {
		k, err = hsm.ParseTDESKey(m.Key, hsm.ParityIgnore)
	}
	if err != nil {
		return nil, fmt.Errorf("sim: mac.key: %v", err)
	}
	mk := &macKey{alg: alg, pad: hsm.MACPaddingFor(alg), key: k}
	if _, err := hsm.GenerateMAC(k, alg, mk.pad, []byte("0200")); err != nil {
		return nil, fmt.Errorf("sim: mac: method %s with this key: %v", m.Method, err)
	}
	return mk, nil
}

// request is what the rules look at.
type request struct {
	class     byte // MTI class digit
	pan       []byte
	amount    int64
	hasAmount bool
	id        uint64 // the request's identity hash (draw.go)
}

// decision is what the rules decide for one request.
type decision struct {
	code  [2]byte
	coded bool // a rule set code (else it is the default)
	fault Fault
	delay time.Duration // the whole delay before the answer
}

// decide runs the injected rules, then the rules in force, then the
// default. Pure: everything it uses is in its arguments.
func (c *compiled) decide(injected []rule, req *request) decision {
	d := decision{}
	hasCode := false
	faultDelay := time.Duration(0)
	apply := func(rs []rule, salt uint64) {
		for i := range rs {
			r := &rs[i]
			if (hasCode || !r.hasCode) && (d.fault != FaultNone || r.fault == FaultNone) {
				continue // nothing left for it to set
			}
			if !r.matches(req) || (r.perMillion > 0 && draw(c.seed, salt+uint64(i), req.id)%1_000_000 >= uint64(r.perMillion)) {
				continue
			}
			if r.hasCode && !hasCode {
				d.code, hasCode = r.code, true
			}
			if r.fault != FaultNone && d.fault == FaultNone {
				d.fault, faultDelay = r.fault, r.delay
			}
		}
	}
	apply(injected, saltInjected)
	apply(c.rules, saltRules)
	if d.coded = hasCode; !hasCode {
		d.code = c.dflt
	}
	switch d.fault {
	case FaultLate:
		d.delay = faultDelay
	case FaultSlow:
		d.delay = min(c.latency.sample(c.seed, req.id)+faultDelay, delayMax)
	default:
		d.delay = c.latency.sample(c.seed, req.id)
	}
	return d
}

func (r *rule) matches(req *request) bool {
	if r.classes == 0 {
		if req.class == '8' {
			return false
		}
	} else if req.class < '0' || req.class > '9' || r.classes&(1<<(req.class-'0')) == 0 {
		return false
	}
	if (r.over > 0 || r.under > 0) && !req.hasAmount {
		return false
	}
	if r.over > 0 && req.amount <= r.over {
		return false
	}
	if r.under > 0 && req.amount >= r.under {
		return false
	}
	if len(r.prefixes) == 0 {
		return true
	}
	for _, p := range r.prefixes {
		if len(req.pan) >= len(p.lo) {
			head := string(req.pan[:len(p.lo)]) // no allocation: compared, not kept
			if head >= p.lo && head <= p.hi {
				return true
			}
		}
	}
	return false
}

// codeIndex numbers a response code of 0-9 A-Z characters for the
// counters, or -1.
func codeIndex(c [2]byte) int {
	v := func(b byte) int {
		switch {
		case b >= '0' && b <= '9':
			return int(b - '0')
		case b >= 'A' && b <= 'Z':
			return int(b-'A') + 10
		}
		return -1
	}
	hi, lo := v(c[0]), v(c[1])
	if hi < 0 || lo < 0 {
		return -1
	}
	return hi*36 + lo
}

const codeCount = 36 * 36

func codeName(i int) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	return string([]byte{digits[i/36], digits[i%36]})
}
