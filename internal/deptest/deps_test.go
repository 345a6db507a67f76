// Package deptest checks who may import whom (ARCHITECTURE.md), with
// `go list -deps`, as tailscale's deptest does.
package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/cardswitch/cardswitch/"

// forbidden lists, per package, import path prefixes it must not depend on.
var forbidden = map[string][]string{
	"codec":   {"github.com/panjf2000/gnet", "github.com/dgraph-io/badger", "github.com/rs/zerolog", mod + "engine", mod + "router", mod + "journal", mod + "hsm"},
	"router":  {"github.com/panjf2000/gnet", "github.com/dgraph-io/badger", "github.com/rs/zerolog", mod + "engine", mod + "journal", mod + "hsm"},
	"engine":  {mod + "bench", mod + "cmd"},
	"journal": {"github.com/panjf2000/gnet", mod + "engine", mod + "codec", mod + "hsm", mod + "router"},
	"hsm":     {"github.com/panjf2000/gnet", "github.com/dgraph-io/badger", mod + "engine", mod + "codec", mod + "journal", mod + "router"},
}

// owners: the only packages that may import these directly.
var owners = map[string]string{
	"github.com/dgraph-io/badger/v4": mod + "journal",
	"github.com/panjf2000/gnet/v2":   mod + "engine",
}

func TestOnlyOwnersImport(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if owner, ok := owners[imp]; ok && f[0] != owner {
				t.Errorf("%s imports %s (only %s may)", f[0], imp, owner)
			}
			if strings.HasPrefix(imp, mod+"bench") && !strings.HasPrefix(f[0], mod+"bench") && !strings.HasPrefix(f[0], mod+"cmd") {
				t.Errorf("%s imports %s (bench is imported by nothing but the command)", f[0], imp)
			}
		}
	}
}

// pure packages may not import I/O, clock or logging themselves (their
// dependencies, like codec's spec loading, may).
var pure = map[string][]string{
	"router": {"net", "os", "time", "io", "log", "github.com/rs/zerolog"},
}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
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

func TestImportDirection(t *testing.T) {
	for pkg, bad := range forbidden {
		for _, d := range deps(t, pkg) {
			for _, b := range bad {
				if d == b || strings.HasPrefix(d, b+"/") {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
}
