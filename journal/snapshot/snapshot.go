// Package snapshot writes and reads the switch's state as of a point in the
// journal (a sequence number and its chain hash), so that a start loads the
// newest snapshot and replays only the journal records after it: restart
// time follows the snapshot interval, not the journal's history.
//
// A snapshot file holds a header (the journal point and the data key's
// fingerprint), the identifier counters, the sign-on session keys, the
// requests open upstream (version 2), the stand-in approvals of the
// latest business day (version 3) and the authorization state, then the
// SHA-256 of all of it. It is written to a
// temporary name, synced, renamed and its directory synced, so a crash
// leaves either the old set of files or the new one, never half a file
// under a snapshot's name. A file that does not verify is skipped.
//
//	m, err := snapshot.Write(dir, point, fingerprint, parts)
//	metas, _ := snapshot.List(dir) // newest first; headers only
//	err = snapshot.Load(metas[0], freshParts)
package snapshot

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cardswitch/cardswitch/internal/durable"
	"github.com/cardswitch/cardswitch/internal/wire"
)

// Point is a place in the journal: a record's sequence number, its chain
// hash and its business date.
type Point struct {
	Seq  uint64
	Hash [32]byte
	Date uint32
}

// State is the authorization state (auth.Authorizer).
type State interface {
	WriteState(w io.Writer) error
	ReadState(r io.Reader) error
}

// Counters are the identifier counters (engine.IDs).
type Counters interface {
	Counters() (rrn, approval uint64)
	Observe(rrn, approval uint64)
}

// Sessions are the sign-on session keys in force (engine.Keys), each in
// the form the journal records it.
type Sessions interface {
	Sessions() [][]byte
	Restore(b []byte) error
}

// Open are the forwarded requests open upstream as of the snapshot's
// point (a forwarded record without its final record yet), each as the
// journal's encoding of its record: a start that replays only the records
// after the point still knows the ones forwarded before it.
type Open interface {
	OpenRecords() [][]byte
	RestoreOpen(b []byte) error
}

// Parts are what a snapshot holds. Open and StandIn may be nil: none are
// written, and those a file holds are read and dropped. StandIn are the
// stand-in approvals of the latest business day (their limits), records
// as Open's.
type Parts struct {
	State    State
	Counters Counters
	Sessions Sessions
	Open     Open
	StandIn  Open
}

// Meta describes a snapshot file.
type Meta struct {
	Path        string
	Point       Point
	Fingerprint [16]byte // of the journal's data key: a snapshot is only valid with its key
	Written     time.Time
}

const (
	magic = "CSSNAP01"
	// version 2 appends the open upstream requests to the counters and
	// sessions, version 3 the stand-in approvals after them; an older
	// file is read with none.
	version = 3
	prefix  = "snap-"
	suffix  = ".cs"
	// maxSessions and maxSession bound what a snapshot may ask to be read,
	// so a corrupt length is an error, not an allocation: far above any
	// terminal estate (a session is a few hundred bytes).
	maxSessions = 10_000_000
	maxSession  = 4096
	// maxOpenRecord bounds an open request's record: a journal record is
	// at most 64 KB.
	maxOpenRecord = 64 << 10
)

// MaxOpen caps the requests open upstream a snapshot (and a start's open
// set) holds: a cap, not a derived bound (nothing caps the destinations,
// each with a max_in_flight of up to 1<<20); beyond it a start counts what
// it could not keep and says so.
const MaxOpen = 1 << 22

var (
	// ErrCorrupt is a snapshot file that does not verify.
	ErrCorrupt = errors.New("snapshot: corrupt")
)

// name is the file name of the snapshot at seq: the number is zero-padded
// so names sort by sequence.
func name(seq uint64) string { return fmt.Sprintf("%s%020d%s", prefix, seq, suffix) }

// Write stores the parts as of point p in dir and returns the new file's
// metadata. The parts must not change during the call (the caller makes
// sure nothing decides meanwhile, or writes from a copy that nothing else
// touches).
func Write(dir string, p Point, fingerprint [16]byte, parts Parts) (Meta, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Meta{}, err
	}
	m := Meta{Path: filepath.Join(dir, name(p.Seq)), Point: p, Fingerprint: fingerprint, Written: time.Now()}
	tmp, err := os.CreateTemp(dir, ".tmp-snap-*")
	if err != nil {
		return Meta{}, err
	}
	defer os.Remove(tmp.Name()) // after the rename it no longer exists
	if err := writeTo(tmp, m, parts); err != nil {
		tmp.Close()
		return Meta{}, fmt.Errorf("snapshot: writing %s: %w", m.Path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return Meta{}, err
	}
	if err := tmp.Close(); err != nil {
		return Meta{}, err
	}
	if err := os.Rename(tmp.Name(), m.Path); err != nil {
		return Meta{}, err
	}
	return m, durable.SyncDir(dir)
}

func writeTo(f *os.File, m Meta, parts Parts) error {
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	bw.WriteString(magic)
	bw.Write(header(m))
	rrn, appr := parts.Counters.Counters()
	var b []byte
	b = binary.AppendUvarint(b, rrn)
	b = binary.AppendUvarint(b, appr)
	sessions := parts.Sessions.Sessions()
	b = binary.AppendUvarint(b, uint64(len(sessions)))
	for _, s := range sessions {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	var open [][]byte
	if parts.Open != nil {
		open = parts.Open.OpenRecords()
	}
	b = appendRecords(b, open)
	var standIn [][]byte
	if parts.StandIn != nil {
		standIn = parts.StandIn.OpenRecords()
	}
	b = appendRecords(b, standIn)
	bw.Write(binary.AppendUvarint(nil, uint64(len(b))))
	bw.Write(b)
	if err := parts.State.WriteState(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := f.Write(h.Sum(nil)) // the trailer is not part of what it sums
	return err
}

// header is the fixed part after the magic: version, point, fingerprint,
// time written.
func header(m Meta) []byte {
	b := []byte{version}
	b = binary.BigEndian.AppendUint64(b, m.Point.Seq)
	b = append(b, m.Point.Hash[:]...)
	b = binary.BigEndian.AppendUint32(b, m.Point.Date)
	b = append(b, m.Fingerprint[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(m.Written.UnixNano()))
}

const headerLen = 1 + 8 + 32 + 4 + 16 + 8

func parseHeader(b []byte, m *Meta) error {
	if len(b) != headerLen || b[0] < 1 || b[0] > version {
		return fmt.Errorf("%w: header", ErrCorrupt)
	}
	r := wire.Reader{B: b[1:]}
	m.Point.Seq = r.Fixed64()
	copy(m.Point.Hash[:], r.Take(32))
	m.Point.Date = binary.BigEndian.Uint32(r.Take(4))
	copy(m.Fingerprint[:], r.Take(16))
	m.Written = time.Unix(0, int64(r.Fixed64()))
	return nil
}

// List returns the snapshots in dir, newest (highest sequence) first,
// reading only their headers. Files that cannot be read are left out.
func List(dir string) ([]Meta, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Meta
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, prefix) || !strings.HasSuffix(n, suffix) {
			continue
		}
		if _, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(n, prefix), suffix), 10, 64); err != nil {
			continue
		}
		m, err := readMeta(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Point.Seq > out[j].Point.Seq })
	return out, nil
}

func readMeta(path string) (Meta, error) {
	f, err := os.Open(path)
	if err != nil {
		return Meta{}, err
	}
	defer f.Close()
	b := make([]byte, len(magic)+headerLen)
	if _, err := io.ReadFull(f, b); err != nil || string(b[:len(magic)]) != magic {
		return Meta{}, fmt.Errorf("%w: %s: not a snapshot", ErrCorrupt, path)
	}
	m := Meta{Path: path}
	return m, parseHeader(b[len(magic):], &m)
}

// Load reads a snapshot's parts into fresh parts (state nothing else has
// touched). It fails with ErrCorrupt when the file does not verify; the
// parts are then unusable and must be discarded.
func Load(m Meta, parts Parts) error {
	f, err := os.Open(m.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	body := info.Size() - sha256.Size
	if body < int64(len(magic)+headerLen) {
		return fmt.Errorf("%w: %s: too short", ErrCorrupt, m.Path)
	}
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(io.LimitReader(f, body), h), 1<<20)
	if err := readParts(br, body, parts); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, m.Path, err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil { // what the state left unread still counts
		return err
	}
	return checkTrailer(f, h, m.Path)
}

func checkTrailer(f *os.File, h hash.Hash, path string) error {
	var want [sha256.Size]byte
	if _, err := io.ReadFull(f, want[:]); err != nil {
		return fmt.Errorf("%w: %s: no checksum", ErrCorrupt, path)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		return fmt.Errorf("%w: %s: checksum mismatch", ErrCorrupt, path)
	}
	return nil
}

// readParts reads the parts from the body of a snapshot of body bytes:
// no length read from it may ask for more than that (a corrupt length is
// an error, not an allocation the checksum would refuse too late).
func readParts(br *bufio.Reader, body int64, parts Parts) error {
	head := make([]byte, len(magic)+headerLen)
	if _, err := io.ReadFull(br, head); err != nil {
		return err
	}
	n, err := binary.ReadUvarint(br)
	if err != nil || n > uint64(body) {
		return errors.New("bad counters and sessions length")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return err
	}
	r := wire.Reader{B: b}
	rrn, appr := r.Uvarint(), r.Uvarint()
	count := r.Uvarint()
	if r.Bad || count > maxSessions {
		return errors.New("bad counters")
	}
	parts.Counters.Observe(rrn, appr)
	for i := uint64(0); i < count; i++ {
		s := r.Raw()
		if r.Bad || len(s) > maxSession {
			return errors.New("bad session")
		}
		if err := parts.Sessions.Restore(s); err != nil {
			return err
		}
	}
	if head[len(magic)] >= 2 {
		if err := readOpen(&r, parts.Open); err != nil {
			return err
		}
	}
	if head[len(magic)] >= 3 {
		if err := readOpen(&r, parts.StandIn); err != nil {
			return err
		}
	}
	if len(r.B) != 0 {
		return errors.New("trailing bytes after the sessions")
	}
	return parts.State.ReadState(br)
}

func appendRecords(b []byte, recs [][]byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, o := range recs {
		b = binary.AppendUvarint(b, uint64(len(o)))
		b = append(b, o...)
	}
	return b
}

func readOpen(r *wire.Reader, o Open) error {
	count := r.Uvarint()
	if r.Bad || count > 2*MaxOpen+1<<16 { // the requests open upstream and the pending store-and-forward entries, each up to MaxOpen, and the entries delivered lately
		return errors.New("bad open upstream count")
	}
	for i := uint64(0); i < count; i++ {
		b := r.Raw()
		if r.Bad || len(b) > maxOpenRecord {
			return errors.New("bad open upstream record")
		}
		if o == nil {
			continue
		}
		if err := o.RestoreOpen(b); err != nil {
			return err
		}
	}
	return nil
}

// Prune removes all but the newest keep snapshots.
func Prune(dir string, keep int) error {
	metas, err := List(dir)
	if err != nil {
		return err
	}
	for i := keep; i < len(metas); i++ {
		if err := os.Remove(metas[i].Path); err != nil {
			return err
		}
	}
	return nil
}
