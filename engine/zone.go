package engine

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/wire"
	"github.com/cardswitch/cardswitch/journal"
)

// Zone keys: a destination's working keys (ZPK for PIN blocks, ZAK for
// MACs), under a zone master key (ZMK) the switch and the host share. They
// change by an 0800 key change (70 = key_change_code) in either direction:
// field 53 says which key ("01" PIN, "02" MAC, the rest zeros) and field
// 48 carries it under the ZMK (32 hex digits) with its check value (6 hex
// digits). A key is journaled (as a cryptogram under the LMK, never in
// clear) before it is used, in the record's SessionKeys with a version of
// its own (zoneVersion), so that replay and snapshots restore it through
// Keys.Restore like a terminal's sign-on keys; a key the switch proposes
// is journaled as proposed before it is sent and as active once the host
// answered 00.

const zoneVersion = 2 // SessionKeys of a zone key record (sessionVersion is a terminal's)

// Zone key kinds, as field 53 names them.
const (
	zonePIN = "01"
	zoneMAC = "02"
)

// ZoneKey is one zone working key as journaled.
type ZoneKey struct {
	Destination string
	ZMK         string     // the ZMK's cryptogram it came under: a new ZMK voids it
	Key         hsm.KeyRef // under the LMK: KeyTypeZPK or KeyTypeZAK
	KCV         string
	Active      bool // false: proposed to the host, not yet in force
}

func encodeZone(z ZoneKey) []byte {
	b := []byte{zoneVersion}
	act := "0"
	if z.Active {
		act = "1"
	}
	for _, v := range []string{z.Destination, z.ZMK, z.Key.Type, z.Key.Cryptogram, z.KCV, act} {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

var errZone = errors.New("engine: zone key record does not parse")

func decodeZone(b []byte) (ZoneKey, error) {
	if len(b) < 1 || b[0] != zoneVersion {
		return ZoneKey{}, errZone
	}
	r := wire.Reader{B: b[1:]}
	str := func() string { return string(r.Raw()) }
	z := ZoneKey{Destination: str(), ZMK: str()}
	z.Key = hsm.KeyRef{Type: str(), Cryptogram: str()}
	z.KCV = str()
	act := str()
	z.Active = act == "1"
	if r.Bad || len(r.B) != 0 || z.Destination == "" || (act != "0" && act != "1") ||
		(z.Key.Type != hsm.KeyTypeZPK && z.Key.Type != hsm.KeyTypeZAK) {
		return ZoneKey{}, errZone
	}
	return z, nil
}

// zoneID is a zone key's map key in Keys: destination and key type.
type zoneID struct{ dest, keyType string }

// setZone records an active zone key (for snapshots and a server built
// after the replay).
func (k *Keys) setZone(z ZoneKey) { k.zone.Store(zoneID{z.Destination, z.Key.Type}, z) }

// Zone returns the active zone key of a type for a destination, as the
// journal and the snapshot left it.
func (k *Keys) Zone(dest, keyType string) (ZoneKey, bool) {
	v, ok := k.zone.Load(zoneID{dest, keyType})
	if !ok {
		return ZoneKey{}, false
	}
	return v.(ZoneKey), true
}

// zoneKeys are a destination's working keys in force, replaced whole.
type zoneKeys struct {
	zpk, zak hsm.KeyRef // Cryptogram "": none
}

// zoneState is a destination's key material and key change machinery.
type zoneState struct {
	zmk       hsm.KeyRef // Cryptogram "": no key exchange
	macAlg    hsm.MACAlgorithm
	pinFormat hsm.PINBlockFormat
	keys      atomic.Pointer[zoneKeys] // workers read it, a key change swaps it
	changes   chan keyChange           // switch-initiated changes, for a keeper; cap 1: one waits at a time
	changeMu  sync.Mutex               // one key change at a time per destination
	last      atomic.Int64             // unix ns of the last change (or the start), for key_change_interval
	lines     logLimit                 // PIN and MAC failure lines
	macFail   atomic.Int64             // responses whose MAC did not verify
	changed   atomic.Int64             // key changes installed
}

// keyChange is a switch-initiated key change waiting for a keeper.
type keyChange struct {
	kind string     // zonePIN or zoneMAC
	done chan error // cap 1
}

// initZone sets d's zone keys: the configured ones, replaced by those the
// journal restored into keys while they came under the same ZMK.
func (d *destination) initZone(s *Server) {
	cfg := d.cfg
	z := &zoneState{zmk: hsm.KeyRef{Type: hsm.KeyTypeZMK, Cryptogram: cfg.ZMK}, macAlg: hsm.MACMethods[cfg.MAC],
		pinFormat: pinFormats[cfg.PINFormat], changes: make(chan keyChange, 1), lines: logLimit{every: lineEvery, burst: lineBurst}}
	k := &zoneKeys{zpk: hsm.KeyRef{Type: hsm.KeyTypeZPK, Cryptogram: cfg.ZPK}, zak: hsm.KeyRef{Type: hsm.KeyTypeZAK, Cryptogram: cfg.ZAK}}
	if s.keys != nil && cfg.ZMK != "" {
		if j, ok := s.keys.Zone(cfg.Name, hsm.KeyTypeZPK); ok && j.ZMK == cfg.ZMK {
			k.zpk = j.Key
		}
		if j, ok := s.keys.Zone(cfg.Name, hsm.KeyTypeZAK); ok && j.ZMK == cfg.ZMK {
			k.zak = j.Key
		}
	}
	z.keys.Store(k)
	z.last.Store(s.clock.Now().UnixNano())
	d.zone = z
}

// needsHSM reports a destination that uses zone keys or MACs.
func (c *DestinationConfig) needsHSM() bool {
	return c.ZMK != "" || c.ZPK != "" || c.ZAK != "" || c.MAC != ""
}

// zoneHSMTimeout bounds the keeper's HSM calls of a key change (a
// request's own use its link's hsm_timeout): as a link's default.
const zoneHSMTimeout = 2 * time.Second

func zoneCall(timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), timeout)
}

// translatePIN translates t's PIN block from its terminal's PIN key to
// the destination's ZPK, into dst (the worker's). The error says which
// answer: ErrIssuerUnavailable (no ZPK, no terminal key: 91) or ErrSystem
// (the HSM failed: 96). The block is never logged.
func (s *Server) translatePIN(t *Txn, d *destination, dst []byte) ([]byte, error) {
	z := d.zone
	zpk := z.keys.Load().zpk
	if zpk.Cryptogram == "" {
		return nil, fmt.Errorf("%w: no zone PIN key for the destination", ErrIssuerUnavailable)
	}
	v := &t.View
	if it, ok := s.dukptTerminal(t); ok {
		return s.translateDUKPTPIN(t, it, zpk, z.pinFormat, dst)
	}
	var term [16]byte
	var tpk hsm.KeyRef
	ok := false
	if s.keys != nil {
		_, tpk, _, ok = s.keys.Terminal(t.Link.cfg.Name, v.TerminalID(term[:0]))
	}
	if !ok || tpk.Cryptogram == "" || s.hsm == nil {
		return nil, fmt.Errorf("%w: no PIN key for the terminal", ErrIssuerUnavailable)
	}
	var block [16]byte
	ctx, cancel := s.hsmCall(t)
	defer cancel()
	out, err := s.hsm.TranslatePIN(ctx, hsm.PINTranslation{From: tpk, To: zpk, FromFormat: hsm.ISO0, ToFormat: z.pinFormat,
		Block: v.PINBlock(block[:0]), PAN: string(t.PAN())})
	if err != nil {
		return nil, fmt.Errorf("%w: PIN translation: %v", ErrSystem, err)
	}
	return append(dst[:0], out...), nil
}

// zoneRefused counts and logs (rate-limited, never the block) a
// forwarded request refused for its keys.
func (s *Server) zoneRefused(d *destination, t *Txn, what string, err error) {
	d.m.refused.Inc()
	if n, ok := d.zone.lines.allow(time.Now()); ok {
		var term [16]byte
		ev := d.log.Warn().Err(err).Str("link", t.Link.cfg.Name).Str("terminal", string(t.View.TerminalID(term[:0])))
		ev.Int64("suppressed", n).Msg(what)
	}
}

// zoneSigner is the MAC function of the outbound request under zak.
func (s *Server) zoneSigner(d *destination, zak hsm.KeyRef, timeout time.Duration) func([]byte) ([]byte, error) {
	return func(in []byte) ([]byte, error) {
		ctx, cancel := zoneCall(timeout)
		defer cancel()
		return s.hsm.GenerateMAC(ctx, zak, d.zone.macAlg, hsm.MACPaddingFor(d.zone.macAlg), in)
	}
}

// errNoZAK is a destination with mac and no zone MAC key (none
// configured, none received yet).
var errNoZAK = errors.New("engine: no zone MAC key for the destination")

// errBadMAC is a response whose MAC did not verify under the key its
// request was sent under, nor the key now in force.
var errBadMAC = errors.New("engine: response MAC does not verify")

// verifyZoneMAC checks the MAC of a destination's response (decoded in
// resp) under the key its request was MACed with, then (a key change in
// between) under the one in force: a host may answer under either.
func (s *Server) verifyZoneMAC(d *destination, resp *codec.View, sentUnder hsm.KeyRef, timeout time.Duration) error {
	input, ok := resp.MACInput()
	if !ok {
		return errBadMAC
	}
	var mac [16]byte
	m := resp.MAC(mac[:0])
	tried := [2]hsm.KeyRef{sentUnder, d.zone.keys.Load().zak}
	var last error = errBadMAC
	for i, k := range tried {
		if k.Cryptogram == "" || (i == 1 && k == tried[0]) {
			continue
		}
		ctx, cancel := zoneCall(timeout)
		err := s.hsm.VerifyMAC(ctx, k, d.zone.macAlg, hsm.MACPaddingFor(d.zone.macAlg), input, m)
		cancel()
		if err == nil {
			return nil
		}
		if !errors.Is(err, hsm.ErrMACMismatch) && !errors.Is(err, hsm.ErrMACLength) {
			last = fmt.Errorf("MAC verification: %w", err)
		}
	}
	return last
}

// zoneKind maps field 53 to a key type: "01..." PIN, "02..." MAC, the
// rest zeros.
func zoneKind(f53 []byte) (string, bool) {
	if len(f53) != 16 || strings.Trim(string(f53[2:]), "0") != "" {
		return "", false
	}
	switch string(f53[:2]) {
	case zonePIN:
		return hsm.KeyTypeZPK, true
	case zoneMAC:
		return hsm.KeyTypeZAK, true
	}
	return "", false
}

// zoneKeyField is field 48 of a key change: the key under the ZMK in 32
// hex digits, then its check value in 6.
func zoneKeyField(under []byte, kcv string) string {
	return strings.ToUpper(hex.EncodeToString(under)) + strings.ToUpper(kcv[:6])
}

func parseZoneKeyField(f48 []byte) (under []byte, kcv string, ok bool) {
	if len(f48) != 38 {
		return nil, "", false
	}
	under, err := hex.DecodeString(string(f48[:32]))
	if err != nil {
		return nil, "", false
	}
	if _, err := hex.DecodeString(string(f48[32:])); err != nil {
		return nil, "", false
	}
	return under, strings.ToUpper(string(f48[32:])), true
}

// journalZone makes a zone key record durable (a keeper's goroutine: it
// waits). Without a journal there is nothing to wait for.
func (s *Server) journalZone(d *destination, z ZoneKey) error {
	rj, ok := s.journal.(JournalStage)
	if !ok || rj.J == nil {
		return nil
	}
	now := s.clock.Now()
	rec := journal.Record{BusinessDate: s.day.Date(now), Received: now.UnixNano(), Decided: now.UnixNano(),
		Link: d.cfg.Name, MTI: codec.MTI{'0', '8', '0', '0'}, RespCode: [2]byte{'0', '0'}, SessionKeys: encodeZone(z)}
	w := make(waitErr, 1)
	rj.J.Append(&rec, w)
	return <-w
}

// installZone puts a journaled zone key in force.
func (s *Server) installZone(d *destination, z ZoneKey) {
	for {
		old := d.zone.keys.Load()
		next := *old
		if z.Key.Type == hsm.KeyTypeZPK {
			next.zpk = z.Key
		} else {
			next.zak = z.Key
		}
		if d.zone.keys.CompareAndSwap(old, &next) {
			break
		}
	}
	if s.keys != nil {
		s.keys.setZone(z)
	}
	d.zone.last.Store(s.clock.Now().UnixNano())
	d.zone.changed.Add(1)
	d.m.keyChange.Inc()
	d.log.Info().Str("key", keyName(z.Key.Type)).Str("kcv", z.KCV).Msg("zone key changed")
}

func keyName(keyType string) string {
	if keyType == hsm.KeyTypeZPK {
		return "zpk"
	}
	return "zak"
}

// acceptKeyChange imports the key a destination sent in its 0800 (the
// keeper's goroutine: the HSM and the journal wait) and returns the
// answer's code: 00 installed, 30 malformed, 96 a check value that does
// not match or an import or journal failure (the old key stays).
func (s *Server) acceptKeyChange(d *destination, v *codec.View) [2]byte {
	z := d.zone
	var b53, b48 [64]byte
	keyType, ok := zoneKind(v.AppendText(b53[:0], 53))
	under, kcv, ok2 := parseZoneKeyField(v.AppendText(b48[:0], 48))
	if !ok || !ok2 || z.zmk.Cryptogram == "" || s.hsm == nil {
		d.m.keyRefused.Inc()
		if n, ok := z.lines.allow(time.Now()); ok {
			d.log.Warn().Bool("zmk", z.zmk.Cryptogram != "").Int64("suppressed", n).Msg("zone key change from the destination refused: malformed, or no ZMK")
		}
		if !ok || !ok2 {
			return [2]byte{'3', '0'}
		}
		return [2]byte{'9', '6'}
	}
	z.changeMu.Lock()
	defer z.changeMu.Unlock()
	ctx, cancel := zoneCall(zoneHSMTimeout)
	ref, got, err := s.hsm.ImportKey(ctx, z.zmk, keyType, under)
	cancel()
	switch {
	case err != nil:
		d.m.keyRefused.Inc()
		if n, ok := z.lines.allow(time.Now()); ok {
			d.log.Error().Err(err).Str("key", keyName(keyType)).Int64("suppressed", n).Msg("zone key change from the destination: import failed, old key kept")
		}
		return [2]byte{'9', '6'}
	case len(got) < 6 || !strings.EqualFold(got[:6], kcv):
		d.m.keyRefused.Inc()
		if n, ok := z.lines.allow(time.Now()); ok {
			d.log.Error().Str("key", keyName(keyType)).Str("kcv_sent", kcv).Int64("suppressed", n).Msg("zone key change from the destination: check value mismatch, old key kept")
		}
		return [2]byte{'9', '6'}
	}
	zk := ZoneKey{Destination: d.cfg.Name, ZMK: z.zmk.Cryptogram, Key: ref, KCV: strings.ToUpper(got[:6]), Active: true}
	if err := s.journalZone(d, zk); err != nil {
		d.log.Error().Err(err).Str("key", keyName(keyType)).Msg("zone key change from the destination not journaled: old key kept")
		return [2]byte{'9', '6'}
	}
	s.installZone(d, zk)
	return [2]byte{'0', '0'}
}

// ErrNoDestination is a destination name not configured.
var ErrNoDestination = errors.New("engine: no such destination")

// ChangeZoneKey asks a keeper of destination name to send it a new key
// ("zpk" or "zak") and waits until the destination answered and the key
// is in force (or ctx ends). The admin API's key change.
func (s *Server) ChangeZoneKey(ctx context.Context, name, key string) error {
	d := s.dests[name]
	if d == nil {
		return fmt.Errorf("%w: %q", ErrNoDestination, name)
	}
	if d.zone.zmk.Cryptogram == "" {
		return fmt.Errorf("destination %s has no zmk: no key exchange", name)
	}
	if _, err := d.pool.Pick(); err != nil {
		return fmt.Errorf("destination %s: no connection up to send the key on", name)
	}
	kc := keyChange{done: make(chan error, 1)}
	switch key {
	case "zpk":
		kc.kind = zonePIN
	case "zak":
		kc.kind = zoneMAC
	default:
		return fmt.Errorf("key %q: zpk or zak", key)
	}
	return askKeeper(ctx, d.zone.changes, kc, kc.done)
}

// proposeKey runs a switch-initiated key change on ss (its keeper): a new
// key under the ZMK, journaled as proposed, sent, and on 0810 00 journaled
// as active and installed. Any failure leaves the old key in force.
func (s *Server) proposeKey(ss *outSession, kind string) error {
	d := ss.oc.d
	z := d.zone
	keyType := hsm.KeyTypeZPK
	if kind == zoneMAC {
		keyType = hsm.KeyTypeZAK
	}
	z.changeMu.Lock()
	defer z.changeMu.Unlock()
	ctx, cancel := zoneCall(zoneHSMTimeout)
	wk, err := s.hsm.WorkingKey(ctx, z.zmk, keyType)
	cancel()
	if err != nil {
		return fmt.Errorf("new %s: %w", keyName(keyType), err)
	}
	if len(wk.KCV) < 6 || len(wk.UnderTMK) != 16 {
		return fmt.Errorf("new %s: the HSM gave a key of %d bytes", keyName(keyType), len(wk.UnderTMK))
	}
	zk := ZoneKey{Destination: d.cfg.Name, ZMK: z.zmk.Cryptogram, Key: wk.UnderLMK, KCV: strings.ToUpper(wk.KCV[:6])}
	if err := s.journalZone(d, zk); err != nil {
		return fmt.Errorf("proposed %s not journaled: %w", keyName(keyType), err)
	}
	stan := s.netSTAN()
	buf, err := s.buildKeyChange(d, stan, kind, zoneKeyField(wk.UnderTMK, wk.KCV))
	if err != nil {
		return err
	}
	if err := s.netExchange(ss, stan, buf); err != nil {
		return fmt.Errorf("%s change: %w", keyName(keyType), err)
	}
	zk.Active = true
	if err := s.journalZone(d, zk); err != nil {
		// the host has the new key; the switch cannot use it without its
		// record: the next change (or an operator) repairs it
		return fmt.Errorf("%s accepted by the destination but not journaled: %w", keyName(keyType), err)
	}
	s.installZone(d, zk)
	return nil
}

// buildKeyChange builds the switch's 0800 key change: 7, 11, 48, 53, 70.
func (s *Server) buildKeyChange(d *destination, stan uint32, kind, f48 string) ([]byte, error) {
	var b codec.Builder
	frame := d.framing.Reserve(nil, d.tpdu)
	b.Begin(d.dialect, frame, codec.MTI{'0', '8', '0', '0'}, d.header)
	var tmp [16]byte
	if d.dialect.Field(codec.FieldTransmission) != nil {
		b.Text(codec.FieldTransmission, upstream.AppendTransmission(tmp[:0], s.clock.Now()))
	}
	b.Text(codec.FieldSTAN, upstream.AppendSTAN(tmp[:0], stan))
	b.String(48, f48)
	b.String(53, kind+"00000000000000")
	b.Uint(codec.FieldNetworkCode, uint64(d.cfg.KeyChangeCode))
	out, err := b.Finish()
	if err != nil {
		return nil, err
	}
	return d.framing.Seal(out, 0)
}

// dueKeyChange reports whether the interval's key change is due, and
// claims it (one keeper of the destination sends it).
func (d *destination) dueKeyChange(now time.Time) bool {
	every := d.cfg.KeyChangeInterval
	if every == 0 || d.zone.zmk.Cryptogram == "" {
		return false
	}
	last := d.zone.last.Load()
	return now.UnixNano()-last >= int64(every) && d.zone.last.CompareAndSwap(last, now.UnixNano())
}

// isKeyChange reports an 0800 key change (70 = key_change_code).
func (s *Server) isKeyChange(d *destination, v *codec.View) bool {
	code, ok := v.NetworkCode()
	return ok && int(code) == d.cfg.KeyChangeCode
}

// answerKeyChange handles the destination's key change msg on its
// keeper's goroutine and answers it 0810.
func (s *Server) answerKeyChange(ss *outSession, msg []byte) {
	d := ss.oc.d
	var v codec.View
	if err := d.dialect.Decode(&v, msg); err != nil {
		return // decoded on the loop already: not reached
	}
	rc := s.acceptKeyChange(d, &v)
	if buf, err := s.buildNetAnswer(d, v.MTI().Response(), 0, 0, &v, string(rc[:])); err == nil {
		_ = ss.send(buf)
	}
}

// appendZoneMAC MACs the outbound request under zak: in 64, or 128 when
// the request carries secondary fields (64 would not cover them).
func (s *Server) appendZoneMAC(b *codec.Builder, d *destination, zak hsm.KeyRef, timeout time.Duration) error {
	id := codec.FieldMAC
	if _, err := b.MACInput(id); err != nil && d.dialect.Field(codec.FieldMAC2) != nil {
		id = codec.FieldMAC2 // fields past 64 are in: the MAC goes last
	}
	return s.appendMAC(b, id, s.zoneSigner(d, zak, timeout))
}

// badMAC answers t, whose response's MAC did not verify, as a timeout
// (91): the response is not trusted, its record says "bad MAC", and if it
// approved (or carries no code) its effect at the issuer is recorded to be
// reversed exactly as a late approval's.
func (s *Server) badMAC(t *Txn, err error) {
	d := t.dest
	resp := &t.upView
	d.zone.macFail.Add(1)
	d.m.badMAC.Inc()
	t.upState = journal.UpBadMAC
	var rc [8]byte
	code := resp.AppendText(rc[:0], codec.FieldResponseCode)
	if n, ok := d.zone.lines.allow(time.Now()); ok {
		d.log.Warn().AnErr("cause", err).Str("rc", string(code)).Uint32("stan", t.upSTAN).Uint64("rrn_seq", t.rrnSeq).
			Int64("suppressed", n).Msg("response MAC does not verify: not trusted, the originator answered 91")
	}
	if upstream.VerdictOf(resp, upstream.DefaultApprovals).MustReverse() {
		d.m.lateReverse.Inc()
		it := s.lateRecord(d, resp, t.rrnSeq)
		select { // a worker may wait for room, as it waits for the journal; not past the stop
		case s.lateQ <- it:
		case <-s.outStop:
			d.log.Error().Uint32("stan", t.upSTAN).Uint64("rrn_seq", t.rrnSeq).
				Msg("approval with a bad MAC NOT journaled (stopping): reverse it by hand")
		}
	}
	t.Fail(ErrIssuerUnavailable)
	s.respondSigned(t)
}

// appendUpperHex appends b in upper-case hex (the text form of a binary
// field), without allocating.
func appendUpperHex(dst, b []byte) []byte {
	const digits = "0123456789ABCDEF"
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&0xF])
	}
	return dst
}
