//go:build unix

package journal

import (
	"syscall"
	"time"
)

// processCPU is this process's CPU time (user + system), for the
// benchmarks' CPU per record: a figure that does not move with how busy
// the machine is.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
