package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cardswitch/cardswitch/bench"
)

// stanLedger is the machine's STAN counters by terminal, which bench and
// send share so neither repeats a STAN the switch has seen today (it
// answers a repeated terminal, STAN and date 94): a file in the user's
// cache directory ($XDG_CACHE_HOME/cardswitch/stans.json).
func stanLedger() (*bench.Ledger, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	return &bench.Ledger{Path: filepath.Join(dir, "cardswitch", "stans.json")}, nil
}

// benchSTANs is the ledger, or when it cannot be kept (no cache
// directory, read-only), counters for this run starting at random
// STANs, with a warning.
func benchSTANs(stderr io.Writer) bench.STANSource {
	l, err := stanLedger()
	if err == nil {
		err = l.Release("", 0, 0, 0) // reads and writes it: usable?
	}
	if err != nil {
		fmt.Fprintf(stderr, "warning: STANs start at random and may repeat an earlier run's: %v\n", err)
		return &bench.MemorySTANs{}
	}
	return l
}

// sendSTAN is the next STAN of terminal from the ledger, or from the
// clock when the ledger cannot be kept.
func sendSTAN(terminal string, now time.Time) string {
	if l, err := stanLedger(); err == nil {
		if first, _, _, err := l.Reserve(terminal, 1); err == nil {
			return fmt.Sprintf("%06d", first)
		}
	}
	return fmt.Sprintf("%06d", now.UnixNano()/1000%1000000)
}
