package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"runtime"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/bizday"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/router"
)

// LinkConfig is one listening link: where it listens and how its peers
// speak. Zero values take the defaults of (*LinkConfig).setDefaults.
type LinkConfig struct {
	Name    string // unique, used in logs and metrics
	Listen  string // host:port
	Dialect string // codec dialect name or moov JSON spec path
	Framing string // binary2, ascii4 or bcd2, with +tpdu

	MaxFrame        int           // largest frame a length header may announce (bytes); default 8192
	MaxInFlight     int           // requests in flight per connection; default 256
	MaxConns        int           // connections on the link; default 10000
	MaxConnsPerIP   int           // connections from one remote address; default a hundredth of MaxConns (100)
	MaxPendingBytes int           // reply bytes queued for a peer that does not read; default 4 MiB
	IdleTimeout     time.Duration // close a connection silent this long; default 5m, 0 keeps default
	FrameTimeout    time.Duration // close a connection whose frame does not complete in time; default 10s
	MessageTimeout  time.Duration // close a connection that sent no message this long, keep-alives aside; default 30m
	SocketBuffer    int           // SO_SNDBUF and SO_RCVBUF of accepted sockets (bytes); 0: the OS's, auto-tuned
	RequireSignOn   bool          // financial traffic needs an 0800 sign-on first
	OverloadCode    string        // answer when a queue or cap is full; default 96
	MAC             string        // "" (none), x919, alg1, cmac or cup: requests must carry a MAC, replies get one
	MACFailureCode  string        // answer to a missing or wrong MAC; default A0
	HSMTimeout      time.Duration // bound on each HSM call; default 2s
	NotSignedOnCode string        // answer before sign-on when RequireSignOn; default 91
	// BCDPad is the pad nibble of odd-length variable BCD values in replies
	// (LL/LLL numerics, track data): "0" (default, as jPOS) or "F" (VisaNet
	// and many terminals). Requests are read with either.
	BCDPad string
	// SignOnAuth is what a UnionPay sign-on (the one that issues keys) must
	// carry: none (default), mac (a MAC in 64 under the terminal's current
	// MAC key on the link; needs MAC) or serial (the terminal's serial
	// number from the issuer data in field 62).
	SignOnAuth string
	// SignOnLimit bounds a terminal's UnionPay sign-ons per minute on the
	// link; beyond, they are refused (58) with no key change. Default 6.
	SignOnLimit int
	// AcceptCutover lets the link's peers cut the business day over early
	// with an 0800, network management code 201 (answered 00 once the
	// cutover is journaled). Off by default: the 0800 is then answered 12
	// and the day is left alone.
	AcceptCutover bool
	// TLS, when set, serves the link over TLS (tls.go, tlslink.go): its
	// certificate and key, and with a CA, mutual TLS. nil: plain TCP.
	TLS *TLSConfig
	// SettleBatchField is the field of a settlement (0500/0520) that holds
	// the terminal's batch number, its digits: ISO 8583:1987 defines none,
	// networks put it in a private field. Default 60. A UnionPay link
	// (cup-pos) reads 60.2 whatever this says. A dialect without the field
	// (60) answers settlements 30; another field the dialect lacks is refused.
	SettleBatchField int
}

// Config is the engine's configuration.
type Config struct {
	Links []LinkConfig
	// Destinations are the upstream hosts routes with action upstream
	// forward to (destination.go).
	Destinations []DestinationConfig
	// Workers run the transaction stages; default 4 per CPU, so that stages
	// that wait (journal commit, HSM) keep the CPUs busy.
	Workers int
	// QueueDepth bounds requests waiting for a worker; default 65536.
	QueueDepth int
	// EventLoops per link; default one per CPU.
	EventLoops int
	// DrainTimeout bounds how long shutdown waits for requests in flight; default 5s.
	DrainTimeout time.Duration
	// MaxBufferedBytes bounds the bytes gnet holds for all peers together
	// (replies not yet read, requests not yet handled); over it the worst
	// offender of each link is closed at every tick. Default 64 MiB.
	MaxBufferedBytes int64
	// BusinessDay is the calendar transactions are dated by (package
	// bizday): the cutover time and its zone; default midnight, Local.
	BusinessDay bizday.Config

	testJournalDir string  // tests: run with a journal in this directory
	testJournal    Journal // tests: run with this journal
	testHSM        HSM     // tests: the HSM and keys
	testKeys       *Keys
	testLog        io.Writer     // tests: the log goes here too
	testLogInfo    bool          // tests: log info lines too
	testRules      []router.Rule // tests: the routes (default: on-us for 4 and 62)
	testStream     bool          // tests: serve plain links on streamConns too (the TLS links' path, without TLS)
}

var linkName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// WithDefaults returns c with every zero value replaced by its default.
func (c Config) WithDefaults() Config {
	c.Links = append([]LinkConfig(nil), c.Links...)
	c.Destinations = append([]DestinationConfig(nil), c.Destinations...)
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.Workers == 0 {
		c.Workers = 4 * runtime.GOMAXPROCS(0)
	}
	if c.QueueDepth == 0 {
		c.QueueDepth = 65536
	}
	if c.EventLoops == 0 {
		c.EventLoops = runtime.GOMAXPROCS(0)
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 5 * time.Second
	}
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = 64 << 20
	}
	c.BusinessDay = c.BusinessDay.WithDefaults()
	for i := range c.Links {
		c.Links[i].setDefaults()
	}
	for i := range c.Destinations {
		c.Destinations[i].setDefaults()
	}
}

func (l *LinkConfig) setDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxFrame, codec.DefaultMaxFrame)
	def(&l.MaxInFlight, 256)
	def(&l.MaxConns, 10000)
	// A few addresses must not take the link: with a per-address cap of a
	// hundredth, five hosts holding their slots (keep-alive slowloris)
	// leave 95 % of the link to the rest of the network.
	def(&l.MaxConnsPerIP, max(1, l.MaxConns/100))
	def(&l.MaxPendingBytes, 4<<20)
	if l.IdleTimeout == 0 {
		l.IdleTimeout = 5 * time.Minute
	}
	if l.FrameTimeout == 0 {
		l.FrameTimeout = 10 * time.Second
	}
	if l.MessageTimeout == 0 {
		l.MessageTimeout = 30 * time.Minute
	}
	if l.OverloadCode == "" {
		l.OverloadCode = "96"
	}
	if l.NotSignedOnCode == "" {
		l.NotSignedOnCode = "91"
	}
	if l.MACFailureCode == "" {
		l.MACFailureCode = "A0"
	}
	if l.HSMTimeout == 0 {
		l.HSMTimeout = 2 * time.Second
	}
	if l.BCDPad == "" {
		l.BCDPad = "0"
	}
	if l.SignOnAuth == "" {
		l.SignOnAuth = SignOnAuthNone
	}
	def(&l.SignOnLimit, 6)
}

// Validate reports the first problem, naming the key (links[N].key).
func (c *Config) Validate() error {
	if len(c.Links) == 0 {
		return errors.New("links: at least one link is needed")
	}
	if c.MaxBufferedBytes < 1<<20 {
		return fmt.Errorf("engine.max_buffered_bytes: %d is under 1 MiB", c.MaxBufferedBytes)
	}
	seen := map[string]bool{}
	addrs := map[string]bool{}
	for i := range c.Links {
		l := &c.Links[i]
		key := func(k string) string { return fmt.Sprintf("links[%d].%s", i, k) }
		if !linkName.MatchString(l.Name) {
			return fmt.Errorf("%s: %q must be lower-case letters, digits, - or _ (up to 32)", key("name"), l.Name)
		}
		if seen[l.Name] {
			return fmt.Errorf("%s: %q is used twice", key("name"), l.Name)
		}
		seen[l.Name] = true
		if _, _, err := net.SplitHostPort(l.Listen); err != nil {
			return fmt.Errorf("%s: %q is not host:port", key("listen"), l.Listen)
		}
		if addrs[l.Listen] {
			return fmt.Errorf("%s: %s is used by another link", key("listen"), l.Listen)
		}
		addrs[l.Listen] = true
		if _, err := codec.Lookup(l.Dialect); err != nil {
			return fmt.Errorf("%s: %v", key("dialect"), err)
		}
		f, err := codec.ParseFraming(l.Framing)
		if err != nil {
			return fmt.Errorf("%s: %v", key("framing"), err)
		}
		limit := 65535
		if f.Header != codec.LenBinary2 {
			limit = 9999
		}
		switch {
		case l.MaxFrame < 64 || l.MaxFrame > limit:
			return fmt.Errorf("%s: %d must be 64 to %d for %s", key("max_frame"), l.MaxFrame, limit, f)
		case l.MaxInFlight < 1 || l.MaxInFlight > 65536:
			return fmt.Errorf("%s: %d must be 1 to 65536", key("max_in_flight"), l.MaxInFlight)
		case l.MaxConns < 1:
			return fmt.Errorf("%s: must be at least 1", key("max_conns"))
		case l.MaxConnsPerIP < 1 || l.MaxConnsPerIP > l.MaxConns:
			return fmt.Errorf("%s: %d must be 1 to max_conns (%d)", key("max_conns_per_ip"), l.MaxConnsPerIP, l.MaxConns)
		case l.MaxPendingBytes < l.MaxFrame:
			return fmt.Errorf("%s: must be at least max_frame", key("max_pending_bytes"))
		case l.SocketBuffer < 0 || (l.SocketBuffer > 0 && l.SocketBuffer < 4096):
			return fmt.Errorf("%s: %d must be 0 (the OS default) or at least 4096", key("socket_buffer"), l.SocketBuffer)
		case l.IdleTimeout < time.Second:
			return fmt.Errorf("%s: %v is under a second", key("idle_timeout"), l.IdleTimeout)
		case l.MessageTimeout < time.Second:
			return fmt.Errorf("%s: %v is under a second", key("message_timeout"), l.MessageTimeout)
		case l.FrameTimeout < 10*time.Millisecond:
			return fmt.Errorf("%s: %v is under 10ms", key("frame_timeout"), l.FrameTimeout)
		case len(l.OverloadCode) != 2:
			return fmt.Errorf("%s: %q must be 2 characters", key("overload_code"), l.OverloadCode)
		case len(l.NotSignedOnCode) != 2:
			return fmt.Errorf("%s: %q must be 2 characters", key("not_signed_on_code"), l.NotSignedOnCode)
		case len(l.MACFailureCode) != 2:
			return fmt.Errorf("%s: %q must be 2 characters", key("mac_failure_code"), l.MACFailureCode)
		case l.MAC != "" && hsm.MACMethods[l.MAC] == 0:
			return fmt.Errorf("%s: %q must be x919, alg1, cmac or cup", key("mac"), l.MAC)
		case l.HSMTimeout < time.Millisecond || l.HSMTimeout > time.Minute:
			return fmt.Errorf("%s: %v must be 1ms to 1m", key("hsm_timeout"), l.HSMTimeout)
		}
		switch {
		case l.SignOnAuth != SignOnAuthNone && l.SignOnAuth != SignOnAuthMAC && l.SignOnAuth != SignOnAuthSerial:
			return fmt.Errorf("%s: %q must be none, mac or serial", key("sign_on_auth"), l.SignOnAuth)
		case l.SignOnAuth == SignOnAuthMAC && l.MAC == "":
			return fmt.Errorf("%s: mac needs the link's mac set", key("sign_on_auth"))
		case l.SignOnLimit < 1 || l.SignOnLimit > 1000:
			return fmt.Errorf("%s: %d must be 1 to 1000 sign-ons per terminal a minute", key("sign_on_limit"), l.SignOnLimit)
		}
		if _, ok := codec.ParsePadNibble(l.BCDPad); !ok {
			return fmt.Errorf("%s: %q must be \"0\" or \"F\"", key("bcd_pad"), l.BCDPad)
		}
		if l.TLS != nil {
			if _, err := l.TLS.load(key("tls"), tlsServer, time.Now()); err != nil {
				return err
			}
		}
	}
	dests := map[string]bool{}
	for i := range c.Destinations {
		d := &c.Destinations[i]
		if err := d.validate(i, c.Links); err != nil {
			return err
		}
		if dests[d.Name] {
			return fmt.Errorf("destinations[%d].name: %q is used twice", i, d.Name)
		}
		dests[d.Name] = true
	}
	switch {
	case c.Workers < 1 || c.Workers > 4096:
		return fmt.Errorf("engine.workers: %d must be 1 to 4096", c.Workers)
	case c.QueueDepth < 1:
		return fmt.Errorf("engine.queue_depth: must be at least 1")
	case c.EventLoops < 1 || c.EventLoops > 256:
		return fmt.Errorf("engine.event_loops: %d must be 1 to 256", c.EventLoops)
	}
	if err := c.BusinessDay.Validate(); err != nil {
		return fmt.Errorf("business_day: %v", err)
	}
	return nil
}
