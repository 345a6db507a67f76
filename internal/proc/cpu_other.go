//go:build !unix

package proc

import (
	"errors"
	"time"
)

// CPU is this process's CPU time so far: read on Unix only.
func CPU() (time.Duration, error) {
	return 0, errors.New("proc: process CPU time is read on Unix only")
}
