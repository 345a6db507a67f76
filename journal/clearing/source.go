package clearing

import (
	"errors"
	"fmt"

	"github.com/cardswitch/cardswitch/journal"
)

var errPastDay = errors.New("clearing: past the day")

// ReadDay streams the records of one closed business day of the stopped
// journal in dir to fn (each valid during the call only), verified as
// journal.Replay verifies them. Records are dated in sequence order, so
// the day is one run: the walk stops at the first record of a later day,
// which is also what proves the day closed (nothing can be added to it
// once a later day has begun). It reads the kept days before it on the
// way (the journal has no seek by date for a stopped journal).
func ReadDay(dir string, date uint32, fn func(*journal.Record) error) (journal.Result, error) {
	seen, closed := uint64(0), false
	res, err := journal.Replay(dir, func(r *journal.Record) error {
		switch {
		case r.BusinessDate < date:
			return nil
		case r.BusinessDate > date:
			closed = true
			return errPastDay
		}
		seen++
		return fn(r)
	})
	if errors.Is(err, errPastDay) {
		err = nil
	}
	switch {
	case err != nil:
		return res, err
	case res.Problem != nil && !closed:
		return res, res.Problem
	case seen == 0:
		return res, fmt.Errorf("clearing: no records of business day %d in the journal (not reached yet, or dropped)", date)
	case !closed:
		return res, fmt.Errorf("clearing: business day %d is not closed: it is the journal's newest day", date)
	}
	return res, nil
}
