package bizday

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func mustNew(t *testing.T, cutover, zone string) Calendar {
	t.Helper()
	c, err := New(Config{Cutover: cutover, Zone: zone})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestDateAtCutover(t *testing.T) {
	sh := mustNew(t, "23:00", "Asia/Shanghai")
	for _, c := range []struct {
		when string
		want uint32
	}{
		{"2026-12-01 00:00:00", 20261201},
		{"2026-12-01 22:59:00", 20261201}, // a minute before
		{"2026-12-01 22:59:59", 20261201},
		{"2026-12-01 23:00:00", 20261202}, // exactly at the cutover
		{"2026-12-01 23:30:00", 20261202},
		{"2026-12-01 23:59:59", 20261202},
		{"2026-12-02 00:00:00", 20261202},
		{"2026-12-02 22:59:59", 20261202},
		{"2026-12-31 23:00:00", 20270101}, // year end
		{"2028-02-28 23:00:00", 20280229}, // leap day
		{"2028-02-29 23:00:00", 20280301},
	} {
		if got := sh.Date(at(t, "Asia/Shanghai", c.when)); got != c.want {
			t.Errorf("%s Shanghai: %d, want %d", c.when, got, c.want)
		}
	}
	// the same instants seen from another zone: the calendar's zone decides
	if got := sh.Date(at(t, "UTC", "2026-12-01 15:00:00")); got != 20261202 {
		t.Errorf("15:00 UTC (23:00 Shanghai): %d", got)
	}
	if got := sh.Date(at(t, "UTC", "2026-12-01 14:59:00")); got != 20261201 {
		t.Errorf("14:59 UTC: %d", got)
	}
}

func TestMidnightIsTheCalendarDate(t *testing.T) {
	c := mustNew(t, "", "UTC")
	if c.Config() != (Config{Cutover: "00:00", Zone: "UTC"}) {
		t.Fatalf("defaults: %+v", c.Config())
	}
	for when, want := range map[string]uint32{"2026-12-01 00:00:00": 20261201, "2026-12-01 23:59:59": 20261201, "2026-12-02 00:00:00": 20261202} {
		if got := c.Date(at(t, "UTC", when)); got != want {
			t.Errorf("%s: %d, want %d", when, got, want)
		}
	}
	var zero Calendar // midnight UTC
	if got := zero.Date(at(t, "Asia/Shanghai", "2026-12-02 07:00:00")); got != 20261201 {
		t.Errorf("zero calendar: %d", got)
	}
}

// TestDST: America/New_York changes its clocks at 02:00 on 2026-03-08
// (to 03:00) and on 2026-11-01 (back to 01:00).
func TestDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// spring: 02:30 never happens; the day cuts over at 03:00 EDT
	spring := mustNew(t, "02:30", "America/New_York")
	jump := time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC) // 03:00 EDT, the instant after 01:59:59.999 EST
	for _, c := range []struct {
		tm   time.Time
		want uint32
	}{
		{jump.Add(-time.Nanosecond), 20260308},
		{jump, 20260309},
		{jump.Add(time.Hour), 20260309},
	} {
		if got := spring.Date(c.tm); got != c.want {
			t.Errorf("spring %s: %d, want %d", c.tm.In(ny), got, c.want)
		}
	}
	// autumn: 01:30 happens twice; the first one cuts over, and the
	// repeated hour (01:00 to 01:59 EST) stays in the next day
	autumn := mustNew(t, "01:30", "America/New_York")
	first := time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC) // 01:30 EDT
	for _, c := range []struct {
		tm   time.Time
		want uint32
	}{
		{first.Add(-time.Minute), 20261101},                       // 01:29 EDT
		{first, 20261102},                                         // 01:30 EDT
		{first.Add(30 * time.Minute), 20261102},                   // 01:00 EST, the clocks back
		{first.Add(59 * time.Minute), 20261102},                   // 01:29 EST
		{first.Add(time.Hour), 20261102},                          // 01:30 EST
		{time.Date(2026, 11, 2, 6, 29, 0, 0, time.UTC), 20261102}, // 01:29 EST next day
		{time.Date(2026, 11, 2, 6, 30, 0, 0, time.UTC), 20261103},
	} {
		if got := autumn.Date(c.tm); got != c.want {
			t.Errorf("autumn %s: %d, want %d", c.tm.In(ny), got, c.want)
		}
	}
	// a cutover after the change that day is only passed once
	late := mustNew(t, "23:00", "America/New_York")
	if got := late.Date(first.Add(30 * time.Minute)); got != 20261101 {
		t.Errorf("23:00 cutover, 01:00 EST: %d", got)
	}
	// dates never go back, minute by minute through both change days
	for _, c := range []Calendar{spring, autumn, late, mustNew(t, "02:00", "America/New_York"), mustNew(t, "01:00", "America/New_York")} {
		for _, day := range []time.Time{time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC)} {
			prev := c.Date(day)
			for tm := day; tm.Before(day.Add(48 * time.Hour)); tm = tm.Add(time.Minute) {
				d := c.Date(tm)
				if d < prev || d > Next(prev) {
					t.Fatalf("%s cutover %s: %d after %d", tm.In(ny), c.Config().Cutover, d, prev)
				}
				prev = d
			}
		}
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, c := range []Config{
		{Cutover: "23", Zone: "UTC"}, {Cutover: "24:00", Zone: "UTC"}, {Cutover: "23:60", Zone: "UTC"},
		{Cutover: "2300", Zone: "UTC"}, {Cutover: "23:0a", Zone: "UTC"}, {Cutover: " 3:00", Zone: "UTC"},
		{Cutover: "-1:00", Zone: "UTC"},
	} {
		if err := c.Validate(); !errors.Is(err, ErrCutover) {
			t.Errorf("%+v: %v", c, err)
		}
		if _, err := New(c); !errors.Is(err, ErrCutover) {
			t.Errorf("New %+v: %v", c, err)
		}
	}
	for _, z := range []string{"Mars/Olympus", "Asia/Shang hai"} {
		if err := (Config{Cutover: "23:00", Zone: z}).Validate(); err == nil {
			t.Errorf("zone %q accepted", z)
		}
	}
	if err := (Config{Cutover: "23:00"}).Validate(); err == nil {
		t.Error("empty zone accepted without defaults")
	}
	for _, c := range []Config{{Cutover: "00:00", Zone: "UTC"}, {Cutover: "23:59", Zone: "Local"}, {Cutover: "07:05", Zone: "Europe/London"}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestNext(t *testing.T) {
	for in, want := range map[uint32]uint32{20261201: 20261202, 20261130: 20261201, 20261231: 20270101, 20280228: 20280229, 20270228: 20270301} {
		if got := Next(in); got != want {
			t.Errorf("Next(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestDayFloor(t *testing.T) {
	cal := mustNew(t, "23:00", "Asia/Shanghai")
	evening := at(t, "Asia/Shanghai", "2026-12-01 21:00:00")
	d := NewDay(cal, 20261130)
	if d.Date(evening) != 20261201 || d.Ahead(evening) {
		t.Fatalf("an older floor changes nothing: %d %v", d.Date(evening), d.Ahead(evening))
	}
	if !d.Advance(20261202) || d.Date(evening) != 20261202 || !d.Ahead(evening) {
		t.Fatalf("early cutover: %d %v", d.Date(evening), d.Ahead(evening))
	}
	if d.Advance(20261201) || d.Floor() != 20261202 {
		t.Fatalf("the floor went back: %d", d.Floor())
	}
	// the calendar catches up at 23:00: no second change of date
	if got := d.Date(at(t, "Asia/Shanghai", "2026-12-01 23:30:00")); got != 20261202 || d.Ahead(at(t, "Asia/Shanghai", "2026-12-01 23:30:00")) {
		t.Fatalf("after the cutover time: %d", got)
	}
	// concurrent advances: the floor ends at the highest
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.Advance(20261203 + uint32(i))
		}()
	}
	wg.Wait()
	if d.Floor() != 20261210 {
		t.Fatalf("floor %d", d.Floor())
	}
}
