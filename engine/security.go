package engine

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
)

// HSM is what the engine asks of an HSM (hsm.Soft, or a payShield client).
type HSM interface {
	VerifyPIN(ctx context.Context, c hsm.PINCheck) error
	GenerateMAC(ctx context.Context, key hsm.KeyRef, alg hsm.MACAlgorithm, pad hsm.MACPadding, data []byte) ([]byte, error)
	VerifyMAC(ctx context.Context, key hsm.KeyRef, alg hsm.MACAlgorithm, pad hsm.MACPadding, data, mac []byte) error
	WorkingKey(ctx context.Context, tmk hsm.KeyRef, keyType string) (hsm.WorkingKey, error)
	VerifyARQC(ctx context.Context, imk hsm.KeyRef, c hsm.ARQCCheck) ([]byte, error)
	KCV(ctx context.Context, key hsm.KeyRef) (string, error)
	// for the destinations' zone keys (zone.go)
	TranslatePIN(ctx context.Context, t hsm.PINTranslation) ([]byte, error)
	ImportKey(ctx context.Context, zmk hsm.KeyRef, keyType string, underZMK []byte) (hsm.KeyRef, string, error)
}

// Keys finds a terminal's keys: its master key from the issuer data, and
// its PIN and MAC keys, replaced on one link by the ones a sign-on on that
// link issued. Keys are per terminal and link: a sign-on on one link
// leaves the terminal's keys on the others as they were. Safe for
// concurrent use.
type Keys struct {
	Data    *issuer.Data
	Current func() *issuer.Data // if set, the issuer data in force (it follows reloads); else Data
	// session holds sessionID -> sessionKeys. Its size is bounded by the
	// issuer data: only a terminal of the data that names the link may sign
	// on there (replay installs what was journaled, which was so too).
	session sync.Map
	// zone holds zoneID -> ZoneKey: the destinations' active zone keys
	// (zone.go), two per destination at most.
	zone sync.Map
	// dukpt holds the DUKPT terminals' highest KSN counters (dukpt.go).
	dukpt dukptCounters
}

type sessionKeys struct{ tpk, tak hsm.KeyRef }

// sessionID is a session's map key: link and terminal.
type sessionID struct{ link, terminal string }

// data is the issuer data in force.
func (k *Keys) data() *issuer.Data {
	if k.Current != nil {
		return k.Current()
	}
	return k.Data
}

// Terminal returns a terminal's master, PIN and MAC keys on a link.
func (k *Keys) Terminal(link string, id []byte) (tmk, tpk, tak hsm.KeyRef, ok bool) {
	data := k.data()
	if data == nil {
		return tmk, tpk, tak, false
	}
	t, ok := data.Terminal(id)
	if !ok {
		return tmk, tpk, tak, false
	}
	tmk = hsm.KeyRef{Type: hsm.KeyTypeTPK, Cryptogram: t.TMK}
	tpk = hsm.KeyRef{Type: hsm.KeyTypeTPK, Cryptogram: t.TPK}
	tak = hsm.KeyRef{Type: hsm.KeyTypeTAK, Cryptogram: t.TAK}
	if s, found := k.session.Load(sessionID{link, t.ID}); found {
		sk := s.(sessionKeys)
		tpk, tak = sk.tpk, sk.tak
	}
	return tmk, tpk, tak, true
}

// SetSession installs the PIN and MAC keys a sign-on on link issued to a
// terminal.
func (k *Keys) SetSession(link, id string, tpk, tak hsm.KeyRef) {
	k.session.Store(sessionID{link, id}, sessionKeys{tpk, tak})
}

// hsmCall bounds an HSM call: a slow or unreachable HSM costs at most the
// link's hsm_timeout and answers 96.
func (s *Server) hsmCall(t *Txn) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), t.Link.cfg.HSMTimeout)
}

// checkMAC verifies a request's MAC with its terminal's MAC key; a missing
// or wrong MAC is ErrMAC, an HSM that fails is ErrSystem.
func (s *Server) checkMAC(t *Txn) error {
	v := &t.View
	input, ok := v.MACInput()
	if !ok {
		return ErrMAC
	}
	if it, ok := s.dukptTerminal(t); ok {
		return s.checkDUKPTMAC(t, it, input)
	}
	var term [16]byte
	_, _, tak, ok := s.keys.Terminal(t.Link.cfg.Name, v.TerminalID(term[:0]))
	if !ok || tak.Cryptogram == "" {
		return fmt.Errorf("%w: no MAC key for the terminal", ErrMAC)
	}
	var mac [16]byte
	ctx, cancel := s.hsmCall(t)
	defer cancel()
	err := s.hsm.VerifyMAC(ctx, tak, t.Link.macAlg, hsm.MACPaddingFor(t.Link.macAlg), input, v.MAC(mac[:0]))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, hsm.ErrMACMismatch), errors.Is(err, hsm.ErrMACLength):
		return ErrMAC
	}
	return fmt.Errorf("%w: MAC verification: %v", ErrSystem, err)
}

// signer returns the function that MACs t's reply, or nil for a link
// without MACs (or a terminal without a MAC key).
func (s *Server) signer(t *Txn) func([]byte) ([]byte, error) {
	if t.Link.macAlg == 0 || t.signOn { // the terminal learns its MAC key from this very reply
		return nil
	}
	if it, ok := s.dukptTerminal(t); ok {
		return s.dukptSigner(t, it)
	}
	var term [16]byte
	_, _, tak, ok := s.keys.Terminal(t.Link.cfg.Name, t.View.TerminalID(term[:0]))
	if !ok || tak.Cryptogram == "" {
		return nil
	}
	return func(input []byte) ([]byte, error) {
		ctx, cancel := s.hsmCall(t)
		defer cancel()
		return s.hsm.GenerateMAC(ctx, tak, t.Link.macAlg, hsm.MACPaddingFor(t.Link.macAlg), input)
	}
}

// VerifyPIN checks the request's PIN block (field 52) against a PVV with
// the terminal's PIN key: nil when it matches, ErrWrongPIN when it does
// not, ErrSystem when the HSM fails.
func (s *Server) VerifyPIN(t *Txn, pvk hsm.KeyRef, pvki int, pvv string) error {
	if it, ok := s.dukptTerminal(t); ok {
		return s.verifyDUKPTPIN(t, it, pvk, pvki, pvv)
	}
	v := &t.View
	var term [16]byte
	_, tpk, _, ok := s.keys.Terminal(t.Link.cfg.Name, v.TerminalID(term[:0]))
	if !ok || tpk.Cryptogram == "" || pvv == "" {
		return fmt.Errorf("%w: no PIN key for the terminal or no PVV for the card", ErrSystem) // not the cardholder's fault
	}
	var block [8]byte
	ctx, cancel := s.hsmCall(t)
	defer cancel()
	err := s.hsm.VerifyPIN(ctx, hsm.PINCheck{PINKey: tpk, Format: hsm.ISO0, Block: v.PINBlock(block[:0]),
		PAN: string(t.PAN()), PVV: &hsm.PVVData{PVK: pvk, PVKI: pvki, PVV: pvv}})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, hsm.ErrPINMismatch), errors.Is(err, hsm.ErrPINBlockFormat), errors.Is(err, hsm.ErrPINBlockFill),
		errors.Is(err, hsm.ErrPINDigits), errors.Is(err, hsm.ErrPINLength):
		return ErrWrongPIN // a block that does not decode under the terminal's key is a wrong PIN too
	}
	return fmt.Errorf("%w: PIN verification: %v", ErrSystem, err)
}

// ErrWrongPIN is a PIN that does not verify (55).
var ErrWrongPIN = errors.New("engine: incorrect PIN")

// cupSignOn issues new PIN and MAC keys to a UnionPay terminal, encrypted
// under its master key, with their check values in field 62:
// PIN key (16) ‖ its check value (4) ‖ MAC key (16) ‖ its check value (4).
func (s *Server) cupSignOn(t *Txn) error {
	var term [16]byte
	id := t.View.TerminalID(term[:0])
	var it *issuer.Terminal
	data := s.keys.data()
	ok := data != nil
	if ok {
		it, ok = data.Terminal(id)
	}
	if !ok || it.TMK == "" {
		it = nil // refused as one of another link is: the answer must not tell which IDs exist
	}
	if err := s.admitSignOn(t, id, it); err != nil {
		return err
	}
	tmk := hsm.KeyRef{Type: hsm.KeyTypeTPK, Cryptogram: it.TMK}
	ctx, cancel := s.hsmCall(t)
	defer cancel()
	pik, err := s.hsm.WorkingKey(ctx, tmk, hsm.KeyTypeTPK)
	if err != nil {
		return fmt.Errorf("%w: PIN key: %v", ErrSystem, err)
	}
	mak, err := s.hsm.WorkingKey(ctx, tmk, hsm.KeyTypeTAK)
	if err != nil {
		return fmt.Errorf("%w: MAC key: %v", ErrSystem, err)
	}
	f62 := append(append([]byte(nil), pik.UnderTMK...), checkBytes(pik.KCV)...)
	f62 = append(append(f62, mak.UnderTMK...), checkBytes(mak.KCV)...)
	t.AddReplyField(62, f62)
	// installed once the sign-on's record is durable (Txn.Committed)
	t.sessionKeys = encodeSession(Session{Link: t.Link.cfg.Name, Terminal: string(bytes.TrimRight(id, " ")),
		PIN: pik.UnderLMK, MAC: mak.UnderLMK})
	t.SetCode("00")
	return nil
}

// checkBytes is the 4-byte check value UnionPay carries, from a KCV in hex
// (6 or 16 digits; a 6-digit one is completed with zeros).
func checkBytes(kcv string) []byte {
	out := make([]byte, 4)
	b, _ := hex.DecodeString(kcv[:min(len(kcv), 8)&^1])
	copy(out, b)
	return out
}

// isCUPSignOn reports an 0800 sign-on on a UnionPay link (60.3 001 to 004),
// which needs the HSM and so goes to the workers.
func isCUPSignOn(l *Link, v *codec.View) bool {
	if l.dialect.Name != codec.CUPPOS || v.MTI().Class() != '8' {
		return false
	}
	code, ok := codec.CUPNetworkCode(v)
	return ok && code != netSignOff && code >= 1 && code <= 4
}
