package main

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
)

// sendKeys are a terminal's clear keys, for the send tool only: it plays
// the terminal, so it needs what the terminal holds (demonstrations with the
// test LMK).
type sendKeys struct {
	tpk, tak hsm.Key
	found    bool
}

// terminalKeys decrypts the terminal's keys from the configuration's issuer
// data under the Thales test LMK.
func terminalKeys(f *sendFlags, terminal string) (sendKeys, error) {
	if f.pin == "" && (f.mac == "none" || f.mac == "") {
		return sendKeys{}, nil
	}
	c, err := loadConfig(f.config)
	if err != nil {
		return sendKeys{}, err
	}
	t, ok := c.issuer.Terminal([]byte(terminal))
	if !ok {
		return sendKeys{}, nil
	}
	lmk := hsm.ThalesTestLMK()
	var k sendKeys
	if k.tpk, err = lmk.DecryptKey(hsm.KeyTypeTPK, t.TPK); err != nil && t.TPK != "" {
		return k, fmt.Errorf("terminal %s: PIN key: %v", terminal, err)
	}
	if k.tak, err = lmk.DecryptKey(hsm.KeyTypeTAK, t.TAK); err != nil && t.TAK != "" {
		return k, fmt.Errorf("terminal %s: MAC key: %v", terminal, err)
	}
	k.found = true
	return k, nil
}

// pinBlock is the ISO 9564 format 0 block of pin for pan, encrypted under
// the terminal's PIN key, as hex for field 52.
func (k sendKeys) pinBlock(pin, pan string) (string, error) {
	if !k.found || !k.tpk.Valid() {
		return "", fmt.Errorf("the terminal has no PIN key in the configuration")
	}
	p, err := hsm.ParsePIN(pin)
	if err != nil {
		return "", err
	}
	b, err := hsm.EncryptPINBlock(k.tpk, hsm.ISO0, p, pan, nil)
	if err != nil {
		return "", err
	}
	return strings.ToUpper(hex.EncodeToString(b)), nil
}

// macFunc returns the MAC the request carries, or nil for none.
func (k sendKeys) macFunc(name string, d *codec.Dialect) (func([]byte) ([]byte, error), error) {
	alg, err := macMethod(name, d)
	switch {
	case err != nil:
		return nil, err
	case alg == 0:
		return nil, nil
	case !k.found || !k.tak.Valid():
		return nil, fmt.Errorf("the terminal has no MAC key in the configuration")
	}
	pad := hsm.MACPaddingFor(alg)
	return func(in []byte) ([]byte, error) { return hsm.GenerateMAC(k.tak, alg, pad, in) }, nil
}

// macMethod resolves a --mac flag: auto is cup on UnionPay links and none
// elsewhere; none (or empty) is 0.
func macMethod(name string, d *codec.Dialect) (hsm.MACAlgorithm, error) {
	if name == "auto" {
		name = "none"
		if d.Name == codec.CUPPOS {
			name = "cup"
		}
	}
	if name == "none" || name == "" {
		return 0, nil
	}
	if alg, ok := hsm.MACMethods[name]; ok {
		return alg, nil
	}
	return 0, usagef("--mac %q: cup, x919, alg1, cmac, none or auto", name)
}
