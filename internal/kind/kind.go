// Package kind reads what a financial request does from its MTI and
// processing code. The authorizer (engine/auth) decides by it and
// clearing (journal/clearing) books by it; the journal knows nothing of
// the codec, so the reading lives here, on plain bytes.
package kind

// Kind is what a financial request does, read from its MTI's class and
// function and its processing code's transaction type (the first two
// digits).
type Kind uint8

const (
	Unknown    Kind = iota
	Purchase        // 0200, processing code 00
	Cash            // 0200, 01
	Preauth         // 0100, 00: a hold
	Completion      // 0220 (or 0200 naming its pre-authorization), 00: takes a hold
	Refund          // 0200, 20: a credit
	Void            // 0200, 02, naming its original: undoes a purchase or completion
	Balance         // 0100 or 0200, 30 or 31
	Reversal        // 0400, 0420: undoes any of these
)

func (k Kind) String() string {
	return [...]string{"unknown", "purchase", "cash", "preauth", "completion", "refund", "void", "balance", "reversal"}[k]
}

// Of classifies a request with MTI mti (its four digits) and processing
// code proc (six digits as a number); hasOriginal says it names an
// original transaction (field 90, or what the dialect carries instead).
func Of(mti [4]byte, proc uint32, hasOriginal bool) Kind {
	txType := proc / 10000
	advice := mti[2] == '2'
	switch mti[1] {
	case '4':
		return Reversal
	case '1':
		switch txType {
		case 0:
			return Preauth
		case 30, 31:
			return Balance
		}
	case '2':
		switch {
		case txType == 0 && (advice || hasOriginal):
			return Completion
		case txType == 0:
			return Purchase
		case txType == 1:
			return Cash
		case txType == 2:
			return Void
		case txType == 20:
			return Refund
		case txType == 30 || txType == 31:
			return Balance
		}
	}
	return Unknown
}
