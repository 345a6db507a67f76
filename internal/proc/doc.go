// Package proc reads facts about this process that the benchmarks and the
// allocation tests of several packages need: its CPU time (user + system,
// every thread), a figure that moves far less than the wall clock when
// other work shares the machine, and whether the race detector is on
// (under it sync.Pool drops items at random, so allocation counts that
// rely on a pool cannot be pinned).
package proc
