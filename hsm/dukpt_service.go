package hsm

import (
	"context"
	"math/bits"
)

// DUKPT terminals on the host side: the PIN block comes under the key a
// TDES DUKPT device (ANSI X9.24-1) derived for one transaction, named by
// the KSN that travels with it; the host holds the base derivation key
// (BDK) under the LMK and derives the same key inside the HSM.

// DUKPTPINCheck is a PIN verification for a DUKPT terminal: the block is
// under the PIN variant of the transaction key for KSN, derived from BDK.
type DUKPTPINCheck struct {
	BDK KeyRef // KeyTypeBDK, a double-length TDES key under the LMK
	KSN []byte // 10 bytes: key set ID, device ID, 21-bit counter
	// Check is the rest of the verification as for a fixed key: its
	// PINKey is ignored (the derived key takes its place).
	Check PINCheck
}

// KSNCounter returns the transaction counter of a TDES DUKPT KSN (its
// rightmost 21 bits), or ErrKSN for a KSN of the wrong length, a zero
// counter (no device uses it) or one past the device's limit: more than
// ten one bits, which X9.24-1 A.2 never lets an originator reach, so such
// a KSN is forged or from an exhausted device.
func KSNCounter(ksn []byte) (uint32, error) {
	if len(ksn) != ksnBytes {
		return 0, ErrKSN
	}
	c := uint32(ksn[7]&0x1F)<<16 | uint32(ksn[8])<<8 | uint32(ksn[9])
	if c == 0 || bits.OnesCount32(c) > ksnOnesMax {
		return 0, ErrKSN
	}
	return c, nil
}

// KSNDevice returns the KSN with its counter cleared: the key set ID and
// the device ID, the part that stays fixed for one device's life.
func KSNDevice(ksn []byte) ([ksnBytes]byte, error) {
	var d [ksnBytes]byte
	if len(ksn) != ksnBytes {
		return d, ErrKSN
	}
	copy(d[:], ksn)
	d[7] &= 0xE0
	d[8], d[9] = 0, 0
	return d, nil
}

// VerifyDUKPTPIN implements Service: the PIN key derived from the BDK for
// the KSN, then the check as VerifyPIN makes it. Key separation: the BDK
// must be of type 009.
func (s *Soft) VerifyDUKPTPIN(ctx context.Context, c DUKPTPINCheck) error {
	if c.BDK.Type != KeyTypeBDK {
		return ErrKeyType
	}
	bdk, err := s.key(c.BDK)
	if err != nil {
		return err
	}
	if _, err := KSNCounter(c.KSN); err != nil {
		return err
	}
	pk, err := DUKPTKey(bdk, c.KSN, DUKPTPIN)
	if err != nil {
		return err
	}
	return s.verifyPINWith(pk, c.Check)
}

// DUKPTPINTranslation is a PIN block from a TDES DUKPT terminal (ISO
// format 0, under the PIN variant of the transaction key for KSN, derived
// from BDK) to re-encrypt under a zone PIN key for an upstream host.
type DUKPTPINTranslation struct {
	BDK      KeyRef // KeyTypeBDK
	KSN      []byte // 10 bytes
	Block    []byte // 8 bytes, ISO 0
	PAN      string
	To       KeyRef // a ZPK
	ToFormat PINBlockFormat
}

// TranslateDUKPTPIN re-encrypts a DUKPT terminal's PIN block under a zone
// PIN key (payShield G0): the transaction's PIN key derived inside the
// HSM, the PIN never out of it. Key separation: the BDK must be of type
// 009, the destination a ZPK.
func (s *Soft) TranslateDUKPTPIN(_ context.Context, t DUKPTPINTranslation) ([]byte, error) {
	if t.BDK.Type != KeyTypeBDK || t.To.Type != KeyTypeZPK {
		return nil, ErrKeyType
	}
	bdk, err := s.key(t.BDK)
	if err != nil {
		return nil, err
	}
	if _, err := KSNCounter(t.KSN); err != nil {
		return nil, err
	}
	pk, err := DUKPTKey(bdk, t.KSN, DUKPTPIN)
	if err != nil {
		return nil, err
	}
	to, err := s.key(t.To)
	if err != nil {
		return nil, err
	}
	return TranslatePINBlock(pk, ISO0, to, t.ToFormat, t.Block, t.PAN, s.rnd())
}

// DUKPTMAC is a MAC under a TDES DUKPT terminal's transaction key: the
// request variant for what the terminal sent, the response variant for
// what the host answers (ANSI X9.24-1), derived from BDK for KSN inside
// the HSM.
type DUKPTMAC struct {
	BDK      KeyRef // KeyTypeBDK
	KSN      []byte // 10 bytes
	Response bool   // the response variant (the host's reply), else the request's
	Alg      MACAlgorithm
	Pad      MACPadding
	Data     []byte
}

func (s *Soft) dukptMACKey(m DUKPTMAC) (Key, error) {
	if m.BDK.Type != KeyTypeBDK {
		return Key{}, ErrKeyType
	}
	bdk, err := s.key(m.BDK)
	if err != nil {
		return Key{}, err
	}
	if _, err := KSNCounter(m.KSN); err != nil {
		return Key{}, err
	}
	v := DUKPTMACRequest
	if m.Response {
		v = DUKPTMACResponse
	}
	return DUKPTKey(bdk, m.KSN, v)
}

// GenerateDUKPTMAC MACs m.Data under the DUKPT MAC key m names.
func (s *Soft) GenerateDUKPTMAC(_ context.Context, m DUKPTMAC) ([]byte, error) {
	k, err := s.dukptMACKey(m)
	if err != nil {
		return nil, err
	}
	return GenerateMAC(k, m.Alg, m.Pad, m.Data)
}

// VerifyDUKPTMAC checks mac over m.Data under the DUKPT MAC key m names:
// nil, ErrMACMismatch, or another error.
func (s *Soft) VerifyDUKPTMAC(_ context.Context, m DUKPTMAC, mac []byte) error {
	k, err := s.dukptMACKey(m)
	if err != nil {
		return err
	}
	return VerifyMAC(k, m.Alg, m.Pad, m.Data, mac)
}
