package sim

import (
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// pipe sends n purchases with STANs from first on conn from a second
// goroutine and reads n replies, calling check on each.
func pipe(t testing.TB, is *Issuer, first, n int, check func(codec.Message)) {
	conn := dial(t, is)
	d := is.Dialect()
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = encode(t, d, purchase(first+i, 100, demoPAN))
	}
	go func() {
		for _, f := range frames {
			if conn.Write(f) != nil {
				return
			}
		}
	}()
	for i := 0; i < n; i++ {
		r, err := conn.Read(time.Now().Add(ioTimeout))
		if err != nil {
			t.Error(err)
			return
		}
		check(r.View.ToMessage(false))
	}
}

// Ten thousand replies waiting for their latency cost heap entries, not
// goroutines: while they wait the process has the issuer's few goroutines
// (two per connection, the scheduler, the accept loop) and the test's; and
// with a shorter latency all ten thousand are answered, each once.
func TestTenThousandInFlight(t *testing.T) {
	const conns, perConn = 8, 1250
	base := runtime.NumGoroutine()
	is := startIssuer(t, Config{Dialect: "iso87ascii", Framing: "binary2", Rules: Rules{Latency: "10m"}})
	for c := 0; c < conns; c++ {
		conn := dial(t, is)
		go func() {
			for i := 0; i < perConn; i++ {
				if conn.Write(encode(t, is.Dialect(), purchase(c*perConn+i, 100, demoPAN))) != nil {
					return
				}
			}
		}()
	}
	waitFor(t, "10,000 replies waiting", func() bool { return is.Stats().InFlight == conns*perConn })
	extra := runtime.NumGoroutine() - base
	t.Logf("%d replies in flight, %d goroutines more than before the issuer (%d connections)", is.Stats().InFlight, extra, conns)
	if extra > 2*conns+2+conns+5 { // the issuer's, the test's writers (done or nearly), a margin
		t.Errorf("%d goroutines for %d replies in flight", extra, conns*perConn)
	}
	is.Close() // drops what waits, and returns
	if st := is.Stats(); st.InFlight != 0 || st.AnsweredTotal() != 0 {
		t.Errorf("after Close: %+v", st)
	}

	is = startIssuer(t, Config{Dialect: "iso87ascii", Framing: "binary2", Rules: Rules{Latency: "uniform 100ms 300ms"}})
	seen := make(map[string]bool, conns*perConn)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pipe(t, is, c*perConn, perConn, func(m codec.Message) {
				mu.Lock()
				defer mu.Unlock()
				if seen[m.Fields["11"]] || m.Fields["39"] != "00" {
					t.Errorf("STAN %s answered %s, twice: %v", m.Fields["11"], m.Fields["39"], seen[m.Fields["11"]])
				}
				seen[m.Fields["11"]] = true
			})
		}()
	}
	wg.Wait()
	if st := is.Stats(); len(seen) != conns*perConn || st.Answered["00"] != conns*perConn || st.InFlight != 0 {
		t.Errorf("%d distinct replies; stats %+v", len(seen), st)
	}
}

// MaxInFlight holds: with room for 10 waiting replies, the 11th request's
// connection stops being read until one is sent, and all are answered.
func TestMaxInFlight(t *testing.T) {
	is := startIssuer(t, Config{Dialect: "iso87ascii", Framing: "binary2", MaxInFlight: 10, Rules: Rules{Latency: "20ms"}})
	most := 0
	pipe(t, is, 0, 200, func(m codec.Message) {
		most = max(most, is.Stats().InFlight)
	})
	if st := is.Stats(); st.Answered["00"] != 200 || most > 10 {
		t.Errorf("at most %d in flight (want <= 10); stats %+v", most, st)
	}
}

// BenchmarkClosedLoop: 64 connections with 16 requests in flight each,
// no latency; answers/s is what a switch can get from one simulator on
// this machine (the load generator shares its CPUs).
func BenchmarkClosedLoop(b *testing.B) {
	const conns, window = 64, 16
	is := startIssuer(b, Config{Dialect: "iso87ascii", Framing: "binary2"})
	d, f := is.Dialect(), is.Framing()
	frames := make([][]byte, 64)
	for i := range frames {
		fr, err := f.Append(nil, nil, encode(b, d, purchase(i, 100, demoPAN)))
		if err != nil {
			b.Fatal(err)
		}
		frames[i] = fr
	}
	ncs := make([]net.Conn, conns)
	for i := range ncs {
		nc, err := net.Dial("tcp", is.Addr())
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		ncs[i] = nc
	}
	per := b.N/conns + 1
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	for _, nc := range ncs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots := make(chan struct{}, window)
			go func() {
				for i := 0; i < per; i++ {
					slots <- struct{}{}
					if _, err := nc.Write(frames[i%len(frames)]); err != nil {
						return
					}
				}
			}()
			r := codec.NewReader(nc, f)
			for i := 0; i < per; i++ {
				if _, err := r.Next(); err != nil {
					b.Error(err)
					return
				}
				<-slots
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*conns)/time.Since(began).Seconds(), "answers/s")
}

// The scheduler's heap gives items back in due order, and run delivers
// them so, whatever order they were pushed in.
func TestSchedulerOrder(t *testing.T) {
	s := newScheduler(1000)
	base := time.Now()
	for i := 0; i < 1000; i++ {
		s.slots <- struct{}{}
		s.push(item{due: base.Add(time.Duration(mix(uint64(i))%1000) * time.Microsecond), code: int16(i)})
	}
	last := time.Time{}
	for len(s.items) > 0 {
		it := s.popLocked()
		if it.due.Before(last) {
			t.Fatalf("item due %v after one due %v", it.due.Sub(base), last.Sub(base))
		}
		last = it.due
		<-s.slots
	}
	for i := 0; i < 200; i++ {
		s.slots <- struct{}{}
		s.push(item{due: base.Add(time.Duration(mix(uint64(i))%50) * time.Millisecond), code: int16(i)})
	}
	var got []item
	done := make(chan struct{})
	go func() {
		s.run(func(it item) {
			got = append(got, it)
			if len(got) == 200 {
				close(done)
			}
		})
	}()
	<-done
	s.stop()
	for i := 1; i < len(got); i++ {
		if got[i].due.Before(got[i-1].due) {
			t.Fatalf("delivered %v after %v", got[i].due.Sub(base), got[i-1].due.Sub(base))
		}
	}
}

// Answering at once allocates nothing per request: decode, decide, build
// and queue the reply, with rules that draw.
func TestHandleAllocatesNothing(t *testing.T) {
	is, err := New(Config{Dialect: "iso87ascii", Framing: "binary2", Rules: testRules})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	if err := is.Inject(Rule{Percent: 50, Code: "05"}); err != nil {
		t.Fatal(err)
	}
	c := newConn(is, nil)
	msg := encode(t, is.Dialect(), purchase(1, 2500, demoPAN))
	c.handle(codec.Frame{Msg: msg}) // warm the buffers
	allocs := testing.AllocsPerRun(1000, func() {
		c.out = c.out[:0]
		if !c.handle(codec.Frame{Msg: msg}) {
			t.Fatal("closed")
		}
	})
	if allocs != 0 || len(c.out) == 0 {
		t.Errorf("%v allocations per request (%d bytes queued)", allocs, len(c.out))
	}
}
