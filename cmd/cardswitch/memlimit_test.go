package main

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// engine.memory_limit_mb sets the runtime's soft limit; GOMEMLIMIT in the
// environment wins; 0 lifts it; nonsense stops the start.
func TestMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	t.Setenv("GOMEMLIMIT", "")

	c, err := parseConfig(defaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	applyMemoryLimit(c.memoryLimitMB(), zerolog.Nop())
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimitMB<<20 {
		t.Fatalf("default: limit %d, want %d MiB", got, defaultMemoryLimitMB)
	}
	applyMemoryLimit(0, zerolog.Nop())
	if got := debug.SetMemoryLimit(-1); got != 1<<63-1 {
		t.Fatalf("0: limit %d, want none", got)
	}
	t.Setenv("GOMEMLIMIT", "300MiB")
	debug.SetMemoryLimit(300 << 20) // what the runtime took from it at start
	var log strings.Builder
	applyMemoryLimit(2048, zerolog.New(&log))
	if got := debug.SetMemoryLimit(-1); got != 300<<20 || !strings.Contains(log.String(), "GOMEMLIMIT") {
		t.Fatalf("GOMEMLIMIT set: limit %d, log %q", got, log.String())
	}

	for _, tc := range []struct{ value, want string }{
		{"100", "engine.memory_limit_mb: 100 must be 0 (no limit) or 256 to 1048576"},
		{"-1", "engine.memory_limit_mb: -1 must be 0"},
		{"2000000", "engine.memory_limit_mb: 2000000 must be"},
	} {
		raw := strings.Replace(string(defaultConfig), "  memory_limit_mb: 2048", "  memory_limit_mb: "+tc.value, 1)
		if _, err := parseConfig([]byte(raw)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("memory_limit_mb %s: %v, want %q", tc.value, err, tc.want)
		}
	}
	raw := strings.Replace(string(defaultConfig), "  memory_limit_mb: 2048", "  memory_limit_mb: 0", 1)
	if c, err := parseConfig([]byte(raw)); err != nil || c.memoryLimitMB() != 0 {
		t.Fatalf("memory_limit_mb 0: %v", err)
	}
}
