package journal

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"

	badger "github.com/dgraph-io/badger/v4"
)

// An export file holds one closed day's records in their stored form
// (what clearing reads, and what DropDay asks for before it drops a day):
//
//	header   "CSJX", version (1 byte), date (4), first sequence (8),
//	         the hash of the record before the first (32)
//	records  each: length (3 bytes), the record's encoding and chain hash
//	trailer  0 (3 bytes), count (8), last hash (32),
//	         SHA-256 of every byte before it (32)
//
// Numbers are big-endian. VerifyExport recomputes the chain from the
// header's hash, so an export proves itself against the journal's chain.
const (
	exportMagic   = "CSJX"
	exportVersion = 1
	exportHeadLen = 4 + 1 + 4 + 8 + HashLen
)

// Export describes an export file.
type Export struct {
	Date              uint32
	FirstSeq, LastSeq uint64
	Records           uint64
	PrevHash          [HashLen]byte // the hash of the record before the first
	LastHash          [HashLen]byte
	Checksum          [sha256.Size]byte // of the file before it
}

// ExportDay writes the records of a closed day (older than the newest
// acknowledged date) to w, verified on the way: the walk checks the chain
// from the anchor through the day, so exporting the oldest day reads that
// day only.
func (j *Journal) ExportDay(date uint32, w io.Writer) (Export, error) {
	if newest := j.Last().Date; date >= newest {
		return Export{}, fmt.Errorf("journal: day %d is not closed: the newest day is %d", date, newest)
	}
	days, err := j.Days()
	if err != nil {
		return Export{}, err
	}
	var day *Day
	for i := range days {
		if days[i].Date == date {
			day = &days[i]
		}
	}
	if day == nil {
		return Export{}, fmt.Errorf("journal: no records of day %d", date)
	}
	x := exporter{w: bufio.NewWriter(w), sum: sha256.New(), e: Export{Date: date, FirstSeq: day.FirstSeq}}
	var res Result
	err = j.view(func(txn *badger.Txn) error {
		m, err := readMeta(txn)
		if err != nil {
			return err
		}
		x.prev = m.anchor.Hash
		res, err = walk(txn, span{anchor: m.anchor, to: day.LastSeq, fn: x.record})
		return err
	})
	if err == nil && res.Problem != nil {
		err = res.Problem
	}
	if err == nil && (x.e.Records != day.Records || x.e.LastSeq != day.LastSeq) {
		err = fmt.Errorf("journal: day %d: exported %d records to %d, the day holds %d to %d", date, x.e.Records, x.e.LastSeq, day.Records, day.LastSeq)
	}
	if err != nil {
		return Export{}, err
	}
	return x.finish()
}

// exporter writes the stored records of one day as the walk passes them.
type exporter struct {
	w    *bufio.Writer
	sum  hash.Hash
	e    Export
	prev [HashLen]byte // the hash of the last record passed
	err  error
}

func (x *exporter) write(b []byte) {
	if x.err == nil {
		x.sum.Write(b)
		_, x.err = x.w.Write(b)
	}
}

func (x *exporter) record(r []byte) error {
	seq := seqOf(r)
	if seq < x.e.FirstSeq {
		copy(x.prev[:], r[len(r)-HashLen:])
		return nil
	}
	if x.e.Records == 0 {
		x.e.PrevHash = x.prev
		head := append([]byte(exportMagic), exportVersion)
		head = binary.BigEndian.AppendUint32(head, x.e.Date)
		head = binary.BigEndian.AppendUint64(head, x.e.FirstSeq)
		x.write(append(head, x.e.PrevHash[:]...))
	}
	x.write([]byte{byte(len(r) >> 16), byte(len(r) >> 8), byte(len(r))})
	x.write(r)
	x.e.Records++
	x.e.LastSeq = seq
	copy(x.e.LastHash[:], r[len(r)-HashLen:])
	return x.err
}

func (x *exporter) finish() (Export, error) {
	tail := binary.BigEndian.AppendUint64([]byte{0, 0, 0}, x.e.Records)
	x.write(append(tail, x.e.LastHash[:]...))
	x.sum.Sum(x.e.Checksum[:0])
	if x.err == nil {
		_, x.err = x.w.Write(x.e.Checksum[:])
	}
	if x.err == nil {
		x.err = x.w.Flush()
	}
	if x.err != nil {
		return Export{}, fmt.Errorf("journal: export: %w", x.err)
	}
	return x.e, nil
}

// VerifyExport reads an export file whole and checks it: header, every
// record's sequence, date and chain hash from the header's, the trailer's
// count and last hash, the checksum, and nothing after it. Reads are
// bounded: a record above the record bound is refused before it is read.
func VerifyExport(r io.Reader) (Export, error) {
	br := bufio.NewReader(r)
	sum := sha256.New()
	in := io.TeeReader(br, sum)
	e, err := readExportHead(in)
	if err != nil {
		return e, err
	}
	res := Result{LastSeq: e.FirstSeq - 1, LastHash: e.PrevHash}
	h := sha256.New()
	buf := make([]byte, recordBytesMax)
	for {
		var n [3]byte
		if _, err := io.ReadFull(in, n[:]); err != nil {
			return e, badExport("ends inside the records: %v", err)
		}
		size := int(n[0])<<16 | int(n[1])<<8 | int(n[2])
		if size == 0 {
			break
		}
		if size > recordBytesMax || size < 1+8+HashLen {
			return e, badExport("record after %d: length %d out of bounds", res.LastSeq, size)
		}
		rec := buf[:size]
		if _, err := io.ReadFull(in, rec); err != nil {
			return e, badExport("ends inside record %d: %v", res.LastSeq+1, err)
		}
		if problem := checkRecord(&res, rec, h); problem != "" {
			return e, badExport("at sequence %d: %s", res.LastSeq+1, problem)
		}
		if own, ok := storedDate(rec); !ok || own > e.Date || (rec[0] >= 2 && own != e.Date) {
			return e, badExport("record %d is dated %d, the export %d", res.LastSeq, own, e.Date)
		}
	}
	return finishExport(e, res, in, br, sum)
}

func readExportHead(in io.Reader) (Export, error) {
	var e Export
	head := make([]byte, exportHeadLen)
	if _, err := io.ReadFull(in, head); err != nil {
		return e, badExport("no header: %v", err)
	}
	if string(head[:4]) != exportMagic || head[4] != exportVersion {
		return e, badExport("not a journal export (magic or version)")
	}
	e.Date = binary.BigEndian.Uint32(head[5:])
	e.FirstSeq = binary.BigEndian.Uint64(head[9:])
	copy(e.PrevHash[:], head[17:])
	if e.FirstSeq == 0 {
		return e, badExport("first sequence 0")
	}
	return e, nil
}

// finishExport checks the trailer against what was read.
func finishExport(e Export, res Result, in io.Reader, br *bufio.Reader, sum hash.Hash) (Export, error) {
	tail := make([]byte, 8+HashLen)
	if _, err := io.ReadFull(in, tail); err != nil {
		return e, badExport("no trailer: %v", err)
	}
	sum.Sum(e.Checksum[:0])
	var stored [sha256.Size]byte
	if _, err := io.ReadFull(br, stored[:]); err != nil {
		return e, badExport("no checksum: %v", err)
	}
	e.Records, e.LastSeq, e.LastHash = res.Records, res.LastSeq, res.LastHash
	switch {
	case res.Records == 0:
		return e, badExport("no records")
	case binary.BigEndian.Uint64(tail) != res.Records:
		return e, badExport("the trailer counts %d records, the file holds %d", binary.BigEndian.Uint64(tail), res.Records)
	case !bytes.Equal(tail[8:], res.LastHash[:]):
		return e, badExport("the trailer's last hash differs from the last record's")
	case stored != e.Checksum:
		return e, badExport("checksum differs")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return e, badExport("bytes after the checksum")
	}
	return e, nil
}

func badExport(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadExport, fmt.Sprintf(format, a...))
}
