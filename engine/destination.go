package engine

import (
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"slices"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/hsm"
)

// DestinationConfig is one upstream host (an issuer or a card network) the
// switch forwards requests to: routes with action upstream name it. Zero
// values take the defaults of (*DestinationConfig).setDefaults.
type DestinationConfig struct {
	Name     string // unique, named by routes.rules[].destination, in logs, metrics and the journal
	Dialect  string // codec dialect name or moov JSON spec path
	Framing  string // binary2, ascii4 or bcd2, with +tpdu
	MaxFrame int    // largest frame a response's length header may announce; default 8192
	// TPDU is the TPDU of outbound requests (10 hex digits) when the
	// framing has +tpdu; default 6000000000.
	TPDU string
	// Header is the dialect's message header on outbound requests (hex),
	// for dialects that have one (cup-pos); default: the originator's
	// header when it speaks the same dialect, else zeros.
	Header    string
	Endpoints []Endpoint // the addresses the switch dials; optional when Listen is set
	// Listen are addresses (host:port) where the switch accepts the
	// destination's own connections (issuer-initiated links,
	// inbound_dest.go): each joins the pool, as tier 0, once it is up.
	Listen []string
	// MaxConnections bounds the accepted connections held at once (more
	// are closed at accept); default 4 when Listen is set. Together with
	// the dialled ones, at most upstream.ConnsMax.
	MaxConnections int
	// Allow, when set, are the source addresses (IPs or CIDRs) an accepted
	// connection may come from; others are closed at accept.
	Allow []string
	// Connections is the number of connections to each endpoint; default 1.
	Connections int
	// Strategy chooses a connection: primary-secondary (default: the
	// lowest tier with a connection up, round robin within it) or
	// round-robin (every connection up).
	Strategy string
	// Timeout is the deadline of a forwarded request, counted from when the
	// switch received it; default 10s. The schemes give an issuer about
	// that long before they stand in (Visa and Mastercard: around 10 to 15
	// seconds at the acquirer's side), and the switch must answer its
	// acquirers before their own timeouts (often 30 s or more).
	Timeout time.Duration
	// MaxInFlight bounds the requests waiting for this destination's
	// answers; beyond it requests are answered 91 at once. Default 4096.
	MaxInFlight int
	// Key is the match key of responses to requests: "mti" (the MTI's
	// class) and field numbers; default "mti 11 41 7" ("mti 11 41" for a
	// dialect without field 7, cup-pos).
	Key     string
	Mapping MappingConfig
	// SignOn sends an 0800 sign-on (70 = 001) on each new connection: the
	// connection takes requests only once it is answered 00.
	SignOn bool
	// EchoInterval is how long a connection stays quiet before an echo
	// test (0800, 70 = 301); an echo unanswered within Timeout closes the
	// connection (it redials). Default 30s.
	EchoInterval time.Duration
	// MaxPendingBytes bounds the request bytes queued for one connection
	// and not yet written; beyond, requests go to another connection or
	// are answered 91 at once. Default 4 MiB.
	MaxPendingBytes int
	// ReconnectMin and ReconnectMax bound the wait before a redial, which
	// doubles from the first to the second with jitter; defaults 100ms and
	// 10s.
	ReconnectMin, ReconnectMax time.Duration

	// ZMK is the zone master key shared with the destination, a cryptogram
	// under the LMK (key type 000): zone key changes carry new working keys
	// under it. "": no key exchange.
	ZMK string
	// ZPK and ZAK are the initial zone PIN and MAC keys, cryptograms under
	// the LMK (types 001 and 008), optional: a key exchanged since (and
	// journaled) replaces them while the ZMK stays the same.
	ZPK, ZAK string
	// MAC is the MAC method of the destination's requests and responses,
	// by the names links use (x919, alg1, cmac, cup); "": no MACs.
	MAC string
	// PINFormat is the PIN block format the ZPK carries: iso0 (default),
	// iso1 or iso3.
	PINFormat string
	// KeyChangeCode is the network management code (field 70) of a zone
	// key change; default 161.
	KeyChangeCode int
	// KeyChangeInterval, when set, makes the switch send the destination a
	// new ZPK and ZAK this often; default 0: never (the destination, or the
	// admin API, changes them).
	KeyChangeInterval time.Duration

	// SAF is the destination's store-and-forward queue (saf.go): on
	// unless Disabled.
	SAF SAFConfig
	// StandIn is the destination's stand-in processing (standin.go): off
	// unless Enabled.
	StandIn StandInConfig
	// Breaker is the destination's circuit breaker: Failures timeouts
	// within Window open it (live traffic is stood in for, or answered 91
	// at once) for Cooldown, then an echo test probes it. On when Failures
	// is set or stand-in is enabled (defaults 5 in 10s, 30s).
	Breaker upstream.BreakerConfig
	// TLS, when set, makes the destination's connections TLS (tls.go).
	// Those the switch dials: the host's certificate checked against CA
	// (or the system's roots) and Pin, a client certificate presented when
	// Cert and Key are set. Those the destination opens (Listen): the
	// switch serves Cert and Key (required then) and, with CA, requires
	// the host's client certificate, checked against CA and Pin. nil:
	// plain TCP.
	TLS *TLSConfig
}

// Endpoint is one address of a destination and its tier: 0 the primary,
// 1 the secondary, ...
type Endpoint struct {
	Address string
	Tier    int
}

// MappingConfig is the field mapping of a destination, as data
// (upstream.Mapping): Out carries the originator's request to the
// destination, Back the destination's response to the originator, Restore
// the originator's fields put back on the reply byte for byte. A side left
// empty takes its default (see defaultOut, defaultBack, defaultRestore).
type MappingConfig struct {
	Out, Back MappingSide
	Restore   []int
}

// MappingSide is one direction of a mapping (upstream.Side).
type MappingSide struct {
	CopyAll bool
	Copy    []int
	Drop    []int
	Set     map[int]string
	Rename  []upstream.Rename
}

func (m MappingSide) empty() bool {
	return !m.CopyAll && len(m.Copy) == 0 && len(m.Drop) == 0 && len(m.Set) == 0 && len(m.Rename) == 0
}

// The default mapping: every field the destination's dialect defines goes
// out, the PIN block as the switch translates it to the destination's ZPK
// (never as it came); every field of the response comes back but track
// data and the expiry date, which replies never echo; the originator's own
// fields of its dialect's echo set are restored. The switch assigns 7, 11,
// 37 and 52 on the outbound leg (52 unless the mapping drops it).
var (
	defaultOut  = MappingSide{CopyAll: true}
	defaultBack = MappingSide{CopyAll: true, Drop: []int{14, 35, 36, 45}}
	assigned    = []int{codec.FieldTransmission, codec.FieldSTAN, codec.FieldRRN, codec.FieldPINBlock}
)

func (d *DestinationConfig) setDefaults() {
	if d.MaxFrame == 0 {
		d.MaxFrame = codec.DefaultMaxFrame
	}
	if d.TPDU == "" {
		d.TPDU = "6000000000"
	}
	if d.Connections == 0 {
		d.Connections = 1
	}
	if d.Strategy == "" {
		d.Strategy = upstream.PrimarySecondary.String()
	}
	if d.Timeout == 0 {
		d.Timeout = 10 * time.Second
	}
	if d.MaxInFlight == 0 {
		d.MaxInFlight = 4096
	}
	if d.Key == "" {
		d.Key = "mti 11 41 7"
		if dl, err := codec.Lookup(d.Dialect); err == nil && dl.Field(codec.FieldTransmission) == nil {
			d.Key = "mti 11 41" // UnionPay's POS dialect has no field 7
		}
	}
	if d.EchoInterval == 0 {
		d.EchoInterval = 30 * time.Second
	}
	if d.MaxPendingBytes == 0 {
		d.MaxPendingBytes = 4 << 20
	}
	if d.ReconnectMin == 0 {
		d.ReconnectMin = 100 * time.Millisecond
	}
	if d.ReconnectMax == 0 {
		d.ReconnectMax = 10 * time.Second
	}
	if d.MaxConnections == 0 && len(d.Listen) > 0 {
		d.MaxConnections = 4
	}
	if d.PINFormat == "" {
		d.PINFormat = "iso0"
	}
	if d.KeyChangeCode == 0 {
		d.KeyChangeCode = 161
	}
}

// pinFormats are the PIN block formats a ZPK may carry, by config name:
// those a translation can produce with the PAN the request carries.
var pinFormats = map[string]hsm.PINBlockFormat{"iso0": hsm.ISO0, "iso1": hsm.ISO1, "iso3": hsm.ISO3}

// lmkCryptogram matches a double-length key under the LMK as a host holds
// it: scheme U or X and 32 hex digits, or 32 hex digits untagged.
var lmkCryptogram = regexp.MustCompile(`^[UX]?[0-9A-Fa-f]{32}$`)

// validateKeys checks the destination's zone keys and MAC settings.
func (d *DestinationConfig) validateKeys(key func(string) string, dialect *codec.Dialect) error {
	for _, k := range []struct{ name, v string }{{"zmk", d.ZMK}, {"zpk", d.ZPK}, {"zak", d.ZAK}} {
		if k.v != "" && !lmkCryptogram.MatchString(k.v) {
			return fmt.Errorf("%s: must be a double-length key under the LMK (U or X and 32 hex digits)", key(k.name)) // never echo a key
		}
	}
	if _, ok := pinFormats[d.PINFormat]; !ok {
		return fmt.Errorf("%s: %q must be iso0, iso1 or iso3", key("pin_format"), d.PINFormat)
	}
	if d.MAC != "" {
		if _, ok := hsm.MACMethods[d.MAC]; !ok {
			return fmt.Errorf("%s: %q must be x919, alg1, cmac or cup", key("mac"), d.MAC)
		}
		if dialect.Field(codec.FieldMAC) == nil {
			return fmt.Errorf("%s: dialect %s has no field 64 to carry a MAC", key("mac"), dialect.Name)
		}
		if d.ZAK == "" && d.ZMK == "" {
			return fmt.Errorf("%s: needs zak, or zmk to receive one", key("mac"))
		}
	}
	switch c := d.KeyChangeCode; {
	case c < 1 || c > 999 || c == netSignOn || c == netSignOff || c == netEcho:
		return fmt.Errorf("%s: %d must be 1 to 999, not sign-on, sign-off or echo", key("key_change_code"), c)
	case d.KeyChangeInterval != 0 && (d.KeyChangeInterval < time.Minute || d.KeyChangeInterval > 31*24*time.Hour):
		return fmt.Errorf("%s: %v must be 0 (never) or 1m to 744h", key("key_change_interval"), d.KeyChangeInterval)
	case d.KeyChangeInterval != 0 && d.ZMK == "":
		return fmt.Errorf("%s: needs zmk", key("key_change_interval"))
	}
	if d.ZMK != "" {
		for _, id := range []int{codec.FieldNetworkCode, 48, 53} {
			if dialect.Field(id) == nil {
				return fmt.Errorf("%s: dialect %s has no field %d for zone key changes", key("zmk"), dialect.Name, id)
			}
		}
	}
	return nil
}

// validate reports the first problem of destination i, naming the key.
func (d *DestinationConfig) validate(i int, links []LinkConfig) error {
	key := func(k string) string { return fmt.Sprintf("destinations[%d].%s", i, k) }
	if !linkName.MatchString(d.Name) {
		return fmt.Errorf("%s: %q must be lower-case letters, digits, - or _ (up to 32)", key("name"), d.Name)
	}
	dialect, err := codec.Lookup(d.Dialect)
	if err != nil {
		return fmt.Errorf("%s: %v", key("dialect"), err)
	}
	f, err := codec.ParseFraming(d.Framing)
	if err != nil {
		return fmt.Errorf("%s: %v", key("framing"), err)
	}
	limit := 65535
	if f.Header != codec.LenBinary2 {
		limit = 9999
	}
	if d.MaxFrame < 64 || d.MaxFrame > limit {
		return fmt.Errorf("%s: %d must be 64 to %d for %s", key("max_frame"), d.MaxFrame, limit, f)
	}
	if t, err := hex.DecodeString(d.TPDU); err != nil || len(t) != codec.TPDULen {
		return fmt.Errorf("%s: %q must be %d hex digits", key("tpdu"), d.TPDU, 2*codec.TPDULen)
	}
	if h, err := hex.DecodeString(d.Header); err != nil || len(h) > dialect.HeaderLen {
		return fmt.Errorf("%s: %q must be hex, at most %d bytes for %s", key("header"), d.Header, dialect.HeaderLen, dialect.Name)
	}
	if len(d.Endpoints) == 0 && len(d.Listen) == 0 {
		return fmt.Errorf("%s: at least one endpoint (or a listen address) is needed", key("endpoints"))
	}
	if err := d.validateListen(key); err != nil {
		return err
	}
	if d.TLS != nil {
		if len(d.Endpoints) > 0 {
			if _, err := d.TLS.load(key("tls"), tlsClient, time.Now()); err != nil {
				return err
			}
		}
		if len(d.Listen) > 0 {
			if _, err := d.TLS.load(key("tls"), tlsServer, time.Now()); err != nil {
				return fmt.Errorf("%v (listen: the switch is the TLS server of the connections the destination opens)", err)
			}
		}
	}
	for j, e := range d.Endpoints {
		if _, _, err := net.SplitHostPort(e.Address); err != nil {
			return fmt.Errorf("%s: %q is not host:port", key(fmt.Sprintf("endpoints[%d].address", j)), e.Address)
		}
		if e.Tier < 0 || e.Tier > 7 {
			return fmt.Errorf("%s: %d must be 0 (primary) to 7", key(fmt.Sprintf("endpoints[%d].tier", j)), e.Tier)
		}
	}
	if d.Connections < 1 || d.Connections*len(d.Endpoints)+d.MaxConnections > upstream.ConnsMax {
		return fmt.Errorf("%s: %d per endpoint: the destination may hold 1 to %d connections", key("connections"), d.Connections, upstream.ConnsMax)
	}
	if _, err := upstream.ParseStrategy(d.Strategy); err != nil {
		return fmt.Errorf("%s: %v", key("strategy"), err)
	}
	switch {
	case d.Timeout < 10*time.Millisecond || d.Timeout > 2*time.Minute:
		return fmt.Errorf("%s: %v must be 10ms to 2m", key("timeout"), d.Timeout)
	case d.MaxInFlight < 1 || d.MaxInFlight > 1<<20:
		return fmt.Errorf("%s: %d must be 1 to %d", key("max_in_flight"), d.MaxInFlight, 1<<20)
	case d.EchoInterval < time.Second || d.EchoInterval > time.Hour:
		return fmt.Errorf("%s: %v must be 1s to 1h", key("echo_interval"), d.EchoInterval)
	case d.MaxPendingBytes < d.MaxFrame:
		return fmt.Errorf("%s: must be at least max_frame", key("max_pending_bytes"))
	case d.ReconnectMin < time.Millisecond || d.ReconnectMax < d.ReconnectMin || d.ReconnectMax > 10*time.Minute:
		return fmt.Errorf("%s: %v to %v: want 1ms <= reconnect_min <= reconnect_max <= 10m", key("reconnect_min"), d.ReconnectMin, d.ReconnectMax)
	}
	if err := d.validateKeys(key, dialect); err != nil {
		return err
	}
	if err := d.SAF.validate(key); err != nil {
		return err
	}
	if err := d.StandIn.validate(key); err != nil {
		return err
	}
	if err := d.Breaker.Validate(); err != nil {
		return fmt.Errorf("%s: %v", key("breaker"), err)
	}
	ks, err := upstream.ParseKeySpec(d.Key)
	if err != nil {
		return fmt.Errorf("%s: %v", key("key"), err)
	}
	if err := ks.Check(dialect); err != nil {
		return fmt.Errorf("%s: %v", key("key"), err)
	}
	for _, l := range links {
		orig, _ := codec.Lookup(l.Dialect)
		for _, with37 := range []bool{true, false} {
			if _, err := compilePlan(d.Mapping, orig, dialect, with37); err != nil {
				return fmt.Errorf("%s (from link %s): %v", key("mapping"), l.Name, err)
			}
		}
	}
	return nil
}

// compilePlan compiles the mapping of d between an originator's dialect
// and the destination's. with37: the originator's request has its own RRN,
// restored on the reply; without, the reply carries the switch's RRN as
// the destination echoes it.
func compilePlan(m MappingConfig, orig, dest *codec.Dialect, with37 bool) (*upstream.Plan, error) {
	um := upstream.Mapping{Out: upstream.Side(m.Out), Back: upstream.Side(m.Back), Restore: m.Restore}
	if m.Out.empty() {
		um.Out = upstream.Side(defaultOut)
	}
	if m.Back.empty() {
		um.Back = upstream.Side(defaultBack)
	}
	for _, id := range assigned {
		if id == codec.FieldPINBlock && (slices.Contains(um.Out.Drop, id) || slices.Contains(um.Out.Copy, id)) {
			continue // dropped by the mapping (a copy is refused by Compile)
		}
		if dest.Field(id) != nil {
			um.Assign = append(um.Assign, id)
		}
	}
	if len(m.Restore) == 0 {
		echo := codec.Echo(orig)
		for id := 2; id <= codec.MaxField; id++ {
			if echo[id] && orig.Field(id) != nil && id != codec.FieldApproval && id != codec.FieldResponseCode && !slices.Contains(um.Back.Drop, id) {
				um.Restore = append(um.Restore, id)
			}
		}
	}
	if !with37 {
		r := um.Restore[:0:0]
		for _, id := range um.Restore {
			if id != codec.FieldRRN {
				r = append(r, id)
			}
		}
		um.Restore = r
	}
	return upstream.Compile(um, orig, dest)
}
