package engine

import (
	"fmt"
	"syscall"
)

// fdReserve is what the process keeps for itself beside the links'
// connections: the journal's files, the HSM's connections, the admin port,
// snapshots and exports, listeners and the runtime's own.
const fdReserve = 512

// fdPlan is what the start does with the open-file limit: the soft limit to
// set (up to the hard one) and the connections all links together may hold,
// so that accept never fails with EMFILE (gnet shuts a link down on it).
type fdPlan struct {
	soft     uint64 // the soft limit to set (0: leave it)
	maxConns int64  // connections the links may hold together
	warning  string // why max_conns cannot all be had, if they cannot
}

// planFDs sizes the open-file limit for want connections (the sum of the
// links' max_conns). Pure: the caller reads and sets the limit.
func planFDs(want int64, soft, hard uint64) fdPlan {
	need := uint64(want) + fdReserve
	p := fdPlan{maxConns: want}
	if up := min(need, hard); up > soft {
		p.soft, soft = up, up
	}
	if soft < need {
		p.maxConns = max(int64(soft)-fdReserve, 1)
		p.warning = fmt.Sprintf("the open-file limit (ulimit -n %d, hard %d) is short of the links' max_conns (%d) and %d for the rest: "+
			"at most %d connections are taken together; raise the hard limit (LimitNOFILE) or lower max_conns", soft, hard, want, fdReserve, p.maxConns)
	}
	return p
}

// applyFDLimit raises the soft open-file limit as far as the links need
// and returns the connections they may hold together.
func applyFDLimit(want int64) (int64, string, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return want, "", err
	}
	p := planFDs(want, rl.Cur, rl.Max)
	if p.soft > rl.Cur {
		rl.Cur = p.soft
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return planFDs(want, rl.Cur, rl.Cur).maxConns, "", err
		}
	}
	return p.maxConns, p.warning, nil
}
