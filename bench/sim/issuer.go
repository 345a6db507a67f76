package sim

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// Config is one simulated issuer host.
type Config struct {
	// Dialect is a built-in dialect's name (iso87ascii, iso87binary,
	// cup-pos, ...) or a moov JSON spec file, as a switch link's.
	Dialect string
	// Framing is binary2, ascii4 or bcd2, with +tpdu for a TPDU.
	Framing string
	// MaxFrame is the largest length a frame header may announce; larger
	// closes the connection. 0: codec.DefaultMaxFrame (8 KiB).
	MaxFrame int
	// Rules decide the answers; the zero value approves everything at once.
	Rules Rules
	// TLS, when set, serves the listener over TLS (Start), or dials with
	// it (Dial); internal/tlsfiles builds one from files.
	TLS *tls.Config
	// MaxConns bounds the connections served at once (each costs two
	// goroutines and its buffers); more are closed at accept. 0: 1024.
	MaxConns int
	// MaxInFlight bounds the replies waiting for their delay, all
	// connections together (each holds its frame, a few hundred bytes).
	// When full, the connections that add more stop being read until some
	// are sent. 0: 65536.
	MaxInFlight int
	// MaxPendingBytes bounds the reply bytes a connection holds for a peer
	// that does not read; past it the connection is closed. 0: 4 MiB.
	MaxPendingBytes int
	// EchoIdle, when set, makes the simulator send an echo test (0800, 70 =
	// 301, with 7 and 11) on a connection that has carried nothing for this
	// long, as a host checks its links; the peer's 0810s are counted
	// (Stats.EchoesAnswered). 0: never. Needs a dialect with fields 7, 11 and
	// 70 (not cup-pos: UnionPay terminals are not sent echo tests).
	EchoIdle time.Duration
	// DialConns is the connections Dial keeps to its address; 0: 1.
	DialConns int
	// SignOn: Dial sends an 0800 sign-on (70 = 001; UnionPay: 60.3) first
	// on each connection it makes, as a network opening a link does.
	SignOn bool
	// Redial is how long Dial waits before dialling again after a
	// connection fails or ends; 0: 1s.
	Redial time.Duration
	// ZMK, ZPK and ZAK are the zone master, PIN and MAC keys shared with the
	// switch, in clear (32 hex digits; the simulator has no HSM; zone.go).
	// A ZPK makes it decrypt field 52 and check the PIN (wrong, or a block
	// that does not decode: 55); a ZAK makes it verify requests' MACs and
	// MAC its replies (method ZoneMAC, default x919), in place of Rules.MAC;
	// a ZMK makes it take key changes and send its own (ChangeKey).
	ZMK, ZPK, ZAK string
	ZoneMAC       string
	// PIN is the PIN every card has, checked under the ZPK; "": any PIN
	// that decodes.
	PIN string
	// KeyChangeCode is the key change's field 70; 0: 161.
	KeyChangeCode int
	// LedgerKeys bounds the advices and reversals the ledger books, each
	// with its repeats (Issuer.Ledger; ledger.go); past it they are counted
	// (Stats.LedgerFull), not booked. 0: 1<<20 (about 150 MiB when full).
	LedgerKeys int
}

const (
	defaultMaxConns        = 1024
	defaultMaxInFlight     = 65536
	defaultMaxPendingBytes = 4 << 20
)

// withDefaults fills the zero values, in one place.
func (c Config) withDefaults() Config {
	if c.MaxFrame == 0 {
		c.MaxFrame = codec.DefaultMaxFrame
	}
	if c.MaxConns == 0 {
		c.MaxConns = defaultMaxConns
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = defaultMaxInFlight
	}
	if c.MaxPendingBytes == 0 {
		c.MaxPendingBytes = defaultMaxPendingBytes
	}
	if c.DialConns == 0 {
		c.DialConns = 1
	}
	if c.Redial == 0 {
		c.Redial = defaultRedial
	}
	if c.LedgerKeys == 0 {
		c.LedgerKeys = defaultLedgerKeys
	}
	return c
}

// Validate checks the configuration as New does.
func (c Config) Validate() error {
	_, _, err := c.resolve()
	return err
}

func (c Config) resolve() (*codec.Dialect, codec.Framing, error) {
	c = c.withDefaults()
	d, err := codec.Lookup(c.Dialect)
	if err != nil {
		return nil, codec.Framing{}, err
	}
	if d.Field(codec.FieldResponseCode) == nil {
		return nil, codec.Framing{}, fmt.Errorf("sim: dialect %s has no field 39 to answer with", d.Name)
	}
	f, err := codec.ParseFraming(c.Framing)
	if err != nil {
		return nil, codec.Framing{}, err
	}
	if c.MaxFrame < 0 || c.MaxFrame > 65535 {
		return nil, codec.Framing{}, fmt.Errorf("sim: max frame %d must be 1 to 65535", c.MaxFrame)
	}
	f.MaxFrame = c.MaxFrame
	if c.MaxConns < 0 || c.MaxInFlight < 0 || c.MaxPendingBytes < 0 || c.LedgerKeys < 0 {
		return nil, codec.Framing{}, errors.New("sim: MaxConns, MaxInFlight, MaxPendingBytes and LedgerKeys must not be negative")
	}
	if err := checkMACField(d, c.Rules.MAC); err != nil {
		return nil, codec.Framing{}, err
	}
	if err := c.Rules.Validate(); err != nil {
		return nil, codec.Framing{}, err
	}
	if _, err := newZone(c); err != nil {
		return nil, codec.Framing{}, err
	}
	if c.ZMK != "" || c.ZAK != "" {
		for _, id := range []int{codec.FieldNetworkCode, 48, 53, codec.FieldMAC} {
			if d.Field(id) == nil {
				return nil, codec.Framing{}, fmt.Errorf("sim: zone keys: dialect %s has no field %d", d.Name, id)
			}
		}
	}
	if c.EchoIdle < 0 {
		return nil, codec.Framing{}, errors.New("sim: EchoIdle must not be negative")
	}
	if c.EchoIdle > 0 {
		for _, id := range []int{codec.FieldTransmission, codec.FieldSTAN, codec.FieldNetworkCode} {
			if d.Field(id) == nil {
				return nil, codec.Framing{}, fmt.Errorf("sim: echo tests when idle: dialect %s has no field %d", d.Name, id)
			}
		}
	}
	if err := checkDial(c, d); err != nil {
		return nil, codec.Framing{}, err
	}
	return d, f, nil
}

func checkMACField(d *codec.Dialect, m MACConfig) error {
	if m.Method != "" && d.Field(codec.FieldMAC) == nil {
		return fmt.Errorf("sim: mac: dialect %s has no field 64 to carry a MAC", d.Name)
	}
	return nil
}

// Issuer is a simulated issuer host: it serves ISO 8583 on a listener and
// answers requests by its rules. Safe for concurrent use.
type Issuer struct {
	cfg     Config
	addr    string // set by Start
	dialect *codec.Dialect
	framing codec.Framing
	echo    *codec.FieldSet

	rules    atomic.Pointer[compiled]
	injected atomic.Pointer[[]rule] // tried before the rules; never nil
	injectMu sync.Mutex             // serializes Inject and ClearInjected

	sched  *scheduler
	stats  counters
	stan   atomic.Uint32 // the STAN of the echo tests and key changes the simulator sends
	zone   *zone         // its zone keys (zone.go)
	ledger *ledger       // the advices and reversals booked (ledger.go)

	wg   sync.WaitGroup // the scheduler, accept loops, dial loops, and two per connection
	stop chan struct{}  // closed by Close: the dial loops end

	mu     sync.Mutex
	closed bool               // mu guards closed, conns and lns
	conns  map[*conn]struct{} // open connections
	lns    map[net.Listener]struct{}
}

// New makes an issuer; Serve or Start puts it on the network, and Close
// releases it.
func New(cfg Config) (*Issuer, error) {
	cfg = cfg.withDefaults()
	d, f, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	z, _ := newZone(cfg) // checked by resolve
	is := &Issuer{cfg: cfg, dialect: d, framing: f, echo: codec.Echo(d),
		sched: newScheduler(cfg.MaxInFlight), stop: make(chan struct{}), zone: z, ledger: newLedger(cfg.LedgerKeys),
		conns: make(map[*conn]struct{}), lns: make(map[net.Listener]struct{})}
	if err := is.SetRules(cfg.Rules); err != nil {
		return nil, err
	}
	none := []rule{}
	is.injected.Store(&none)
	is.wg.Add(1)
	go func() { defer is.wg.Done(); is.sched.run(is.deliver) }()
	return is, nil
}

// Start makes an issuer listening on addr ("127.0.0.1:0" for any port;
// Addr tells which).
func Start(addr string, cfg Config) (*Issuer, error) {
	is, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		is.Close()
		return nil, err
	}
	is.addr = ln.Addr().String()
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS) // the handshake runs on the connection's first read
	}
	go is.Serve(ln) // returns at Close
	return is, nil
}

// Addr is the address Start listens on, or Dial dials ("" for an issuer
// made by New).
func (is *Issuer) Addr() string { return is.addr }

// Dialect is the dialect the issuer speaks.
func (is *Issuer) Dialect() *codec.Dialect { return is.dialect }

// Framing is the framing the issuer speaks.
func (is *Issuer) Framing() codec.Framing { return is.framing }

// SetRules replaces the rules in force, at once and whole: a request is
// decided by the old rules or the new ones, never a mix.
func (is *Issuer) SetRules(r Rules) error {
	c, err := r.compile()
	if err != nil {
		return err
	}
	if err := checkMACField(is.dialect, r.MAC); err != nil {
		return err
	}
	is.rules.Store(c)
	return nil
}

// Inject adds a rule tried before every other (and before those injected
// earlier): faults switched on at run time, e.g.
//
//	is.Inject(sim.Rule{Fault: "no_answer", Percent: 10})
func (is *Issuer) Inject(r Rule) error {
	cr, err := compileRule(r)
	if err != nil {
		return fmt.Errorf("sim: inject: %v", err)
	}
	if cr.fault == FaultWrongMAC && is.rules.Load().mac == nil && is.zone.keys.Load().zak == nil {
		return errors.New("sim: inject: wrong_mac needs the rules' mac set, or a ZAK")
	}
	is.injectMu.Lock()
	defer is.injectMu.Unlock()
	old := *is.injected.Load()
	if len(old) >= ruleCountMax {
		return fmt.Errorf("sim: inject: %d rules injected already, at most %d", len(old), ruleCountMax)
	}
	next := append([]rule{cr}, old...)
	is.injected.Store(&next)
	return nil
}

// ClearInjected removes every injected rule.
func (is *Issuer) ClearInjected() {
	is.injectMu.Lock()
	defer is.injectMu.Unlock()
	none := []rule{}
	is.injected.Store(&none)
}

// Serve accepts connections on ln until Close (or until ln fails). It
// returns nil after Close.
func (is *Issuer) Serve(ln net.Listener) error {
	is.mu.Lock()
	if is.closed {
		is.mu.Unlock()
		ln.Close()
		return nil
	}
	is.lns[ln] = struct{}{}
	is.wg.Add(1)
	is.mu.Unlock()
	defer is.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			is.mu.Lock()
			closed := is.closed
			delete(is.lns, ln)
			is.mu.Unlock()
			if closed {
				return nil
			}
			return err
		}
		is.track(nc)
	}
}

// track starts serving nc, unless the issuer is closing or full (nil).
func (is *Issuer) track(nc net.Conn) *conn {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.closed || len(is.conns) >= is.cfg.MaxConns {
		nc.Close()
		is.stats.refused.Add(1)
		return nil
	}
	c := newConn(is, nc)
	is.conns[c] = struct{}{}
	is.stats.conns.Add(1)
	is.wg.Add(2)
	go func() { defer is.wg.Done(); c.readLoop() }()
	go func() { defer is.wg.Done(); c.writeLoop() }()
	return c
}

func (is *Issuer) untrack(c *conn) {
	is.mu.Lock()
	delete(is.conns, c)
	is.mu.Unlock()
}

// Close stops listening, closes every connection, drops the replies still
// waiting, and waits for the issuer's goroutines. It returns nil.
func (is *Issuer) Close() error {
	is.mu.Lock()
	if is.closed {
		is.mu.Unlock()
		return nil
	}
	is.closed = true
	close(is.stop)
	for ln := range is.lns {
		ln.Close()
	}
	conns := make([]*conn, 0, len(is.conns))
	for c := range is.conns {
		conns = append(conns, c)
	}
	is.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	is.sched.stop()
	is.wg.Wait()
	return nil
}

// deliver hands a reply that fell due to its connection (scheduler only).
func (is *Issuer) deliver(it item) {
	is.stats.answered[it.code].Add(1) // as in conn.answer
	if it.entry != nil {
		is.ledger.answered(it.entry, it.code)
	}
	if !it.c.send(it.frame, int(it.copies)) {
		is.stats.answered[it.code].Add(^uint64(0))
	}
}
