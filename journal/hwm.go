package journal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/cardswitch/cardswitch/internal/durable"
)

// The high-water mark is the last acknowledged sequence and its chain hash,
// kept outside Badger and synced after every commit: Badger opening cleanly
// proves nothing (a flipped bit in its log can silently drop records), so
// the journal checks its tail against this file. Two slots are written in
// turn, so a torn write leaves the other intact.
type hwm struct {
	f     markFile
	seq   uint64
	hash  [HashLen]byte
	slot  int  // the slot the next store writes: the other one holds the last mark
	valid bool // a slot read: false for a file without any readable mark
}

// dataSynced is the mark's file, synced with fdatasync where there is one:
// the mark is rewritten in place at fixed offsets, so only its data (and
// its size, the one time the second slot extends it) must reach the disk,
// not its times; fdatasync skips the inode's timestamps, which fsync would
// commit through the filesystem's journal on every store.
type dataSynced struct{ *os.File }

func (f dataSynced) Sync() error { return dataSync(f.File) }

// markFile is what the mark needs of its file (a seam: tests inject faults).
type markFile interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Close() error
}

const (
	hwmMagic = 0x4353484d // "CSHM"
	slotLen  = 4 + 8 + HashLen + 4
	hwmName  = "hwm"
)

// openHWM opens the mark file at path (flag: os.O_RDONLY or os.O_RDWR); a
// missing file is an error wrapping os.ErrNotExist.
func openHWM(path string, flag int) (*hwm, error) {
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	h := &hwm{f: dataSynced{f}}
	buf := make([]byte, 2*slotLen)
	if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, err
	}
	for i := 0; i < 2; i++ {
		if seq, hash, ok := parseSlot(buf[i*slotLen : (i+1)*slotLen]); ok && (!h.valid || seq >= h.seq) {
			h.seq, h.hash, h.slot, h.valid = seq, hash, 1-i, true
		}
	}
	return h, nil
}

// createHWM creates the mark file holding p (a new journal's anchor, or the
// last intact record when rebuilding), synced with its directory entry.
func createHWM(path string, p Point) (*hwm, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	h := &hwm{f: dataSynced{f}}
	if err := h.store(p.Seq, p.Hash); err != nil {
		f.Close()
		return nil, err
	}
	if err := durable.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	return h, nil
}

func parseSlot(b []byte) (uint64, [HashLen]byte, bool) {
	var hash [HashLen]byte
	if binary.BigEndian.Uint32(b) != hwmMagic {
		return 0, hash, false
	}
	if crc32.ChecksumIEEE(b[:slotLen-4]) != binary.BigEndian.Uint32(b[slotLen-4:]) {
		return 0, hash, false
	}
	copy(hash[:], b[12:12+HashLen])
	return binary.BigEndian.Uint64(b[4:]), hash, true
}

// store writes and syncs the mark.
func (h *hwm) store(seq uint64, hash [HashLen]byte) error {
	var b [slotLen]byte
	binary.BigEndian.PutUint32(b[:], hwmMagic)
	binary.BigEndian.PutUint64(b[4:], seq)
	copy(b[12:], hash[:])
	binary.BigEndian.PutUint32(b[slotLen-4:], crc32.ChecksumIEEE(b[:slotLen-4]))
	if _, err := h.f.WriteAt(b[:], int64(h.slot)*slotLen); err != nil {
		return err
	}
	if err := h.f.Sync(); err != nil {
		return err
	}
	h.seq, h.hash, h.slot, h.valid = seq, hash, 1-h.slot, true
	return nil
}

// lower moves the mark back (accepting a loss): both slots are written,
// or the other slot's higher mark would be read as the newest.
func (h *hwm) lower(seq uint64, hash [HashLen]byte) error {
	if err := h.store(seq, hash); err != nil {
		return err
	}
	return h.store(seq, hash)
}

func (h *hwm) close() error { return h.f.Close() }
