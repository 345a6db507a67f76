package payshield

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cardswitch/cardswitch/hsm"
)

// pinCommand picks the command for a PIN key type: TPK (002) -> terminal
// command, ZPK (001) -> interchange command.
func pinCommand(keyType, terminal, interchange string) (string, error) {
	switch keyType {
	case hsm.KeyTypeTPK:
		return terminal, nil
	case hsm.KeyTypeZPK:
		return interchange, nil
	}
	return "", fmt.Errorf("%w: PIN key type %q (want TPK 002 or ZPK 001): %w", ErrUnsupported, keyType, hsm.ErrKeyType)
}

// pinFields are the PIN block fields every PIN command has.
type pinFields struct {
	block, format, account string
}

// pinBlockFields checks and renders a PIN block, its format and account.
func pinBlockFields(block []byte, f hsm.PINBlockFormat, pan string) (pinFields, error) {
	code, err := formatCode(f)
	if err != nil {
		return pinFields{}, err
	}
	if len(block) != 8 {
		return pinFields{}, hsm.ErrPINBlockLength
	}
	account, err := accountField(pan, f)
	if err != nil {
		return pinFields{}, err
	}
	return pinFields{strings.ToUpper(hex.EncodeToString(block)), code, account}, nil
}

// VerifyPIN implements hsm.Service: DC/EC for a PVV, DA/EA for an IBM
// offset, by the PIN key's type (TPK or ZPK). A wrong PIN is
// hsm.ErrPINMismatch.
func (c *Client) VerifyPIN(ctx context.Context, p hsm.PINCheck) error {
	switch {
	case p.PVV != nil:
		return c.verifyPVV(ctx, p)
	case p.IBM != nil:
		return c.verifyIBM(ctx, p)
	}
	return hsm.ErrNoMethod
}

// verifyPVV sends DC or EC.
func (c *Client) verifyPVV(ctx context.Context, p hsm.PINCheck) error {
	cmd, err := pinCommand(p.PINKey.Type, "DC", "EC")
	if err != nil {
		return err
	}
	pf, err := pinBlockFields(p.Block, p.Format, p.PAN)
	if err != nil {
		return err
	}
	v := p.PVV
	if len(p.PAN) < 13 {
		return hsm.ErrPAN
	}
	if v.PVKI < 0 || v.PVKI > 9 {
		return hsm.ErrPINParams
	}
	if len(v.PVV) != 4 || !isDigits(v.PVV) {
		return hsm.ErrPINParams
	}
	cl := c.newCall(cmd)
	defer c.putCall(cl)
	cl.req = appendKey(cl.req, p.PINKey.Cryptogram)
	cl.req = appendKey(cl.req, pairField(v.PVK.Cryptogram))
	cl.req = append(cl.req, pf.block+pf.format+pf.account...)
	cl.req = append(cl.req, byte('0'+v.PVKI))
	cl.req = append(cl.req, v.PVV...)
	_, err = c.exec(ctx, cl)
	return err
}

// pairField renders a PVK for a "PVK pair" field (32H or 1A+32H): a
// single-length untagged PVK is sent with the Z tag so its length is known.
func pairField(cryptogram string) string {
	if len(cryptogram) == 16 {
		return "Z" + cryptogram
	}
	return cryptogram
}

// verifyIBM sends DA or EA. The validation data must hold the account's
// last 5 digits somewhere (they become the N of the 12-character field);
// other data cannot be sent (ErrUnsupported).
func (c *Client) verifyIBM(ctx context.Context, p hsm.PINCheck) error {
	cmd, err := pinCommand(p.PINKey.Type, "DA", "EA")
	if err != nil {
		return err
	}
	pf, err := pinBlockFields(p.Block, p.Format, p.PAN)
	if err != nil {
		return err
	}
	m := p.IBM
	offset := strings.TrimRight(m.Offset, "Ff")
	if len(m.DecimalisationTable) != 16 || !isDigits(m.DecimalisationTable) ||
		len(offset) < 4 || len(m.Offset) > 12 || !isDigits(offset) {
		return hsm.ErrPINParams
	}
	data, err := validationField(m.ValidationData, pf.account)
	if err != nil {
		return err
	}
	cl := c.newCall(cmd)
	defer c.putCall(cl)
	cl.req = appendKey(cl.req, p.PINKey.Cryptogram)
	cl.req = appendKey(cl.req, m.PVK.Cryptogram)
	cl.req = append(cl.req, "12"+pf.block+pf.format...)
	cl.req = appendNum(cl.req, len(offset), 2)
	cl.req = append(cl.req, pf.account+m.DecimalisationTable+data+offset...)
	cl.req = append(cl.req, "FFFFFFFFFFFF"[:12-len(offset)]...)
	_, err = c.exec(ctx, cl)
	return err
}

// validationField turns 16 hex characters of IBM 3624 validation data
// into the Thales 12-character field with N for the last 5 account digits.
func validationField(data, account string) (string, error) {
	if len(data) != 16 {
		return "", hsm.ErrPINParams
	}
	if i := strings.Index(data, account[7:]); i >= 0 {
		return strings.ToUpper(data[:i] + "N" + data[i+5:]), nil
	}
	return "", fmt.Errorf("%w: IBM validation data without the account's last 5 digits", ErrUnsupported)
}

// translationFields are a PIN translation's source block fields and
// destination format code (CA, CC, G0); a destination format that takes
// the PAN needs one.
func translationFields(block []byte, from hsm.PINBlockFormat, pan string, to hsm.PINBlockFormat) (pinFields, string, error) {
	pf, err := pinBlockFields(block, from, pan)
	if err != nil {
		return pf, "", err
	}
	dst, err := formatCode(to)
	if err != nil {
		return pf, "", err
	}
	if usesPAN(to) && pf.account == "000000000000" {
		return pf, "", hsm.ErrPAN
	}
	return pf, dst, nil
}

// TranslatePIN implements hsm.Service: CA from a TPK, CC from a ZPK; the
// destination must be a ZPK.
func (c *Client) TranslatePIN(ctx context.Context, t hsm.PINTranslation) ([]byte, error) {
	cmd, err := pinCommand(t.From.Type, "CA", "CC")
	if err != nil {
		return nil, err
	}
	if t.To.Type != hsm.KeyTypeZPK {
		return nil, fmt.Errorf("%w: destination key type %q (want ZPK 001): %w", ErrUnsupported, t.To.Type, hsm.ErrKeyType)
	}
	pf, dst, err := translationFields(t.Block, t.FromFormat, t.PAN, t.ToFormat)
	if err != nil {
		return nil, err
	}
	cl := c.newCall(cmd)
	defer c.putCall(cl)
	cl.req = appendKey(cl.req, t.From.Cryptogram)
	cl.req = appendKey(cl.req, t.To.Cryptogram)
	cl.req = append(cl.req, "12"+pf.block+pf.format+dst+pf.account...)
	body, err := c.exec(ctx, cl)
	if err != nil {
		return nil, err
	}
	r := fieldReader{b: body}
	_, block := r.num(2), r.hexBytes(16)
	if r.bad {
		return nil, fmt.Errorf("%w: %s reply fields", ErrProtocol, cmd)
	}
	return block, nil
}

// VerifyDUKPTPIN implements hsm.Service: not yet spoken. A payShield
// verifies a DUKPT PIN by translating it to a ZPK (G0) and verifying under
// that key, which needs a zone key this client is not given; it answers
// ErrUnsupported, so the switch answers 96 rather than guess.
func (c *Client) VerifyDUKPTPIN(context.Context, hsm.DUKPTPINCheck) error {
	return fmt.Errorf("%w: DUKPT PIN verification (G0 then a ZPK verify)", ErrUnsupported)
}

// TranslateDUKPTPIN re-encrypts a TDES DUKPT terminal's PIN block under a
// ZPK: G0, the KSN sent whole (descriptor A05: a 10-digit key set ID, no
// sub-key, a 5-digit device ID, then the counter).
func (c *Client) TranslateDUKPTPIN(ctx context.Context, t hsm.DUKPTPINTranslation) ([]byte, error) {
	if t.BDK.Type != hsm.KeyTypeBDK || t.To.Type != hsm.KeyTypeZPK {
		return nil, fmt.Errorf("%w: G0 translates from a BDK (009) to a ZPK (001), not %q to %q", hsm.ErrKeyType, t.BDK.Type, t.To.Type)
	}
	if _, err := hsm.KSNCounter(t.KSN); err != nil {
		return nil, err
	}
	pf, dst, err := translationFields(t.Block, hsm.ISO0, t.PAN, t.ToFormat)
	if err != nil {
		return nil, err
	}
	cl := c.newCall("G0")
	defer c.putCall(cl)
	cl.req = appendKey(cl.req, t.BDK.Cryptogram)
	cl.req = appendKey(cl.req, t.To.Cryptogram)
	cl.req = append(cl.req, "A05"+strings.ToUpper(hex.EncodeToString(t.KSN))+pf.block+pf.format+dst+pf.account...)
	body, err := c.exec(ctx, cl)
	if err != nil {
		return nil, err
	}
	r := fieldReader{b: body}
	_, block, _ := r.num(2), r.hexBytes(16), r.str(2)
	if r.bad {
		return nil, fmt.Errorf("%w: G0 reply fields", ErrProtocol)
	}
	return block, nil
}
