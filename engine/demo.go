package engine

import (
	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
)

// DemoAuthorizer is the placeholder authorizer until the authorization
// engine lands: it approves requests for active cards of the issuer data and
// declines everything else (14, invalid card number; 05 for a card that is
// not active; 55 for a PIN that does not verify against the card's PVV).
// It applies no limits and keeps no balances.
type DemoAuthorizer struct {
	Data *issuer.Data
}

// Authorize implements Authorizer.
func (a DemoAuthorizer) Authorize(t *Txn) {
	c, ok := a.Data.Card(t.PAN())
	switch {
	case !ok:
		t.SetCode("14")
	case c.Status != "active":
		t.SetCode("05")
	case t.View.Has(codec.FieldPINBlock):
		pvk := hsm.KeyRef{Type: hsm.KeyTypePVK, Cryptogram: a.Data.Keys.PVK}
		if err := t.VerifyPIN(pvk, a.Data.Keys.PVKI, c.PVV); err != nil {
			t.Fail(err)
			return
		}
		t.SetCode("00")
		NewApprovalCode(t)
	default:
		t.SetCode("00")
		NewApprovalCode(t)
	}
}

// NoJournal is the placeholder journal until the write-ahead journal lands:
// it records nothing and answers at once.
type NoJournal struct{}

// NewNoJournal says at start, in the log, that nothing is journaled.
func NewNoJournal(log zerolog.Logger) NoJournal {
	log.Warn().Msg("journal disabled: requests and decisions are not recorded (placeholder until the journal lands)")
	return NoJournal{}
}

// Append implements Journal.
func (NoJournal) Append(t *Txn) { t.Committed(nil) }

// TryAppend implements Journal.
func (NoJournal) TryAppend(t *Txn) bool { t.Committed(nil); return true }
