package journal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/cardswitch/cardswitch/internal/durable"
	"github.com/cardswitch/cardswitch/internal/pan"
)

// Protector turns a PAN into the forms a record may hold: a keyed hash (to
// find a card's records without the PAN), a masked form (for people), and a
// ciphertext under the data key (for clearing). Safe for concurrent use.
type Protector struct {
	hashKey [32]byte
	aead    cipher.AEAD
	macs    sync.Pool // *panMAC: HMAC-SHA-256 under hashKey

	fingerprint [16]byte
}

// fingerprintLabel is what the fingerprint authenticates.
const fingerprintLabel = "cardswitch journal key fingerprint v1"

// fingerprint is HMAC-SHA-256 under the data key of a fixed label and of
// the same label's HMAC under the PAN hash key, truncated to 16 bytes: it
// changes with either key, and no key can be derived from it.
func fingerprint(keys []byte) [16]byte {
	inner := hmac.New(sha256.New, keys[:32])
	inner.Write([]byte(fingerprintLabel))
	outer := hmac.New(sha256.New, keys[32:])
	outer.Write([]byte(fingerprintLabel))
	outer.Write(inner.Sum(nil))
	var fp [16]byte
	copy(fp[:], outer.Sum(nil))
	return fp
}

// Fingerprint identifies the key file (Options.KeyFingerprint): a journal
// refuses to open under other keys.
func (p *Protector) Fingerprint() [16]byte { return p.fingerprint }

// KeyFileLen is the size of a journal key file: 32 bytes of PAN hash key,
// then 32 bytes of AES-256 data key.
const KeyFileLen = 64

// LoadKeys reads the key file at path. A missing file is an error
// wrapping os.ErrNotExist: the caller decides whether new keys may be made
// (CreateKeys), which they may not when a journal exists (Exists): new
// keys would orphan every card's state, keyed by the old PAN hash.
func LoadKeys(path string) (*Protector, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("journal: key file: %w", err)
	}
	return NewProtector(raw)
}

// CreateKeys creates the key file at path (mode 0600, synced with its
// directory) with fresh random keys; an existing file is an error, never
// overwritten.
func CreateKeys(path string) (*Protector, error) {
	raw := make([]byte, KeyFileLen)
	if _, err := io.ReadFull(rand.Reader, raw); err != nil {
		return nil, err
	}
	if err := writeFileSync(path, raw, 0o600); err != nil {
		return nil, fmt.Errorf("journal: creating key file: %w", err)
	}
	return NewProtector(raw)
}

// LoadOrCreateKeys is LoadKeys, or CreateKeys when the file does not
// exist: for tests, benchmarks and tools that own their data directory.
// The switch uses LoadKeys and CreateKeys with Exists instead.
func LoadOrCreateKeys(path string) (*Protector, error) {
	p, err := LoadKeys(path)
	if errors.Is(err, os.ErrNotExist) {
		return CreateKeys(path)
	}
	return p, err
}

// NewProtector builds a protector from 64 bytes of key material.
func NewProtector(keys []byte) (*Protector, error) {
	if len(keys) != KeyFileLen {
		return nil, fmt.Errorf("journal: key material is %d bytes, want %d", len(keys), KeyFileLen)
	}
	block, err := aes.NewCipher(keys[32:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	p := &Protector{aead: aead, fingerprint: fingerprint(keys)}
	copy(p.hashKey[:], keys[:32])
	p.macs.New = func() any { return &panMAC{h: hmac.New(sha256.New, p.hashKey[:])} }
	return p, nil
}

// Protect fills the record's PAN fields from pan.
func (p *Protector) Protect(r *Record, card []byte) error {
	return p.ProtectHashed(r, card, p.HashPAN(card))
}

// ProtectHashed is Protect for a PAN whose keyed hash p.HashPAN already
// made (the authorizer keys card state by it): the PAN is hashed once per
// message, not once per use.
func (p *Protector) ProtectHashed(r *Record, card []byte, hash [32]byte) error {
	r.PANHash = hash
	r.PANMasked = pan.Mask(string(card))
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(card)+p.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return err
	}
	r.PANSealed = p.aead.Seal(nonce, nonce, card, nil)
	return nil
}

// panMAC is a pooled HMAC with the buffer its sum goes into: a sum into
// a local array would escape through the interface, an allocation per
// PAN.
type panMAC struct {
	h   hash.Hash
	sum [32]byte
}

// HashPAN returns the keyed hash of a PAN, to look records up by card.
func (p *Protector) HashPAN(card []byte) [32]byte {
	m := p.macs.Get().(*panMAC)
	m.h.Reset()
	_, _ = m.h.Write(card)
	m.h.Sum(m.sum[:0])
	out := m.sum
	p.macs.Put(m)
	return out
}

// Unseal decrypts a record's PAN (for clearing and settlement only).
func (p *Protector) Unseal(r *Record) ([]byte, error) {
	n := p.aead.NonceSize()
	if len(r.PANSealed) < n {
		return nil, errors.New("journal: no sealed PAN")
	}
	return p.aead.Open(nil, r.PANSealed[:n], r.PANSealed[n:], nil)
}

// writeFileSync creates a file (never over an existing one) and syncs it
// and its directory.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// the new directory entry must survive a crash too, or the key file
	// could vanish and be replaced by new keys that open nothing
	return durable.SyncDir(filepath.Dir(path))
}
