// Package auth authorizes on-us cards: checks of the card, the acceptor and
// the PIN, limits by card product, entry mode, merchant and terminal,
// funds, and the life cycle of pre-authorizations, completions, voids,
// refunds, reversals, repeats and duplicates. State lives in memory,
// sharded, keyed by the PAN's keyed hash (never the PAN), and is rebuilt
// from the journal at start.
package auth

import (
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/internal/kind"
)

// Kind is what a request does (kind.Of: clearing reads records the same
// way).
type Kind = kind.Kind

const (
	KindUnknown    = kind.Unknown
	KindPurchase   = kind.Purchase
	KindCash       = kind.Cash
	KindPreauth    = kind.Preauth
	KindCompletion = kind.Completion
	KindRefund     = kind.Refund
	KindVoid       = kind.Void
	KindBalance    = kind.Balance
	KindReversal   = kind.Reversal
)

// Request is what authorization reads of a message.
type Request struct {
	MTI      codec.MTI
	Proc     uint32
	PAN      []byte
	PANHash  [32]byte // keyed hash of the PAN: the key of card state
	Expiry   uint32   // YYMM from field 14, 0 if absent
	Amount   int64
	Terminal string
	Merchant string
	// Link is the name of the link the request came in on: a terminal
	// bound to other links (issuer data terminals[].links) is declined 58,
	// and so is a bound terminal's request that names no link (fail closed).
	Link          string
	MCC           string
	EntryMode     uint32 // field 22
	HasPIN        bool
	STAN          uint32
	LocalDate     uint32 // MMDD (field 13), or the transmission date
	Original      Ref    // field 90 (or the request itself for a UnionPay reversal)
	OriginalClass byte   // the original's MTI class from field 90, 0 if unknown
	HasOriginal   bool
	BusinessDate  uint32 // YYYYMMDD
	Today         uint32 // YYMM, for expiry
	// Received is when the request arrived, unix seconds: the time the
	// index's windows (Limits) are measured in. 0: unknown, the newest
	// time seen stands in.
	Received int64
	// ARQC is the engine's check of a chip request's cryptogram (see
	// NeedsARQC), made under the EMV settings ARQCFor (the profile's, as
	// the issuer data in force had them); ATC is the card's transaction
	// counter (9F36) it covered.
	ARQC    ARQCResult
	ARQCFor *issuer.EMV
	ATC     uint16
}

// Ref names a transaction: terminal, STAN and local date (MMDD).
type Ref struct {
	Terminal  string
	STAN      uint32
	LocalDate uint32
}

// Kind classifies the request by MTI class and processing code.
func (r *Request) Kind() Kind { return kind.Of(r.MTI, r.Proc, r.HasOriginal) }

// Ref is the request's own name.
func (r *Request) Ref() Ref { return Ref{r.Terminal, r.STAN, r.LocalDate} }

// entryClass is how convenient the card read and cardholder verification
// were, which sets the per-transaction entry limit.
type entryClass uint8

const (
	entryChipPIN entryClass = iota
	entryMagstripe
	entryEcommerce
	entryQR
	entryContactlessNoCVM
)

// classify reads the PAN entry mode (first two digits of field 22).
func (r *Request) classify() entryClass {
	switch pm := r.EntryMode / 10; pm {
	case 7, 91: // contactless chip or magstripe
		if r.HasPIN {
			return entryChipPIN
		}
		return entryContactlessNoCVM
	case 3: // bar code / QR
		return entryQR
	case 1, 81: // manual key entry, e-commerce
		return entryEcommerce
	case 2, 90, 80: // magnetic stripe, fallback
		return entryMagstripe
	case 5, 95: // chip
		if r.HasPIN {
			return entryChipPIN
		}
		return entryMagstripe
	}
	return entryMagstripe
}
