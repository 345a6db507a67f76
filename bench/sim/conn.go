package sim

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// readBufferBytes is the least a connection reads into: many frames per
// read, and always room for one whole frame (the buffer is at least twice
// the largest).
const readBufferBytes = 64 << 10

// conn is one connection: a reader goroutine that decodes, decides and
// answers (at once, or through the scheduler), and a writer goroutine that
// sends whatever replies have gathered in one write.
type conn struct {
	is *Issuer
	nc net.Conn

	mu     sync.Mutex
	out    []byte // mu guards out and closed: replies not yet written
	closed bool
	wake   chan struct{} // cap 1: out has bytes
	// lastActive is when the connection last read or wrote (Unix ns): the
	// writer sends echo tests when it is EchoIdle ago
	lastActive atomic.Int64
	done       chan struct{} // closed by close
	once       sync.Once

	// the reader's own
	view     codec.View
	builder  codec.Builder
	reply    []byte
	pan      [32]byte // the request's PAN, for the rules
	scratch  [32]byte // a MAC, a response code
	approval [6]byte

	// its own sign-ons and sign-offs (dial.go)
	netMu      sync.Mutex // serializes sendNet: netBuilder and netMsg
	netBuilder codec.Builder
	netMsg     []byte
	netSTAN    atomic.Uint32 // the STAN of the last one sent, to count its answer

	// the writer's own
	idleTimer   *time.Timer
	echoBuilder codec.Builder
	echo        []byte
}

func newConn(is *Issuer, nc net.Conn) *conn {
	c := &conn{is: is, nc: nc, wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.lastActive.Store(time.Now().UnixNano())
	return c
}

// close ends the connection; safe to call from anywhere, more than once.
func (c *conn) close() {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.out = nil
		c.mu.Unlock()
		close(c.done)
		c.nc.Close()
	})
}

// send queues copies of frame for the writer. It fails when the
// connection is closed, and closes it when the peer has left more than
// MaxPendingBytes unread.
func (c *conn) send(frame []byte, copies int) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if len(c.out)+copies*len(frame) > c.is.cfg.MaxPendingBytes {
		c.mu.Unlock()
		c.close()
		return false
	}
	for range copies {
		c.out = append(c.out, frame...)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// writeLoop writes the queued replies, all that have gathered at once,
// and sends echo tests on an idle connection (Config.EchoIdle).
func (c *conn) writeLoop() {
	var spare []byte
	var idle <-chan time.Time
	if c.is.cfg.EchoIdle > 0 {
		t := time.NewTimer(c.is.cfg.EchoIdle)
		defer t.Stop()
		idle = t.C
		c.idleTimer = t
	}
	for {
		select {
		case <-c.wake:
		case <-idle:
			if !c.echoIfIdle() {
				return
			}
			continue
		case <-c.done:
			return
		}
		c.mu.Lock()
		out := c.out
		c.out = spare[:0]
		c.mu.Unlock()
		if len(out) > 0 {
			if _, err := c.nc.Write(out); err != nil {
				c.close()
				return
			}
			c.lastActive.Store(time.Now().UnixNano())
		}
		if cap(out) > readBufferBytes {
			out = nil // a burst's buffer is not kept
		}
		spare = out
	}
}

// echoIfIdle sends an echo test if nothing has passed for EchoIdle, and
// sets the timer for the next look (writer only). False: the write failed.
func (c *conn) echoIfIdle() bool {
	every := c.is.cfg.EchoIdle
	now := time.Now()
	if since := now.Sub(time.Unix(0, c.lastActive.Load())); since < every {
		c.idleTimer.Reset(every - since)
		return true
	}
	c.idleTimer.Reset(every)
	c.lastActive.Store(now.UnixNano())
	var err error
	c.echo, err = c.is.echoTest(&c.echoBuilder, c.echo[:0], now)
	if err != nil {
		return true // the dialect was checked for 7, 11 and 70: not reached
	}
	c.is.stats.echoesSent.Add(1) // before the write: its answer may be counted before Write returns
	if _, err := c.nc.Write(c.echo); err != nil {
		c.close()
		return false
	}
	return true
}

// readLoop cuts frames and handles them until the peer closes, a frame is
// not ISO 8583, a fault drops the connection or the issuer closes.
func (c *conn) readLoop() {
	defer c.is.untrack(c)
	defer c.close()
	f := c.is.framing
	buf := make([]byte, max(readBufferBytes, 2*(f.HeaderLen()+f.MaxFrame)))
	n, off := 0, 0
	for {
		for {
			fr, used, err := f.Next(buf[off:n])
			if errors.Is(err, codec.ErrNeedMore) {
				break
			}
			if err != nil {
				return // a length over the maximum or not a length: the stream is lost
			}
			off += used
			if fr.Msg == nil {
				continue // keep-alive
			}
			if !c.handle(fr) {
				return
			}
		}
		if off > 0 {
			n = copy(buf, buf[off:n])
			off = 0
		}
		m, err := c.nc.Read(buf[n:])
		n += m
		if m > 0 && c.is.cfg.EchoIdle > 0 {
			c.lastActive.Store(time.Now().UnixNano())
		}
		if err != nil {
			return
		}
	}
}

// handle answers one message; false closes the connection.
func (c *conn) handle(fr codec.Frame) bool {
	is := c.is
	v := &c.view
	err := is.dialect.DecodeSalvage(v, fr.Msg)
	if err == nil {
		err = v.Validate()
	}
	if err != nil && (badMTI(err) || !v.MTI().IsRequest()) {
		return false // not ISO 8583, or a broken response: nothing to answer, as the switch does
	}
	mti := v.MTI()
	if !mti.IsRequest() {
		if c.answeredNet(v) {
			return true // the answer to its own sign-on or sign-off (dial.go)
		}
		if mti == mti0810 && is.zone.answered(v) { // the answer to the simulator's key change
			return true
		}
		if is.cfg.EchoIdle > 0 && mti == mti0810 && bytes.Equal(v.AppendText(c.scratch[:0], codec.FieldResponseCode), code00[:]) {
			is.stats.echoesAnswered.Add(1)
			return true
		}
		is.stats.ignored.Add(1)
		return true
	}
	is.stats.received.Add(1)
	var booked *ledgerEntry
	if storeAndForward(mti) {
		booked = c.book(v, err == nil)
	}
	rules := is.rules.Load()
	if err != nil {
		is.stats.formatErrors.Add(1)
		return c.answer(fr.TPDU, &replyParts{code: code30}, decision{}, nil) // at once, without faults
	}
	req := request{class: mti.Class(), id: identity(v)}
	req.pan = v.PAN(c.pan[:0])
	req.amount, req.hasAmount = v.Amount()
	d := rules.decide(*is.injected.Load(), &req)
	p := &replyParts{code: d.code}
	z := is.zone
	if mti.Class() == '8' {
		is.stats.netMgmt.Add(1)
		switch {
		case z.isKeyChange(v):
			p.code = z.acceptChange(v)
			is.stats.keyChanges[codeIndex(p.code)].Add(1)
		case !d.coded:
			p.code = networkCode(is.dialect, v)
		}
	} else if mk, err := z.checkZoneMAC(v, c.scratch[:0]); mk != nil {
		if err != nil {
			is.stats.macFailures.Add(1)
			p.code = rules.macFail
		}
		p.mac = mk
	} else if rules.mac != nil {
		if err := checkMAC(v, rules.mac, c.scratch[:0]); err != nil {
			is.stats.macFailures.Add(1)
			p.code = rules.macFail
		}
		p.mac = rules.mac
	}
	if mti.Class() != '8' && p.code != rules.macFail && v.Has(codec.FieldPINBlock) && z.keys.Load().zpk.Valid() {
		is.stats.pinChecks.Add(1)
		if !z.checkPIN(v, req.pan) {
			is.stats.pinFailures.Add(1)
			p.code = code55
		}
	}
	if mti.Class() != '8' { // buildReply puts it on a 00 only
		approvalCode(&c.approval, rules.seed, req.id)
		p.approval = c.approval[:]
	}
	return c.answer(fr.TPDU, p, d, booked)
}

// badMTI reports a decode error in the MTI or the bitmap (field 0): the
// stream is not ISO 8583 in this dialect.
func badMTI(err error) bool {
	var fe *codec.FieldError
	return errors.As(err, &fe) && fe.Field == 0
}

// answer carries out a decision: a fault, or the reply at once or after
// its delay. booked is the ledger entry the answer is booked in (nil:
// none), when it goes out.
func (c *conn) answer(tpdu []byte, p *replyParts, d decision, booked *ledgerEntry) bool {
	is := c.is
	switch d.fault {
	case FaultNoAnswer:
		is.stats.faults[d.fault].Add(1)
		return true
	case FaultDrop:
		is.stats.faults[d.fault].Add(1)
		return false
	case FaultWrongMAC:
		if p.mac == nil {
			d.fault = FaultNone // an 0810, or rules changed under it: nothing to spoil
		}
		p.wrongMAC = p.mac != nil
	}
	if d.fault != FaultNone {
		is.stats.faults[d.fault].Add(1)
	}
	var err error
	c.reply, err = is.buildReply(&c.builder, c.reply[:0], tpdu, &c.view, p)
	if err != nil {
		// A reply the dialect cannot carry (an echoed field out of bounds,
		// a MAC the key cannot make): answer 96 without the extras, as the
		// switch does; if even that fails, nothing is sent.
		is.stats.buildErrors.Add(1)
		c.reply, err = is.buildReply(&c.builder, c.reply[:0], tpdu, &c.view, &replyParts{code: code96})
		if err != nil {
			return true
		}
		p = &replyParts{code: code96}
	}
	copies := 1
	if d.fault == FaultTwice {
		copies = 2
	}
	code := int16(codeIndex(p.code))
	if d.delay <= 0 {
		is.stats.answered[code].Add(1) // before the peer can see it: a reply it holds is counted
		if booked != nil {
			is.ledger.answered(booked, code) // before too: a host books, then replies
		}
		if !c.send(c.reply, copies) {
			is.stats.answered[code].Add(^uint64(0)) // the connection was gone
		}
		return true
	}
	if !is.sched.acquire(c.done) {
		return false
	}
	is.sched.push(item{due: time.Now().Add(d.delay), c: c, frame: append([]byte(nil), c.reply...),
		copies: uint8(copies), code: code, entry: booked})
	return true
}
