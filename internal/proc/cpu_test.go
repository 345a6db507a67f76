package proc

import (
	"runtime"
	"testing"
	"time"
)

func TestCPUGrowsWithWork(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("read on Unix only")
	}
	before, err := CPU()
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; x++ { // burn CPU, not sleep
	}
	after, err := CPU()
	if err != nil || after <= before || x == 0 {
		t.Fatalf("CPU %v then %v (%v)", before, after, err)
	}
}
