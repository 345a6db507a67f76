package journal

import (
	"encoding/binary"
	"fmt"
)

// Point names one record of the journal: its sequence number, its chain
// hash and its business date (the date of its key range, which is the
// record's own date since version 2). A snapshot is taken at a point; the
// journal's anchor is the point before its first kept record.
type Point struct {
	Seq  uint64
	Hash [HashLen]byte
	Date uint32 // YYYYMMDD
}

func (p Point) String() string {
	return fmt.Sprintf("sequence %d (date %d, hash %x)", p.Seq, p.Date, p.Hash[:6])
}

const pointLen = 8 + HashLen + 4

func (p Point) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, p.Seq)
	b = append(b, p.Hash[:]...)
	return binary.BigEndian.AppendUint32(b, p.Date)
}

func parsePoint(b []byte) (Point, bool) {
	var p Point
	if len(b) != pointLen {
		return p, false
	}
	p.Seq = binary.BigEndian.Uint64(b)
	copy(p.Hash[:], b[8:])
	p.Date = binary.BigEndian.Uint32(b[8+HashLen:])
	return p, true
}
