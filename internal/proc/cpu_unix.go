//go:build unix

package proc

import (
	"syscall"
	"time"
)

// CPU is this process's CPU time so far: user + system, every thread
// (getrusage).
func CPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
