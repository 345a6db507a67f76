package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/cardswitch/cardswitch/internal/pan"
	"github.com/cardswitch/cardswitch/internal/wire"
)

// Version is the record encoding version written first in every record.
// Decode reads versions 1 and 2 too: version 1 lacks the fields version 2
// appended (Transmission, Acquirer, RRNSeq, ApprovalSeq, SessionKeys),
// version 2 those version 3 appended (the upstream leg: Destination,
// UpSTAN, UpRRN, UpCode, UpState), version 3 those version 4 appended
// (Replacement, Follows), read as zero.
const Version = 4

// UpState is what became of a request's upstream leg.
type UpState uint8

const (
	UpNone     UpState = iota // not forwarded
	UpAnswered                // the destination answered in time: UpCode is its field 39
	UpTimeout                 // no answer before the deadline: the originator was answered 91
	// UpLateReversal is a late response that approved (or carried no
	// code): the originator had been answered 91, so the effect at the
	// issuer must be reversed. The record is the response itself (Link is
	// the destination's name), tied to its request by RRNSeq, UpSTAN and
	// UpRRN.
	UpLateReversal
	// UpForwarded is the request as it is about to be sent, written before
	// any byte leaves: its final record (Closes: UpAnswered, UpTimeout,
	// UpNotSent, UpBadMAC, or UpOpenAtRestart written by the next start;
	// the same RRNSeq) follows, so a forwarded record without
	// one is a request a restart knows was open upstream. RespCode is
	// empty (no answer yet).
	UpForwarded
	// UpNotSent is the final record of a forwarded request that could not
	// be sent after all (its connection went down, the table was full or
	// held its key): the originator was answered 91 and nothing left.
	UpNotSent
	// UpBadMAC is the final record of a forwarded request whose response's
	// MAC did not verify: the response was not trusted and the originator
	// was answered 91, as for a timeout; an approval in it is recorded to
	// be reversed (UpLateReversal) as a late one is.
	UpBadMAC
	// UpOpenAtRestart is the final record a start writes for a forwarded
	// request it found open (its forwarded record has no final one: the
	// switch stopped while it was in flight). The host may have approved
	// it and the originator was never answered, so its effect at the
	// issuer must be reversed, as a late approval's. The record copies
	// the forwarded one (the PAN as it was protected, the outbound STAN
	// and RRN, RRNSeq) with RespCode and UpCode empty; it closes the open
	// request, so the next start does not find it again.
	UpOpenAtRestart
	// UpStandIn is a request the switch authorized in its destination's
	// place (stand-in processing: the destination was unavailable):
	// RespCode is the stand-in decision, UpCode empty; an approval is owed
	// to the destination as an advice (engine/saf).
	UpStandIn
	// UpSAFDelivered, UpSAFRejected and UpSAFExpired are the final
	// records of a store-and-forward entry (engine/saf): the reversal or
	// advice owed for the forwarded or stand-in request of the same
	// destination and RRNSeq reached its destination (UpCode its answer),
	// was refused for good (UpCode), or ran out of tries or time (an
	// exception for the operator). MTI is the message the entry went as
	// (0420, 0220, 0120), RespCode empty: nothing was answered to an
	// originator.
	UpSAFDelivered
	UpSAFRejected
	UpSAFExpired
	// UpUndelivered is an approval from the destination that could not be
	// delivered to the originator (its connection was gone): the effect at
	// the issuer must be reversed. The record copies the answered one
	// (RRNSeq, the outbound STAN and RRN, the PAN as protected), RespCode
	// empty (nothing reached the originator), UpCode the host's approval.
	UpUndelivered
	// UpAdviceAccepted is an advice or reversal advice from an originator
	// (0120, 0220, 0420) for a destination's card, answered 00 by the
	// switch and owed to the destination (engine/saf passes it on). The
	// destination, outbound STAN and RRN are the switch's; UpCode is the
	// originator's own 39 (a reversal's reason, the code an advice
	// reports), Approval its 38.
	UpAdviceAccepted
	upStateEnd
)

// Closes reports a final record of a forwarded request: one that closes
// the UpForwarded record of the same destination and RRNSeq.
func (u UpState) Closes() bool {
	return u == UpAnswered || u == UpTimeout || u == UpNotSent || u == UpBadMAC || u == UpOpenAtRestart
}

// SettlesSAF reports a final record of a store-and-forward entry.
func (u UpState) SettlesSAF() bool {
	return u == UpSAFDelivered || u == UpSAFRejected || u == UpSAFExpired
}

func (u UpState) String() string {
	switch u {
	case UpAnswered:
		return "answered"
	case UpTimeout:
		return "timeout"
	case UpLateReversal:
		return "late approval: needs reversal"
	case UpForwarded:
		return "forwarded"
	case UpNotSent:
		return "not sent"
	case UpBadMAC:
		return "bad MAC"
	case UpOpenAtRestart:
		return "open at restart: needs reversal"
	case UpStandIn:
		return "stand-in"
	case UpSAFDelivered:
		return "saf delivered"
	case UpSAFRejected:
		return "saf rejected"
	case UpSAFExpired:
		return "saf expired"
	case UpUndelivered:
		return "approval undelivered: needs reversal"
	case UpAdviceAccepted:
		return "advice accepted: to pass on"
	}
	return ""
}

// recordBytesMax bounds one stored record (its encoding and hash). An ISO
// 8583 message is a few KB at most and a record holds a part of one, so
// 64 KB is generous; the bound keeps a chunk well inside one Badger
// transaction (see chunkBytesMax) and the 3-byte stored length far from
// overflowing. Append refuses a larger record with ErrTooLarge.
const recordBytesMax = 64 << 10

// HashLen is the size of the chain hash (SHA-256).
const HashLen = 32

// Record is one request and the switch's decision on it. It never holds a
// PIN block, track data or CVV; the PAN only as a keyed hash, a masked form
// and a ciphertext under the data key (see Protector).
type Record struct {
	Seq          uint64 // assigned by the journal: 1, 2, 3, ... with no gaps
	BusinessDate uint32 // YYYYMMDD
	Received     int64  // unix nanoseconds when the request was read
	Decided      int64  // unix nanoseconds when the decision was made

	Link string
	Conn uint64 // connection number, for tracing

	MTI       [4]byte
	ProcCode  uint32
	STAN      uint32
	LocalDate uint32 // MMDD (field 13)
	LocalTime uint32 // hhmmss (field 12)
	RRN       string
	Terminal  string
	Merchant  string
	MCC       uint16
	Amount    int64
	Currency  uint16
	EntryMode uint16
	RespCode  [2]byte
	Approval  string
	Route     string // the routing rule that decided
	Original  string // what a reversal, void or completion refers to (its key), "" if none
	Outcome   []byte // the authorizer's details (holds, limit usage), opaque to the journal

	PANHash   [32]byte // HMAC-SHA-256 of the PAN under the PAN key
	PANMasked string   // first 6 and last 4
	PANSealed []byte   // nonce || AES-256-GCM(PAN) under the data key, for clearing

	// Version 2
	Transmission uint64 // transmission date and time, MMDDhhmmss (field 7)
	Acquirer     string // acquiring institution (field 32)
	RRNSeq       uint64 // the engine's RRN counter value this record used, 0 if it made none
	ApprovalSeq  uint64 // the approval-code counter value this record used, 0 if none
	SessionKeys  []byte // keys a sign-on issued, as cryptograms under the LMK; opaque to the journal

	// The upstream leg (version 3), for a forwarded request: the
	// destination, the STAN and RRN the switch gave the outbound request
	// (its counter is RRNSeq), the destination's field 39 (none on a
	// timeout) and what became of it.
	Destination string
	UpSTAN      uint32
	UpRRN       string
	UpCode      [2]byte
	UpState     UpState

	// Version 4
	// Replacement is what stays of a partial reversal (field 95's actual
	// transaction amount, below the original's): the original is cleared
	// for it, and the reversal passed on carries it; 0 for a reversal of
	// the whole amount, and for everything else.
	Replacement int64
	// Follows is the RRNSeq of the record whose store-and-forward entry
	// this record's entry must follow: a reversal of a stand-in approval
	// names the approval, whose advice the destination must have first.
	// 0: none.
	Follows uint64

	Hash [HashLen]byte // SHA-256(previous record's Hash || this record's encoding without Hash)
}

var errCorrupt = errors.New("journal: corrupt record")

// CheckClear checks the record's text fields, which are stored and dumped
// in clear: none may hold a control or non-ASCII byte, a Luhn-valid run of
// 13 to 19 digits or a track 2 separator next to a digit (pan.CardData).
// The PAN has its own fields (hashed, masked, sealed); a PAN, track data or
// PIN block anywhere else is a bug of the writer, refused with ErrCardData
// naming the field. It allocates nothing on success.
func (r *Record) CheckClear() error {
	for _, f := range [...]struct {
		name, v string
	}{{"link", r.Link}, {"rrn", r.RRN}, {"terminal", r.Terminal}, {"merchant", r.Merchant},
		{"approval", r.Approval}, {"route", r.Route}, {"original", r.Original}, {"pan_masked", r.PANMasked},
		{"acquirer", r.Acquirer}, {"destination", r.Destination}, {"up_rrn", r.UpRRN}} {
		if !clearOK(f.v) {
			return fmt.Errorf("%w: %s", ErrCardData, f.name)
		}
	}
	return nil
}

func clearOK(s string) bool {
	b := unsafe.Slice(unsafe.StringData(s), len(s)) // read only: pan.Inspect does not keep or write it
	return pan.Inspect(b) == 0
}

// seqOffset is where the sequence number sits in an encoded record; the
// business date (a uvarint) follows it.
const seqOffset = 1

// seqOf reads the sequence number of a stored record (at least 9 bytes).
func seqOf(v []byte) uint64 { return binary.BigEndian.Uint64(v[seqOffset:]) }

// storedDate reads the business date of a stored record without decoding
// the rest.
func storedDate(v []byte) (uint32, bool) {
	if len(v) <= seqOffset+8 {
		return 0, false
	}
	d, n := binary.Uvarint(v[seqOffset+8:])
	return uint32(d), n > 0 && d <= 99991231
}

// AppendEncoding appends the record's encoding, without the chain hash:
// version, sequence (8 bytes, fixed so the journal can set it in place),
// then the fields.
func (r *Record) AppendEncoding(b []byte) []byte {
	b = append(b, Version)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.AppendUvarint(b, uint64(r.BusinessDate))
	b = binary.AppendVarint(b, r.Received)
	b = binary.AppendVarint(b, r.Decided-r.Received)
	b = appendString(b, r.Link)
	b = binary.AppendUvarint(b, r.Conn)
	b = append(b, r.MTI[:]...)
	b = binary.AppendUvarint(b, uint64(r.ProcCode))
	b = binary.AppendUvarint(b, uint64(r.STAN))
	b = binary.AppendUvarint(b, uint64(r.LocalDate))
	b = binary.AppendUvarint(b, uint64(r.LocalTime))
	b = appendString(b, r.RRN)
	b = appendString(b, r.Terminal)
	b = appendString(b, r.Merchant)
	b = binary.AppendUvarint(b, uint64(r.MCC))
	b = binary.AppendVarint(b, r.Amount)
	b = binary.AppendUvarint(b, uint64(r.Currency))
	b = binary.AppendUvarint(b, uint64(r.EntryMode))
	b = append(b, r.RespCode[:]...)
	b = appendString(b, r.Approval)
	b = appendString(b, r.Route)
	b = appendString(b, r.Original)
	b = appendBytes(b, r.Outcome)
	b = append(b, r.PANHash[:]...)
	b = appendString(b, r.PANMasked)
	b = appendBytes(b, r.PANSealed)
	b = binary.AppendUvarint(b, r.Transmission)
	b = appendString(b, r.Acquirer)
	b = binary.AppendUvarint(b, r.RRNSeq)
	b = binary.AppendUvarint(b, r.ApprovalSeq)
	b = appendBytes(b, r.SessionKeys)
	b = appendString(b, r.Destination)
	b = binary.AppendUvarint(b, uint64(r.UpSTAN))
	b = appendString(b, r.UpRRN)
	b = append(b, r.UpCode[:]...)
	b = append(b, byte(r.UpState))
	b = binary.AppendVarint(b, r.Replacement)
	b = binary.AppendUvarint(b, r.Follows)
	return b
}

// fixedBytesMax bounds what a stored record holds besides its strings and
// byte slices: version and sequence (9), 18 varints of at most 10 bytes,
// MTI and the two response codes (8), the upstream state (1), PAN hash and
// chain hash (64), and 14 length prefixes of at most 10 bytes, rounded up.
const fixedBytesMax = 9 + 18*10 + 8 + 1 + 64 + 14*10 + 32

// sizeBound is an upper bound of the record's stored size, read without
// encoding it.
func (r *Record) sizeBound() int {
	return fixedBytesMax + len(r.Link) + len(r.RRN) + len(r.Terminal) + len(r.Merchant) +
		len(r.Approval) + len(r.Route) + len(r.Original) + len(r.Outcome) + len(r.PANMasked) +
		len(r.PANSealed) + len(r.Acquirer) + len(r.SessionKeys) + len(r.Destination) + len(r.UpRRN)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Decode reads a stored record (its encoding followed by the chain hash).
// Strings and byte slices are copied: the record does not alias data.
func Decode(data []byte, r *Record) error { return decode(data, r, false) }

// decodeBorrowed is Decode without copies: the record's strings and slices
// point into data and are valid only while data is (replay callbacks).
func decodeBorrowed(data []byte, r *Record) error { return decode(data, r, true) }

func decode(data []byte, r *Record, borrow bool) error {
	if len(data) < 1+8+HashLen {
		return fmt.Errorf("%w: %d bytes", errCorrupt, len(data))
	}
	if data[0] < 1 || data[0] > Version {
		return fmt.Errorf("%w: version %d", errCorrupt, data[0])
	}
	d := decoder{Reader: wire.Reader{B: data[1 : len(data)-HashLen]}, borrow: borrow}
	*r = Record{}
	r.Seq = d.Fixed64()
	r.BusinessDate = uint32(d.Uvarint())
	r.Received = d.Varint()
	r.Decided = r.Received + d.Varint()
	r.Link = d.str()
	r.Conn = d.Uvarint()
	copy(r.MTI[:], d.Take(4))
	r.ProcCode = uint32(d.Uvarint())
	r.STAN = uint32(d.Uvarint())
	r.LocalDate = uint32(d.Uvarint())
	r.LocalTime = uint32(d.Uvarint())
	r.RRN, r.Terminal, r.Merchant = d.str(), d.str(), d.str()
	r.MCC = uint16(d.Uvarint())
	r.Amount = d.Varint()
	r.Currency = uint16(d.Uvarint())
	r.EntryMode = uint16(d.Uvarint())
	copy(r.RespCode[:], d.Take(2))
	r.Approval, r.Route, r.Original = d.str(), d.str(), d.str()
	r.Outcome = d.bytes()
	copy(r.PANHash[:], d.Take(32))
	r.PANMasked = d.str()
	r.PANSealed = d.bytes()
	if data[0] >= 2 {
		r.Transmission = d.Uvarint()
		r.Acquirer = d.str()
		r.RRNSeq, r.ApprovalSeq = d.Uvarint(), d.Uvarint()
		r.SessionKeys = d.bytes()
	}
	if data[0] >= 3 {
		r.Destination = d.str()
		r.UpSTAN = uint32(d.Uvarint())
		r.UpRRN = d.str()
		copy(r.UpCode[:], d.Take(2))
		if st := d.Take(1); len(st) == 1 {
			r.UpState = UpState(st[0])
		}
		if r.UpState >= upStateEnd || r.UpSTAN > 999999 {
			return fmt.Errorf("%w: seq %d: upstream leg out of range", errCorrupt, r.Seq)
		}
	}
	if data[0] >= 4 {
		r.Replacement = d.Varint()
		r.Follows = d.Uvarint()
		if r.Replacement < 0 || (r.Replacement > 0 && r.Replacement >= r.Amount) {
			return fmt.Errorf("%w: seq %d: replacement amount %d of %d", errCorrupt, r.Seq, r.Replacement, r.Amount)
		}
	}
	copy(r.Hash[:], data[len(data)-HashLen:])
	if d.Bad || len(d.B) != 0 {
		return fmt.Errorf("%w: seq %d: fields do not parse", errCorrupt, r.Seq)
	}
	return nil
}

// decoder reads a record's fields (wire.Reader), with strings and slices
// either copied or, when borrow is set, aliasing the record's bytes.
type decoder struct {
	wire.Reader
	borrow bool
}

func (d *decoder) str() string {
	v := d.Raw()
	if d.borrow && len(v) > 0 {
		return unsafe.String(&v[0], len(v))
	}
	return string(v)
}

func (d *decoder) bytes() []byte {
	v := d.Raw()
	if len(v) == 0 || d.borrow {
		return v
	}
	return append([]byte(nil), v...)
}
