package engine

import (
	"fmt"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/bizday"
	"github.com/cardswitch/cardswitch/journal"
)

// netCutover is the network management code (field 70) of an early
// cutover: the peer closes the business day now.
const netCutover = 201

// CutoverRoute is the Route of the journal record an early cutover writes
// (MTI 0800, response 00, BusinessDate the new date, Link who asked:
// "admin" or the link of the 0800).
const CutoverRoute = "cutover"

// businessDay is the server's business day: d.Day, or cfg's calendar with
// the journal's newest date as its floor.
func businessDay(cfg bizday.Config, d Deps) (*bizday.Day, error) {
	if d.Day != nil {
		if got := d.Day.Calendar().Config(); got != cfg {
			return nil, fmt.Errorf("engine: the business day given (%+v) is not business_day's (%+v)", got, cfg)
		}
		return d.Day, nil
	}
	cal, err := bizday.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("business_day: %v", err)
	}
	var floor uint32
	if rj, ok := d.Journal.(JournalStage); ok && rj.J != nil {
		floor = rj.J.Last().Date
	}
	return bizday.NewDay(cal, floor), nil
}

// Cutover is what an early cutover did.
type Cutover struct {
	From, To uint32 // business dates before and after
	// Moved is false when the business day had already been cut over early
	// and the calendar has not caught up yet (To is then the current date):
	// an early cutover moves the day at most one day ahead of the calendar,
	// so a repeated request does not skip a day.
	Moved bool
	Seq   uint64 // the cutover's journal record (0: none written)
}

// BusinessDay is the calendar and floor the server dates requests by.
func (s *Server) BusinessDay() *bizday.Day { return s.day }

// BusinessDate is the business date of a request received now.
func (s *Server) BusinessDate() uint32 { return s.day.Date(s.clock.Now()) }

// Cutover closes the current business day now, without pausing traffic:
// it journals a cutover record dated the next day and waits for it to be
// durable, and only then raises the day's floor, so the cutover outlives a
// restart (the floor is then the journal's newest date) before anyone
// hears of it. Requests received meanwhile keep the old date, and the
// journal dates any that commit after the cutover record in the new day
// (a late record of yesterday counts in today): each record is in one day,
// and dates never go back in sequence order. by names who asked (a link,
// "admin"). A journal that fails leaves the day as it was.
func (s *Server) Cutover(by string) (Cutover, error) {
	s.cutMu.Lock()
	defer s.cutMu.Unlock()
	now := s.clock.Now()
	cur := s.day.Date(now)
	if s.day.Ahead(now) {
		return Cutover{From: cur, To: cur}, nil
	}
	c := Cutover{From: cur, To: bizday.Next(cur), Moved: true}
	if rj, ok := s.journal.(JournalStage); ok && rj.J != nil {
		rec := journal.Record{BusinessDate: c.To, Received: now.UnixNano(), Decided: now.UnixNano(), Link: by,
			MTI: codec.MTI{'0', '8', '0', '0'}, RespCode: [2]byte{'0', '0'}, Route: CutoverRoute}
		w := make(waitErr, 1)
		rj.J.Append(&rec, w)
		if err := <-w; err != nil {
			return Cutover{From: cur, To: cur}, fmt.Errorf("engine: cutover not journaled: %w", err)
		}
		c.To, c.Seq = rec.BusinessDate, rec.Seq // the committer's date: never earlier than asked
	}
	s.day.Advance(c.To)
	s.lastCut = max(s.lastCut, c.To)
	s.log.Warn().Str("by", by).Uint32("from", c.From).Uint32("to", c.To).Uint64("seq", c.Seq).Msg("business day cut over early")
	return c, nil
}

// isCutover reports an 0800 with network management code 201.
func isCutover(v *codec.View) bool {
	code, ok := v.NetworkCode()
	return ok && code == netCutover
}

// cutoverRequest runs an 0800 cutover on a worker (journaling it waits):
// 00 once it is journaled, 96 if the journal refused it.
func (s *Server) cutoverRequest(t *Txn) {
	if _, err := s.Cutover(t.Link.cfg.Name); err != nil {
		s.log.Error().Err(err).Str("link", t.Link.cfg.Name).Msg("cutover by 0800 failed: the business day is unchanged")
		t.Fail(ErrSystem)
		return
	}
	t.Route.Rule = CutoverRoute
	t.BusinessDate = s.day.Date(s.clock.Now()) // the 0800's own record is in the new day
	t.SetCode("00")
}

// CalendarCutoverLink is the Link of the cutover record the calendar's
// own cutover writes (CutoverRoute, as an early one's).
const CalendarCutoverLink = "calendar"

// calendarTick is how often the calendar's cutover is looked for: the
// record that seals the day it closes follows the cutover time by at
// most this (traffic after it seals the day anyway).
const calendarTick = time.Second

// startCalendar starts the goroutine that journals a cutover record when
// the calendar's cutover time passes (or, at a start, has passed since
// the journal's newest record): the day it closes is sealed at once, not
// at the first request of the next. A journal that fails is tried again
// at the next tick.
func (s *Server) startCalendar() {
	rj, ok := s.journal.(JournalStage)
	if !ok || rj.J == nil {
		return
	}
	s.cutMu.Lock()
	s.lastCut = s.day.Floor() // the journal's newest date (0: an empty journal)
	if s.lastCut == 0 {
		s.lastCut = s.day.Date(s.clock.Now())
	}
	s.cutMu.Unlock()
	s.calStop, s.calDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.calDone)
		t := time.NewTicker(calendarTick)
		defer t.Stop()
		for {
			select {
			case <-s.calStop:
				return
			case <-t.C:
				s.calendarCutover(rj.J)
			}
		}
	}()
}

func (s *Server) stopCalendar() {
	if s.calStop != nil {
		close(s.calStop)
		<-s.calDone
	}
}

// calendarCutover journals the calendar's cutover when the business date
// has moved past the last one a cutover record opened.
func (s *Server) calendarCutover(j *journal.Journal) {
	s.cutMu.Lock()
	defer s.cutMu.Unlock()
	now := s.clock.Now()
	d := s.day.Date(now)
	if d <= s.lastCut {
		return
	}
	rec := journal.Record{BusinessDate: d, Received: now.UnixNano(), Decided: now.UnixNano(), Link: CalendarCutoverLink,
		MTI: codec.MTI{'0', '8', '0', '0'}, RespCode: [2]byte{'0', '0'}, Route: CutoverRoute}
	w := make(waitErr, 1)
	j.Append(&rec, w)
	if err := <-w; err != nil {
		s.log.Error().Err(err).Uint32("date", d).Msg("calendar cutover not journaled: tried again in a second")
		return
	}
	from := s.lastCut
	s.lastCut = rec.BusinessDate
	s.log.Info().Uint32("from", from).Uint32("to", rec.BusinessDate).Uint64("seq", rec.Seq).
		Msg("business day cut over by the calendar: the day before is sealed")
}
