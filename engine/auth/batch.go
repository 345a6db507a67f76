package auth

import (
	"encoding/binary"
	"errors"

	"github.com/cardswitch/cardswitch/internal/wire"
)

// Terminal settlement. Each terminal has one open batch: the totals of the
// on-us transactions the switch approved for it since its last balanced
// settlement. A settlement (0500/0520, or UnionPay's 0500) compares the
// terminal's totals with the open batch's; when they agree the batch
// closes and the next transactions count in the next one. A reversal or
// void counts in the batch of its original while that batch is open; once
// it closed (settled), the reversal is clearing's business and changes no
// terminal batch. The batch state lives on the terminal's acceptor state
// (its mu guards it), is journaled by the outcomes of the decisions that
// change it (approvals, reversals, voids, settlements) and so replayed, and
// is written in the state snapshots.

// Count is a count of transactions and their amount (minor units).
type Count struct {
	N      int64
	Amount int64
}

func (c *Count) add(sign, amount int64) {
	c.N += sign
	c.Amount += sign * amount
}

// Totals are a batch's counts, kept apart so each network's layout can be
// read from them: ISO 8583's 74-89 and 97, UnionPay's field 48.
type Totals struct {
	Debits          Count // purchases, cash and completions approved (kind.Purchase, Cash, Completion)
	DebitReversals  Count // reversals of those
	DebitVoids      Count // approved voids of those
	Credits         Count // refunds approved (kind.Refund)
	CreditReversals Count // reversals of refunds
}

// Net is what the batch settles to the acceptor: debits less their
// reversals and voids, less credits net of their reversals (positive: the
// acceptor is owed).
func (t Totals) Net() int64 {
	return t.Debits.Amount - t.DebitReversals.Amount - t.DebitVoids.Amount - (t.Credits.Amount - t.CreditReversals.Amount)
}

// batchState is a terminal's open batch and the last one closed; guarded
// by the terminal acceptor's mu.
type batchState struct {
	tot          Totals // the open batch
	closed       Totals // the last batch closed (a repeat of its settlement is answered from it)
	closedNumber uint32 // the batch number the last close named
	gen          uint32 // batches closed so far: the open batch's generation
	open         bool   // the open batch holds one of Limits.MaxBatches
	closedOK     bool   // a batch was closed (closed, closedNumber are set)
	upload       bool   // out of balance, waiting for a batch upload whose end closes it (UnionPay)
}

// batch counting: what an effect counts as
const (
	countTxn      = iota // an approval (sign -1: taken back by an abort)
	countReversal        // a reversal of it
	countVoid            // an approved void of it
)

// batchCount counts entry t in its terminal's batch. An approval opens the
// batch if needed and marks the entry with the batch's generation; a
// reversal, a void or a take-back counts only while that batch is still
// the open one. Kinds without a batch meaning (pre-authorizations, balance
// inquiries) and effects without a terminal count nothing.
func (a *Authorizer) batchCount(t *txn, how int, sign int64) {
	debit := t.kind == KindPurchase || t.kind == KindCash || t.kind == KindCompletion
	if !debit && t.kind != KindRefund {
		return
	}
	x := a.terminals.at(t.eff.terminal)
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	b := &x.batch
	if how == countTxn && sign > 0 {
		a.openLocked(b, false)
		t.batch = uint16(b.gen)
		t.set(txnInBatch)
	} else if !t.has(txnInBatch) || t.batch != uint16(b.gen) {
		return // its batch closed: settled already
	}
	amount := t.eff.debit
	if !debit {
		amount = -amount
	}
	var c *Count
	switch {
	case how == countTxn && debit:
		c = &b.tot.Debits
	case how == countTxn:
		c = &b.tot.Credits
	case how == countVoid:
		c = &b.tot.DebitVoids
	case debit:
		c = &b.tot.DebitReversals
	default:
		c = &b.tot.CreditReversals
	}
	c.add(sign, amount)
}

// openLocked makes b the terminal's open batch if it is not yet: false,
// at the cap (Limits.MaxBatches) when capped, unless the replay or a
// snapshot brings it (capped false), which never refuses what was decided.
func (a *Authorizer) openLocked(b *batchState, capped bool) bool {
	if b.open {
		return true
	}
	if capped && a.batches.Load() >= int64(a.lim.MaxBatches) {
		a.batchesRefused.Add(1)
		return false
	}
	a.batches.Add(1)
	b.open = true
	return true
}

// closeLocked closes the open batch as number: its totals become the last
// closed batch's and the next transactions count in a new one.
func (a *Authorizer) closeLocked(b *batchState, number uint32) {
	b.closed, b.closedNumber, b.closedOK = b.tot, number, true
	b.tot = Totals{}
	b.gen++
	b.upload = false
	if b.open {
		b.open = false
		a.batches.Add(-1)
	}
}

// SettleOp is what a settlement message asks.
type SettleOp uint8

const (
	SettleTotals    SettleOp = iota + 1 // 0500/0520: the terminal's totals against the switch's
	SettleUpload                        // UnionPay 0320: one transaction of a batch upload
	SettleUploadEnd                     // UnionPay 0320: the batch upload's closing message
)

// Settlement is a settlement message as the authorizer reads it.
type Settlement struct {
	Op       SettleOp
	Terminal string // field 41
	Merchant string // field 42: the terminal's merchant in the issuer data
	Link     string // as Request.Link
	Batch    uint32 // the terminal's batch number
	// UploadOnMismatch: an out-of-balance settlement waits for a batch
	// upload, whose end closes the batch (UnionPay). Without it the batch
	// stays open and the terminal settles again (ISO 8583).
	UploadOnMismatch bool
	BusinessDate     uint32 // YYYYMMDD
	Received         int64  // unix seconds
}

// SettleDecision is the answer to a settlement.
type SettleDecision struct {
	Code     string // 00 (agreed, or an upload message taken), 95 (out of balance), 58 (terminal unknown to the issuer data or not of that merchant or link)
	Balanced bool   // the totals agreed (SettleTotals)
	Closed   bool   // the batch closed: the next transactions count in the next batch
	Own      Totals // the switch's totals of the batch compared (for the reply)
	Date     uint32
	Outcome  []byte // to journal: what the settlement changed
}

// OutOfBalance is the reconciliation's answer when the totals differ.
const OutOfBalance = "95"

// Settle compares a terminal's settlement with its open batch (agree says
// whether the switch's totals match what the message carries: the
// comparison is the network's) and closes the batch when they agree. A
// settlement naming the batch closed last is its repeat: answered against
// that batch's totals, changing nothing. For UnionPay an out-of-balance
// settlement waits for the batch upload; the upload's end closes the batch.
func (a *Authorizer) Settle(s *Settlement, agree func(own Totals) bool) SettleDecision {
	w := a.advance(s.BusinessDate, s.Received)
	d := SettleDecision{Date: w.date}
	t, ok := a.snap.Load().data.Terminal([]byte(s.Terminal))
	if !ok || t.Merchant != s.Merchant || !t.TakesRequestsAt(s.Link) {
		d.Code = NotPermittedTrm
		return d
	}
	x, _ := a.terminals.get(s.Terminal)
	x.mu.Lock()
	defer x.mu.Unlock()
	b := &x.batch
	var flags byte
	d.Code, d.Own = Approved, b.tot
	switch s.Op {
	case SettleTotals:
		repeat := b.closedOK && s.Batch == b.closedNumber
		if repeat {
			d.Own = b.closed
		}
		d.Balanced = agree(d.Own)
		switch {
		case !d.Balanced:
			d.Code = OutOfBalance
			if s.UploadOnMismatch && !repeat {
				b.upload = true
				flags |= settleUpload
			}
		case !repeat:
			a.closeLocked(b, s.Batch)
			flags |= settleClosed
		}
	case SettleUploadEnd:
		if b.upload {
			a.closeLocked(b, s.Batch)
			flags |= settleClosed
		}
	}
	d.Closed = flags&settleClosed != 0
	d.Outcome = encodeSettle(s.Op, flags, s.Terminal, s.Batch, w)
	return d
}

// A settlement's outcome: settleTag, its version, the op, flags, the
// terminal, the batch number, the business date and request time. The tag
// sets it apart from a decision's outcome, which starts with its version
// (1 or 2).
const (
	settleTag     = 'S'
	settleVersion = 1
	settleClosed  = 1 << iota // the batch closed
	settleUpload              // out of balance: a batch upload is awaited
)

var errSettleOutcome = errors.New("auth: settlement outcome does not parse")

func encodeSettle(op SettleOp, flags byte, terminal string, number uint32, w when) []byte {
	b := make([]byte, 0, 32+len(terminal))
	b = append(b, settleTag, settleVersion, byte(op), flags)
	b = appendID(b, terminal)
	b = binary.AppendUvarint(b, uint64(number))
	b = binary.AppendUvarint(b, uint64(w.date))
	return binary.AppendVarint(b, w.now)
}

type settleOutcome struct {
	op       SettleOp
	flags    byte
	terminal []byte
	number   uint32
	date     uint32
	at       int64
}

func isSettleOutcome(b []byte) bool { return len(b) > 0 && b[0] == settleTag }

func decodeSettle(b []byte) (settleOutcome, error) {
	var o settleOutcome
	if len(b) < 4 || b[0] != settleTag || b[1] != settleVersion {
		return o, errSettleOutcome
	}
	o.op, o.flags = SettleOp(b[2]), b[3]
	r := &wire.Reader{B: b[4:]}
	o.terminal = r.Raw()
	number := r.Uvarint()
	o.date, o.at = uint32(r.Uvarint()), r.Varint()
	if r.Bad || len(r.B) != 0 || number > 1<<32-1 || o.op < SettleTotals || o.op > SettleUploadEnd {
		return o, errSettleOutcome
	}
	o.number = uint32(number)
	return o, nil
}

// replaySettle applies a journaled settlement: the close or the upload it
// decided.
func (a *Authorizer) replaySettle(b []byte) error {
	o, err := decodeSettle(b)
	if err != nil {
		return err
	}
	a.replayAdvance(o.date, o.at)
	if o.flags&(settleClosed|settleUpload) == 0 {
		return nil
	}
	x := a.terminals.at(refOf(a.terminals, o.terminal))
	x.mu.Lock()
	defer x.mu.Unlock()
	if o.flags&settleUpload != 0 {
		x.batch.upload = true
	}
	if o.flags&settleClosed != 0 {
		a.closeLocked(&x.batch, o.number)
	}
	return nil
}

// Batch is a terminal's batch state, for people and tests.
type Batch struct {
	Open         Totals // the open batch's totals
	Closed       Totals // the last batch closed
	ClosedNumber uint32 // its number (0 with ClosedOK false: none yet)
	ClosedOK     bool
	Generation   uint32 // batches closed so far
	Uploading    bool   // out of balance, a batch upload awaited
}

// Batch reads terminal's batch state (zero for a terminal with none: no
// state is made for it).
func (a *Authorizer) Batch(terminal string) Batch {
	x := a.terminals.find(terminal)
	if x == nil {
		return Batch{}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	b := &x.batch
	return Batch{Open: b.tot, Closed: b.closed, ClosedNumber: b.closedNumber, ClosedOK: b.closedOK, Generation: b.gen, Uploading: b.upload}
}

// batchRoom opens the batch of a request's terminal if the request could
// count in one and the terminal has none open: false at the cap
// (Limits.MaxBatches), so the request is refused before it has an effect
// the switch could not settle. A terminal the issuer data does not know
// is declined later, with no state made for it.
func (a *Authorizer) batchRoom(r *Request, k Kind) bool {
	if k != KindPurchase && k != KindCash && k != KindCompletion && k != KindRefund {
		return true
	}
	if _, ok := a.snap.Load().data.Terminal([]byte(r.Terminal)); !ok {
		return true
	}
	x, _ := a.terminals.get(r.Terminal)
	x.mu.Lock()
	defer x.mu.Unlock()
	return a.openLocked(&x.batch, true)
}
