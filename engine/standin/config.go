package standin

import (
	"errors"
	"fmt"
)

// Config is one destination's stand-in rules. Zero values take the
// defaults (setDefaults, in one place); Validate checks the result.
type Config struct {
	// Enabled lets the switch stand in for the destination. A disabled
	// Stand answers every request 91 (issuer inoperative, ReasonDisabled),
	// what the switch answers for an unavailable destination without
	// stand-in.
	Enabled bool
	// Currency is the ISO 4217 numeric code the amounts below are in;
	// a request in another currency is declined (ReasonCurrency): minor
	// units of two currencies do not add up. Required when Enabled.
	Currency uint16
	// MaxAmount is the most one stand-in approval may be for, in minor
	// units of Currency. Zero means no amount above zero: a request for
	// any amount is declined 61. A stand-in approval is money the switch
	// (or the issuer, by agreement) is at risk for, so the safe zero
	// approves nothing until the operator names a limit. At most
	// 999,999,999,999 (field 4 has 12 digits).
	MaxAmount int64
	// DailyAmount is the most a card's stand-in approvals may add up to
	// in one business day; zero means MaxAmount (one transaction's
	// worth: the exposure per card stays a transaction's limit unless the
	// operator says more). Over it: 61.
	DailyAmount int64
	// DailyCount is the most stand-in approvals a card may have in one
	// business day; default 5 (a cardholder's purchases through an outage
	// of a few hours; more in a day is the pattern of a card being
	// drained while its issuer cannot see it). Over it: 65. At most
	// 10,000.
	DailyCount int
	// Processing lists the processing-code prefixes (the transaction
	// type, the first 2 of its 6 digits: "00" purchase, "01" cash, "31"
	// balance inquiry) stand-in may approve; default purchases only
	// ("00"). Others: DeclineCode (ReasonProcessing).
	Processing []string
	// MTIs lists the request MTIs stand-in may approve; default 0100 and
	// 0200. Each must be an authorization or financial request (class 1
	// or 2, function 0): advices and reversals are not decided here.
	// Others: DeclineCode (ReasonMTI).
	MTIs []string
	// DeclineCode answers a request stand-in does not cover (an MTI,
	// processing code or currency not allowed); default "05" (do not
	// honour). "91" is the other usual choice: it tells the acquirer the
	// issuer is unavailable rather than that the card is refused. It
	// must be a decline (not 00, 08, 10 or 11).
	DeclineCode string
	// MaxCards bounds the cards whose day's usage is kept: 1,048,576 by
	// default (about 140 MB at the ~136 bytes a card TestBytesPerCard
	// measures, slot and map entry: the distinct cards of a busy issuer's
	// outage of a day). At the bound, a new card takes the place of the least recently
	// approved card when that card's usage is of an older business day
	// (it counts for nothing today); when it is of today, the new card is
	// declined 91 (ReasonFull): forgetting today's usage of a card would
	// let it past its daily limits. At most 16,777,216.
	MaxCards int
}

// Bounds of the configuration, each with its reason.
const (
	// maxAmountLimit: field 4 holds 12 digits.
	maxAmountLimit = 999_999_999_999
	// maxDailyCount: a count kept in an int32, and a day's stand-in
	// approvals of one card far below it.
	maxDailyCount = 10_000
	// maxCardsLimit: 16M cards are about 2.3 GB of state for one
	// destination, beyond any machine this runs on.
	maxCardsLimit = 1 << 24
	// maxListLen bounds Processing and MTIs: 100 prefixes are all of them.
	maxListLen = 100

	defaultDailyCount = 5
	defaultMaxCards   = 1 << 20
	defaultDecline    = DoNotHonour
)

var (
	defaultProcessing = []string{"00"}
	defaultMTIs       = []string{"0100", "0200"}
)

func (c *Config) setDefaults() {
	if c.DailyAmount == 0 {
		c.DailyAmount = c.MaxAmount
	}
	if c.DailyCount == 0 {
		c.DailyCount = defaultDailyCount
	}
	if len(c.Processing) == 0 {
		c.Processing = defaultProcessing
	}
	if len(c.MTIs) == 0 {
		c.MTIs = defaultMTIs
	}
	if c.DeclineCode == "" {
		c.DeclineCode = defaultDecline
	}
	if c.MaxCards == 0 {
		c.MaxCards = defaultMaxCards
	}
}

// ErrConfig is wrapped by the errors of Config.Validate.
var ErrConfig = errors.New("standin: config")

// Validate reports the first problem of a configuration (after defaults).
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.Enabled && (c.Currency == 0 || c.Currency > 999):
		return fmt.Errorf("%w: currency %d must be an ISO 4217 numeric code (1 to 999)", ErrConfig, c.Currency)
	case c.Currency > 999:
		return fmt.Errorf("%w: currency %d must be 0 to 999", ErrConfig, c.Currency)
	case c.MaxAmount < 0 || c.MaxAmount > maxAmountLimit:
		return fmt.Errorf("%w: max amount %d must be 0 to %d", ErrConfig, c.MaxAmount, int64(maxAmountLimit))
	case c.DailyAmount < 0 || c.DailyAmount > maxAmountLimit:
		return fmt.Errorf("%w: daily amount %d must be 0 to %d", ErrConfig, c.DailyAmount, int64(maxAmountLimit))
	case c.DailyCount < 1 || c.DailyCount > maxDailyCount:
		return fmt.Errorf("%w: daily count %d must be 1 to %d", ErrConfig, c.DailyCount, maxDailyCount)
	case c.MaxCards < 1 || c.MaxCards > maxCardsLimit:
		return fmt.Errorf("%w: max cards %d must be 1 to %d", ErrConfig, c.MaxCards, maxCardsLimit)
	case len(c.Processing) > maxListLen || len(c.MTIs) > maxListLen:
		return fmt.Errorf("%w: more than %d processing codes or MTIs", ErrConfig, maxListLen)
	case !isDecline(c.DeclineCode):
		return fmt.Errorf("%w: decline code %q must be 2 letters or digits and not an approval", ErrConfig, c.DeclineCode)
	}
	for _, p := range c.Processing {
		if len(p) != 2 || !isDigit(p[0]) || !isDigit(p[1]) {
			return fmt.Errorf("%w: processing code prefix %q must be 2 digits", ErrConfig, p)
		}
	}
	for _, m := range c.MTIs {
		if _, ok := requestMTI(m); !ok {
			return fmt.Errorf("%w: MTI %q must be an authorization or financial request (such as 0100, 0200)", ErrConfig, m)
		}
	}
	return nil
}

// requestMTI is m as the 4 bytes of a request MTI: a version digit 0 to
// 2, class 1 (authorization) or 2 (financial), function 0 (request), and
// origin 0 to 5.
func requestMTI(m string) ([4]byte, bool) {
	if len(m) != 4 || m[0] < '0' || m[0] > '2' || (m[1] != '1' && m[1] != '2') || m[2] != '0' || m[3] < '0' || m[3] > '5' {
		return [4]byte{}, false
	}
	return [4]byte{m[0], m[1], m[2], m[3]}, true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// isDecline: 2 ASCII letters or digits, and not a code that approves
// (00 approved, 08 honour with identification, 10 partial approval, 11
// approved VIP).
func isDecline(code string) bool {
	if len(code) != 2 {
		return false
	}
	for i := 0; i < 2; i++ {
		b := code[i]
		if !isDigit(b) && (b < 'A' || b > 'Z') {
			return false
		}
	}
	switch code {
	case "00", "08", "10", "11":
		return false
	}
	return true
}
