// Package router decides where a message goes: to the local authorizer, to a
// named upstream destination, or back with a decline code. It is pure: no
// I/O, no clock, no logging. A Table is an immutable snapshot built once from
// rules; a Router holds the current one and swaps it atomically on reload.
//
//	t, err := router.Compile([]router.Rule{
//		{Name: "on-us", PANPrefixes: []string{"476173"}, Action: router.Local},
//		{Name: "cup", PANPrefixes: []string{"62"}, Action: router.Upstream, Destination: "cup-host"},
//	}, "15")
//	r := router.New(t)
//	d := r.Route(router.Facts{MTI: mti, PAN: pan, Link: "pos"})
//
// The most specific rule wins: the longest matching PAN prefix, then the rule
// with more criteria, then the earlier rule.
package router

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/cardswitch/cardswitch/codec"
)

// Action is what a decision does with the message.
type Action uint8

const (
	Local    Action = iota + 1 // authorize here, against the issuer data
	Upstream                   // forward to Destination
	Decline                    // answer with Code
)

func (a Action) String() string {
	switch a {
	case Local:
		return "local"
	case Upstream:
		return "upstream"
	case Decline:
		return "decline"
	}
	return "none"
}

// ParseAction reads "local", "upstream" or "decline".
func ParseAction(s string) (Action, error) {
	switch s {
	case "local":
		return Local, nil
	case "upstream":
		return Upstream, nil
	case "decline":
		return Decline, nil
	}
	return 0, fmt.Errorf("router: unknown action %q (local, upstream or decline)", s)
}

// ErrNoRoute is reported when no rule matches: the message is declined with
// the table's no-route code (15, no such issuer).
var ErrNoRoute = errors.New("router: no route")

// Rule matches messages; an empty criterion matches everything.
type Rule struct {
	Name string
	// MTIClasses are MTI class digits: "1" authorization, "2" financial,
	// "4" reversal, "8" network management.
	MTIClasses []string
	// ProcessingCodes are prefixes of field 3 ("00" purchase, "31" balance).
	ProcessingCodes []string
	// PANPrefixes are BIN or PAN range prefixes, 1 to 19 digits.
	PANPrefixes []string
	Links       []string
	Terminals   []string
	Merchants   []string

	Action      Action
	Destination string // for Upstream
	Code        string // for Decline: the response code
}

// Facts are what routing looks at, read from the message by the caller.
type Facts struct {
	MTI            codec.MTI
	ProcessingCode []byte // field 3 text, may be empty
	PAN            []byte
	Link           string
	Terminal       []byte
	Merchant       []byte
}

// Decision is the outcome of routing.
type Decision struct {
	Action      Action
	Destination string
	Code        string // the decline code (Decline), or "" otherwise
	Rule        string // name of the rule that decided, "" for no route
}

// Table is an immutable routing snapshot.
type Table struct {
	byLen      [20]map[string][]int // PAN prefix length -> prefix -> rule indexes, most specific first
	rules      []compiled
	noRouteTag string
	maxLen     int
}

type compiled struct {
	Rule
	classes                 string   // MTI class digits
	procs                   [][]byte // ProcessingCodes as bytes
	links, terms, merchants map[string]bool
	criteria                int
}

// Compile checks rules and builds a table. noRouteCode answers a message no
// rule matches.
func Compile(rules []Rule, noRouteCode string) (*Table, error) {
	if len(noRouteCode) != 2 {
		return nil, fmt.Errorf("router: no-route code %q must be 2 characters", noRouteCode)
	}
	t := &Table{noRouteTag: noRouteCode}
	for i, r := range rules {
		c, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("router: rule %d (%s): %w", i+1, r.Name, err)
		}
		t.rules = append(t.rules, c)
		prefixes := r.PANPrefixes
		if len(prefixes) == 0 {
			prefixes = []string{""}
		}
		for _, p := range prefixes {
			if t.byLen[len(p)] == nil {
				t.byLen[len(p)] = map[string][]int{}
			}
			t.byLen[len(p)][p] = append(t.byLen[len(p)][p], i)
			t.maxLen = max(t.maxLen, len(p))
		}
	}
	for _, m := range t.byLen {
		for p, idx := range m {
			sort.SliceStable(idx, func(a, b int) bool { return t.rules[idx[a]].criteria > t.rules[idx[b]].criteria })
			m[p] = idx
		}
	}
	return t, nil
}

func compileRule(r Rule) (compiled, error) {
	c := compiled{Rule: r, links: set(r.Links), terms: set(r.Terminals), merchants: set(r.Merchants)}
	switch r.Action {
	case Local:
	case Upstream:
		if r.Destination == "" {
			return c, errors.New("upstream needs a destination")
		}
	case Decline:
		if len(r.Code) != 2 {
			return c, fmt.Errorf("decline code %q must be 2 characters", r.Code)
		}
	default:
		return c, errors.New("no action")
	}
	for _, cl := range r.MTIClasses {
		if len(cl) != 1 || cl[0] < '0' || cl[0] > '9' {
			return c, fmt.Errorf("MTI class %q must be one digit", cl)
		}
		c.classes += cl
	}
	for _, p := range append(append([]string(nil), r.PANPrefixes...), r.ProcessingCodes...) {
		if p == "" || len(p) > 19 || strings.Trim(p, "0123456789") != "" {
			return c, fmt.Errorf("prefix %q must be 1 to 19 digits", p)
		}
	}
	for _, p := range r.ProcessingCodes {
		c.procs = append(c.procs, []byte(p))
	}
	for _, n := range []int{len(r.MTIClasses), len(r.ProcessingCodes), len(r.Links), len(r.Terminals), len(r.Merchants)} {
		if n > 0 {
			c.criteria++
		}
	}
	return c, nil
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// Route decides for one message. It allocates nothing.
func (t *Table) Route(f Facts) Decision {
	for l := min(t.maxLen, len(f.PAN)); l >= 0; l-- {
		m := t.byLen[l]
		if m == nil {
			continue
		}
		for _, i := range m[string(f.PAN[:l])] {
			if r := &t.rules[i]; r.matches(&f) {
				return Decision{Action: r.Action, Destination: r.Destination, Code: r.Code, Rule: r.Name}
			}
		}
	}
	return Decision{Action: Decline, Code: t.noRouteTag}
}

func (r *compiled) matches(f *Facts) bool {
	if r.classes != "" && strings.IndexByte(r.classes, f.MTI[1]) < 0 {
		return false
	}
	if len(r.procs) > 0 {
		ok := false
		for _, p := range r.procs {
			ok = ok || bytes.HasPrefix(f.ProcessingCode, p)
		}
		if !ok {
			return false
		}
	}
	if len(r.Links) > 0 && !r.links[f.Link] {
		return false
	}
	if len(r.Terminals) > 0 && !r.terms[string(f.Terminal)] {
		return false
	}
	if len(r.Merchants) > 0 && !r.merchants[string(f.Merchant)] {
		return false
	}
	return true
}

// Router holds the current table; Route may run concurrently with Swap.
type Router struct {
	t atomic.Pointer[Table]
}

// New returns a router serving t.
func New(t *Table) *Router {
	r := &Router{}
	r.t.Store(t)
	return r
}

// Route decides with the current table.
func (r *Router) Route(f Facts) Decision { return r.t.Load().Route(f) }

// Swap installs a new table; routing in progress finishes on the old one.
func (r *Router) Swap(t *Table) { r.t.Store(t) }
