package journal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

func TestLoadAndCreateKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.key")
	if _, err := LoadKeys(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing key file: %v", err)
	}
	p, err := CreateKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if _, err := CreateKeys(path); err == nil {
		t.Fatal("CreateKeys replaced an existing key file")
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(raw, again) {
		t.Fatal("the key file changed")
	}
	q, err := LoadKeys(path)
	if err != nil || q.Fingerprint() != p.Fingerprint() {
		t.Fatalf("load: %v", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
}

// TestFingerprint: the same keys give the same fingerprint, a change in
// either key another, and the fingerprint is no part of the key material.
func TestFingerprint(t *testing.T) {
	keys := bytes.Repeat([]byte{7}, KeyFileLen)
	for i := range keys {
		keys[i] = byte(i * 37)
	}
	fp := mustProtector(t, keys).Fingerprint()
	if fp != mustProtector(t, keys).Fingerprint() {
		t.Fatal("not deterministic")
	}
	for _, at := range []int{0, 31, 32, 63} { // the PAN hash key, the data key
		k := append([]byte(nil), keys...)
		k[at] ^= 1
		if mustProtector(t, k).Fingerprint() == fp {
			t.Fatalf("a change at byte %d keeps the fingerprint", at)
		}
	}
	if bytes.Contains(keys, fp[:8]) {
		t.Fatal("the fingerprint holds key bytes")
	}
}

func mustProtector(t *testing.T, keys []byte) *Protector {
	t.Helper()
	p, err := NewProtector(keys)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKeyMismatch: a journal refuses another data key, unless told to
// replace it; a journal without a recorded key takes the first one given.
func TestKeyMismatch(t *testing.T) {
	dir := t.TempDir()
	a, b := [16]byte{1}, [16]byte{2}
	j := open(t, dir, func(o *Options) { o.KeyFingerprint = a })
	appendN(t, j, 3, 0)
	j.Close()
	_, err := Open(Options{Dir: dir, KeyFingerprint: b})
	if !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), "journal.key") {
		t.Fatalf("other key: %v", err)
	}
	open(t, dir, func(o *Options) { o.KeyFingerprint = a }).Close()
	open(t, dir, nil).Close() // no fingerprint given: not checked
	open(t, dir, func(o *Options) { o.KeyFingerprint = b; o.ReplaceKey = true }).Close()
	if _, err := Open(Options{Dir: dir, KeyFingerprint: a}); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("after replacing, the old key: %v", err)
	}
	// a journal from before meta existed records the first key it is given
	tamper(t, dir, func(txn *badger.Txn) error {
		for _, k := range [][]byte{metaVersionKey, metaFingerprintKey, metaAnchorKey, metaFirstKey} {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	open(t, dir, func(o *Options) { o.KeyFingerprint = a }).Close()
	if _, err := Open(Options{Dir: dir, KeyFingerprint: b}); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("older journal: %v", err)
	}
}

// TestMetaChecked: a first sequence that disagrees with the anchor, or a
// partial meta, refuses the start.
func TestMetaChecked(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, nil).Close()
	tamper(t, dir, func(txn *badger.Txn) error { return txn.Set(metaFirstKey, []byte{0, 0, 0, 0, 0, 0, 0, 9}) })
	if _, err := Open(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "first kept record is 9") {
		t.Fatalf("open: %v", err)
	}
	tamper(t, dir, func(txn *badger.Txn) error { return txn.Delete(metaFirstKey) })
	if _, err := Open(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("open: %v", err)
	}
}

func TestExists(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "journal")
	if ok, err := Exists(dir); ok || err != nil {
		t.Fatalf("nothing there: %v %v", ok, err)
	}
	j := open(t, dir, nil)
	appendN(t, j, 2, 0)
	j.Close()
	if ok, err := Exists(dir); !ok || err != nil {
		t.Fatalf("a journal: %v %v", ok, err)
	}
	os.Remove(filepath.Join(dir, hwmName))
	if ok, err := Exists(dir); !ok || err != nil {
		t.Fatalf("a journal without its mark: %v %v", ok, err)
	}
	if _, err := Verify(dir); err != nil && strings.Contains(err.Error(), "no journal") {
		t.Fatalf("verify: %v", err)
	}
}
