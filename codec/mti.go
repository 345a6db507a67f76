package codec

// MTI is a message type indicator as four ASCII digits: version, class,
// function and origin ("0200": 1987, financial, request, acquirer).
type MTI [4]byte

// ParseMTI reads four digits.
func ParseMTI(s string) (MTI, bool) {
	var m MTI
	if len(s) != 4 {
		return m, false
	}
	for i := 0; i < 4; i++ {
		if s[i] < '0' || s[i] > '9' {
			return m, false
		}
		m[i] = s[i]
	}
	return m, true
}

func (m MTI) String() string { return string(m[:]) }

// Class is the second digit: '1' authorization, '2' financial, '4' reversal,
// '8' network management.
func (m MTI) Class() byte { return m[1] }

// Function is the third digit: '0' request, '1' request response, '2' advice,
// '3' advice response, '4' notification.
func (m MTI) Function() byte { return m[2] }

// IsRequest reports a request or an advice: a message that wants an answer.
func (m MTI) IsRequest() bool { return m[2] == '0' || m[2] == '2' }

// IsAdvice reports an advice (function 2).
func (m MTI) IsAdvice() bool { return m[2] == '2' }

// IsRepeat reports a repeat: origin 1 (acquirer repeat) or 3 (issuer repeat).
func (m MTI) IsRepeat() bool { return m[3] == '1' || m[3] == '3' }

// Original returns the MTI with the repeat flag cleared (0201 -> 0200).
func (m MTI) Original() MTI {
	if m.IsRepeat() {
		m[3]--
	}
	return m
}

// Response returns the MTI of the answer to a request or advice: function
// 0 -> 1 and 2 -> 3, origin kept without the repeat flag (0201 -> 0210).
func (m MTI) Response() MTI {
	r := m.Original()
	if r[2] == '0' || r[2] == '2' {
		r[2]++
	}
	return r
}
