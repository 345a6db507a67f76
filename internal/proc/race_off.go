//go:build !race

package proc

// Race reports a build with the race detector.
const Race = false
