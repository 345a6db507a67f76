package main

import (
	"os"
	"runtime/debug"

	"github.com/rs/zerolog"
)

// defaultMemoryLimitMB is engine.memory_limit_mb unset. The switch's
// memory is bounded piece by piece (per connection, across connections,
// the queues, the journal's memtables and Badger's pool of table builders);
// the Go collector lets the heap grow to twice what is live before it
// runs, so without a limit the process can take twice its bound. Like a
// JVM's -Xmx, but soft: near the limit the collector runs more often (at
// most half the CPU), and nothing fails. It sits well above what a month
// of traffic keeps live (make soak: 0.6 to 1 GB, most of it Badger's
// builders), so that the collector never runs without pause.
const defaultMemoryLimitMB = 2048

// minMemoryLimitMB is the smallest limit taken: below it the collector
// would run all the time for a switch at rest.
const minMemoryLimitMB = 256

// applyMemoryLimit sets the runtime's soft memory limit to mb MiB (0: none).
// GOMEMLIMIT in the environment wins, as the runtime documents: it was set
// by whoever runs the process (a container's memory, a unit file).
func applyMemoryLimit(mb int64, log zerolog.Logger) {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		log.Info().Str("GOMEMLIMIT", env).Int64("engine_memory_limit_mb", mb).
			Msg("memory limit from the environment (GOMEMLIMIT); engine.memory_limit_mb not applied")
		return
	}
	if mb == 0 {
		debug.SetMemoryLimit(1<<63 - 1) // the runtime's "no limit"
		return
	}
	debug.SetMemoryLimit(mb << 20)
}

// memoryLimitMB is engine.memory_limit_mb, its default when unset.
func (c *config) memoryLimitMB() int64 {
	if p := c.file.Engine.MemoryLimitMB; p != nil {
		return *p
	}
	return defaultMemoryLimitMB
}
