package journal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
)

// The high-water mark is the last acknowledged sequence and its chain hash,
// kept outside Badger and synced after every commit: Badger opening cleanly
// proves nothing (a flipped bit in its log can silently drop records), so
// the journal checks its tail against this file. Two slots are written in
// turn, so a torn write leaves the other intact.
type hwm struct {
	f    *os.File
	seq  uint64
	hash [HashLen]byte
	slot int // the slot the next store writes: the other one holds the last mark
}

const (
	hwmMagic = 0x4353484d // "CSHM"
	slotLen  = 4 + 8 + HashLen + 4
)

func openHWM(path string) (*hwm, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	h := &hwm{f: f}
	buf := make([]byte, 2*slotLen)
	if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, err
	}
	for i := 0; i < 2; i++ {
		if seq, hash, ok := parseSlot(buf[i*slotLen : (i+1)*slotLen]); ok && seq >= h.seq {
			h.seq, h.hash, h.slot = seq, hash, 1-i
		}
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
	h.seq, h.hash, h.slot = seq, hash, 1-h.slot
	return nil
}

func (h *hwm) close() error { return h.f.Close() }
