package clearing

import (
	"encoding/binary"
	"unsafe"

	"github.com/cardswitch/cardswitch/internal/kind"
	"github.com/cardswitch/cardswitch/journal"
)

// Kind is what a journaled request is to clearing, read from its MTI
// class and processing code (the first two digits of field 3) by
// kind.Of, as the authorizer reads them.
type Kind uint8

const (
	KindOther      Kind = iota // not financial: balance, network management, unknown
	KindPurchase               // 02xx, processing 00
	KindCash                   // 02xx, processing 01
	KindRefund                 // 02xx, processing 20: a credit to the card
	KindCompletion             // 0220 or an 0200 naming its pre-authorization, processing 00
	KindPreauth                // 01xx, processing 00: a hold, never cleared itself
	KindVoid                   // 02xx, processing 02: undoes a purchase or completion
	KindReversal               // 04xx: undoes what it names
	// A reversal on this day of a transaction an earlier day cleared, as
	// this day's clearing carries it: the opposite of what it reverses.
	KindReversedDebit  // of a purchase, cash or completion: a credit to the card
	KindReversedCredit // of a refund: a debit
)

var kindCodes = [...]string{"OTH", "PUR", "CSH", "REF", "CMP", "PRE", "VOI", "REV", "RVD", "RVC"}

// Code is the kind's three-letter code in the clearing file.
func (k Kind) Code() string { return kindCodes[k] }

// Credit reports whether the kind credits the card (the merchant pays).
func (k Kind) Credit() bool { return k == KindRefund || k == KindReversedDebit }

// reversedOf is the kind that clears a later day's reversal of k.
func reversedOf(k Kind) Kind {
	if k.Credit() {
		return KindReversedCredit
	}
	return KindReversedDebit
}

// Cleared reports whether an effective transaction of the kind is cleared.
func (k Kind) Cleared() bool {
	return k == KindPurchase || k == KindCash || k == KindRefund || k == KindCompletion
}

// KindOf classifies a record as the authorizer classified its request
// (kind.Of); a balance inquiry is none of clearing's kinds.
func KindOf(r *journal.Record) Kind {
	return fromKind[kind.Of(r.MTI, r.ProcCode, r.Original != "")]
}

var fromKind = [...]Kind{
	kind.Unknown: KindOther, kind.Balance: KindOther,
	kind.Purchase: KindPurchase, kind.Cash: KindCash, kind.Preauth: KindPreauth,
	kind.Completion: KindCompletion, kind.Refund: KindRefund, kind.Void: KindVoid,
	kind.Reversal: KindReversal,
}

// Approved reports whether the switch approved the record (field 39 00).
func Approved(r *journal.Record) bool { return r.RespCode == [2]byte{'0', '0'} }

// Line is one transaction as clearing carries it: no PAN but its masked
// form, its keyed hash and (when asked for) its ciphertext.
type Line struct {
	Seq          uint64
	Kind         Kind
	MTI          [4]byte
	ProcCode     uint32
	LocalDate    uint32 // MMDD, field 13
	LocalTime    uint32 // hhmmss, field 12
	Transmission uint64 // MMDDhhmmss, field 7
	Amount       int64
	Currency     uint16
	STAN         uint32
	MCC          uint16
	EntryMode    uint16
	RRN          string
	Approval     string
	Terminal     string
	Merchant     string
	PANMasked    string
	PANHash      [32]byte
	PANSealed    []byte // empty unless the export asked for it
}

// lineOf copies what clearing needs of a record; the sealed PAN only when
// sealed is set.
func lineOf(r *journal.Record, k Kind, sealed bool) Line {
	l := Line{Seq: r.Seq, Kind: k, MTI: r.MTI, ProcCode: r.ProcCode, LocalDate: r.LocalDate, LocalTime: r.LocalTime,
		Transmission: r.Transmission, Amount: r.Amount, Currency: r.Currency, STAN: r.STAN, MCC: r.MCC,
		EntryMode: r.EntryMode, RRN: r.RRN, Approval: r.Approval, Terminal: r.Terminal, Merchant: r.Merchant,
		PANMasked: r.PANMasked, PANHash: r.PANHash}
	if sealed {
		l.PANSealed = r.PANSealed
	}
	return l
}

// appendLine encodes a line for the sorters.
func appendLine(b []byte, l *Line) []byte {
	b = binary.BigEndian.AppendUint64(b, l.Seq)
	b = append(b, byte(l.Kind))
	b = append(b, l.MTI[:]...)
	b = binary.AppendUvarint(b, uint64(l.ProcCode))
	b = binary.AppendUvarint(b, uint64(l.LocalDate))
	b = binary.AppendUvarint(b, uint64(l.LocalTime))
	b = binary.AppendUvarint(b, l.Transmission)
	b = binary.AppendVarint(b, l.Amount)
	b = binary.AppendUvarint(b, uint64(l.Currency))
	b = binary.AppendUvarint(b, uint64(l.STAN))
	b = binary.AppendUvarint(b, uint64(l.MCC))
	b = binary.AppendUvarint(b, uint64(l.EntryMode))
	for _, s := range [...]string{l.RRN, l.Approval, l.Terminal, l.Merchant, l.PANMasked} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, l.PANHash[:]...)
	b = binary.AppendUvarint(b, uint64(len(l.PANSealed)))
	return append(b, l.PANSealed...)
}

// lineReader decodes lines from the sorters' payloads, borrowing: the
// line's strings point into the payload and live as long as it does.
type lineReader struct {
	b   []byte
	bad bool
}

func (d *lineReader) uv() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *lineReader) take(n int) []byte {
	if n > len(d.b) || n < 0 {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *lineReader) str() string {
	v := d.take(int(d.uv()))
	if len(v) == 0 {
		return ""
	}
	return unsafe.String(&v[0], len(v))
}

// decodeLine reads a line appendLine wrote; false if it does not parse
// (a sort run damaged on disk).
func decodeLine(b []byte, l *Line) bool {
	d := lineReader{b: b}
	if len(b) < 13 {
		return false
	}
	l.Seq = binary.BigEndian.Uint64(b)
	l.Kind = Kind(b[8])
	copy(l.MTI[:], b[9:13])
	d.b = b[13:]
	l.ProcCode = uint32(d.uv())
	l.LocalDate = uint32(d.uv())
	l.LocalTime = uint32(d.uv())
	l.Transmission = d.uv()
	a, n := binary.Varint(d.b)
	if n <= 0 {
		return false
	}
	l.Amount, d.b = a, d.b[n:]
	l.Currency = uint16(d.uv())
	l.STAN = uint32(d.uv())
	l.MCC = uint16(d.uv())
	l.EntryMode = uint16(d.uv())
	l.RRN, l.Approval, l.Terminal, l.Merchant, l.PANMasked = d.str(), d.str(), d.str(), d.str(), d.str()
	copy(l.PANHash[:], d.take(32))
	l.PANSealed = d.take(int(d.uv()))
	return !d.bad && len(d.b) == 0 && int(l.Kind) < len(kindCodes)
}
