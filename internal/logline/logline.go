// Package logline holds what the switch's rate-limited log lines share: a
// limiter lets a few lines of a kind through and counts the ones it held
// back, and the next line that gets through says how many.
//
//	if n, ok := limit.allow(now); ok {
//		logline.Held(log.Warn().Str("remote", remote), "suppressed", n).Msg("connection refused")
//	}
package logline

// Held adds key = n to a log line when n > 0: how many lines of its kind
// were held back before it. A line with none held back (the first, or any
// after a quiet spell) carries no such field, so a quiet log is not
// littered with "suppressed":0. E is a zerolog event (*zerolog.Event): the
// constraint names the one method used, so that internal/ stays free of
// zerolog (internal/deptest).
func Held[E interface{ Int64(key string, i int64) E }](e E, key string, n int64) E {
	if n > 0 {
		return e.Int64(key, n)
	}
	return e
}
