//go:build race

package journal

// raceEnabled: under the race detector sync.Pool drops items at random,
// so allocation counts that rely on a pool are not pinned.
const raceEnabled = true
