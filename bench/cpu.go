package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU is the server's CPU time over a run's measured window, per message
// answered as planned (approvals for purchases): a figure that does not
// depend on how busy the machine is, unlike the throughput.
type CPU struct {
	// Scope says whose CPU it is: the whole bench process (an in-process
	// target: the server and the generator together, so an upper bound on
	// the server's own), or a server process by its PID.
	Scope        string  `json:"scope"`
	Seconds      float64 `json:"seconds"`        // user + system time over the measured window
	MicrosPerMsg float64 `json:"us_per_planned"` // Seconds over the answers as planned, in microseconds
}

// CPUSampler returns a process's CPU time so far (user + system).
type CPUSampler func() (time.Duration, error)

// ProcessScope names the whole-process figure in reports.
const ProcessScope = "this process: server and generator"

// PIDCPU samples the CPU time of process pid from /proc/pid/stat (utime
// and stime, in clock ticks of 1/100 s: Linux's USER_HZ everywhere Go runs
// it), so a run against a remote switch on this machine reports its CPU.
func PIDCPU(pid int) CPUSampler {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	return func() (time.Duration, error) {
		raw, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		return parseStatCPU(string(raw))
	}
}

// parseStatCPU reads fields 14 and 15 (utime, stime) of a /proc/pid/stat
// line. The command name (field 2) is in parentheses and may hold spaces
// or parentheses, so fields are counted after its last ')'.
func parseStatCPU(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: /proc stat line without a command name")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: /proc stat line has %d fields after the name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] { // fields 14 and 15
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bench: /proc stat CPU time %q", s)
		}
		ticks += n
	}
	const userHZ = 100
	return time.Duration(ticks) * (time.Second / userHZ), nil
}

// cpuReport is the CPU figure of a run: used over the answers as planned.
func cpuReport(scope string, used time.Duration, planned int64) *CPU {
	c := &CPU{Scope: scope, Seconds: used.Seconds()}
	if planned > 0 {
		c.MicrosPerMsg = float64(used.Microseconds()) / float64(planned)
	}
	return c
}
