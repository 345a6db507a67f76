package journal

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// The journal's meta lives in Badger beside the records, under the key
// prefix 'm' (records are under 'r', quarantined chunks under 'q'): the
// format version, the data key's fingerprint, the anchor (the point before
// the first kept record: zero until a day is dropped) and the first kept
// sequence number (anchor + 1, stored so that a start checks both). The
// keys are written together, in one synced transaction.
var (
	metaVersionKey     = []byte("mversion")
	metaFingerprintKey = []byte("mkey")
	metaAnchorKey      = []byte("manchor")
	metaFirstKey       = []byte("mfirst")
)

// formatVersion is the journal's layout: chunks keyed by date and first
// sequence, meta, the mark file. Records carry their own version.
const formatVersion = 1

type meta struct {
	present     bool // false for a new journal, or one written before meta existed
	fingerprint [16]byte
	anchor      Point
	first       uint64
}

// readMeta reads the meta; a journal without any is not an error (present
// is false), a partial or unreadable one is.
func readMeta(txn *badger.Txn) (meta, error) {
	var m meta
	raw := make([][]byte, 4)
	found := 0
	for i, k := range [][]byte{metaVersionKey, metaFingerprintKey, metaAnchorKey, metaFirstKey} {
		item, err := txn.Get(k)
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return m, fmt.Errorf("journal: meta: %w", err)
		}
		if raw[i], err = item.ValueCopy(nil); err != nil {
			return m, fmt.Errorf("journal: meta: %w", err)
		}
		found++
	}
	if found == 0 {
		return m, nil
	}
	if found != 4 || len(raw[0]) != 4 || len(raw[1]) != 16 || len(raw[3]) != 8 {
		return m, errors.New("journal: meta is incomplete or does not parse")
	}
	if v := binary.BigEndian.Uint32(raw[0]); v != formatVersion {
		return m, fmt.Errorf("journal: format version %d: this cardswitch reads version %d", v, formatVersion)
	}
	anchor, ok := parsePoint(raw[2])
	if !ok {
		return m, errors.New("journal: meta anchor does not parse")
	}
	m = meta{present: true, anchor: anchor, first: binary.BigEndian.Uint64(raw[3])}
	copy(m.fingerprint[:], raw[1])
	if m.first != anchor.Seq+1 {
		return m, fmt.Errorf("journal: meta: the first kept record is %d but the anchor is %d", m.first, anchor.Seq)
	}
	return m, nil
}

func (m meta) set(txn *badger.Txn) error {
	for _, kv := range [][2][]byte{
		{metaVersionKey, binary.BigEndian.AppendUint32(nil, formatVersion)},
		{metaFingerprintKey, append([]byte(nil), m.fingerprint[:]...)},
		{metaAnchorKey, m.anchor.append(nil)},
		{metaFirstKey, binary.BigEndian.AppendUint64(nil, m.anchor.Seq+1)},
	} {
		if err := txn.Set(kv[0], kv[1]); err != nil {
			return fmt.Errorf("journal: meta: %w", err)
		}
	}
	return nil
}

// storeMeta writes the meta in one transaction, synced (SyncWrites).
func storeMeta(db *badger.DB, m meta) error {
	return db.Update(m.set)
}

// checkKey compares the data key's fingerprint with the journal's.
func (m meta) checkKey(o Options) error {
	var zero [16]byte
	if o.KeyFingerprint == zero || m.fingerprint == zero || o.KeyFingerprint == m.fingerprint || o.ReplaceKey {
		return nil
	}
	return fmt.Errorf("%w (its fingerprint %x, the journal's %x): restore the journal's key file", ErrKeyMismatch,
		o.KeyFingerprint[:4], m.fingerprint[:4])
}
