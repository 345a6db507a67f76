// Package deptest checks who may import whom (ARCHITECTURE.md), with
// `go list`, as tailscale's deptest does: every package of the module, by
// its transitive dependencies (the closure `go list -deps` prints), and
// every binary, which must not link the testing package.
package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/cardswitch/cardswitch/"

// Patterns: one ending in "/..." names a path and everything under it;
// any other names exactly one package.
const (
	gnet       = "github.com/panjf2000/gnet/..."
	badger     = "github.com/dgraph-io/badger/..."
	prometheus = "github.com/prometheus/..."
	zerolog    = "github.com/rs/zerolog/..."
	moov       = "github.com/moov-io/..."
)

// rule: the packages pkgs selects must not depend, even indirectly, on
// anything deny names.
type rule struct {
	pkgs string
	deny []string
}

// rules: every package of the module must be selected by at least one, so a
// new package is placed in the direction rules when it is added.
var rules = []rule{
	{"codec/...", []string{gnet, badger, zerolog, mod + "engine/...", mod + "router/...", mod + "journal/...", mod + "hsm/..."}},
	// field 55 is BER-TLV, not a moov field spec: the standard library only
	{"codec/emv/...", []string{moov}},
	{"router/...", []string{gnet, badger, zerolog, mod + "engine/...", mod + "journal/...", mod + "hsm/..."}},
	{"hsm/...", []string{gnet, badger, mod + "engine/...", mod + "codec/...", mod + "journal/...", mod + "router/..."}},
	{"journal/...", []string{gnet, mod + "engine/...", mod + "codec/...", mod + "hsm/...", mod + "router/..."}},
	// The authorizer is a pure state machine (ARCHITECTURE.md): no network,
	// storage, metrics or logging, and not the engine that drives it.
	{"engine/auth/...", []string{gnet, badger, prometheus, zerolog, mod + "engine", mod + "journal/...", mod + "hsm/...", mod + "router/...", mod + "bench/...", mod + "cmd/..."}},
	// Upstream matching, timing and mapping are pure too: the engine drives
	// them from its loops and workers, they do not know it.
	{"engine/upstream/...", []string{gnet, badger, prometheus, zerolog, mod + "engine", mod + "engine/auth/...", mod + "engine/issuer/...", mod + "journal/...", mod + "hsm/...", mod + "router/...", mod + "bench/...", mod + "cmd/..."}},
	// Store-and-forward's queue is pure as well: the engine journals and sends.
	{"engine/saf/...", []string{gnet, badger, prometheus, zerolog, mod + "engine", mod + "engine/auth/...", mod + "engine/issuer/...", mod + "journal/...", mod + "hsm/...", mod + "router/...", mod + "bench/...", mod + "cmd/..."}},
	{"engine/standin/...", []string{gnet, badger, prometheus, zerolog, mod + "engine", mod + "engine/auth/...", mod + "engine/issuer/...", mod + "journal/...", mod + "hsm/...", mod + "router/...", mod + "bench/...", mod + "cmd/..."}},
	// The business-day calendar is pure: the standard library's time only.
	{"engine/bizday/...", []string{gnet, badger, prometheus, zerolog, moov, mod + "engine", mod + "engine/auth/...", mod + "engine/issuer/...", mod + "codec/...", mod + "journal/...", mod + "hsm/...", mod + "router/...", mod + "internal/...", mod + "bench/...", mod + "cmd/..."}},
	{"engine/issuer/...", []string{gnet, badger, prometheus, zerolog, mod + "engine", mod + "engine/auth/...", mod + "journal/...", mod + "bench/...", mod + "cmd/..."}},
	{"engine/...", []string{mod + "bench/...", mod + "cmd/..."}},
	{"internal/...", []string{gnet, badger, prometheus, zerolog, mod + "engine/...", mod + "journal/...", mod + "bench/...", mod + "cmd/..."}},
	{"bench/...", []string{gnet, badger, mod + "journal/...", mod + "cmd/..."}},
	{"cmd/...", nil}, // the binaries: anything, but not testing (binaryDeny)
}

// binaryDeny: what no binary (package main) may link.
var binaryDeny = []string{"testing/...", mod + "internal/deptest/...", mod + "internal/crashtest/...", mod + "internal/cardscan/...", mod + "internal/cuptest/..."}

// pkg is one package of the module as go list reports it.
type pkg struct {
	path, name string
	deps       []string // transitive
}

// matches reports whether pattern names path.
func matches(pattern, path string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

// violations lists every dependency a rule forbids, and every package no
// rule selects.
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		selected := false
		for _, r := range rules {
			if !matches(mod+r.pkgs, p.path) {
				continue
			}
			selected = true
			out = append(out, denied(p, r.deny)...)
		}
		if !selected {
			out = append(out, p.path+" is not selected by any rule (add it to rules)")
		}
		if p.name == "main" {
			out = append(out, denied(p, binaryDeny)...)
		}
	}
	return out
}

// denied names, per pattern, the first dependency of p it denies.
func denied(p pkg, deny []string) []string {
	var out []string
	for _, pattern := range deny {
		for _, d := range p.deps {
			if matches(pattern, d) {
				out = append(out, p.path+" depends on "+d+" (denied: "+pattern+")")
				break
			}
		}
	}
	return out
}

// modulePackages lists the module's packages that have non-test files,
// each with its transitive dependencies.
func modulePackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Name}}\t{{len .GoFiles}}\t{{join .Deps \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("go list line %q", line)
		}
		if f[2] == "0" {
			continue // tests only (deptest, crashtest): never linked
		}
		pkgs = append(pkgs, pkg{path: f[0], name: f[1], deps: strings.Fields(f[3])})
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages: the module is not where the test runs", len(pkgs))
	}
	return pkgs
}

func TestImportDirection(t *testing.T) {
	for _, v := range violations(modulePackages(t)) {
		t.Error(v)
	}
}

// TestBinaryLinksNoTesting: the cardswitch binary, as `go list -deps`
// shows it, links neither testing nor a test helper package.
func TestBinaryLinksNoTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", mod+"cmd/cardswitch").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("cmd/cardswitch has %d dependencies: go list did not see it", len(deps))
	}
	for _, v := range denied(pkg{path: mod + "cmd/cardswitch", deps: deps}, binaryDeny) {
		t.Error(v)
	}
}

// TestViolationsReports: the checker itself finds a forbidden indirect
// dependency, a package no rule selects, and testing in a binary.
func TestViolationsReports(t *testing.T) {
	got := strings.Join(violations([]pkg{
		{path: mod + "engine/auth", name: "auth", deps: []string{mod + "codec", mod + "engine", "github.com/rs/zerolog/log"}},
		{path: mod + "engine/issuer", name: "issuer", deps: []string{mod + "internal/pan"}},
		{path: mod + "newpkg", name: "newpkg"},
		{path: mod + "cmd/tool", name: "main", deps: []string{"testing"}},
	}), "\n")
	for _, want := range []string{
		"engine/auth depends on " + mod + "engine (denied",
		"engine/auth depends on github.com/rs/zerolog/log",
		"newpkg is not selected",
		"cmd/tool depends on testing",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("violations do not report %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "engine/issuer") || strings.Contains(got, "depends on "+mod+"codec") {
		t.Errorf("violations report an allowed dependency:\n%s", got)
	}
}

// owners: the only packages that may import these directly.
var owners = map[string][]string{
	"github.com/dgraph-io/badger/v4":                 {mod + "journal"},
	"github.com/panjf2000/gnet/v2":                   {mod + "engine"},
	"github.com/prometheus/client_golang/prometheus": {mod + "engine"},
}

func TestOnlyOwnersImport(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if own, ok := owners[imp]; ok && !contains(own, f[0]) {
				t.Errorf("%s imports %s (only %v may)", f[0], imp, own)
			}
			if strings.HasPrefix(imp, mod+"bench") && !strings.HasPrefix(f[0], mod+"bench") && !strings.HasPrefix(f[0], mod+"cmd") {
				t.Errorf("%s imports %s (bench is imported by nothing but the command)", f[0], imp)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// pure packages may not import I/O, clock or logging themselves (their
// dependencies, like codec's spec loading, may).
var pure = map[string][]string{
	"router": {"net", "os", "time", "io", "log", "github.com/rs/zerolog"},
}

func TestPurePackages(t *testing.T) {
	for pkg, bad := range pure {
		out, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", mod+pkg).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range strings.Fields(string(out)) {
			for _, b := range bad {
				if d == b {
					t.Errorf("%s imports %s", pkg, d)
				}
			}
		}
	}
}
