package bench

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand"
	"strings"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/chipcard"
)

// Terminal is a terminal the generator plays, with the clear keys a
// terminal holds (nil keys: no PIN blocks, no MACs).
type Terminal struct {
	ID, Merchant string
	TPK, TAK     *hsm.Key
}

// Card is a card the generator uses, with its PIN.
type Card struct {
	PAN, Expiry, PIN string
}

// Mix weighs the kinds of request (relative weights; zero: never).
type Mix struct {
	Purchase    int `yaml:"purchase" json:"purchase"`
	PINPurchase int `yaml:"pin_purchase" json:"pin_purchase"`
	Preauth     int `yaml:"preauth" json:"preauth"` // each followed by its completion
	Refund      int `yaml:"refund" json:"refund"`
	Reversal    int `yaml:"reversal" json:"reversal"` // a purchase, then its reversal
	Balance     int `yaml:"balance" json:"balance"`
	WrongPIN    int `yaml:"wrong_pin" json:"wrong_pin"`
	OverLimit   int `yaml:"over_limit" json:"over_limit"`
	Expired     int `yaml:"expired" json:"expired"`
	// ChipPurchase is a purchase by a chip card (Traffic.Chips), with field
	// 55 and its ARQC (see chip.go).
	ChipPurchase int `yaml:"chip_purchase" json:"chip_purchase"`
}

type mixKind struct {
	name   string
	weight int
}

// kinds are the weights by their YAML names, in plan order.
func (m Mix) kinds() []mixKind {
	return []mixKind{{"purchase", m.Purchase}, {"pin_purchase", m.PINPurchase}, {"preauth", m.Preauth}, {"refund", m.Refund},
		{"reversal", m.Reversal}, {"balance", m.Balance}, {"wrong_pin", m.WrongPIN}, {"over_limit", m.OverLimit}, {"expired", m.Expired},
		{"chip_purchase", m.ChipPurchase}}
}

// Validate refuses negative weights and a mix of zero weights only.
func (m Mix) Validate() error {
	total := 0
	for _, k := range m.kinds() {
		if k.weight < 0 {
			return fmt.Errorf("bench: mix: %s: weight %d is negative", k.name, k.weight)
		}
		total += k.weight
	}
	if total == 0 {
		return errors.New("bench: mix: every weight is zero: nothing to send")
	}
	return nil
}

// DefaultMix is a plausible day of a POS network.
var DefaultMix = Mix{Purchase: 60, PINPurchase: 15, Preauth: 5, Refund: 3, Reversal: 3, Balance: 5, WrongPIN: 3, OverLimit: 3, Expired: 3}

// PurchaseOnly sends 0200 purchases without PIN: the comparison traffic.
var PurchaseOnly = Mix{Purchase: 1}

// Traffic is what to send: dialect, cards, terminals, mix and MAC method.
type Traffic struct {
	Dialect   *codec.Dialect
	Cards     []Card
	Chips     []ChipCard // the chip cards of chip_purchase
	Terminals []Terminal
	Mix       Mix
	MAC       hsm.MACAlgorithm // 0: no MAC
	Header    string           // message header for dialects that have one (hex)
	Currency  string
	OverLimit int64 // an amount the issuer refuses as over a limit
}

type step struct {
	mti, proc string
	pin       string // "" none
	amount    int64
	expiry    string
	original  uint32 // STAN of the original (field 90), 0 none
	origMTI   string
	want      string // the response code the plan expects: "" approval (00)
	chip      bool   // a chip purchase: chipCard and txn are set when it is sent
	chipCard  *ChipCard
	txn       chipcard.Txn
}

// Planned is the response code a step's plan expects.
func (s *step) planned(term Terminal) string {
	if s.want == "" || (s.pin != "" && term.TPK == nil) { // no PIN key: sent without a PIN block
		return "00"
	}
	return s.want
}

// plan picks the next request kind and returns its messages (1 or 2: a
// pre-authorization and its completion, a purchase and its reversal).
func (t *Traffic) plan(rng *rand.Rand, card Card) []step {
	m := t.Mix
	weights := []int{m.Purchase, m.PINPurchase, m.Preauth, m.Refund, m.Reversal, m.Balance, m.WrongPIN, m.OverLimit, m.Expired, m.ChipPurchase}
	total := 0
	for _, w := range weights {
		total += w
	}
	pick := rng.Intn(max(total, 1))
	kind := 0
	for ; kind < len(weights)-1 && pick >= weights[kind]; kind++ {
		pick -= weights[kind]
	}
	amt := int64(100 + rng.Intn(4900))
	buy := step{mti: "0200", proc: "000000", amount: amt, expiry: card.Expiry}
	switch kind {
	case 1:
		buy.pin = card.PIN
	case 2:
		pre := step{mti: "0100", proc: "000000", amount: amt, expiry: card.Expiry}
		return []step{pre, {mti: "0220", proc: "000000", amount: amt, origMTI: "0100", original: 1}}
	case 3:
		buy.proc = "200000"
	case 4:
		return []step{buy, {mti: "0400", proc: "000000", amount: amt, origMTI: "0200", original: 1}}
	case 5:
		buy = step{mti: "0200", proc: "310000"}
	case 6:
		buy.pin, buy.want = wrongPIN(card.PIN), "55"
	case 7:
		buy.amount, buy.want = t.OverLimit, "61"
	case 8:
		buy.expiry, buy.want = "1901", "54"
	case 9:
		buy.chip = true
	}
	return []step{buy}
}

func wrongPIN(p string) string {
	if strings.HasPrefix(p, "9") {
		return "1" + p[1:]
	}
	return "9" + p[1:]
}

// build makes one request: stan is unique on the terminal; origSTAN names
// the original of a completion or reversal.
func (t *Traffic) build(s step, card Card, term Terminal, stan, origSTAN uint32, now string) ([]byte, error) {
	if s.chipCard != nil {
		card = s.chipCard.Card
	}
	f := map[string]string{"2": card.PAN, "3": s.proc, "11": fmt.Sprintf("%06d", stan),
		"41": term.ID, "42": term.Merchant, "49": t.Currency, "22": "051", "25": "00"}
	if s.proc != "310000" {
		f["4"] = fmt.Sprintf("%012d", s.amount)
	}
	if s.expiry != "" {
		f["14"] = s.expiry
	}
	cup := t.Dialect.Name == codec.CUPPOS
	if !cup {
		f["7"] = now // MMDDhhmmss
	} else {
		f["60"] = "22000001000"
	}
	if origSTAN != 0 && !cup {
		f["90"] = fmt.Sprintf("%s%06d%s%022d", s.origMTI, origSTAN, now, 0)
	}
	if origSTAN != 0 && cup && s.mti[1] != '4' { // a completion: batch, STAN, date of its original
		f["61"] = fmt.Sprintf("000001%06d%s", origSTAN, now[:4])
	}
	if s.chipCard != nil {
		icc, err := chipcard.ICC(s.chipCard.Chip, s.txn)
		if err != nil {
			return nil, err
		}
		f["55"] = strings.ToUpper(hex.EncodeToString(icc))
	}
	if s.pin != "" && term.TPK != nil {
		block, err := pinBlock(*term.TPK, s.pin, card.PAN)
		if err != nil {
			return nil, err
		}
		f["52"] = block
	}
	m := codec.Message{MTI: s.mti, Fields: f, Header: t.Header}
	if t.MAC == 0 || term.TAK == nil {
		return t.Dialect.Encode(m)
	}
	pad := hsm.MACPaddingFor(t.MAC)
	return t.Dialect.EncodeMAC(m, 64, func(in []byte) ([]byte, error) { return hsm.GenerateMAC(*term.TAK, t.MAC, pad, in) })
}

func pinBlock(tpk hsm.Key, pin, pan string) (string, error) {
	p, err := hsm.ParsePIN(pin)
	if err != nil {
		return "", err
	}
	b, err := hsm.EncryptPINBlock(tpk, hsm.ISO0, p, pan, nil)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%X", b), nil
}
