package engine

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/bizday"
	"github.com/cardswitch/cardswitch/internal/clock"
	"github.com/cardswitch/cardswitch/journal"
)

// evening is 2026-12-01 21:00 in Shanghai: business date 20261201 under
// a 23:00 cutover there.
var evening = time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)

func cutoverNetMsg(t testing.TB, stan int) []byte {
	t.Helper()
	d, _ := codec.Lookup(codec.ISO87ASCII)
	msg, err := d.Encode(codec.Message{MTI: "0800", Fields: map[string]string{"7": "1201130000", "11": fmt.Sprintf("%06d", stan), "70": "201"}})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func startCutoverServer(t *testing.T, accept bool, auth Authorizer) (*testServer, *journal.Journal, *clock.Fake) {
	t.Helper()
	j, js := journalFor(t)
	clk := clock.NewFake(evening)
	ts := startServerOn(t, clk, auth, func(c *Config) {
		c.testJournal = js
		c.BusinessDay = bizday.Config{Cutover: "23:00", Zone: "Asia/Shanghai"}
		c.Links[0].AcceptCutover = accept
	})
	return ts, j, clk
}

func cutoverRecords(recs []journal.Record) []journal.Record {
	var out []journal.Record
	for _, r := range recs {
		if r.Route == CutoverRoute && r.MTI == [4]byte{'0', '8', '0', '0'} && r.Conn == 0 {
			out = append(out, r)
		}
	}
	return out
}

// TestCutoverBy0800: a link without accept_cutover answers 12 and leaves
// the day; one with it answers 00 once the cutover record is durable,
// dated the next day; a second 0800 before the calendar catches up
// answers 00 and moves nothing.
func TestCutoverBy0800(t *testing.T) {
	ts, j, _ := startCutoverServer(t, false, nil)
	c := ts.dial(t)
	r, err := c.RoundTrip(cutoverNetMsg(t, 1), 5*time.Second)
	if err != nil || r.View.MTI().String() != "0810" || field(r, 39) != "12" {
		t.Fatalf("refused link: %v %q", err, field(r, 39))
	}
	if ts.BusinessDate() != 20261201 || len(cutoverRecords(records(t, j))) != 0 {
		t.Fatalf("a refused cutover moved the day: %d", ts.BusinessDate())
	}

	var dated atomic.Uint32 // the date the authorizer saw
	ts, j, _ = startCutoverServer(t, true, authFunc(func(t *Txn) { dated.Store(t.BusinessDate); t.SetCode("00") }))
	c = ts.dial(t)
	if ts.BusinessDate() != 20261201 {
		t.Fatalf("calendar: %d", ts.BusinessDate())
	}
	r, err = c.RoundTrip(cutoverNetMsg(t, 2), 5*time.Second)
	if err != nil || r.View.MTI().String() != "0810" || field(r, 39) != "00" {
		t.Fatalf("cutover: %v %q", err, field(r, 39))
	}
	// answered only once durable: the record is in the journal already
	cut := cutoverRecords(records(t, j))
	if len(cut) != 1 || cut[0].BusinessDate != 20261202 || cut[0].Link != "pos" || cut[0].RespCode != [2]byte{'0', '0'} {
		t.Fatalf("cutover records %+v", cut)
	}
	if ts.BusinessDate() != 20261202 {
		t.Fatalf("after the cutover: %d", ts.BusinessDate())
	}
	if r, err := c.RoundTrip(purchase(t, 9, 100), 5*time.Second); err != nil || field(r, 39) != "00" || dated.Load() != 20261202 {
		t.Fatalf("a request after the cutover: %v %q, dated %d", err, field(r, 39), dated.Load())
	}
	r, err = c.RoundTrip(cutoverNetMsg(t, 3), 5*time.Second)
	if err != nil || field(r, 39) != "00" {
		t.Fatalf("repeat: %v %q", err, field(r, 39))
	}
	if n := len(cutoverRecords(records(t, j))); n != 1 || ts.BusinessDate() != 20261202 {
		t.Fatalf("a repeated cutover moved the day again: %d records, date %d", n, ts.BusinessDate())
	}
	if got, err := ts.Cutover("admin"); err != nil || got.Moved || got.To != 20261202 {
		t.Fatalf("admin cutover while ahead: %+v %v", got, err)
	}
}

// TestCutoverUnderLoad: purchases on several connections while cutovers
// happen (one early one by 0800, then the calendar's own at 23:00, then
// an early one by the admin call): every request is answered and
// journaled once, in one business day, dates never go back in sequence
// order, and each cutover record's date begins its day.
func TestCutoverUnderLoad(t *testing.T) {
	ts, j, clk := startCutoverServer(t, true, nil)
	const conns, each = 6, 150
	var wg, clients sync.WaitGroup
	var answered atomic.Int64
	errs := make(chan error, conns+1)
	for k := range conns {
		c := ts.dial(t)
		wg.Add(1)
		clients.Add(1)
		go func() {
			defer wg.Done()
			defer clients.Done()
			for i := range each {
				stan := 1000 + k*each + i
				r, err := c.RoundTrip(purchase(t, stan, 100), 10*time.Second)
				if err != nil {
					errs <- fmt.Errorf("stan %d: %v", stan, err)
					return
				}
				if field(r, 39) != "00" {
					errs <- fmt.Errorf("stan %d: %q", stan, field(r, 39))
					return
				}
				answered.Add(1)
			}
		}()
	}
	host := ts.dial(t)
	stopped := make(chan struct{}) // every client has ended: one that failed never brings answered to n
	go func() { clients.Wait(); close(stopped) }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		reach := func(n int64) { // cut over while requests are in flight
			for answered.Load() < n {
				select {
				case <-stopped:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}
		reach(conns * each / 4)
		r, err := host.RoundTrip(cutoverNetMsg(t, 1), 10*time.Second)
		if err != nil || field(r, 39) != "00" {
			errs <- fmt.Errorf("0800 cutover: %v %q", err, field(r, 39))
			return
		}
		reach(conns * each / 2)
		clk.Advance(2*time.Hour + 30*time.Minute) // 23:30 Shanghai: the calendar says 20261202 too
		reach(conns * each * 3 / 4)
		if c, err := ts.Cutover("admin"); err != nil || !c.Moved || c.To != 20261203 {
			errs <- fmt.Errorf("admin cutover: %+v %v", c, err)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	recs := records(t, j)
	seen, days := map[uint32]int{}, map[uint32]int{}
	var prev uint32
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has sequence %d", i, r.Seq)
		}
		if r.BusinessDate < prev {
			t.Fatalf("sequence %d dated %d after %d", r.Seq, r.BusinessDate, prev)
		}
		if r.BusinessDate < 20261201 || r.BusinessDate > 20261203 {
			t.Fatalf("sequence %d dated %d", r.Seq, r.BusinessDate)
		}
		prev = r.BusinessDate
		if r.MTI == [4]byte{'0', '2', '0', '0'} {
			seen[r.STAN]++
			days[r.BusinessDate]++
		}
	}
	for k := range conns * each {
		if n := seen[uint32(1000+k)]; n != 1 {
			t.Fatalf("stan %d journaled %d times", 1000+k, n)
		}
	}
	for _, d := range []uint32{20261201, 20261202, 20261203} {
		if days[d] == 0 {
			t.Errorf("no purchase in %d: the cutovers did not straddle the load (%v)", d, days)
		}
	}
	cut := cutoverRecords(recs)
	if len(cut) != 2 || cut[0].BusinessDate != 20261202 || cut[1].BusinessDate != 20261203 || cut[1].Link != "admin" {
		t.Fatalf("cutover records %+v", cut)
	}
	for _, c := range cut { // a cutover record begins its day: nothing before it has its date
		if c.Seq > 1 && recs[c.Seq-2].BusinessDate >= c.BusinessDate {
			t.Fatalf("record before the cutover at %d is dated %d", c.Seq, recs[c.Seq-2].BusinessDate)
		}
	}
	if ts.BusinessDate() != 20261203 {
		t.Fatalf("business date %d", ts.BusinessDate())
	}
}
