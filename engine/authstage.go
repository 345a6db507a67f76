package engine

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/journal"
)

// AuthStage is the authorization stage over an auth.Authorizer: it reads
// an auth.Request from the Txn, verifies the PIN and a chip card's ARQC
// with the HSM, and writes the decision back (code, approval code,
// outcome, the balance field, the ARPC).
type AuthStage struct {
	A *auth.Authorizer
	// P, if set, is the journal's Protector, the one A hashes PANs with
	// (auth.New(data, P.HashPAN, ...)): the PAN's hash is made by P and
	// kept on the Txn for the journal's record (JournalStage with the same
	// P), so a message hashes its PAN once.
	P *journal.Protector
}

var (
	_ Authorizer = AuthStage{}
	_ Aborter    = AuthStage{}
)

// Authorize implements Authorizer.
func (s AuthStage) Authorize(t *Txn) {
	var r auth.Request
	if s.P != nil {
		fill(&r, t, s.P.HashPAN)
		t.panHash, t.panHashBy = r.PANHash, s.P
	} else {
		fill(&r, t, s.A.HashPAN)
	}
	if t.Link != nil {
		if err := t.Link.srv.CheckKSN(t); err != nil { // before any effect or HSM call
			t.Fail(err)
			return
		}
	}
	var chip chipCheck
	s.checkARQC(t, &r, &chip) // before any lock, as the PIN below
	verify := func(data *issuer.Data, c *issuer.Card) (bool, error) {
		err := t.VerifyPIN(hsm.KeyRef{Type: hsm.KeyTypePVK, Cryptogram: data.Keys.PVK}, data.Keys.PVKI, c.PVV)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, ErrWrongPIN):
			return false, nil
		}
		return false, err
	}
	// The HSM call is made here, before Decide takes the card's and the
	// account's locks, so a slow HSM delays this request only and not
	// every other request of the account. Decide uses the answer if it
	// reaches the PIN check with the same PVV and PVK (a reload in between
	// that changed either verifies again); whether the try counts, and the
	// tries limit, stay inside Decide under the lock.
	var pre struct {
		card  *issuer.Card // nil: not verified early
		keys  *issuer.Data // the snapshot whose keys verified it
		right bool
		err   error
	}
	if r.HasPIN {
		data := s.A.Data()
		if c, ok := data.Card(r.PAN); ok && c.PVV != "" {
			pre.card, pre.keys = c, data
			pre.right, pre.err = verify(data, c)
		}
	}
	d := s.A.Decide(&r, func(c *issuer.Card) (bool, error) {
		data := s.A.Data()
		if pre.card != nil && c.PVV == pre.card.PVV && data.Keys.PVK == pre.keys.Keys.PVK && data.Keys.PVKI == pre.keys.Keys.PVKI {
			return pre.right, pre.err
		}
		return verify(data, c)
	}, func() [6]byte { // only for an approval that carries a code (a repeat gets its original's)
		NewApprovalCode(t)
		return t.Approval
	})
	t.SetCode(d.Code)
	t.Outcome = d.Outcome
	if d.Date > t.BusinessDate {
		t.BusinessDate = d.Date // a late decision counted in the newer day: journaled in it
	}
	t.Approval = d.Approval
	if r.Kind() == auth.KindBalance && d.Approved {
		t.AddReplyField(codec.FieldAdditionalAmounts, balanceField(d.Balance, t))
	}
	chip.addARPC(t)
}

// Abort implements Aborter: the decision's effect is taken back when its
// reply had to become 96.
func (s AuthStage) Abort(t *Txn) { t.Outcome = s.A.Abort(t.Outcome) }

// balanceField is field 54: account type 00, amount type 02 (available),
// the currency, C or D, and 12 digits.
func balanceField(v int64, t *Txn) []byte {
	var buf [3]byte
	cur := digits(t.View.AppendText(buf[:0], codec.FieldCurrency)) // "an 3" in the 1987 dialects
	sign := byte('C')
	if v < 0 {
		sign, v = 'D', -v
	}
	return []byte(fmt.Sprintf("0002%03d%c%012d", cur, sign, v))
}

// fill reads the request from the message.
func fill(r *auth.Request, t *Txn, hashPAN func([]byte) [32]byte) {
	v := &t.View
	r.MTI = v.MTI()
	r.Proc, _ = v.ProcessingCode()
	r.PAN = t.PAN()
	r.PANHash = hashPAN(r.PAN)
	r.Expiry, _ = v.Expiry()
	r.Amount, _ = v.Amount()
	var buf [32]byte
	r.Terminal = string(bytes.TrimRight(v.TerminalID(buf[:0]), " "))
	r.Merchant = string(bytes.TrimRight(v.MerchantID(buf[:0]), " "))
	if t.Link != nil {
		r.Link = t.Link.cfg.Name
	}
	if mcc, ok := v.MCC(); ok {
		r.MCC = mccText(mcc)
	}
	r.EntryMode, _ = v.EntryMode()
	r.HasPIN = v.Has(codec.FieldPINBlock)
	r.STAN, _ = v.STAN()
	r.LocalDate = RequestDate(v)
	r.BusinessDate = t.BusinessDate
	r.Received = t.Received.Unix()
	y, m, _ := t.Received.Date()
	r.Today = uint32(y%100)*100 + uint32(m)
	if o, ok := OriginalOf(v, r.LocalDate); ok {
		r.HasOriginal = r.MTI.Class() != '4' || o.MTI != [4]byte{} // a UnionPay reversal names itself
		r.Original = auth.Ref{Terminal: r.Terminal, STAN: o.STAN, LocalDate: o.Date}
		r.OriginalClass = o.Class()
	}
}

// mccText is the MCC as 4 digits (as "%04d", without fmt on the hot path).
func mccText(mcc uint32) string {
	if mcc > 9999 { // a custom dialect's wider field
		return fmt.Sprintf("%04d", mcc)
	}
	b := [4]byte{byte('0' + mcc/1000), byte('0' + mcc/100%10), byte('0' + mcc/10%10), byte('0' + mcc%10)}
	return string(b[:])
}

// digits reads a decimal number (the currency, field 49, is text).
func digits(b []byte) uint32 {
	var n uint32
	for _, c := range b {
		n = n*10 + uint32(c-'0')
	}
	return n
}
