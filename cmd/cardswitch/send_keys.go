package main

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
)

// sendKeys are a terminal's clear keys, for the send tool only: it plays
// the terminal, so it needs what the terminal holds (demonstrations with the
// test LMK).
type sendKeys struct {
	tpk, tak hsm.Key
	tmk      hsm.Key // the master key session keys come under (sim client's session_keys)
	found    bool
}

// terminalKeys decrypts the terminal's keys from the configuration's issuer
// data under the Thales test LMK.
func terminalKeys(f *sendFlags, terminal string) (sendKeys, error) {
	if f.pin == "" && (f.mac == "none" || f.mac == "") {
		return sendKeys{}, nil
	}
	return loadTerminalKeys(f.config, terminal)
}

// loadTerminalKeys is terminalKeys for the configuration at path (""
// the embedded one); a terminal the issuer data lacks has no keys (found
// false), which only a PIN or a MAC then refuses.
func loadTerminalKeys(path, terminal string) (sendKeys, error) {
	c, err := loadConfig(path)
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
	// the engine holds a TMK as a key of the TPK type (engine/security.go)
	if k.tmk, err = lmk.DecryptKey(hsm.KeyTypeTPK, t.TMK); err != nil && t.TMK != "" {
		return k, fmt.Errorf("terminal %s: master key: %v", terminal, err)
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

// dukptFields makes m a DUKPT terminal's request: the KSN in the
// terminal's KSN field and, with --pin, field 52 under the PIN key derived
// for it (TDES, ANSI X9.24-1) from the BDK: --bdk, or the key set's in
// the configuration's issuer data (decrypted under the test LMK: the tool
// plays the key injection facility and the terminal at once).
func dukptFields(f *sendFlags, m *codec.Message) error {
	ksn, err := hex.DecodeString(f.ksn)
	if err != nil || len(ksn) != 10 {
		return fmt.Errorf("%q must be 20 hex digits", f.ksn)
	}
	if _, err := hsm.KSNCounter(ksn); err != nil {
		return fmt.Errorf("%s: the counter must be non-zero with at most ten one bits", f.ksn)
	}
	c, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	field := issuer.DefaultKSNField
	if t, ok := c.issuer.Terminal([]byte(m.Fields["41"])); ok && t.DUKPT != nil && t.DUKPT.Field != 0 {
		field = t.DUKPT.Field
	}
	m.Fields[strconv.Itoa(field)] = strings.ToUpper(f.ksn)
	if f.pin == "" {
		return nil
	}
	bdkText := f.bdk
	if bdkText == "" {
		var ok bool
		if bdkText, ok = c.issuer.BDK(strings.ToUpper(f.ksn[:10])); !ok {
			return fmt.Errorf("no BDK for key set %s in the issuer data: give --bdk", strings.ToUpper(f.ksn[:10]))
		}
	}
	var bdk hsm.Key
	if strings.HasPrefix(bdkText, "U") {
		bdk, err = hsm.ThalesTestLMK().DecryptKey(hsm.KeyTypeBDK, bdkText)
	} else if raw, herr := hex.DecodeString(bdkText); herr != nil || len(raw) != 16 {
		err = fmt.Errorf("--bdk must be 32 hex digits or a U cryptogram")
	} else {
		bdk, err = hsm.NewTDESKey(raw, hsm.ParityIgnore)
	}
	if err != nil {
		return err
	}
	pk, err := hsm.DUKPTKey(bdk, ksn, hsm.DUKPTPIN)
	if err != nil {
		return err
	}
	p, err := hsm.ParsePIN(f.pin)
	if err != nil {
		return err
	}
	b, err := hsm.EncryptPINBlock(pk, hsm.ISO0, p, m.Fields["2"], nil)
	if err != nil {
		return err
	}
	m.Fields["52"] = strings.ToUpper(hex.EncodeToString(b))
	return nil
}
