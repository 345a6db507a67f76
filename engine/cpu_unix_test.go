//go:build unix

package engine

import (
	"syscall"
	"time"
)

// processCPU is this process's CPU time (user + system), for benchmarks
// that report CPU per operation: a figure that moves less than the wall
// clock when other work shares the machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
