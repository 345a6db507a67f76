// Package issuer holds the on-us issuer data the switch authorizes against:
// cards, accounts, merchants and terminals, loaded from a YAML file (or the
// embedded demo data) and checked whole before use.
package issuer

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed demo.yaml
var demoYAML []byte

// DemoYAML returns the embedded demo issuer data.
func DemoYAML() []byte { return append([]byte(nil), demoYAML...) }

// Card is an on-us card. Its PAN lives only in memory.
type Card struct {
	PAN     string `yaml:"pan"`
	Expiry  string `yaml:"expiry"` // YYMM
	Status  string `yaml:"status"` // active, blocked, lost, stolen
	Account string `yaml:"account"`
	PVV     string `yaml:"pvv"` // Visa PIN verification value; empty: no PIN on file
}

// Account holds funds.
type Account struct {
	ID       string `yaml:"id"`
	Currency string `yaml:"currency"` // ISO 4217 numeric
	Balance  int64  `yaml:"balance"`  // minor units
}

// Merchant is a card acceptor (field 42).
type Merchant struct {
	ID     string `yaml:"id"`
	Name   string `yaml:"name"`
	MCC    string `yaml:"mcc"`
	Status string `yaml:"status"`
}

// Terminal is a card acceptor terminal (field 41).
type Terminal struct {
	ID       string `yaml:"id"`
	Merchant string `yaml:"merchant"`
	Status   string `yaml:"status"`
	// Keys as cryptograms under the LMK: the master key, and the PIN and
	// MAC keys the terminal starts with (a sign-on replaces the last two).
	TMK string `yaml:"tmk"`
	TPK string `yaml:"tpk"`
	TAK string `yaml:"tak"`
}

// Keys are the issuer's own keys, as cryptograms under the LMK.
type Keys struct {
	PVK  string `yaml:"pvk"`  // PIN verification key for Visa PVV
	PVKI int    `yaml:"pvki"` // its index, 0 to 6
}

// Data is one consistent snapshot of issuer data.
type Data struct {
	Keys      Keys       `yaml:"keys"`
	Accounts  []Account  `yaml:"accounts"`
	Cards     []Card     `yaml:"cards"`
	Merchants []Merchant `yaml:"merchants"`
	Terminals []Terminal `yaml:"terminals"`

	cards     map[string]*Card
	terminals map[string]*Terminal
}

// Parse reads and checks issuer data; any error rejects the whole file.
func Parse(raw []byte) (*Data, error) {
	var d Data
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("issuer data: %w", err)
	}
	if err := d.index(); err != nil {
		return nil, fmt.Errorf("issuer data: %w", err)
	}
	return &d, nil
}

func (d *Data) index() error {
	accounts := map[string]bool{}
	for i, a := range d.Accounts {
		if a.ID == "" || accounts[a.ID] {
			return fmt.Errorf("accounts[%d]: id %q empty or repeated", i, a.ID)
		}
		if len(a.Currency) != 3 || strings.Trim(a.Currency, "0123456789") != "" {
			return fmt.Errorf("accounts[%d]: currency %q must be 3 digits", i, a.Currency)
		}
		accounts[a.ID] = true
	}
	d.cards = map[string]*Card{}
	for i := range d.Cards {
		c := &d.Cards[i]
		switch {
		case !ValidPAN(c.PAN):
			return fmt.Errorf("cards[%d]: PAN is not 12 to 19 digits with a valid check digit", i)
		case d.cards[c.PAN] != nil:
			return fmt.Errorf("cards[%d]: PAN repeated", i)
		case len(c.Expiry) != 4 || strings.Trim(c.Expiry, "0123456789") != "" || c.Expiry[2:] < "01" || c.Expiry[2:] > "12":
			return fmt.Errorf("cards[%d]: expiry %q must be YYMM", i, c.Expiry)
		case !oneOf(c.Status, "active", "blocked", "lost", "stolen"):
			return fmt.Errorf("cards[%d]: status %q must be active, blocked, lost or stolen", i, c.Status)
		case !accounts[c.Account]:
			return fmt.Errorf("cards[%d]: account %q is not defined", i, c.Account)
		}
		d.cards[c.PAN] = c
	}
	merchants := map[string]bool{}
	for i, m := range d.Merchants {
		if m.ID == "" || len(m.ID) > 15 || merchants[m.ID] {
			return fmt.Errorf("merchants[%d]: id %q empty, longer than 15 or repeated", i, m.ID)
		}
		if len(m.MCC) != 4 || !oneOf(m.Status, "active", "inactive") {
			return fmt.Errorf("merchants[%d]: mcc must be 4 digits and status active or inactive", i)
		}
		merchants[m.ID] = true
	}
	d.terminals = map[string]*Terminal{}
	for i := range d.Terminals {
		t := &d.Terminals[i]
		if t.ID == "" || len(t.ID) > 8 || !merchants[t.Merchant] || !oneOf(t.Status, "active", "inactive") || d.terminals[t.ID] != nil {
			return fmt.Errorf("terminals[%d]: id must be 1 to 8 characters and unique, merchant defined, status active or inactive", i)
		}
		d.terminals[t.ID] = t
	}
	if d.Keys.PVKI < 0 || d.Keys.PVKI > 6 {
		return fmt.Errorf("keys.pvki: %d must be 0 to 6", d.Keys.PVKI)
	}
	for i, c := range d.Cards {
		if c.PVV != "" && (len(c.PVV) != 4 || strings.Trim(c.PVV, "0123456789") != "" || d.Keys.PVK == "") {
			return fmt.Errorf("cards[%d]: pvv must be 4 digits, with keys.pvk set", i)
		}
	}
	return nil
}

// Terminal finds a terminal by ID (field 41, trailing spaces trimmed).
func (d *Data) Terminal(id []byte) (*Terminal, bool) {
	t, ok := d.terminals[string(bytes.TrimRight(id, " "))]
	return t, ok
}

// Card finds a card by PAN.
func (d *Data) Card(pan []byte) (*Card, bool) {
	c, ok := d.cards[string(pan)]
	return c, ok
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}

// ValidPAN checks length (12 to 19 digits) and the Luhn check digit.
func ValidPAN(pan string) bool {
	if len(pan) < 12 || len(pan) > 19 {
		return false
	}
	sum := 0
	for i := 0; i < len(pan); i++ {
		c := pan[len(pan)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
