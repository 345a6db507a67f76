package payshield

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/cardswitch/cardswitch/hsm"
)

// macAlgorithmCode returns the M6/M8 algorithm and padding digits.
func macAlgorithmCode(alg hsm.MACAlgorithm, pad hsm.MACPadding) (byte, byte, error) {
	if pad > hsm.MACPadding3 {
		return 0, 0, hsm.ErrMACAlgorithm
	}
	switch alg {
	case hsm.MACISO9797Alg1:
		return '1', byte('0' + pad), nil
	case hsm.MACISO9797Alg3:
		return '3', byte('0' + pad), nil
	case hsm.MACCMAC:
		return '5', byte('0' + pad), nil
	}
	return 0, 0, fmt.Errorf("%w: MAC algorithm %d: %w", ErrUnsupported, alg, hsm.ErrMACAlgorithm)
}

// macCall starts an M6 or M8 call: mode 0, binary input, the MAC size
// digit, algorithm, padding, key type, key, length (4H) and data.
func (c *Client) macCall(cmd string, size byte, key hsm.KeyRef, alg hsm.MACAlgorithm, pad hsm.MACPadding, data []byte) (*call, error) {
	a, p, err := macAlgorithmCode(alg, pad)
	if err != nil {
		return nil, err
	}
	if len(key.Type) != 3 {
		return nil, hsm.ErrKeyType
	}
	if len(data) > c.cfg.FrameBytesMax-128 {
		return nil, hsm.ErrMACInput // longer than a message may carry
	}
	cl := c.newCall(cmd)
	cl.req = append(cl.req, '0', '0', size, a, p)
	cl.req = append(cl.req, key.Type...)
	cl.req = appendKey(cl.req, key.Cryptogram)
	cl.req = appendHexUpper(cl.req, []byte{byte(len(data) >> 8), byte(len(data))})
	cl.req = append(cl.req, data...)
	return cl, nil
}

// GenerateMAC implements hsm.Service with M6 (full 8-byte MAC). The key
// must be a TAK (003) or ZAK (008); the China UnionPay MAC has no M6
// algorithm (ErrUnsupported).
func (c *Client) GenerateMAC(ctx context.Context, key hsm.KeyRef, alg hsm.MACAlgorithm, pad hsm.MACPadding, data []byte) ([]byte, error) {
	cl, err := c.macCall("M6", '1', key, alg, pad, data)
	if err != nil {
		return nil, err
	}
	defer c.putCall(cl)
	body, err := c.exec(ctx, cl)
	if err != nil {
		return nil, err
	}
	r := fieldReader{b: body}
	mac := r.hexBytes(16)
	if r.bad {
		return nil, fmt.Errorf("%w: M7 reply fields", ErrProtocol)
	}
	return mac, nil
}

// VerifyMAC implements hsm.Service with M8. A mismatch is
// hsm.ErrMACMismatch. M8 checks 4 or 8 bytes; other lengths from 5 to 7
// are ErrUnsupported.
func (c *Client) VerifyMAC(ctx context.Context, key hsm.KeyRef, alg hsm.MACAlgorithm, pad hsm.MACPadding, data, mac []byte) error {
	var size byte
	switch len(mac) {
	case 4:
		size = '0'
	case 8:
		size = '1'
	case 5, 6, 7:
		return fmt.Errorf("%w: %d-byte MAC", ErrUnsupported, len(mac))
	default:
		return hsm.ErrMACLength
	}
	cl, err := c.macCall("M8", size, key, alg, pad, data)
	if err != nil {
		return err
	}
	defer c.putCall(cl)
	cl.req = appendHexUpper(cl.req, mac)
	_, err = c.exec(ctx, cl)
	return err
}

// WorkingKey implements hsm.Service with A0 mode 1: a double-length key
// under the LMK (scheme U) and under the TMK (scheme X, plain TDES-ECB),
// with its KCV. tmk is a ZMK (000) or a TMK (002).
func (c *Client) WorkingKey(ctx context.Context, tmk hsm.KeyRef, keyType string) (hsm.WorkingKey, error) {
	var flag string
	switch tmk.Type {
	case hsm.KeyTypeZMK:
	case hsm.KeyTypeTPK: // TMK
		flag = ";1"
	default:
		return hsm.WorkingKey{}, fmt.Errorf("%w: A0 exports under a ZMK or TMK, not %q: %w", ErrUnsupported, tmk.Type, hsm.ErrKeyType)
	}
	if len(keyType) != 3 {
		return hsm.WorkingKey{}, hsm.ErrKeyType
	}
	cl := c.newCall("A0")
	defer c.putCall(cl)
	cl.req = append(cl.req, "1"+keyType+"U"+flag...)
	cl.req = appendKey(cl.req, tmk.Cryptogram)
	cl.req = append(cl.req, 'X')
	body, err := c.exec(ctx, cl)
	if err != nil {
		return hsm.WorkingKey{}, err
	}
	r := fieldReader{b: body}
	under, exported, kcv := r.key(32), r.key(32), r.str(6)
	raw, herr := hex.DecodeString(exported[min(1, len(exported)):])
	if r.bad || herr != nil || len(under) != 33 || len(exported) != 33 {
		return hsm.WorkingKey{}, fmt.Errorf("%w: A1 reply fields", ErrProtocol)
	}
	return hsm.WorkingKey{UnderLMK: hsm.KeyRef{Type: keyType, Cryptogram: under}, UnderTMK: raw, KCV: kcv}, nil
}

// ImportKey implements hsm.Service with A6: a double-length key sent
// under the ZMK (scheme X) comes back under the LMK (scheme U) with its
// KCV.
func (c *Client) ImportKey(ctx context.Context, zmk hsm.KeyRef, keyType string, underZMK []byte) (hsm.KeyRef, string, error) {
	if zmk.Type != hsm.KeyTypeZMK {
		return hsm.KeyRef{}, "", fmt.Errorf("%w: A6 imports under a ZMK, not %q: %w", ErrUnsupported, zmk.Type, hsm.ErrKeyType)
	}
	if len(keyType) != 3 || len(underZMK) != 16 {
		return hsm.KeyRef{}, "", fmt.Errorf("%w: key type %q, %d bytes (want a double-length key)", hsm.ErrKeyLength, keyType, len(underZMK))
	}
	cl := c.newCall("A6")
	defer c.putCall(cl)
	cl.req = append(cl.req, keyType...)
	cl.req = appendKey(cl.req, zmk.Cryptogram)
	cl.req = append(cl.req, 'X')
	cl.req = appendHexUpper(cl.req, underZMK)
	cl.req = append(cl.req, 'U')
	body, err := c.exec(ctx, cl)
	if err != nil {
		return hsm.KeyRef{}, "", err
	}
	r := fieldReader{b: body}
	under, kcv := r.key(32), r.str(6)
	if r.bad || len(under) != 33 {
		return hsm.KeyRef{}, "", fmt.Errorf("%w: A7 reply fields", ErrProtocol)
	}
	return hsm.KeyRef{Type: keyType, Cryptogram: under}, kcv, nil
}

// KCV implements hsm.Service with BU: the first 6 of the 16 check digits.
// Key types 0xx go in BU's 2-character code; others as FF;type.
func (c *Client) KCV(ctx context.Context, key hsm.KeyRef) (string, error) {
	flag := keyLengthFlag(key.Cryptogram)
	if len(key.Type) != 3 || flag < 0 {
		return "", fmt.Errorf("%w: key %q/%d characters", hsm.ErrKeyScheme, key.Type, len(key.Cryptogram))
	}
	cl := c.newCall("BU")
	defer c.putCall(cl)
	if key.Type[0] == '0' {
		cl.req = append(cl.req, key.Type[1:]...)
	} else {
		cl.req = append(cl.req, "FF"...)
	}
	cl.req = append(cl.req, byte('0'+flag))
	cl.req = appendKey(cl.req, key.Cryptogram)
	if key.Type[0] != '0' {
		cl.req = append(cl.req, ";"+key.Type...)
	}
	body, err := c.exec(ctx, cl)
	if err != nil {
		return "", err
	}
	if len(body) < 16 {
		return "", fmt.Errorf("%w: BV reply fields", ErrProtocol)
	}
	return string(body[:6]), nil
}

// Health implements hsm.Service with NC on one pooled connection.
func (c *Client) Health(ctx context.Context) error {
	cl := c.newCall("NC")
	defer c.putCall(cl)
	body, err := c.exec(ctx, cl)
	if err != nil {
		return err
	}
	if len(body) < 16 {
		return fmt.Errorf("%w: ND reply fields", ErrProtocol)
	}
	return nil
}
