package hsm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// The HSM service: what a switch asks of an HSM. Keys travel as
// cryptograms under the LMK (as a host holds them for a payShield), PIN
// blocks encrypted; clear PINs and clear keys never leave the HSM. The
// software HSM (Soft) and the payShield client implement it.
type Service interface {
	// VerifyPIN checks an encrypted PIN block against the card's PIN
	// verification data: nil, ErrPINMismatch, or another error.
	VerifyPIN(ctx context.Context, c PINCheck) error
	// VerifyDUKPTPIN is VerifyPIN for a block from a TDES DUKPT terminal:
	// under the PIN key derived from the BDK for the KSN.
	VerifyDUKPTPIN(ctx context.Context, c DUKPTPINCheck) error
	// TranslatePIN re-encrypts a PIN block from one key and format to another.
	TranslatePIN(ctx context.Context, t PINTranslation) ([]byte, error)
	// GenerateMAC and VerifyMAC compute and check a MAC under a key.
	GenerateMAC(ctx context.Context, key KeyRef, alg MACAlgorithm, pad MACPadding, data []byte) ([]byte, error)
	VerifyMAC(ctx context.Context, key KeyRef, alg MACAlgorithm, pad MACPadding, data, mac []byte) error
	// VerifyARQC checks an EMV application cryptogram under the issuer
	// master key imk (KeyTypeMKAC) and, when c.ARPC is set, returns the
	// ARPC for the reply: nil error, ErrARQCMismatch, or another error.
	VerifyARQC(ctx context.Context, imk KeyRef, c ARQCCheck) ([]byte, error)
	// WorkingKey makes a new random key of keyType for a terminal: under
	// the LMK (for the host), under the terminal master key (for the
	// terminal), and its check value.
	WorkingKey(ctx context.Context, tmk KeyRef, keyType string) (WorkingKey, error)
	// ImportKey takes a key of keyType that a peer sent under the zone
	// master key zmk (plain TDES-ECB, as WorkingKey exports one) and
	// returns it under the LMK with its check value (payShield A6).
	ImportKey(ctx context.Context, zmk KeyRef, keyType string, underZMK []byte) (KeyRef, string, error)
	// KCV returns a key's check value (6 hex digits).
	KCV(ctx context.Context, key KeyRef) (string, error)
	// Health checks the HSM answers (payShield NC).
	Health(ctx context.Context) error
}

// KeyRef is a key as the host holds it: its LMK key type code (KeyTypeTPK,
// KeyTypeTAK, ...) and its cryptogram under the LMK ("U8463435F...").
type KeyRef struct {
	Type       string
	Cryptogram string
}

// PINCheck is a PIN verification request: the block, the key it is under,
// and one of the verification methods.
type PINCheck struct {
	PINKey KeyRef // a TPK or ZPK
	Format PINBlockFormat
	Block  []byte
	PAN    string
	PVV    *PVVData
	IBM    *IBMData
}

// PVVData is Visa PVV verification data.
type PVVData struct {
	PVK  KeyRef
	PVKI int
	PVV  string
}

// IBMData is IBM 3624 offset verification data.
type IBMData struct {
	PVK                 KeyRef
	DecimalisationTable string // 16 digits
	ValidationData      string // 16 hex characters
	Offset              string // as many digits as the PIN checks
}

// PINTranslation re-encrypts a PIN block.
type PINTranslation struct {
	From, To             KeyRef
	FromFormat, ToFormat PINBlockFormat
	Block                []byte
	PAN                  string
}

// WorkingKey is a freshly generated key.
type WorkingKey struct {
	UnderLMK KeyRef // for the host to keep
	UnderTMK []byte // for the terminal (encrypted under its master key, ECB)
	KCV      string // check value in hex: at least 6 digits (the software HSM gives all 16)
}

// ErrNoMethod reports a PINCheck with neither PVV nor IBM data.
var ErrNoMethod = errors.New("hsm: no PIN verification method")

// Soft is the software HSM: the Service over this package's primitives,
// with keys under a variant LMK. Safe for concurrent use.
type Soft struct {
	LMK  *VariantLMK
	Rand io.Reader // default crypto/rand
}

var _ Service = (*Soft)(nil)

func (s *Soft) rnd() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

func (s *Soft) key(r KeyRef) (Key, error) { return s.LMK.DecryptKey(r.Type, r.Cryptogram) }

// VerifyPIN implements Service.
func (s *Soft) VerifyPIN(_ context.Context, c PINCheck) error {
	pk, err := s.key(c.PINKey)
	if err != nil {
		return err
	}
	return s.verifyPINWith(pk, c)
}

// verifyPINWith checks c's block, under the clear key pk, against its
// verification data.
func (s *Soft) verifyPINWith(pk Key, c PINCheck) error {
	pin, err := DecryptPINBlock(pk, c.Format, c.Block, c.PAN)
	if err != nil {
		return err
	}
	switch {
	case c.PVV != nil:
		pvk, err := s.key(c.PVV.PVK)
		if err != nil {
			return err
		}
		return VerifyPVV(pvk, c.PAN, c.PVV.PVKI, pin, c.PVV.PVV)
	case c.IBM != nil:
		pvk, err := s.key(c.IBM.PVK)
		if err != nil {
			return err
		}
		m := IBM3624{PVK: pvk, DecimalisationTable: c.IBM.DecimalisationTable, ValidationData: c.IBM.ValidationData}
		return m.Verify(pin, c.IBM.Offset)
	}
	return ErrNoMethod
}

// TranslatePIN implements Service.
func (s *Soft) TranslatePIN(_ context.Context, t PINTranslation) ([]byte, error) {
	from, err := s.key(t.From)
	if err != nil {
		return nil, err
	}
	to, err := s.key(t.To)
	if err != nil {
		return nil, err
	}
	return TranslatePINBlock(from, t.FromFormat, to, t.ToFormat, t.Block, t.PAN, s.rnd())
}

// GenerateMAC implements Service.
func (s *Soft) GenerateMAC(_ context.Context, key KeyRef, alg MACAlgorithm, pad MACPadding, data []byte) ([]byte, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	return GenerateMAC(k, alg, pad, data)
}

// VerifyMAC implements Service.
func (s *Soft) VerifyMAC(_ context.Context, key KeyRef, alg MACAlgorithm, pad MACPadding, data, mac []byte) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	return VerifyMAC(k, alg, pad, data, mac)
}

// VerifyARQC implements Service. The key must be an MK-AC (type 109):
// key separation keeps a PIN or MAC key from being used as one.
func (s *Soft) VerifyARQC(_ context.Context, imk KeyRef, c ARQCCheck) ([]byte, error) {
	if imk.Type != KeyTypeMKAC {
		return nil, ErrKeyType
	}
	k, err := s.key(imk)
	if err != nil {
		return nil, err
	}
	return VerifyARQC(k, &c)
}

// WorkingKey implements Service: a random double-length TDES key.
func (s *Soft) WorkingKey(_ context.Context, tmk KeyRef, keyType string) (WorkingKey, error) {
	m, err := s.key(tmk)
	if err != nil {
		return WorkingKey{}, err
	}
	raw := make([]byte, 16)
	if _, err := io.ReadFull(s.rnd(), raw); err != nil {
		return WorkingKey{}, err
	}
	FixParity(raw)
	k, err := NewTDESKey(raw, ParityOdd)
	if err != nil {
		return WorkingKey{}, err
	}
	under, err := s.LMK.EncryptKey(keyType, SchemeU, k)
	if err != nil {
		return WorkingKey{}, err
	}
	enc, err := encryptECB(m, k)
	if err != nil {
		return WorkingKey{}, fmt.Errorf("hsm: under the TMK: %w", err)
	}
	check, err := k.CheckValue(KCVZeroBlock)
	if err != nil {
		return WorkingKey{}, err
	}
	return WorkingKey{UnderLMK: KeyRef{Type: keyType, Cryptogram: under}, UnderTMK: enc, KCV: fmt.Sprintf("%X", check)}, nil
}

// ImportKey implements Service.
func (s *Soft) ImportKey(_ context.Context, zmk KeyRef, keyType string, underZMK []byte) (KeyRef, string, error) {
	if zmk.Type != KeyTypeZMK {
		return KeyRef{}, "", ErrKeyType
	}
	if len(underZMK) != 16 {
		return KeyRef{}, "", ErrKeyLength
	}
	zk, err := s.key(zmk)
	if err != nil {
		return KeyRef{}, "", err
	}
	k, err := DecryptUnderZMK(zk, "X"+fmt.Sprintf("%X", underZMK))
	if err != nil {
		return KeyRef{}, "", err
	}
	under, err := s.LMK.EncryptKey(keyType, SchemeU, k)
	if err != nil {
		return KeyRef{}, "", err
	}
	return KeyRef{Type: keyType, Cryptogram: under}, k.KCV(), nil
}

// KCV implements Service.
func (s *Soft) KCV(_ context.Context, key KeyRef) (string, error) {
	k, err := s.key(key)
	if err != nil {
		return "", err
	}
	return k.KCV(), nil
}

// Health implements Service: a software HSM is always there.
func (s *Soft) Health(context.Context) error {
	if s.LMK == nil {
		return errors.New("hsm: no LMK")
	}
	return nil
}

// encryptECB encrypts key k's bytes under wrap in ECB mode (how a terminal
// master key carries working keys to a POS terminal).
func encryptECB(wrap, k Key) ([]byte, error) {
	b := wrap.block
	if b == nil {
		return nil, ErrKeyLength
	}
	src := k.bytes()
	bs := b.BlockSize()
	if len(src)%bs != 0 {
		return nil, ErrKeyLength
	}
	out := make([]byte, len(src))
	for i := 0; i < len(src); i += bs {
		b.Encrypt(out[i:i+bs], src[i:i+bs])
	}
	return out, nil
}
