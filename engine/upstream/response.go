package upstream

import "github.com/cardswitch/cardswitch/codec"

// Verdict is what a response decided, as far as the switch must act on it
// when the response is late: an approval whose originator was answered 91
// must be reversed, a decline needs nothing.
type Verdict uint8

const (
	NoCode   Verdict = iota // no field 39: the switch cannot tell, so treats it as an approval to reverse
	Approved                // field 39 is one of the approval codes
	Declined                // any other code
)

func (v Verdict) String() string {
	switch v {
	case Approved:
		return "approved"
	case Declined:
		return "declined"
	}
	return "no code"
}

// MustReverse reports whether a late response of this verdict leaves an
// effect at the issuer that the switch has to take back.
func (v Verdict) MustReverse() bool { return v != Declined }

// DefaultApprovals are ISO 8583:1987's approving codes: approved, honour
// with identification, approved for a partial amount, approved (VIP).
// A network that approves with other codes configures its own.
var DefaultApprovals = [][2]byte{{'0', '0'}, {'0', '8'}, {'1', '0'}, {'1', '1'}}

// VerdictOf reads field 39 of response v against the approval codes.
func VerdictOf(v *codec.View, approvals [][2]byte) Verdict {
	var buf [2]byte
	if v.Len(codec.FieldResponseCode) != 2 {
		return NoCode
	}
	rc := v.AppendText(buf[:0], codec.FieldResponseCode)
	if len(rc) != 2 {
		return NoCode
	}
	for _, a := range approvals {
		if rc[0] == a[0] && rc[1] == a[1] {
			return Approved
		}
	}
	return Declined
}

// Response is an upstream response looked up in its destination's table.
type Response[P any] struct {
	Taken[P]
	Verdict Verdict
}

// TakeResponse extracts response v's key with ks, takes it from t and says
// what the response decided. A response that cannot make a key (a
// *KeyError) matches nothing: the caller logs and counts it.
func TakeResponse[P any](t *Table[P], ks *KeySpec, v *codec.View, approvals [][2]byte) (Response[P], error) {
	var k Key
	if err := ks.Extract(v, &k); err != nil {
		return Response[P]{}, err
	}
	return Response[P]{Taken: t.Take(k), Verdict: VerdictOf(v, approvals)}, nil
}
