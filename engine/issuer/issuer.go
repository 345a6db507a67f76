// Package issuer holds the on-us issuer data the switch authorizes against:
// cards, accounts, merchants and terminals, loaded from a YAML file (or the
// embedded demo data) and checked whole before use.
package issuer

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/cardswitch/cardswitch/internal/pan"
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
	PVV     string `yaml:"pvv"`     // Visa PIN verification value; empty: no PIN on file
	Profile string `yaml:"profile"` // limit profile name; empty: "standard"
}

// Profile is a card product's limits, in minor units. A zero limit means
// none. EntryLimits bound one transaction by how the card was read and the
// cardholder verified: the more convenient the method, the lower the limit.
type Profile struct {
	Name        string   `yaml:"name"`
	PerTxnMax   int64    `yaml:"per_txn_max"`
	DailyAmount int64    `yaml:"daily_amount"`
	DailyCount  int      `yaml:"daily_count"`
	BlockedMCCs []string `yaml:"blocked_mccs"`
	EntryLimits struct {
		ContactlessNoCVM int64 `yaml:"contactless_no_cvm"`
		QR               int64 `yaml:"qr"`
		Ecommerce        int64 `yaml:"ecommerce_no_auth"`
		Magstripe        int64 `yaml:"magstripe"`
		ChipPIN          int64 `yaml:"chip_pin"`
	} `yaml:"entry_limits"`
	// EMV makes the profile's cards chip cards: their chip and contactless
	// requests must carry field 55 with an ARQC that verifies (nil: the
	// cards' cryptograms are not checked).
	EMV *EMV `yaml:"emv"`
}

// EMV is a chip card product's cryptogram settings.
type EMV struct {
	// CVN is the cryptogram version the cards are personalised with: 10
	// or 18 (Visa), 16 or 17 (Mastercard M/Chip). The card's issuer
	// application data (9F10) must name the same version.
	CVN int `yaml:"cvn"`
	// IMK is the issuer master key for application cryptograms, as a
	// cryptogram under the LMK (key type 109, MK-AC), and IMKKCV its check
	// value (6 hex digits), compared with what the HSM computes when the
	// data is loaded (a key typed into the wrong profile or damaged in an
	// edit is refused before any card is declined for it).
	IMK    string `yaml:"imk"`
	IMKKCV string `yaml:"imk_kcv"`
	// ARQCFailureCode answers a cryptogram that does not verify; default
	// 05 (do not honour), what most issuers answer so as to tell a
	// counterfeit nothing. Some schemes want their own (Visa 82 "negative
	// CAM", Mastercard 05 or 88): set it per product.
	ARQCFailureCode string `yaml:"arqc_failure_code"`
	// ATCMaxJump is how far the card's transaction counter (9F36) may move
	// past the last one seen in one step; default 100, room for the
	// offline transactions the issuer never sees. A counter at or below
	// the last one is a replay and always refused.
	ATCMaxJump int `yaml:"atc_max_jump"`
	// Fallback allows the magnetic stripe after a chip read failure (entry
	// mode 80, technical fallback); default false: refused 57, since a
	// skimmed stripe is how chip cards are counterfeited.
	Fallback bool `yaml:"fallback"`
}

// EMV defaults.
const (
	DefaultARQCFailureCode = "05"
	DefaultATCMaxJump      = 100
)

// CVNs are the cryptogram versions EMV.CVN may name.
var CVNs = []int{10, 18, 16, 17}

// checkEMV checks a profile's EMV settings and fills in the defaults.
func checkEMV(e *EMV) error {
	if e.ARQCFailureCode == "" {
		e.ARQCFailureCode = DefaultARQCFailureCode
	}
	if e.ATCMaxJump == 0 {
		e.ATCMaxJump = DefaultATCMaxJump
	}
	switch {
	case !slices.Contains(CVNs, e.CVN):
		return fmt.Errorf("cvn %d must be 10, 18 (Visa), 16 or 17 (M/Chip)", e.CVN)
	case !keyCryptogram.MatchString(e.IMK):
		return fmt.Errorf("imk must be a cryptogram under the LMK (U and 32 hex digits), key type 109")
	case !kcvForm.MatchString(e.IMKKCV):
		return fmt.Errorf("imk_kcv %q must be the key's check value, 6 hex digits", e.IMKKCV)
	case !responseCode.MatchString(e.ARQCFailureCode) || e.ARQCFailureCode == "00":
		return fmt.Errorf("arqc_failure_code %q must be 2 letters or digits, not 00", e.ARQCFailureCode)
	case e.ATCMaxJump < 1 || e.ATCMaxJump > 65535:
		return fmt.Errorf("atc_max_jump %d must be 1 to 65535", e.ATCMaxJump)
	}
	return nil
}

var (
	keyCryptogram = regexp.MustCompile(`^U[0-9A-Fa-f]{32}$`)
	kcvForm       = regexp.MustCompile(`^[0-9A-Fa-f]{6}$`)
	responseCode  = regexp.MustCompile(`^[0-9A-Z]{2}$`)
)

// Acceptor limits apply to every merchant and terminal: daily amount and
// count of approved debits.
type Acceptor struct {
	MerchantDailyAmount int64 `yaml:"merchant_daily_amount"`
	MerchantDailyCount  int   `yaml:"merchant_daily_count"`
	TerminalDailyAmount int64 `yaml:"terminal_daily_amount"`
	TerminalDailyCount  int   `yaml:"terminal_daily_count"`
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
	// Links are the links (config links[].name) the terminal belongs to:
	// the only ones on which its financial requests are taken (elsewhere
	// they are declined 58, as a terminal ID is no secret) and on which it
	// may sign on and so receive session keys. A terminal that names none
	// is bound to no link for its requests, but may sign on nowhere: it
	// keeps the keys above on every link (a sign-on naming it is refused),
	// so that no terminal's keys can be replaced from a link it does not
	// belong to.
	Links []string `yaml:"links"`
	// DUKPT, if set, makes the terminal a DUKPT one: its PIN blocks are
	// under per-transaction keys and its tpk is not used for PINs.
	DUKPT *DUKPT `yaml:"dukpt"`
	// Serial is the terminal's serial number, which a sign-on carries on a
	// link whose sign_on_auth is serial (printable, up to 32 characters).
	Serial string `yaml:"serial"`
}

// SignsOnAt reports whether the terminal may sign on on the named link.
func (t *Terminal) SignsOnAt(link string) bool {
	for _, l := range t.Links {
		if l == link {
			return true
		}
	}
	return false
}

// TakesRequestsAt reports whether the terminal's financial requests are
// taken on the named link: it names the link, or names no link at all.
func (t *Terminal) TakesRequestsAt(link string) bool {
	return len(t.Links) == 0 || t.SignsOnAt(link)
}

// checkTerminalLinks checks a terminal's links and serial.
func checkTerminalLinks(t *Terminal) error {
	for j, l := range t.Links {
		if !linkName.MatchString(l) || slices.Index(t.Links, l) != j {
			return fmt.Errorf("links[%d]: %q must be a link name (lower-case letters, digits, - or _, up to 32), named once", j, l)
		}
	}
	if len(t.Serial) > 32 || strings.IndexFunc(t.Serial, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return fmt.Errorf("serial: must be up to 32 printable characters")
	}
	return nil
}

// linkName is the form of a link's name (as engine.Config checks it).
var linkName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Keys are the issuer's own keys, as cryptograms under the LMK.
type Keys struct {
	PVK  string `yaml:"pvk"`  // PIN verification key for Visa PVV
	PVKI int    `yaml:"pvki"` // its index, 0 to 6
	// BDKs are the DUKPT base derivation keys, by key set ID, that the
	// DUKPT terminals' keys were injected from.
	BDKs []BDK `yaml:"bdks"`
}

// BDK is one DUKPT key set: its ID, the KSN's leading 10 hex digits, and
// the base derivation key as a cryptogram under the LMK (key type 009,
// a double-length TDES key: ANSI X9.24-1).
type BDK struct {
	KSI string `yaml:"ksi"`
	BDK string `yaml:"bdk"`
}

// BDK returns the base derivation key of key set ksi (10 hex digits, as
// the KSN spells them), or false.
func (d *Data) BDK(ksi string) (string, bool) {
	for _, b := range d.Keys.BDKs { // a handful: linear is the fastest
		if strings.EqualFold(b.KSI, ksi) {
			return b.BDK, true
		}
	}
	return "", false
}

// DUKPT is a terminal's DUKPT setting: its PIN blocks come under a key
// derived per transaction (TDES, ANSI X9.24-1) and not under its tpk.
type DUKPT struct {
	// KSN is the device's initial key serial number, 20 hex digits with a
	// zero counter: its key set ID (the first 10, naming keys.bdks) and
	// device ID. A request's KSN must match it but for the counter.
	KSN string `yaml:"ksn"`
	// Field is the request field that carries the KSN as 20 hex
	// characters; default 62 (DefaultKSNField).
	Field int `yaml:"field"`
}

// DefaultKSNField carries a DUKPT terminal's KSN: the 1987 layout's field
// 53 is n16, too short for 20 hex digits (and the zone key exchange uses
// it as defined), so the KSN travels in private field 62 (LLL ans).
const DefaultKSNField = 62

var ksnForm = regexp.MustCompile(`^[0-9A-F]{14}[02468ACE]0{5}$`) // the counter is the low 21 bits

// checkDUKPT checks a terminal's DUKPT setting against the key sets.
func (d *Data) checkDUKPT(t *Terminal) error {
	u := t.DUKPT
	if u.Field == 0 {
		u.Field = DefaultKSNField
	}
	switch {
	case !ksnForm.MatchString(u.KSN):
		return fmt.Errorf("dukpt.ksn %q must be 20 upper-case hex digits with a zero counter", u.KSN)
	case u.Field < 2 || u.Field > 128 || u.Field == 52 || u.Field == 64:
		return fmt.Errorf("dukpt.field %d must be a request field other than 52 and 64", u.Field)
	}
	if _, ok := d.BDK(u.KSN[:10]); !ok {
		return fmt.Errorf("dukpt.ksn: key set %s is not in keys.bdks", u.KSN[:10])
	}
	return nil
}

// checkBDKs checks the key sets: unique IDs, keys as cryptograms.
func (d *Data) checkBDKs() error {
	seen := map[string]bool{}
	for i, b := range d.Keys.BDKs {
		if len(b.KSI) != 10 || strings.Trim(strings.ToUpper(b.KSI), "0123456789ABCDEF") != "" || seen[strings.ToUpper(b.KSI)] {
			return fmt.Errorf("keys.bdks[%d]: ksi %q must be 10 hex digits, named once", i, b.KSI)
		}
		if !keyCryptogram.MatchString(b.BDK) {
			return fmt.Errorf("keys.bdks[%d]: bdk must be a cryptogram under the LMK (U and 32 hex digits), key type 009", i)
		}
		seen[strings.ToUpper(b.KSI)] = true
	}
	return nil
}

// Counts is the issuer data's own count of each list, so that a file cut
// short (or with a list lost in an edit) that still parses is refused: the
// file says how many entries it holds and the lists must match.
type Counts struct {
	Profiles  *int `yaml:"profiles"`
	Accounts  *int `yaml:"accounts"`
	Cards     *int `yaml:"cards"`
	Merchants *int `yaml:"merchants"`
	Terminals *int `yaml:"terminals"`
}

// Data is one consistent snapshot of issuer data.
type Data struct {
	// Counts, when present, must match every list (ParseCounted requires it).
	Counts   *Counts   `yaml:"counts"`
	Keys     Keys      `yaml:"keys"`
	Profiles []Profile `yaml:"profiles"`
	Acceptor Acceptor  `yaml:"acceptor_limits"`
	// PINTries is how many wrong PINs a card may take in a business day
	// before it answers 75; default 3.
	PINTries int `yaml:"pin_tries"`
	// CompletionTolerancePercent is how much a pre-authorization's completion
	// may exceed the held amount; default 15.
	CompletionTolerancePercent *int       `yaml:"completion_tolerance_percent"`
	Accounts                   []Account  `yaml:"accounts"`
	Cards                      []Card     `yaml:"cards"`
	Merchants                  []Merchant `yaml:"merchants"`
	Terminals                  []Terminal `yaml:"terminals"`

	cards     map[string]*Card
	terminals map[string]*Terminal
	merchants map[string]*Merchant
	profiles  map[string]*Profile
	accounts  map[string]*Account
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

// ParseCounted is Parse for a file that must carry its counts: the switch's
// issuer.data (at start and on reload) and the embedded demo data. A file
// without them cannot be told from one cut short.
func ParseCounted(raw []byte) (*Data, error) {
	d, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	if d.Counts == nil {
		return nil, fmt.Errorf("issuer data: no counts section (counts: {profiles: N, accounts: N, cards: N, merchants: N, terminals: N}): a file without it cannot be told from one cut short")
	}
	return d, nil
}

// checkCounts compares the lists with the counts the file declares.
func (d *Data) checkCounts() error {
	if d.Counts == nil {
		return nil
	}
	for _, s := range []struct {
		name string
		want *int
		got  int
	}{
		{"profiles", d.Counts.Profiles, len(d.Profiles)},
		{"accounts", d.Counts.Accounts, len(d.Accounts)},
		{"cards", d.Counts.Cards, len(d.Cards)},
		{"merchants", d.Counts.Merchants, len(d.Merchants)},
		{"terminals", d.Counts.Terminals, len(d.Terminals)},
	} {
		switch {
		case s.want == nil:
			return fmt.Errorf("counts.%s: missing (every list is counted)", s.name)
		case *s.want != s.got:
			return fmt.Errorf("counts.%s: the file declares %d, %s lists %d: cut short or edited without its counts", s.name, *s.want, s.name, s.got)
		}
	}
	return nil
}

// WithCardStatus is a copy of d with the status of the cards status
// returns one for changed (active, blocked, lost or stolen): an operator's
// block or unblock on top of the file's. The other lists are shared with
// d (both are read only).
func (d *Data) WithCardStatus(status func(c *Card) (string, bool)) (*Data, error) {
	nd := *d
	nd.Cards = append([]Card(nil), d.Cards...)
	for i := range nd.Cards {
		if st, ok := status(&nd.Cards[i]); ok {
			nd.Cards[i].Status = st
		}
	}
	if err := nd.index(); err != nil {
		return nil, fmt.Errorf("issuer data: %w", err)
	}
	return &nd, nil
}

// Dropped reports how many of d's cards and terminals next does not have:
// what a reload from d to next would take out of service.
func (d *Data) Dropped(next *Data) (cards, terminals int) {
	for i := range d.Cards {
		if next.cards[d.Cards[i].PAN] == nil {
			cards++
		}
	}
	for i := range d.Terminals {
		if next.terminals[d.Terminals[i].ID] == nil {
			terminals++
		}
	}
	return cards, terminals
}

func (d *Data) index() error {
	if err := d.checkCounts(); err != nil {
		return err
	}
	if err := d.indexProfiles(); err != nil {
		return err
	}
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
	d.accounts = map[string]*Account{}
	for i := range d.Accounts {
		d.accounts[d.Accounts[i].ID] = &d.Accounts[i]
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
		case d.profiles[c.ProfileName()] == nil:
			return fmt.Errorf("cards[%d]: profile %q is not defined", i, c.ProfileName())
		}
		d.cards[c.PAN] = c
	}
	merchants := map[string]bool{}
	d.merchants = map[string]*Merchant{}
	for i := range d.Merchants {
		m := d.Merchants[i]
		d.merchants[m.ID] = &d.Merchants[i]
		if m.ID == "" || len(m.ID) > 15 || merchants[m.ID] {
			return fmt.Errorf("merchants[%d]: id %q empty, longer than 15 or repeated", i, m.ID)
		}
		if len(m.MCC) != 4 || !oneOf(m.Status, "active", "inactive") {
			return fmt.Errorf("merchants[%d]: mcc must be 4 digits and status active or inactive", i)
		}
		merchants[m.ID] = true
	}
	if err := d.checkBDKs(); err != nil {
		return err
	}
	d.terminals = map[string]*Terminal{}
	for i := range d.Terminals {
		t := &d.Terminals[i]
		if t.ID == "" || len(t.ID) > 8 || !merchants[t.Merchant] || !oneOf(t.Status, "active", "inactive") || d.terminals[t.ID] != nil {
			return fmt.Errorf("terminals[%d]: id must be 1 to 8 characters and unique, merchant defined, status active or inactive", i)
		}
		if err := checkTerminalLinks(t); err != nil {
			return fmt.Errorf("terminals[%d].%v", i, err)
		}
		if t.DUKPT != nil {
			if err := d.checkDUKPT(t); err != nil {
				return fmt.Errorf("terminals[%d].%v", i, err)
			}
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

func (d *Data) indexProfiles() error {
	if d.PINTries == 0 {
		d.PINTries = 3
	}
	if d.PINTries < 1 || d.Tolerance() < 0 || d.Tolerance() > 100 {
		return fmt.Errorf("pin_tries must be at least 1 and completion_tolerance_percent 0 to 100")
	}
	d.profiles = map[string]*Profile{}
	for i := range d.Profiles {
		p := &d.Profiles[i]
		if p.Name == "" || d.profiles[p.Name] != nil || p.PerTxnMax < 0 || p.DailyAmount < 0 || p.DailyCount < 0 {
			return fmt.Errorf("profiles[%d]: name empty or repeated, or a negative limit", i)
		}
		if p.EMV != nil {
			if err := checkEMV(p.EMV); err != nil {
				return fmt.Errorf("profiles[%d].emv: %v", i, err)
			}
		}
		d.profiles[p.Name] = p
	}
	if d.profiles["standard"] == nil {
		d.Profiles = append(d.Profiles, Profile{Name: "standard"})
		d.profiles["standard"] = &d.Profiles[len(d.Profiles)-1]
		for i := range d.Profiles { // the append may have moved them
			d.profiles[d.Profiles[i].Name] = &d.Profiles[i]
		}
	}
	return nil
}

// Tolerance is the completion tolerance in percent (15 unless set).
func (d *Data) Tolerance() int {
	if d.CompletionTolerancePercent == nil {
		return 15
	}
	return *d.CompletionTolerancePercent
}

// ProfileName is the card's limit profile ("standard" when unset).
func (c *Card) ProfileName() string {
	if c.Profile == "" {
		return "standard"
	}
	return c.Profile
}

// Profile finds a limit profile.
func (d *Data) Profile(name string) *Profile { return d.profiles[name] }

// Merchant finds a merchant by ID (field 42, trailing spaces trimmed).
func (d *Data) Merchant(id []byte) (*Merchant, bool) {
	m, ok := d.merchants[string(bytes.TrimRight(id, " "))]
	return m, ok
}

// Account finds an account.
func (d *Data) Account(id string) *Account { return d.accounts[id] }

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
func ValidPAN(p string) bool { return pan.Valid(p) }
