package payshield

import (
	"context"
	"fmt"

	"github.com/cardswitch/cardswitch/hsm"
)

// KQ (ARQC verification and/or ARPC generation). The request, after the
// command code: mode 1N (0 verify, 1 verify and ARPC, 2 ARPC only), scheme
// ID 1N (0 Visa VSDC: the ICC master key is the AC key, CVN 10; 1
// Europay/Mastercard M/Chip: the Mastercard SKD with ATC and UN, CVN
// 16/17), MK-AC (key type 109, 1A+32H), PAN/PAN sequence number 8B (the
// option-A derivation block Y, pre-formatted by the host), ATC 2B, UN 4B;
// for modes 0 and 1 the transaction data length 2H, the data nB and the
// delimiter ";"; the ARQC 8B; for modes 1 and 2 the ARC 2B. B fields are
// raw bytes. The reply KR: error code, then for modes 1 and 2 the ARPC 8B
// (method 1 under the ICC master key). The HSM pads the data with zeros
// to a whole block; M/Chip wants 80 first, which the host appends.
// Layout: Thales host command reference, as EMV_VECTORS.md §4.1 gives it.

// kqData bounds KQ's transaction data: its length is two hex digits.
const kqDataBytesMax = 0xFF

// kqScheme returns KQ's scheme ID for a cryptogram version. KQ has no
// EMV common session key and no ARPC method 2, so Visa CVN 18 (which
// needs KW) is ErrUnsupported.
func kqScheme(v hsm.CVN) (byte, error) {
	switch v {
	case hsm.VisaCVN10:
		return '0', nil
	case hsm.MChipCVN16, hsm.MChipCVN17:
		return '1', nil
	}
	return 0, fmt.Errorf("%w: KQ verifies Visa CVN 10 and M/Chip CVN 16/17, not %s: %w", ErrUnsupported, v, hsm.ErrCVN)
}

// appendKQ appends the KQ request fields for imk and c to req.
func appendKQ(req []byte, imk hsm.KeyRef, c *hsm.ARQCCheck) ([]byte, error) {
	scheme, err := kqScheme(c.CVN)
	if err != nil {
		return req, err
	}
	if imk.Type != hsm.KeyTypeMKAC {
		return req, fmt.Errorf("%w: KQ takes an MK-AC (109), not %q: %w", ErrUnsupported, imk.Type, hsm.ErrKeyType)
	}
	y, err := hsm.ICCKeyInput(c.PAN, c.PSN, c.ICCKeyMethod())
	if err != nil {
		return req, err
	}
	var buf [80]byte
	data, err := hsm.AppendARQCInput(buf[:0], c.CVN, &c.Data)
	if err != nil {
		return req, err
	}
	if scheme == '1' {
		data = append(data, 0x80) // the host's part of padding method 2
	}
	if len(data) > kqDataBytesMax {
		return req, hsm.ErrEMVData
	}
	mode := byte('0')
	if c.ARPC != nil {
		mode = '1'
	}
	req = append(req, mode, scheme)
	req = appendKey(req, imk.Cryptogram)
	req = append(req, y[:]...)
	req = append(req, c.Data.ATC[:]...)
	req = append(req, c.Data.UN[:]...)
	req = appendHexUpper(req, []byte{byte(len(data))})
	req = append(req, data...)
	req = append(req, ';')
	req = append(req, c.ARQC[:]...)
	if c.ARPC != nil {
		req = append(req, c.ARPC.ARC[:]...)
	}
	return req, nil
}

// VerifyARQC implements hsm.Service with KQ (mode 0, or 1 when c.ARPC is
// set): Visa CVN 10 and M/Chip CVN 16/17. A failed ARQC is
// hsm.ErrARQCMismatch; Visa CVN 18 is ErrUnsupported (it needs KW, whose
// layout for current firmware this client does not have).
func (c *Client) VerifyARQC(ctx context.Context, imk hsm.KeyRef, chk hsm.ARQCCheck) ([]byte, error) {
	cl := c.newCall("KQ")
	defer c.putCall(cl)
	var err error
	if cl.req, err = appendKQ(cl.req, imk, &chk); err != nil {
		return nil, err
	}
	body, err := c.exec(ctx, cl)
	if err != nil {
		return nil, err
	}
	if chk.ARPC == nil {
		return nil, nil
	}
	r := fieldReader{b: body}
	arpc := r.take(8)
	if r.bad {
		return nil, fmt.Errorf("%w: KR reply fields", ErrProtocol)
	}
	return append([]byte(nil), arpc...), nil
}
