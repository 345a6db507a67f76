package bizday

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Defaults (Config.WithDefaults).
const (
	// DefaultCutover is midnight: the business date is the calendar date.
	DefaultCutover = "00:00"
	// DefaultZone is the process's own zone, as the switch dated its days
	// before the setting existed; set a zone by name so that the dates do
	// not depend on the machine's TZ.
	DefaultZone = "Local"
)

// Config is a business-day calendar's setting.
type Config struct {
	// Cutover is the time of day, "HH:MM" (24 hours), at which the next
	// business day begins; default "00:00" (midnight).
	Cutover string
	// Zone is the IANA time zone the cutover time is in ("Asia/Shanghai",
	// "UTC"), or "Local" for the process's zone; default "Local".
	Zone string
}

// WithDefaults returns c with each empty field set to its default.
func (c Config) WithDefaults() Config {
	if c.Cutover == "" {
		c.Cutover = DefaultCutover
	}
	if c.Zone == "" {
		c.Zone = DefaultZone
	}
	return c
}

// Validate checks the cutover time and loads the zone; call it after
// WithDefaults.
func (c Config) Validate() error {
	if _, err := parseCutover(c.Cutover); err != nil {
		return err
	}
	_, err := loadZone(c.Zone)
	return err
}

// ErrCutover is a cutover time that is not "HH:MM".
var ErrCutover = errors.New("bizday: cutover must be HH:MM, 00:00 to 23:59")

func parseCutover(s string) (minutes int, err error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%w: %q", ErrCutover, s)
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q", ErrCutover, s)
		}
	}
	h, m := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("%w: %q", ErrCutover, s)
	}
	return h*60 + m, nil
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return nil, errors.New("bizday: zone is empty")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("bizday: zone %q: %v", name, err)
	}
	return loc, nil
}

// Calendar maps instants to business dates by a cutover time in a zone.
// It is immutable; the zero Calendar is midnight in UTC.
type Calendar struct {
	loc     *time.Location
	cutover int // minutes after midnight; 0: the calendar date
	cfg     Config
}

// New builds the calendar of c, with defaults filled in.
func New(c Config) (Calendar, error) {
	c = c.WithDefaults()
	minutes, err := parseCutover(c.Cutover)
	if err != nil {
		return Calendar{}, err
	}
	loc, err := loadZone(c.Zone)
	if err != nil {
		return Calendar{}, err
	}
	return Calendar{loc: loc, cutover: minutes, cfg: c}, nil
}

// Config is the setting the calendar was built from.
func (c Calendar) Config() Config { return c.cfg }

// Date is the business date (YYYYMMDD) of instant tm.
func (c Calendar) Date(tm time.Time) uint32 {
	loc := c.loc
	if loc == nil {
		loc = time.UTC
	}
	l := tm.In(loc)
	y, m, d := l.Date()
	if c.cutover > 0 && (wall(l) >= c.cutover || c.passedBeforeFallBack(l, y, m, d)) {
		return Next(ymd(y, m, d))
	}
	return ymd(y, m, d)
}

// passedBeforeFallBack reports whether the cutover time was already
// reached earlier on l's calendar day, before the clocks went back past
// it (l then reads a wall clock before the cutover a second time). Only
// the day's last zone change is looked at: no zone changes its offset
// twice in a day.
func (c Calendar) passedBeforeFallBack(l time.Time, y int, m time.Month, d int) bool {
	start, _ := l.ZoneBounds()
	if start.IsZero() {
		return false
	}
	before := start.Add(-time.Nanosecond).In(l.Location())
	by, bm, bd := before.Date()
	return by == y && bm == m && bd == d && wall(before) >= c.cutover
}

func wall(l time.Time) int { return l.Hour()*60 + l.Minute() }

func ymd(y int, m time.Month, d int) uint32 { return uint32(y*10000 + int(m)*100 + d) }

// Next is the calendar day after date (YYYYMMDD).
func Next(date uint32) uint32 {
	y, m, d := int(date/10000), time.Month(date/100%100), int(date%100)
	return ymd(time.Date(y, m, d+1, 12, 0, 0, 0, time.UTC).Date())
}

// Day is a calendar with a floor: the business date of an instant is the
// later of the calendar's date and the floor, which early cutovers raise.
// Safe for concurrent use; Date is one atomic load and the calendar's
// arithmetic, no lock.
type Day struct {
	cal   Calendar
	floor atomic.Uint32 // YYYYMMDD; only raised
}

// NewDay is cal with floor (0: none), for example the newest business
// date in the journal at a restart, so an early cutover outlives it.
func NewDay(cal Calendar, floor uint32) *Day {
	d := &Day{cal: cal}
	d.floor.Store(floor)
	return d
}

// Calendar is the calendar under the floor.
func (d *Day) Calendar() Calendar { return d.cal }

// Date is the business date of instant tm.
func (d *Day) Date(tm time.Time) uint32 { return max(d.cal.Date(tm), d.floor.Load()) }

// Floor is the date early cutovers (or the journal at start) have set.
func (d *Day) Floor() uint32 { return d.floor.Load() }

// Ahead reports whether the business date at tm is later than the
// calendar's: an early cutover has happened and the calendar has not yet
// caught up with it.
func (d *Day) Ahead(tm time.Time) bool { return d.floor.Load() > d.cal.Date(tm) }

// Advance raises the floor to date, if it is later, and reports whether
// it did; the floor never goes back.
func (d *Day) Advance(date uint32) bool {
	for {
		cur := d.floor.Load()
		if date <= cur {
			return false
		}
		if d.floor.CompareAndSwap(cur, date) {
			return true
		}
	}
}
