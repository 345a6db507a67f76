package codec

import (
	"errors"

	"github.com/moov-io/iso8583/encoding"
)

// Two wire layouts of ISO 8583:1987 binary packagers that moov ships no
// encoder for. They implement moov's encoding.Encoder so the moov specs of
// the dialects stay complete references for the differential tests; the
// codec's own decoder reads the same layouts without allocating.
var (
	// Track2BCD is left-aligned packed BCD whose separator '=' is the
	// nibble D, as jPOS's IFB_LLNUM packs track 2 data.
	Track2BCD encoding.Encoder = track2BCD{}
	// AmountBCD is ISO 8583's x+n amount in binary packagers (jPOS IFB_AMOUNT):
	// the sign 'C' or 'D' as one ASCII byte, then the digits as right-aligned BCD.
	AmountBCD encoding.Encoder = amountBCD{}
)

var errBadEncoding = errors.New("codec: value does not fit the encoding")

type track2BCD struct{}

func (track2BCD) Encode(src []byte) ([]byte, error) {
	out := make([]byte, (len(src)+1)/2)
	for i, c := range src {
		n, ok := trackNibble(c)
		if !ok {
			return nil, errBadEncoding
		}
		if i%2 == 0 {
			out[i/2] = n << 4
		} else {
			out[i/2] |= n
		}
	}
	return out, nil
}

func (track2BCD) Decode(src []byte, length int) ([]byte, int, error) {
	read := (length + 1) / 2
	if length < 0 || len(src) < read {
		return nil, 0, errBadEncoding
	}
	out := make([]byte, length)
	for i := range out {
		n := src[i/2] >> 4
		if i%2 == 1 {
			n = src[i/2] & 0x0f
		}
		switch {
		case n <= 9:
			out[i] = '0' + n
		case n == 0xd:
			out[i] = '='
		default:
			return nil, 0, errBadEncoding
		}
	}
	return out, read, nil
}

func trackNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c == '=' || c == 'D' || c == 'd':
		return 0xd, true
	}
	return 0, false
}

type amountBCD struct{}

func (amountBCD) Encode(src []byte) ([]byte, error) {
	if len(src) == 0 || (src[0] != 'C' && src[0] != 'D') {
		return nil, errBadEncoding
	}
	digits, err := encoding.BCD.Encode(src[1:])
	if err != nil {
		return nil, err
	}
	return append([]byte{src[0]}, digits...), nil
}

func (amountBCD) Decode(src []byte, length int) ([]byte, int, error) {
	if length < 1 || len(src) < 1 || (src[0] != 'C' && src[0] != 'D') {
		return nil, 0, errBadEncoding
	}
	digits, read, err := encoding.BCD.Decode(src[1:], length-1)
	if err != nil {
		return nil, 0, err
	}
	return append([]byte{src[0]}, digits...), read + 1, nil
}
