// Package bizday maps an instant to its business date (YYYYMMDD): the
// day changes at a configured time of day in a configured time zone, not
// at the process's midnight. It is pure: no I/O after New (which loads the
// zone), no clock (the caller passes the instant), no logging.
//
// The rule. Cutover is the time of day at which the next business day
// begins. "00:00" is midnight: the business date is the calendar date in
// Zone. Any other time T: an instant whose wall clock on calendar day D is
// at or after T belongs to business date D+1; before T, to D. With
// cutover 23:00 in Asia/Shanghai, 2026-12-01 22:59:59 is 20261201 and
// 2026-12-01 23:00:00 and 23:30 are 20261202. A day whose clocks fall back
// over the cutover time stays cut over (the repeated hour is after the
// first pass), and one whose clocks jump over it cuts over at the first
// wall clock after the jump: the date never goes back as time goes on.
//
// Day adds the early cutover: a floor under the calendar's date, raised
// (never lowered) by Advance, read with one atomic load per instant, so a
// transaction's date is decided once, without a lock, and dates never go
// back whatever straddles an early cutover.
//
//	cal, err := bizday.New(bizday.Config{Cutover: "23:00", Zone: "Asia/Shanghai"})
//	if err != nil { ... }
//	day := bizday.NewDay(cal, lastJournaledDate) // the floor survives a restart through the journal
//	date := day.Date(now)                         // per transaction
//	if !day.Ahead(now) {                          // early cutover: at most one day ahead of the calendar
//		next := bizday.Next(day.Date(now))
//		// journal the cutover at next first, then:
//		day.Advance(next)
//	}
package bizday
