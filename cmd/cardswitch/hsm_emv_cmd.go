package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/cardswitch/cardswitch/codec/emv"
	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/hsm"
)

// emvFlags are the flags of hsm arqc and hsm arpc.
type emvFlags struct {
	cvn, imk, pan, psn, icc, option string
	arqc, arc, csu, prop, atc       string
}

// emvIMK reads --imk: 32 hex digits (a clear test key), or a cryptogram
// under the test LMK (U + 32 hex), key type 109 (MK-AC). clear says which,
// so the tools print derived keys only when the IMK was given in clear.
func emvIMK(s string) (k hsm.Key, clear bool, err error) {
	switch {
	case s == "":
		return hsm.Key{}, false, usagef("--imk is required: the issuer master key for ACs, 32 hex digits or U+32 under the test LMK")
	case len(s) == 32:
		k, err = hsm.ParseTDESKey(s, hsm.ParityIgnore)
		return k, true, err
	case len(s) == 33:
		k, err = hsm.ThalesTestLMK().DecryptKey(hsm.KeyTypeMKAC, s)
		if err != nil {
			return k, false, fmt.Errorf("--imk under the test LMK (key type 109): %w", err)
		}
		return k, false, nil
	}
	return hsm.Key{}, false, usagef("--imk must be 32 hex digits or U+32 hex digits (a cryptogram under the test LMK), not %d characters", len(s))
}

// emvCheck builds the check common to both tools: version, PAN, PSN, method.
func emvCheck(f *emvFlags) (hsm.ARQCCheck, error) {
	var c hsm.ARQCCheck
	var err error
	if f.cvn == "" {
		return c, usagef("--cvn is required: visa-cvn10, visa-cvn18, mchip-cvn16 or mchip-cvn17")
	}
	if c.CVN, err = hsm.ParseCVN(f.cvn); err != nil {
		return c, usagef("--cvn must be visa-cvn10, visa-cvn18, mchip-cvn16 or mchip-cvn17, not %q", f.cvn)
	}
	if f.pan == "" {
		return c, usagef("--pan is required")
	}
	c.PAN = f.pan
	switch f.option {
	case "":
	case "a":
		c.KeyMethod = hsm.ICCKeyOptionA
	case "b":
		c.KeyMethod = hsm.ICCKeyOptionB
	default:
		return c, usagef("--option must be a or b (ICC master key derivation, EMV Book 2 A1.4)")
	}
	return c, nil
}

// emvHex decodes a hex flag of exactly n bytes (any length for n < 0).
func emvHex(name, s string, n int) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || (n >= 0 && len(b) != n) {
		if n < 0 {
			return nil, usagef("--%s must be hex", name)
		}
		return nil, usagef("--%s must be %d hex digits", name, 2*n)
	}
	return b, nil
}

// emvPSN returns the PAN sequence number: --psn (2 digits) if given, else
// 5F34 from the ICC data, else 00.
func emvPSN(flag string, icc *emv.ICC) (byte, error) {
	if flag != "" {
		b, err := hex.DecodeString(flag)
		if err != nil || len(b) != 1 || b[0]>>4 > 9 || b[0]&0x0F > 9 {
			return 0, usagef("--psn must be 2 digits (the PAN sequence number, 5F34)")
		}
		return b[0], nil
	}
	if icc != nil {
		if v, ok := icc.Get(emv.TagPANSequence); ok {
			return v[0], nil
		}
	}
	return 0, nil
}

// emvDataFromICC copies the data elements an ARQC covers out of field 55,
// as the switch does (engine.EMVDataFromICC). A missing one is an
// *emv.Error naming its tag.
func emvDataFromICC(icc *emv.ICC) (hsm.EMVData, error) { return engine.EMVDataFromICC(icc) }

// keyLine returns a derived key for output: the key itself when the IMK
// was given in clear (a test key), its KCV when it came from under the LMK.
func keyLine(k hsm.Key, clear bool) string {
	if clear {
		return hex.EncodeToString(hsm.RevealKey(k))
	}
	return "KCV " + k.KCV()
}

// toolARQC computes the ARQC for the ICC data and, if the data carries
// one (9F26), verifies it. Lines: ICC master key, session key, MAC input,
// ARQC; then "ARQC OK" when 9F26 verifies.
func toolARQC(f *emvFlags) ([]string, error) {
	c, err := emvCheck(f)
	if err != nil {
		return nil, err
	}
	if f.icc == "" {
		return nil, usagef("--icc is required: the ICC data (field 55) in hex, with 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36 9F10")
	}
	raw, err := emvHex("icc", f.icc, -1)
	if err != nil {
		return nil, err
	}
	var icc emv.ICC
	if err := icc.Parse(raw); err != nil {
		return nil, fmt.Errorf("--icc: %w", err)
	}
	if c.Data, err = emvDataFromICC(&icc); err != nil {
		return nil, fmt.Errorf("--icc: %w", err)
	}
	if c.PSN, err = emvPSN(f.psn, &icc); err != nil {
		return nil, err
	}
	imk, clear, err := emvIMK(f.imk)
	if err != nil {
		return nil, err
	}
	ac, keys, err := hsm.ComputeARQC(imk, &c)
	if err != nil {
		return nil, err
	}
	input, _ := hsm.AppendARQCInput(nil, c.CVN, &c.Data)
	out := []string{keyLine(keys.ICCMaster, clear), keyLine(keys.Session, clear), hex.EncodeToString(input), hex.EncodeToString(ac[:])}
	if f.arqc != "" {
		return nil, usagef("hsm arqc takes the ARQC from 9F26 in --icc; --arqc is for hsm arpc")
	}
	got, ok := icc.Get(emv.TagARQC)
	if !ok {
		return out, nil
	}
	copy(c.ARQC[:], got)
	if _, err := hsm.VerifyARQC(imk, &c); err != nil {
		if errors.Is(err, hsm.ErrARQCMismatch) {
			return nil, fmt.Errorf("the ARQC in 9F26, %X, does not verify: the card's data and keys give %X", got, ac)
		}
		return nil, err
	}
	return append(out, "ARQC OK"), nil
}

// toolARPC computes the ARPC for an ARQC (without verifying it) and the
// tag 91 a reply carries. Lines: ARPC, then tag 91 as TLV.
func toolARPC(f *emvFlags) ([]string, error) {
	c, err := emvCheck(f)
	if err != nil {
		return nil, err
	}
	if c.PSN, err = emvPSN(f.psn, nil); err != nil {
		return nil, err
	}
	if f.arqc == "" {
		return nil, usagef("--arqc is required (16 hex digits)")
	}
	b, err := emvHex("arqc", f.arqc, 8)
	if err != nil {
		return nil, err
	}
	arqc := [8]byte(b)
	var a hsm.ARPCData
	var tail []byte // what follows the ARPC in tag 91
	if c.CVN == hsm.VisaCVN18 {
		if f.arc != "" || f.csu == "" || f.atc == "" {
			return nil, usagef("visa-cvn18 uses ARPC method 2: give --csu (8 hex digits), --atc (4) and optionally --prop, not --arc")
		}
		if b, err = emvHex("csu", f.csu, 4); err != nil {
			return nil, err
		}
		a.CSU = [4]byte(b)
		if b, err = emvHex("atc", f.atc, 2); err != nil {
			return nil, err
		}
		c.Data.ATC = [2]byte(b)
		if a.Proprietary, err = emvHex("prop", f.prop, -1); err != nil || len(a.Proprietary) > 8 {
			return nil, usagef("--prop must be 0 to 8 bytes of hex")
		}
		tail = append(a.CSU[:], a.Proprietary...)
	} else {
		if f.csu != "" || f.prop != "" {
			return nil, usagef("%s uses ARPC method 1: give --arc, not --csu or --prop", c.CVN)
		}
		switch len(f.arc) {
		case 2: // a response code, as the card sees it in ASCII
			a.ARC = [2]byte{f.arc[0], f.arc[1]}
		case 4:
			if b, err = emvHex("arc", f.arc, 2); err != nil {
				return nil, err
			}
			a.ARC = [2]byte(b)
		default:
			return nil, usagef("--arc is required: the response code (00) or its 4 hex digits (3030)")
		}
		tail = a.ARC[:]
	}
	imk, _, err := emvIMK(f.imk)
	if err != nil {
		return nil, err
	}
	keys, err := hsm.DeriveARQCKeys(imk, &c)
	if err != nil {
		return nil, err
	}
	arpc, err := hsm.GenerateARPC(keys, c.CVN, arqc, &a)
	if err != nil {
		return nil, err
	}
	tlv, err := emv.AppendTLV(nil, emv.TagARPCResponse, append(arpc, tail...))
	if err != nil {
		return nil, err
	}
	return []string{hex.EncodeToString(arpc), hex.EncodeToString(tlv)}, nil
}

// emvSummary is the help text of the two tools.
var emvSummary = strings.Join([]string{
	"arqc --cvn CVN --imk KEY --pan PAN --icc HEX [--psn NN] [--option a|b]",
	"      the ICC master key, the session key, the MAC input and the ARQC for field 55 data;",
	"      with 9F26 in it, verifies it (\"ARQC OK\", or an error). Keys print as KCVs when --imk is under the LMK",
	"arpc --cvn CVN --imk KEY --pan PAN [--psn NN] --arqc HEX (--arc 00 | --csu HEX --atc HEX [--prop HEX])",
	"      the ARPC (method 1 for visa-cvn10 and M/Chip, method 2 for visa-cvn18) and the reply's tag 91",
	"      CVN: visa-cvn10, visa-cvn18, mchip-cvn16, mchip-cvn17; KEY: 32 hex digits, or U+32 under the test LMK (type 109)",
}, "\n")
