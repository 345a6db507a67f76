package standin

import "fmt"

// Response codes stand-in answers (ISO 8583:1987 usage). A link whose
// table differs maps by the Decision's Reason, not its Code.
const (
	Approved       = "00"
	DoNotHonour    = "05"
	InvalidAmount  = "13"
	Expired        = "54"
	OverAmount     = "61"
	RestrictedCard = "62" // a negative file entry that names no code
	OverCount      = "65"
	Inoperative    = "91" // stand-in disabled, or no room to track the card
)

// Reason is why stand-in decided what it did.
type Reason uint8

const (
	ReasonNone          Reason = iota // the zero Decision: nothing was decided
	ReasonApproved                    // approved within every rule and limit
	ReasonDisabled                    // stand-in is not enabled for the destination: 91
	ReasonMTI                         // the MTI is not one stand-in covers: DeclineCode
	ReasonProcessing                  // the processing code is not one stand-in covers: DeclineCode
	ReasonCurrency                    // the currency is not the limits' currency: DeclineCode
	ReasonNegative                    // the card is on the negative file: its entry's code
	ReasonExpired                     // the card's expiry date has passed: 54
	ReasonInvalidAmount               // a negative amount: 13
	ReasonAmount                      // over the per-transaction limit: 61
	ReasonDailyAmount                 // over the card's daily amount: 61
	ReasonCount                       // over the card's daily count: 65
	ReasonFull                        // MaxCards cards tracked, none of an older day: 91
	reasonEnd
)

// reasonText: short lowercase ASCII, at most 11 characters each, so that
// Indicator's "STIP:" and the text fit in 16.
var reasonText = [reasonEnd]string{
	ReasonNone:          "none",
	ReasonApproved:      "approved",
	ReasonDisabled:      "disabled",
	ReasonMTI:           "mti",
	ReasonProcessing:    "processing",
	ReasonCurrency:      "currency",
	ReasonNegative:      "negative",
	ReasonExpired:       "expired",
	ReasonInvalidAmount: "badamount",
	ReasonAmount:        "amount",
	ReasonDailyAmount:   "dailyamount",
	ReasonCount:         "count",
	ReasonFull:          "full",
}

// indicators are the Indicator texts, made once so Indicator does not
// allocate.
var indicators = func() (out [reasonEnd]string) {
	for r := range out {
		out[r] = IndicatorPrefix + reasonText[r]
	}
	return out
}()

func (r Reason) String() string {
	if r < reasonEnd {
		return reasonText[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// IndicatorPrefix starts every Indicator text.
const IndicatorPrefix = "STIP:"

// IndicatorMax is the longest an Indicator text is: it fits the private
// fields links carry it in (a 16-character subfield is the smallest the
// switch's dialects give it).
const IndicatorMax = 16

// Indicator is the stand-in indicator of a decision made for reason r:
// "STIP:" and the reason's String, such as "STIP:approved" or
// "STIP:dailyamount", ASCII and at most IndicatorMax characters. The
// engine puts it in a private field of the reply it journals and of the
// advice it sends the destination later (saf.Advice, saf.AuthAdvice), so
// that both say the switch answered in the issuer's place, and why. An
// unknown reason gives "STIP:none".
func Indicator(r Reason) string {
	if r < reasonEnd {
		return indicators[r]
	}
	return indicators[ReasonNone]
}

// Decision is what stand-in answers a request.
type Decision struct {
	Code     string // field 39
	Approved bool   // Code approves: Apply counts it
	Reason   Reason
}

// decisions, by reason, for the fixed codes (no allocation per request).
var (
	approve    = Decision{Code: Approved, Approved: true, Reason: ReasonApproved}
	disabled   = Decision{Code: Inoperative, Reason: ReasonDisabled}
	expired    = Decision{Code: Expired, Reason: ReasonExpired}
	badAmount  = Decision{Code: InvalidAmount, Reason: ReasonInvalidAmount}
	overAmount = Decision{Code: OverAmount, Reason: ReasonAmount}
	overDaily  = Decision{Code: OverAmount, Reason: ReasonDailyAmount}
	overCount  = Decision{Code: OverCount, Reason: ReasonCount}
	full       = Decision{Code: Inoperative, Reason: ReasonFull}
)
