package bench

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/chipcard"
)

// Options configure one run.
type Options struct {
	Addr     string
	Framing  codec.Framing
	TPDU     []byte // for a +tpdu framing
	Conns    int
	InFlight int
	Duration time.Duration
	Warmup   time.Duration // traffic before the measurement starts
	Rate     int           // total messages per second; 0: closed loop
	Timeout  time.Duration // a reply later than this is a timeout; default 5s
	// Echo: the target writes each request back (the echo baseline), so
	// any answer is the one planned.
	Echo     bool
	Traffic  Traffic
	Progress io.Writer // a live line every second (nil: none)
	// STANs numbers each terminal's requests across runs and processes
	// (nil: a MemorySTANs, for this run only).
	STANs STANSource
	// ATCs numbers each chip card's cryptograms across runs (nil: STANs
	// when it is an ATCSource, else counters for this run only).
	ATCs ATCSource
	// CPU samples the server's CPU time at the start and the end of the
	// measured window (nil: the report has no CPU figure); CPUScope says
	// whose it is (ProcessScope for a target in this process).
	CPU      CPUSampler
	CPUScope string
	// TLS, when set, makes every connection TLS with it (the handshakes
	// are done before the warm-up).
	TLS *tls.Config
}

// dial makes one of the run's connections.
func dial(opts Options) (net.Conn, error) {
	if opts.TLS == nil {
		return net.DialTimeout("tcp", opts.Addr, 5*time.Second)
	}
	return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", opts.Addr, opts.TLS)
}

// conn is one simulated link: its pending requests by STAN.
type conn struct {
	nc       net.Conn
	term     Terminal
	card     Card
	rng      *rand.Rand
	mu       sync.Mutex
	pending  map[uint32]sent // mu guards pending
	follow   []step          // mu guards follow: steps waiting for their original's reply
	hist     *hdrhistogram.Histogram
	codes    map[string]int64 // mu guards codes: measured answers by field 39
	planned  int64            // mu guards planned: measured answers with the code planned
	code     []byte           // field 39 of the reply being read (read goroutine only)
	out      []byte
	slots    chan struct{} // one per request in flight
	pool     *stanPool     // the terminal's STANs
	readDone atomic.Bool   // the reader has stopped: nothing pending will be answered
	stanNext uint32        // the next STAN of the chunk taken from pool (write goroutine only)
	stanLeft int           // how many of the chunk are left (write goroutine only)
	tmpl     []byte        // a framed purchase with STAN 000000, for purchase-only traffic
	stanAt   int           // where the STAN's wire bytes start in tmpl
	chips    *chipCards    // the run's chip cards, shared by the connections
}

type sent struct {
	due     time.Time
	next    *step  // a follow-up to send once this is answered
	want    string // the response code the plan expects
	measure bool
	chip    *chipPool // a chip purchase's card, freed by its answer
}

// counters are the run's totals. sent, timeouts and the codes of the
// connections count the measured requests only (due after the warm-up and
// before the end), so each measured request is one of: answered (by code),
// a timeout (late, or never answered), or lost to an error.
type counters struct {
	sent, answered, timeouts, errors atomic.Int64
	planned                          atomic.Int64 // answers as planned, warm-up included (the live line)
	undecoded                        atomic.Int64 // replies that did not decode (of errors)
	unmatched                        atomic.Int64 // replies with a STAN not waiting for one
	closedByPeer, closedAtOnce       atomic.Int64 // connections the server closed before the end; of them, before any reply
	ending                           atomic.Bool  // set when the run closes its connections
	perSecond, plannedPerSecond      []atomic.Int64
	chipBusy                         atomic.Int64 // chip purchases sent as plain ones: every chip card busy
}

// Run drives traffic at opts.Addr and returns the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Conns < 1 || opts.InFlight < 1 || opts.Duration <= 0 || len(opts.Traffic.Terminals) == 0 || len(opts.Traffic.Cards) == 0 {
		return nil, errors.New("bench: conns, inflight, duration, terminals and cards must be set")
	}
	if opts.Rate < 0 || opts.Warmup < 0 || opts.Timeout < 0 {
		return nil, errors.New("bench: rate, warm-up and timeout must not be negative")
	}
	if err := opts.Traffic.Mix.Validate(); err != nil {
		return nil, err
	}
	if opts.Traffic.Mix.ChipPurchase > 0 && len(opts.Traffic.Chips) == 0 {
		return nil, errors.New("bench: mix: chip_purchase needs chip cards, and the traffic has none")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	opts.Framing.MaxFrame = 65535
	if opts.STANs == nil {
		opts.STANs = &MemorySTANs{}
	}
	if opts.ATCs == nil {
		opts.ATCs, _ = opts.STANs.(ATCSource)
	}
	if opts.ATCs == nil {
		opts.ATCs = &MemorySTANs{}
	}
	chips := newChipCards(opts.Traffic.Chips, opts.ATCs)
	pools := map[string]*stanPool{}
	for _, t := range opts.Traffic.Terminals {
		pools[t.ID] = &stanPool{term: t.ID, src: opts.STANs}
	}
	var c counters
	c.perSecond = make([]atomic.Int64, int((opts.Warmup+opts.Duration)/time.Second)+2)
	c.plannedPerSecond = make([]atomic.Int64, len(c.perSecond))
	conns := make([]*conn, opts.Conns)
	for i := range conns {
		nc, err := dial(opts)
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("bench: connect %s: %w", opts.Addr, err)
		}
		t := opts.Traffic
		conns[i] = &conn{nc: nc, term: t.Terminals[i%len(t.Terminals)], card: t.Cards[i%len(t.Cards)],
			rng: rand.New(rand.NewSource(int64(i))), pending: map[uint32]sent{}, codes: map[string]int64{},
			hist: hdrhistogram.New(1, int64(60*time.Second/time.Microsecond), 3), slots: make(chan struct{}, opts.InFlight)}
		conns[i].pool, conns[i].chips = pools[conns[i].term.ID], chips
		if err := conns[i].template(opts); err != nil {
			closeAll(conns)
			return nil, err
		}
	}
	start := time.Now()
	measureFrom := start.Add(opts.Warmup)
	end := measureFrom.Add(opts.Duration)
	stop := make(chan struct{})
	var readers, writers sync.WaitGroup
	for i, cn := range conns {
		readers.Add(1)
		writers.Add(1)
		go func() { defer readers.Done(); cn.read(opts, &c, start, measureFrom) }()
		go func() { defer writers.Done(); cn.write(ctx, opts, &c, i, start, measureFrom, end, stop) }()
	}
	done := progress(opts.Progress, &c, conns, start, end)
	// the CPU figure covers the measured window: read at its start and at
	// its end (a run stopped before it began has none)
	var cpuFrom, cpuEnd time.Duration
	var cpuErr error
	cancelled := false
	select {
	case <-time.After(time.Until(measureFrom)):
		cpuFrom, cpuErr = sample(opts.CPU)
		select {
		case <-time.After(time.Until(end)):
		case <-ctx.Done():
		}
		var err error
		cpuEnd, err = sample(opts.CPU)
		cpuErr = errors.Join(cpuErr, err)
	case <-ctx.Done():
		cancelled = true
	}
	close(stop)
	awaitAnswers(conns, &writers, opts.Timeout)
	c.ending.Store(true)
	closeAll(conns)
	writers.Wait()
	readers.Wait()
	close(done)
	rep := buildReport(opts, conns, &c, start, measureFrom, end)
	if opts.CPU != nil && !cancelled {
		if cpuErr != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("no CPU figure: %v", cpuErr))
		} else {
			rep.CPU = cpuReport(opts.CPUScope, cpuEnd-cpuFrom, rep.AsPlanned)
		}
	}
	for _, p := range chips.pools {
		if err := p.release(); err != nil {
			return nil, err
		}
	}
	rep.Warnings = append(rep.Warnings, chips.warnings()...)
	if n := c.chipBusy.Load(); n > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d chip purchases went as plain purchases: each of the %d chip cards had one in flight "+
			"(a card has one request at a time, or the switch could see its ATCs out of order and refuse the later as a replay); "+
			"add chip cards or lower chip_purchase", n, len(chips.pools)))
	}
	for _, t := range opts.Traffic.Terminals {
		p := pools[t.ID]
		if err := p.release(); err != nil {
			return nil, err
		}
		if p.exhausted {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("terminal %s has been given more than %d STANs today (UTC): "+
				"the switch answers the repeated ones 94; use more terminals or wait for the date to change", t.ID, stanMax))
		}
	}
	return rep, nil
}

func sample(cpu CPUSampler) (time.Duration, error) {
	if cpu == nil {
		return 0, nil
	}
	return cpu()
}

// awaitAnswers lets the answers in flight arrive once the writers have
// stopped: it returns when no request waits for its answer, or after the
// reply timeout (an answer later than that is a timeout anyway). A writer
// blocked on a server that does not read is left for closeAll to end.
func awaitAnswers(conns []*conn, writers *sync.WaitGroup, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	stopped := make(chan struct{})
	go func() { writers.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(timeout):
		return
	}
	for ; time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		waiting := 0
		for _, cn := range conns {
			if cn.readDone.Load() {
				continue
			}
			cn.mu.Lock()
			waiting += len(cn.pending)
			cn.mu.Unlock()
		}
		if waiting == 0 {
			return
		}
	}
}

func closeAll(conns []*conn) {
	for _, c := range conns {
		if c != nil {
			c.nc.Close()
		}
	}
}

// nextSTAN numbers the connection's requests from chunks of its
// terminal's pool, so connections that share a terminal, earlier runs and
// other processes using the same source never send the same STAN.
func (cn *conn) nextSTAN() (uint32, error) {
	if cn.stanLeft == 0 {
		first, n, err := cn.pool.take(stanChunk)
		if err != nil {
			return 0, err
		}
		cn.stanNext, cn.stanLeft = first, n
	}
	stan := cn.stanNext
	cn.stanNext++
	cn.stanLeft--
	return stan, nil
}

// write sends requests: closed loop keeps InFlight outstanding; open loop
// sends each when it is due (its share of Rate), waiting for room when
// InFlight are outstanding, the latency still counted from the due time.
func (cn *conn) write(ctx context.Context, opts Options, c *counters, idx int, start, measureFrom, end time.Time, stop chan struct{}) {
	var interval time.Duration
	if opts.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(opts.Conns) / float64(opts.Rate))
	}
	due := start.Add(time.Duration(idx) * interval / time.Duration(max(opts.Conns, 1)))
	for {
		select {
		case <-stop:
			return
		default:
		}
		if interval > 0 {
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		} else {
			due = time.Now()
		}
		if !due.Before(end) { // nothing is sent after the end: Sent counts all that was
			return
		}
		select {
		case cn.slots <- struct{}{}:
		case <-stop:
			return
		}
		n := 1
		for interval == 0 && n < 64 { // closed loop: every free slot goes in one write
			select {
			case cn.slots <- struct{}{}:
				n++
				continue
			default:
			}
			break
		}
		measure := !due.Before(measureFrom) && due.Before(end)
		cn.out = cn.out[:0]
		for i := 0; i < n; i++ {
			if err := cn.add(opts, c, due, measure); err != nil {
				c.errors.Add(1)
				return
			}
		}
		if _, err := cn.nc.Write(cn.out); err != nil {
			c.errors.Add(1)
			return
		}
		due = due.Add(interval)
	}
}

// template pre-encodes the purchase of purchase-only traffic without MACs,
// so the generator spends its CPU on the wire, not on building messages.
func (cn *conn) template(opts Options) error {
	t := &opts.Traffic
	if t.Mix != PurchaseOnly || t.MAC != 0 {
		return nil
	}
	msg, err := t.build(step{mti: "0200", proc: "000000", amount: 1000, expiry: cn.card.Expiry}, cn.card, cn.term, 1, 0, "1121120000")
	if err != nil {
		return err
	}
	var v codec.View
	if err := t.Dialect.Decode(&v, msg); err != nil {
		return err
	}
	start, _, _ := v.Span(codec.FieldSTAN)
	if cn.tmpl, err = opts.Framing.Append(nil, opts.TPDU, msg); err != nil {
		return err
	}
	cn.stanAt = len(cn.tmpl) - len(msg) + start
	return nil
}

// putSTAN writes a STAN into the template (ASCII or BCD, 6 digits).
func (cn *conn) putSTAN(d *codec.Dialect, stan uint32) {
	var digits [6]byte
	for i := 5; i >= 0; i-- {
		digits[i] = byte('0' + stan%10)
		stan /= 10
	}
	w := cn.tmpl[cn.stanAt:]
	if d.Field(codec.FieldSTAN).Enc == codec.EncASCII {
		copy(w, digits[:])
		return
	}
	for i := 0; i < 3; i++ {
		w[i] = (digits[2*i]-'0')<<4 | (digits[2*i+1] - '0')
	}
}

// add appends the next message to cn.out: a waiting follow-up, or a new plan.
func (cn *conn) add(opts Options, c *counters, due time.Time, measure bool) error {
	t := &opts.Traffic
	if cn.tmpl != nil {
		stan, err := cn.nextSTAN()
		if err != nil {
			return err
		}
		cn.mu.Lock()
		cn.pending[stan] = sent{due: due, measure: measure, want: "00"}
		cn.mu.Unlock()
		cn.putSTAN(t.Dialect, stan)
		if measure {
			c.sent.Add(1)
		}
		cn.out = append(cn.out, cn.tmpl...)
		return nil
	}
	stan, err := cn.nextSTAN() // before the lock: it may wait for the ledger
	if err != nil {
		return err
	}
	cn.mu.Lock()
	var s step
	var next *step
	if len(cn.follow) > 0 {
		s, cn.follow = cn.follow[0], cn.follow[1:]
	} else {
		steps := t.plan(cn.rng, cn.card)
		s = steps[0]
		if len(steps) > 1 {
			next = &steps[1]
		}
	}
	cn.mu.Unlock()
	var chip *chipPool
	if s.chip {
		var err error
		if chip, err = cn.chipStep(opts, &s, due); err != nil {
			return err
		}
		if chip == nil {
			c.chipBusy.Add(1)
		}
	}
	orig := s.original
	if orig != 0 && t.Dialect.Name == codec.CUPPOS && s.mti[1] == '4' {
		stan = orig // UnionPay reversals carry their original's STAN
	}
	cn.mu.Lock()
	cn.pending[stan] = sent{due: due, next: next, measure: measure, want: s.planned(cn.term), chip: chip}
	cn.mu.Unlock()
	msg, err := t.build(s, cn.card, cn.term, stan, orig, due.UTC().Format("0102150405"))
	if err != nil {
		return err
	}
	if cn.out, err = opts.Framing.Append(cn.out, opts.TPDU, msg); err != nil {
		return err
	}
	if measure {
		c.sent.Add(1)
	}
	return nil
}

// chipStep gives a chip purchase a chip card with no request in flight,
// its next ATC and the terminal's data for the cryptogram; with every
// card busy (or spent) it goes as a plain purchase of the connection's
// card, and chipStep returns nil.
func (cn *conn) chipStep(opts Options, s *step, due time.Time) (*chipPool, error) {
	p, atc, err := cn.chips.take(time.Now(), opts.Timeout)
	if err != nil || p == nil {
		return nil, err
	}
	s.chipCard, s.expiry = &p.card, p.card.Card.Expiry
	cur, _ := strconv.Atoi(opts.Traffic.Currency)
	tx := chipcard.Txn{Amount: s.amount, Currency: uint16(cur), ATC: atc}
	if b, err := hex.DecodeString(due.UTC().Format("060102")); err == nil {
		copy(tx.Date[:], b)
	}
	binary.BigEndian.PutUint32(tx.UN[:], cn.rng.Uint32()) // the terminal's unpredictable number
	s.txn = tx
	return p, nil
}

// read matches replies to requests by STAN and records latency and codes.
func (cn *conn) read(opts Options, c *counters, start, measureFrom time.Time) {
	r := codec.NewReader(cn.nc, opts.Framing)
	var v codec.View
	replies := 0
	for {
		fr, err := r.Next()
		if err != nil {
			cn.readDone.Store(true)
			if !c.ending.Load() {
				c.closedByPeer.Add(1)
				if replies == 0 {
					c.closedAtOnce.Add(1)
				}
			}
			return
		}
		replies++
		now := time.Now()
		if err := opts.Traffic.Dialect.Decode(&v, fr.Msg); err != nil {
			c.errors.Add(1)
			c.undecoded.Add(1)
			continue
		}
		stan, hasSTAN := v.STAN()
		code := v.AppendText(cn.code[:0], codec.FieldResponseCode)
		cn.code = code
		cn.mu.Lock()
		s, ok := cn.pending[stan]
		delete(cn.pending, stan)
		if ok {
			<-cn.slots
		}
		if ok && s.chip != nil {
			s.chip.answered()
		}
		if ok && s.next != nil && string(code) == "00" {
			nx := *s.next
			nx.original = stan
			cn.follow = append(cn.follow, nx)
		}
		planned := ok && (opts.Echo || string(code) == s.want)
		late := ok && now.Sub(s.due) > opts.Timeout
		if ok && s.measure {
			_ = cn.hist.RecordValue(max(now.Sub(s.due).Microseconds(), 1))
			if late {
				c.timeouts.Add(1) // a late answer is a timeout, whatever its code
			} else {
				cn.codes[string(code)]++
				if planned {
					cn.planned++
				}
			}
		}
		cn.mu.Unlock()
		if !ok || !hasSTAN {
			c.unmatched.Add(1)
		}
		if ok {
			c.answered.Add(1)
			if sec := int(now.Sub(start) / time.Second); sec < len(c.perSecond) {
				c.perSecond[sec].Add(1)
				if planned && !late {
					c.plannedPerSecond[sec].Add(1)
				}
			}
			if planned && !late {
				c.planned.Add(1)
			}
		}
	}
}

// progress prints a live line each second when w is set.
func progress(w io.Writer, c *counters, conns []*conn, start, end time.Time) chan struct{} {
	done := make(chan struct{})
	if w == nil {
		return done
	}
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last, lastPlanned int64
		for {
			select {
			case <-done:
				fmt.Fprintln(w)
				return
			case <-tick.C:
				n, planned := c.answered.Load(), c.planned.Load()
				h := mergeHist(conns)
				fmt.Fprintf(w, "\r%5.0fs  %9d msg/s as planned  %9d not  p99 %8s  timeouts %d  errors %d   ",
					time.Since(start).Seconds(), planned-lastPlanned, (n-last)-(planned-lastPlanned),
					time.Duration(h.ValueAtQuantile(99)*1000), c.timeouts.Load(), c.errors.Load())
				last, lastPlanned = n, planned
			}
		}
	}()
	return done
}

func mergeHist(conns []*conn) *hdrhistogram.Histogram {
	h := hdrhistogram.New(1, int64(60*time.Second/time.Microsecond), 3)
	for _, c := range conns {
		c.mu.Lock()
		h.Merge(c.hist)
		c.mu.Unlock()
	}
	return h
}
