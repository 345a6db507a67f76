package engine

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/router"
)

// Terminal settlement (reconciliation): a terminal's or acquirer's 0500 or
// 0520 (and the 0521 repeat) with its batch totals is compared with the
// switch's own totals of the terminal's open batch (engine/auth keeps
// them) and answered 0510/0530: 00 when they agree, 95 when they do not,
// with the switch's totals in the reply and the fields a peer matches on
// (11, 41, 42, 7, 32 by the dialect's echo set, and the batch field). A
// UnionPay terminal (cup-pos) settles with its totals in field 48 and is
// answered 00 with the result code in 48; out of balance, it uploads the
// batch's transactions (0320, one by one) and closes the upload, and
// then the batch closes.

// SettleRoute is the Route of a settlement's journal record.
const SettleRoute = "settlement"

// Settler is an Authorizer that answers settlement messages (05xx, and
// UnionPay's 0320 batch upload).
type Settler interface {
	Settle(t *Txn)
}

var _ Settler = AuthStage{}

// settleLayout is where a link's dialect carries a settlement's batch
// number and totals.
type settleLayout struct {
	cup        bool // UnionPay: totals in 48, batch number in 60.2, 0320 batch upload
	batchField int  // ISO 8583: the field holding the batch number (links[].settle_batch_field)
}

// defaultBatchField: ISO 8583:1987 has no batch number field; networks
// carry it in a private field, most often 60 (jPOS's BASE24 and many
// acquirer hosts).
const defaultBatchField = 60

func settleLayoutFor(d *codec.Dialect, lc LinkConfig) settleLayout {
	if d.Name == codec.CUPPOS {
		return settleLayout{cup: true, batchField: 60}
	}
	f := lc.SettleBatchField
	if f == 0 {
		f = defaultBatchField
	}
	return settleLayout{batchField: f}
}

// isSettlement reports a settlement message the link serves.
func (sl settleLayout) isSettlement(m codec.MTI) bool {
	return m.Class() == '5' || sl.cup && m.Class() == '3'
}

// echoBatch puts the request's batch field in the reply (on every answer
// but a 96), so a peer matches it to its batch.
func (sl settleLayout) echoBatch(t *Txn) {
	if sl.cup || !t.View.Has(sl.batchField) {
		return // 60 is in the UnionPay echo set
	}
	t.addReplyField(sl.batchField, t.View.AppendText(nil, sl.batchField), true)
}

// Settle implements Settler: it reads the settlement, asks the authorizer,
// and puts the switch's totals in the reply.
func (s AuthStage) Settle(t *Txn) {
	sl := t.Link.settle
	sl.echoBatch(t)
	t.Route.Rule = SettleRoute
	v := &t.View
	var buf [32]byte
	st := auth.Settlement{Op: auth.SettleTotals, Link: t.Link.cfg.Name, BusinessDate: t.BusinessDate, Received: t.Received.Unix()}
	st.Terminal = string(bytes.TrimRight(v.TerminalID(buf[:0]), " "))
	st.Merchant = string(bytes.TrimRight(v.MerchantID(buf[:0]), " "))
	batch, ok := sl.batch(v)
	if !ok || st.Terminal == "" {
		t.Fail(ErrFormat)
		return
	}
	st.Batch = batch
	if sl.cup {
		s.settleCUP(t, &st)
		return
	}
	claim, ok := isoTotals(v)
	if !ok {
		t.Fail(ErrFormat)
		return
	}
	d := s.A.Settle(&st, func(own auth.Totals) bool { return isoClaimOf(own) == claim })
	t.SetCode(d.Code)
	t.Outcome = d.Outcome
	if d.Code == auth.Approved || d.Code == auth.OutOfBalance {
		for _, f := range isoClaimOf(d.Own).fields() {
			t.addReplyField(f.id, f.val, true)
		}
	}
}

// batch reads the batch number: 60.2 (UnionPay), or the link's batch field
// (its digits, at most 9).
func (sl settleLayout) batch(v *codec.View) (uint32, bool) {
	var buf [32]byte
	d := v.AppendText(buf[:0], sl.batchField)
	if sl.cup {
		if len(d) < 8 {
			return 0, false
		}
		d = d[2:8]
	}
	d = bytes.TrimSpace(d)
	n, err := strconv.ParseUint(string(d), 10, 32)
	return uint32(n), err == nil && len(d) <= 9
}

// isoClaim is a settlement's totals as ISO 8583:1987 carries them: 74
// credits, 75 credit reversals, 76 debits, 77 debit reversals (with
// voids) as counts (n10), 86 to 89 their amounts (n16), and 97 the net
// (x+n16: C when the credits exceed the debits, D when the debits do).
type isoClaim struct {
	counts  [4]int64 // 74, 75, 76, 77
	amounts [4]int64 // 86, 87, 88, 89
	net     int64    // 97, signed: negative for D
}

var (
	isoCountFields  = [4]int{74, 75, 76, 77}
	isoAmountFields = [4]int{86, 87, 88, 89}
)

const fieldNetSettlement = 97

func isoClaimOf(t auth.Totals) isoClaim {
	rev := auth.Count{N: t.DebitReversals.N + t.DebitVoids.N, Amount: t.DebitReversals.Amount + t.DebitVoids.Amount}
	c := isoClaim{net: -t.Net()}
	for i, x := range [4]auth.Count{t.Credits, t.CreditReversals, t.Debits, rev} {
		c.counts[i], c.amounts[i] = x.N, x.Amount
	}
	return c
}

// isoTotals reads 74-77, 86-89 and 97: false when one is missing or
// does not read (the decoder checked their digits; 97's sign is C or D).
func isoTotals(v *codec.View) (isoClaim, bool) {
	var c isoClaim
	var buf [20]byte
	num := func(id int) (int64, bool) {
		d := v.AppendText(buf[:0], id)
		n, err := strconv.ParseInt(string(d), 10, 64)
		return n, v.Has(id) && err == nil && n >= 0
	}
	for i := range 4 {
		var ok1, ok2 bool
		c.counts[i], ok1 = num(isoCountFields[i])
		c.amounts[i], ok2 = num(isoAmountFields[i])
		if !ok1 || !ok2 {
			return c, false
		}
	}
	d := v.AppendText(buf[:0], fieldNetSettlement)
	if len(d) < 2 || (d[0] != 'C' && d[0] != 'D') {
		return c, false
	}
	n, err := strconv.ParseInt(string(d[1:]), 10, 64)
	if err != nil || n < 0 {
		return c, false
	}
	if c.net = n; d[0] == 'D' {
		c.net = -n
	}
	return c, true
}

type replyField struct {
	id  int
	val []byte
}

// fields are the claim as reply fields: 74-77, 86-89 and 97.
func (c isoClaim) fields() []replyField {
	out := make([]replyField, 0, 9)
	for i := range 4 {
		out = append(out, replyField{isoCountFields[i], fmt.Appendf(nil, "%010d", c.counts[i]%1e10)})
	}
	for i := range 4 {
		out = append(out, replyField{isoAmountFields[i], fmt.Appendf(nil, "%016d", c.amounts[i]%1e16)})
	}
	sign, n := byte('C'), c.net
	if n < 0 {
		sign, n = 'D', -n
	}
	return append(out, replyField{fieldNetSettlement, fmt.Appendf(nil, "%c%016d", sign, n%1e16)})
}

// A UnionPay settlement's field 48 (银联 POS 终端规范, 批结算): for domestic
// cards (内卡) then foreign ones (外卡), the debit total amount n12, debit
// count n3, credit total amount n12, credit count n3 and a result code n1
// (in a request 0; in the reply 1 balanced, 2 not balanced, 3 error).
// Debits are purchases and completions net of their reversals; credits are
// refunds net of theirs, and voids (撤销). The switch's on-us cards are
// all domestic: its foreign totals are zero.
const (
	cupScopeLen  = 12 + 3 + 12 + 3 + 1
	cupTotalsLen = 2 * cupScopeLen
	cupBalanced  = '1'
	cupNotEven   = '2'
)

// cupScope is one card scope's totals (counts mod 1000: three digits).
type cupScope struct{ debit, debitN, credit, creditN int64 }

func cupScopeOf(t auth.Totals) cupScope {
	return cupScope{
		debit:   t.Debits.Amount - t.DebitReversals.Amount,
		debitN:  (t.Debits.N - t.DebitReversals.N) % 1000,
		credit:  t.Credits.Amount - t.CreditReversals.Amount + t.DebitVoids.Amount,
		creditN: (t.Credits.N - t.CreditReversals.N + t.DebitVoids.N) % 1000,
	}
}

// readCUPScopes reads 48's two scopes (the foreign one may be absent).
func readCUPScopes(d []byte) (dom, frn cupScope, ok bool) {
	if len(d) != cupScopeLen && len(d) != cupTotalsLen {
		return dom, frn, false
	}
	read := func(p []byte) (cupScope, bool) {
		var s cupScope
		ok := true
		for _, f := range [4]struct {
			v    *int64
			from int
			n    int
		}{{&s.debit, 0, 12}, {&s.debitN, 12, 3}, {&s.credit, 15, 12}, {&s.creditN, 27, 3}} {
			n, err := strconv.ParseInt(string(p[f.from:f.from+f.n]), 10, 64)
			*f.v, ok = n, ok && err == nil && n >= 0
		}
		return s, ok
	}
	dom, ok = read(d[:cupScopeLen])
	if ok && len(d) == cupTotalsLen {
		frn, ok = read(d[cupScopeLen:])
	}
	return dom, frn, ok
}

func (s cupScope) append(b []byte, result byte) []byte {
	return fmt.Appendf(b, "%012d%03d%012d%03d%c", s.debit%1e12, s.debitN, s.credit%1e12, s.creditN, result)
}

// UnionPay batch upload: 60.3 of an 0320 says what it carries; 202 and
// 207 close the upload (the end of a batch upload), the other codes
// (201 magnetic stripe, 203 chip, ...) carry one transaction each.
const (
	cupUploadEnd        = 202
	cupUploadEndNotEven = 207
)

// settleCUP answers a UnionPay 0500 (batch settlement) or 0320 (batch
// upload).
func (s AuthStage) settleCUP(t *Txn, st *auth.Settlement) {
	v := &t.View
	if v.MTI().Class() == '3' {
		st.Op = auth.SettleUpload
		if code, ok := codec.CUPNetworkCode(v); ok && (code == cupUploadEnd || code == cupUploadEndNotEven) {
			st.Op = auth.SettleUploadEnd
		}
		d := s.A.Settle(st, nil)
		t.SetCode(d.Code)
		t.Outcome = d.Outcome
		if v.Has(48) && d.Code == auth.Approved {
			t.addReplyField(48, v.AppendText(nil, 48), true) // the upload's own count, as sent
		}
		return
	}
	var buf [cupTotalsLen + 1]byte
	dom, frn, ok := readCUPScopes(v.AppendText(buf[:0], 48))
	if !ok {
		t.Fail(ErrFormat)
		return
	}
	st.UploadOnMismatch = true
	d := s.A.Settle(st, func(own auth.Totals) bool { return cupScopeOf(own) == dom && frn == (cupScope{}) })
	t.Outcome = d.Outcome
	if d.Code != auth.Approved && d.Code != auth.OutOfBalance {
		t.SetCode(d.Code)
		return
	}
	t.SetCode(auth.Approved) // the result goes in 48
	own := cupScopeOf(d.Own)
	domResult, frnResult := byte(cupBalanced), byte(cupBalanced)
	if own != dom {
		domResult = cupNotEven
	}
	if frn != (cupScope{}) {
		frnResult = cupNotEven
	}
	t.addReplyField(48, (cupScope{}).append(own.append(nil, domResult), frnResult), true)
}

// settleRequest runs a settlement on a worker.
func (s *Server) settleRequest(t *Txn) {
	st, ok := s.auth.(Settler)
	if !ok {
		t.Fail(ErrInvalidTxn)
		return
	}
	t.Route = router.Decision{Action: router.Local, Rule: SettleRoute}
	st.Settle(t)
}
