package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/logline"
	"github.com/cardswitch/cardswitch/internal/wire"
)

// DUKPT terminals (issuer.Terminal.DUKPT): a PIN block comes under the key
// the device derived for this transaction from its KSN (TDES, ANSI
// X9.24-1), carried as 20 hex characters in the terminal's KSN field
// (default 62). The switch refuses, with ErrKSN (63, security violation)
// and no effect, a KSN that is malformed, names another device or key
// set, has an exhausted counter (more than ten one bits: X9.24-1 A.2) or
// a counter not above the highest one the terminal has used.
//
// The highest counter is claimed once the HSM has decoded the block under
// the derived key (right or wrong PIN: a block that does not decode
// proves nothing of the sender, so a forged KSN cannot burn a terminal's
// counters), then travels in the request's journal record (SessionKeys,
// dukptVersion) so that a restart (replay, snapshot) keeps it. A request
// that lost the claim to a concurrent one with the same KSN answers 96.
// A claim whose record was refused by the journal stays in memory (the
// request answered 96): only a restart forgets it.

const dukptVersion = 3 // SessionKeys of a DUKPT counter record (sessionVersion, zoneVersion: 1, 2)

// ErrKSN is a DUKPT KSN refused: malformed, another device's, exhausted
// or replayed (63, security violation).
var ErrKSN = errors.New("engine: DUKPT KSN refused")

// dukptVerifier is what the engine asks of an HSM for a DUKPT terminal
// (hsm.Soft; the payShield client answers payshield.ErrUnsupported).
type dukptVerifier interface {
	VerifyDUKPTPIN(ctx context.Context, c hsm.DUKPTPINCheck) error
}

// dukptSeen is the highest counter a terminal's device has used.
type dukptSeen struct {
	device  [10]byte // the KSN with its counter cleared
	counter uint32
}

// dukptCounters holds each DUKPT terminal's highest counter. Safe for
// concurrent use.
type dukptCounters struct {
	mu sync.Mutex
	// mu guards last: terminal ID -> dukptSeen. Bounded by the issuer
	// data: only a DUKPT terminal of the data claims a counter (replay
	// restores what was journaled, which was so too), one entry each.
	last map[string]dukptSeen
}

// above reports whether counter is above the highest one device used.
func (c *dukptCounters) above(terminal string, device [10]byte, counter uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.last[terminal]
	return !ok || s.device != device || counter > s.counter // a new device starts afresh
}

// claim records counter as the highest used, if it is above the last one.
func (c *dukptCounters) claim(terminal string, device [10]byte, counter uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.last[terminal]
	if ok && s.device == device && counter <= s.counter {
		return false
	}
	if c.last == nil {
		c.last = map[string]dukptSeen{}
	}
	c.last[terminal] = dukptSeen{device, counter}
	return true
}

// restore installs a journaled counter: the highest of it and the one held
// (records replay in order, but a snapshot and its suffix may overlap).
func (c *dukptCounters) restore(terminal string, device [10]byte, counter uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.last[terminal]; ok && s.device == device && s.counter >= counter {
		return
	}
	if c.last == nil {
		c.last = map[string]dukptSeen{}
	}
	c.last[terminal] = dukptSeen{device, counter}
}

// DUKPTCounter returns the highest KSN counter a terminal has used and its
// device (the KSN with the counter cleared), for tools and tests.
func (k *Keys) DUKPTCounter(terminal string) (device [10]byte, counter uint32, ok bool) {
	k.dukpt.mu.Lock()
	defer k.dukpt.mu.Unlock()
	s, ok := k.dukpt.last[terminal]
	return s.device, s.counter, ok
}

// encodeDUKPT is a claimed counter as journaled.
func encodeDUKPT(terminal string, device [10]byte, counter uint32) []byte {
	b := []byte{dukptVersion}
	b = binary.AppendUvarint(b, uint64(len(terminal)))
	b = append(b, terminal...)
	b = append(b, device[:]...)
	return binary.AppendUvarint(b, uint64(counter))
}

var errDUKPTRecord = errors.New("engine: DUKPT counter record does not parse")

// decodeDUKPT reads encodeDUKPT's output.
func decodeDUKPT(b []byte) (terminal string, device [10]byte, counter uint32, err error) {
	if len(b) < 1 || b[0] != dukptVersion {
		return "", device, 0, errDUKPTRecord
	}
	r := wire.Reader{B: b[1:]}
	terminal = string(r.Raw())
	if r.Bad || len(r.B) < len(device) || terminal == "" {
		return "", device, 0, errDUKPTRecord
	}
	copy(device[:], r.B)
	c, n := binary.Uvarint(r.B[len(device):])
	if n <= 0 || len(r.B) != len(device)+n || c == 0 || c >= 1<<21 {
		return "", device, 0, errDUKPTRecord
	}
	return terminal, device, uint32(c), nil
}

// dukptRequest is what a DUKPT terminal's request says of its key.
type dukptRequest struct {
	terminal string
	ksn      [10]byte
	device   [10]byte
	counter  uint32
	bdk      hsm.KeyRef
}

// dukptTerminal returns the request's terminal when it is a DUKPT one.
func (s *Server) dukptTerminal(t *Txn) (*issuer.Terminal, bool) {
	if s == nil || s.keys == nil { // a server without terminal keys has no DUKPT terminals either
		return nil, false
	}
	data := s.keys.data()
	if data == nil {
		return nil, false
	}
	var term [16]byte
	it, ok := data.Terminal(t.View.TerminalID(term[:0]))
	if !ok || it.DUKPT == nil {
		return nil, false
	}
	return it, true
}

// readKSN reads and checks a DUKPT terminal's KSN: ErrKSN when it is
// malformed, names another device or key set, is exhausted or replayed
// (a counter the same Txn already claimed is not a replay: the PIN may be
// verified twice, across a reload).
func (s *Server) readKSN(t *Txn, it *issuer.Terminal) (dukptRequest, error) {
	r := dukptRequest{terminal: it.ID}
	field := it.DUKPT.Field
	if field == 0 {
		field = issuer.DefaultKSNField
	}
	var buf [40]byte // 20 hex digits; a longer field is refused below
	text := t.View.AppendText(buf[:0], field)
	if len(text) != 2*len(r.ksn) {
		return r, fmt.Errorf("%w: field %d must carry the KSN as 20 hex digits", ErrKSN, field)
	}
	if _, err := hex.Decode(r.ksn[:], text); err != nil {
		return r, fmt.Errorf("%w: field %d is not hex", ErrKSN, field)
	}
	var err error
	if r.counter, err = hsm.KSNCounter(r.ksn[:]); err != nil {
		return r, fmt.Errorf("%w: counter zero or exhausted", ErrKSN)
	}
	r.device, _ = hsm.KSNDevice(r.ksn[:])
	var want [10]byte
	if _, err := hex.Decode(want[:], []byte(it.DUKPT.KSN)); err != nil || want != r.device {
		return r, fmt.Errorf("%w: not the terminal's device", ErrKSN)
	}
	bdk, ok := s.keys.data().BDK(it.DUKPT.KSN[:10])
	if !ok {
		return r, fmt.Errorf("%w: no BDK for key set %s", ErrSystem, it.DUKPT.KSN[:10])
	}
	r.bdk = hsm.KeyRef{Type: hsm.KeyTypeBDK, Cryptogram: bdk}
	if !t.claimedKSN(r) && !s.keys.dukpt.above(r.terminal, r.device, r.counter) {
		return r, fmt.Errorf("%w: counter not above the last one used", ErrKSN)
	}
	return r, nil
}

// claimedKSN reports whether t already claimed r's counter.
func (t *Txn) claimedKSN(r dukptRequest) bool {
	return t.sessionKeys != nil && bytes.Equal(t.sessionKeys, encodeDUKPT(r.terminal, r.device, r.counter))
}

// CheckKSN refuses (ErrKSN) a DUKPT terminal's request whose KSN is
// malformed, exhausted or replayed, before any HSM call; nil for any
// other terminal or a request without a PIN block.
func (s *Server) CheckKSN(t *Txn) error {
	it, ok := s.dukptTerminal(t)
	if !ok || !t.View.Has(52) {
		return nil
	}
	_, err := s.readKSN(t, it)
	if err != nil && t.Link != nil {
		if n, ok := t.Link.line(lineKSNRefused); ok { // bounded: a replay storm is one line a second
			logline.Held(t.Link.log.Warn().Str("terminal", it.ID).Str("reason", err.Error()), "suppressed", n).Msg("DUKPT KSN refused")
		}
	}
	return err
}

// verifyDUKPTPIN is VerifyPIN for a DUKPT terminal: the KSN checked, the
// PIN verified under the derived key, the counter claimed.
func (s *Server) verifyDUKPTPIN(t *Txn, it *issuer.Terminal, pvk hsm.KeyRef, pvki int, pvv string) error {
	r, err := s.readKSN(t, it)
	if err != nil {
		return err
	}
	h, ok := s.hsm.(dukptVerifier)
	if !ok || pvv == "" {
		return fmt.Errorf("%w: no DUKPT verification in the HSM or no PVV for the card", ErrSystem)
	}
	var block [8]byte
	ctx, cancel := s.hsmCall(t)
	defer cancel()
	err = h.VerifyDUKPTPIN(ctx, hsm.DUKPTPINCheck{BDK: r.bdk, KSN: r.ksn[:], Check: hsm.PINCheck{Format: hsm.ISO0,
		Block: t.View.PINBlock(block[:0]), PAN: string(t.PAN()), PVV: &hsm.PVVData{PVK: pvk, PVKI: pvki, PVV: pvv}}})
	switch {
	case err == nil, errors.Is(err, hsm.ErrPINMismatch):
		if !t.claimedKSN(r) {
			if !s.keys.dukpt.claim(r.terminal, r.device, r.counter) {
				return fmt.Errorf("%w: KSN claimed by a concurrent request", ErrSystem)
			}
			t.sessionKeys = encodeDUKPT(r.terminal, r.device, r.counter)
		}
		if err != nil {
			return ErrWrongPIN
		}
		return nil
	case errors.Is(err, hsm.ErrPINBlockFormat), errors.Is(err, hsm.ErrPINBlockFill),
		errors.Is(err, hsm.ErrPINDigits), errors.Is(err, hsm.ErrPINLength):
		return ErrWrongPIN // not decoded: the counter is not claimed
	}
	return fmt.Errorf("%w: DUKPT PIN verification: %v", ErrSystem, err)
}

// dukptTranslator is what the engine asks of an HSM to forward a DUKPT
// terminal's PIN block: hsm.Soft and the payShield client (G0).
type dukptTranslator interface {
	TranslateDUKPTPIN(ctx context.Context, t hsm.DUKPTPINTranslation) ([]byte, error)
}

// translateDUKPTPIN is translatePIN for a DUKPT terminal: the KSN checked
// (ErrKSN: 63, nothing forwarded), the block re-encrypted from the key
// derived for it to the destination's ZPK inside the HSM, and the counter
// claimed once the HSM decoded the block, journaled with the forwarded
// record as for an on-us verification.
func (s *Server) translateDUKPTPIN(t *Txn, it *issuer.Terminal, zpk hsm.KeyRef, to hsm.PINBlockFormat, dst []byte) ([]byte, error) {
	r, err := s.readKSN(t, it)
	if err != nil {
		return nil, err
	}
	h, ok := s.hsm.(dukptTranslator)
	if !ok {
		return nil, fmt.Errorf("%w: the HSM does not translate DUKPT PIN blocks", ErrSystem)
	}
	var block [8]byte
	ctx, cancel := s.hsmCall(t)
	defer cancel()
	out, err := h.TranslateDUKPTPIN(ctx, hsm.DUKPTPINTranslation{BDK: r.bdk, KSN: r.ksn[:], Block: t.View.PINBlock(block[:0]),
		PAN: string(t.PAN()), To: zpk, ToFormat: to})
	if err != nil {
		return nil, fmt.Errorf("%w: DUKPT PIN translation: %v", ErrSystem, err)
	}
	if !t.claimedKSN(r) {
		if !s.keys.dukpt.claim(r.terminal, r.device, r.counter) {
			return nil, fmt.Errorf("%w: KSN claimed by a concurrent request", ErrSystem)
		}
		t.sessionKeys = encodeDUKPT(r.terminal, r.device, r.counter)
	}
	return append(dst[:0], out...), nil
}

// dukptMACer is what the engine asks of an HSM for a DUKPT terminal on a
// link with MACs (hsm.Soft; the payShield client does not speak it).
type dukptMACer interface {
	VerifyDUKPTMAC(ctx context.Context, m hsm.DUKPTMAC, mac []byte) error
	GenerateDUKPTMAC(ctx context.Context, m hsm.DUKPTMAC) ([]byte, error)
}

// checkDUKPTMAC verifies a DUKPT terminal's request MAC under the request
// MAC variant of the key derived for its KSN: on a link with MACs every
// request carries the KSN (else ErrKSN, as for a replayed one). A MAC that
// verifies claims the counter (the request is the device's: a replay of
// it is refused), journaled with the request.
func (s *Server) checkDUKPTMAC(t *Txn, it *issuer.Terminal, input []byte) error {
	r, err := s.readKSN(t, it)
	if err != nil {
		return err
	}
	h, ok := s.hsm.(dukptMACer)
	if !ok {
		return fmt.Errorf("%w: no DUKPT MACs in the HSM", ErrSystem)
	}
	var mac [16]byte
	ctx, cancel := s.hsmCall(t)
	defer cancel()
	err = h.VerifyDUKPTMAC(ctx, hsm.DUKPTMAC{BDK: r.bdk, KSN: r.ksn[:], Alg: t.Link.macAlg, Pad: hsm.MACPaddingFor(t.Link.macAlg), Data: input},
		t.View.MAC(mac[:0]))
	switch {
	case errors.Is(err, hsm.ErrMACMismatch), errors.Is(err, hsm.ErrMACLength):
		return ErrMAC
	case err != nil:
		return fmt.Errorf("%w: DUKPT MAC verification: %v", ErrSystem, err)
	}
	if !t.claimedKSN(r) {
		if !s.keys.dukpt.claim(r.terminal, r.device, r.counter) {
			return fmt.Errorf("%w: KSN claimed by a concurrent request", ErrSystem)
		}
		t.sessionKeys = encodeDUKPT(r.terminal, r.device, r.counter)
	}
	return nil
}

// dukptSigner MACs a DUKPT terminal's reply under the response MAC
// variant of its request's key; nil (no MAC) when the request's KSN was
// not one the switch took (a reply to a refused KSN cannot be MACed under
// a key the terminal does not hold).
func (s *Server) dukptSigner(t *Txn, it *issuer.Terminal) func([]byte) ([]byte, error) {
	r, err := s.readKSN(t, it)
	h, ok := s.hsm.(dukptMACer)
	if err != nil || !ok || !t.claimedKSN(r) {
		return nil
	}
	return func(input []byte) ([]byte, error) {
		ctx, cancel := s.hsmCall(t)
		defer cancel()
		return h.GenerateDUKPTMAC(ctx, hsm.DUKPTMAC{BDK: r.bdk, KSN: r.ksn[:], Response: true, Alg: t.Link.macAlg,
			Pad: hsm.MACPaddingFor(t.Link.macAlg), Data: input})
	}
}

// dukptRecords lists the counters held, in terminal order, encoded as
// journaled (for snapshots; Restore reads each back).
func (k *Keys) dukptRecords() [][]byte {
	k.dukpt.mu.Lock()
	defer k.dukpt.mu.Unlock()
	ids := make([]string, 0, len(k.dukpt.last))
	for id := range k.dukpt.last {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([][]byte, len(ids))
	for i, id := range ids {
		s := k.dukpt.last[id]
		out[i] = encodeDUKPT(id, s.device, s.counter)
	}
	return out
}
