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

	"github.com/cardswitch/cardswitch/internal/pan"
)

// Protector turns a PAN into the forms a record may hold: a keyed hash (to
// find a card's records without the PAN), a masked form (for people), and a
// ciphertext under the data key (for clearing). Safe for concurrent use.
type Protector struct {
	hashKey [32]byte
	aead    cipher.AEAD
	macs    sync.Pool // hash.Hash of HMAC-SHA-256 under hashKey
}

// KeyFileLen is the size of a journal key file: 32 bytes of PAN hash key,
// then 32 bytes of AES-256 data key.
const KeyFileLen = 64

// LoadOrCreateKeys reads the key file at path, or creates it (mode 0600)
// with fresh random keys when it does not exist.
func LoadOrCreateKeys(path string) (*Protector, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw = make([]byte, KeyFileLen)
		if _, err := io.ReadFull(rand.Reader, raw); err != nil {
			return nil, err
		}
		if err := writeFileSync(path, raw, 0o600); err != nil {
			return nil, fmt.Errorf("journal: creating key file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("journal: key file: %w", err)
	}
	return NewProtector(raw)
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
	p := &Protector{aead: aead}
	copy(p.hashKey[:], keys[:32])
	p.macs.New = func() any { return hmac.New(sha256.New, p.hashKey[:]) }
	return p, nil
}

// Protect fills the record's PAN fields from pan.
func (p *Protector) Protect(r *Record, card []byte) error {
	r.PANHash = p.HashPAN(card)
	r.PANMasked = pan.Mask(string(card))
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(card)+p.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return err
	}
	r.PANSealed = p.aead.Seal(nonce, nonce, card, nil)
	return nil
}

// HashPAN returns the keyed hash of a PAN, to look records up by card.
func (p *Protector) HashPAN(card []byte) [32]byte {
	h := p.macs.Get().(hash.Hash)
	h.Reset()
	_, _ = h.Write(card)
	var out [32]byte
	h.Sum(out[:0])
	p.macs.Put(h)
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

// writeFileSync writes a file and syncs it and its directory.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
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
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
