package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/cardswitch/cardswitch/hsm"
)

// tr31Flags are the flags of hsm tr31 wrap and unwrap.
type tr31Flags struct {
	kbpk, header, key, keyType, block string
	mask                              int
	reveal, aes                       bool
}

// tr31Summary is the help text of the two tools.
var tr31Summary = strings.Join([]string{
	"tr31 wrap --kbpk KEY --header HDR --key KEY [--key-type TTT] [--mask N]",
	"      the TR-31 / X9.143 key block (version B: TDES KBPK, D: AES KBPK), then the wrapped key's KCV",
	"      HDR: version, 4 digits (recomputed), usage, algorithm, mode of use, key version, exportability,",
	"      2-digit count of optional blocks, 00, the optional blocks (e.g. B0000P0TE00E0000)",
	"tr31 unwrap --kbpk KEY --block BLOCK [--key-type TTT] [--reveal]",
	"      checks the MAC; then the key (under the LMK as --key-type if given; else in clear from a clear",
	"      KBPK, only its KCV from a KBPK under the LMK; --reveal prints it in clear), then its KCV;",
	"      under the LMK its parity bits are set odd (DES ignores them: same key, same KCV)",
	"      KEY: hex (a test key), or U/T+hex under the test LMK (a KBPK is key type 000, ZMK)",
}, "\n")

// tr31KBPK reads --kbpk: clear hex (TDES for version B, AES for D) or a
// TDES cryptogram under the test LMK, key type 000. lmk says which.
func tr31KBPK(s string, version byte) (k hsm.Key, lmk bool, err error) {
	switch {
	case s == "":
		return k, false, usagef("--kbpk is required: the key block protection key, hex or U/T+hex under the test LMK")
	case s[0] == 'U' || s[0] == 'T':
		if version == 'D' {
			return k, false, usagef("--kbpk: version D needs an AES KBPK, and the test LMK holds only TDES keys; give it in hex")
		}
		k, err = hsm.ThalesTestLMK().DecryptKey(hsm.KeyTypeZMK, s)
		if err != nil {
			return k, false, fmt.Errorf("--kbpk under the test LMK (key type 000): %w", err)
		}
		return k, true, nil
	case version == 'D':
		k, err = hsm.ParseAESKey(s)
	default:
		k, err = hsm.ParseTDESKey(s, hsm.ParityIgnore)
	}
	if err != nil {
		return k, false, fmt.Errorf("--kbpk: %w", err)
	}
	return k, false, nil
}

// tr31Header reads --header into the fields wrap takes. The length digits
// are not checked (wrap computes them); the optional blocks must be as
// many as the count says.
func tr31Header(s string) (hsm.KeyBlockHeader, error) {
	if s == "" {
		return hsm.KeyBlockHeader{}, usagef("--header is required, e.g. B0000P0TE00E0000 (version B, usage P0, TDES, mode E, key version 00, exportable)")
	}
	if len(s) < 16 {
		return hsm.KeyBlockHeader{}, usagef("--header must be at least 16 characters, not %d", len(s))
	}
	h := hsm.KeyBlockHeader{Version: s[0], Usage: s[5:7], Algorithm: s[7], ModeOfUse: s[8], KeyVersion: s[9:11], Exportability: s[11]}
	if h.Version != 'B' && h.Version != 'D' {
		return h, usagef("--header: wrap makes versions B (TDES KBPK) and D (AES KBPK), not %q", s[:1])
	}
	// Read the optional blocks with the unwrap parser: give it the header
	// with a length that covers exactly the header.
	if len(s) > 9999 {
		return h, usagef("--header is too long")
	}
	parsed, err := hsm.ParseKeyBlockHeader(fmt.Sprintf("%c%04d%s", s[0], len(s), s[5:]))
	if err != nil {
		return h, fmt.Errorf("--header: the optional blocks do not match their count (characters 13-14): %w", err)
	}
	if got := headerLen(parsed); got != len(s) {
		return h, usagef("--header has %d characters after its %d optional blocks", len(s)-got, len(parsed.OptionalBlocks))
	}
	h.OptionalBlocks = parsed.OptionalBlocks
	return h, nil
}

// headerLen is the length of the header text the optional blocks take, as
// written in their short or extended length form.
func headerLen(h hsm.KeyBlockHeader) int {
	n := 16
	for _, b := range h.OptionalBlocks {
		n += 4 + len(b.Data)
		if 4+len(b.Data) > 0xFF {
			n += 6
		}
	}
	return n
}

// tr31Key reads --key: hex for the header's algorithm (A: AES, T or D:
// DES/TDES), or a cryptogram under the test LMK of --key-type.
func tr31Key(s, keyType string, alg byte) (hsm.Key, bool, error) {
	switch {
	case s == "":
		return hsm.Key{}, false, usagef("--key is required: the key to wrap, hex or a cryptogram under the test LMK with --key-type")
	case s[0] == 'U' || s[0] == 'T' || s[0] == 'Z':
		if keyType == "" {
			return hsm.Key{}, false, usagef("--key is a cryptogram under the test LMK: say its --key-type (e.g. 001 ZPK, 009 BDK)")
		}
		k, err := hsm.ThalesTestLMK().DecryptKey(keyType, s)
		if err != nil {
			return k, false, fmt.Errorf("--key under the test LMK (key type %s): %w", keyType, err)
		}
		return k, true, nil
	}
	var k hsm.Key
	var err error
	if alg == 'A' {
		k, err = hsm.ParseAESKey(s)
	} else {
		k, err = hsm.ParseTDESKey(s, hsm.ParityIgnore)
	}
	if err != nil {
		return k, false, fmt.Errorf("--key: %w", err)
	}
	return k, false, nil
}

// toolTR31 runs hsm tr31 wrap or unwrap.
func toolTR31(op string, f *tr31Flags) ([]string, error) {
	if f.aes {
		return nil, usagef("hsm tr31 takes no --aes: the version says the KBPK's algorithm (B TDES, D AES), the header the key's")
	}
	switch op {
	case "wrap":
		return toolTR31Wrap(f)
	case "unwrap":
		return toolTR31Unwrap(f)
	}
	return nil, usagef("say hsm tr31 wrap or hsm tr31 unwrap, not %q", op)
}

func toolTR31Wrap(f *tr31Flags) ([]string, error) {
	if f.block != "" || f.reveal {
		return nil, usagef("--block and --reveal are for hsm tr31 unwrap")
	}
	h, err := tr31Header(f.header)
	if err != nil {
		return nil, err
	}
	kbpk, _, err := tr31KBPK(f.kbpk, h.Version)
	if err != nil {
		return nil, err
	}
	key, _, err := tr31Key(f.key, f.keyType, h.Algorithm)
	if err != nil {
		return nil, err
	}
	if f.mask != 0 && (f.mask < key.Len() || f.mask > 64) {
		return nil, usagef("--mask pads as if the key were N bytes: from %d (the key's length) to 64, not %d", key.Len(), f.mask)
	}
	block, err := hsm.WrapKeyBlock(kbpk, h, key, nil, f.mask)
	switch {
	case errors.Is(err, hsm.ErrKeyBlockVersion):
		return nil, fmt.Errorf("version %c needs a %s KBPK: %w", h.Version, map[byte]string{'B': "double or triple length TDES", 'D': "AES"}[h.Version], err)
	case errors.Is(err, hsm.ErrKeyAlgorithm):
		return nil, fmt.Errorf("--header algorithm %q does not name the key (%s, %d bytes): %w", h.Algorithm, key.Algorithm(), key.Len(), err)
	case errors.Is(err, hsm.ErrKeyBlock):
		return nil, fmt.Errorf("--header: usage and key version are 2 letters or digits, mode of use 1, exportability E, N or S, optional block IDs 2: %w", err)
	case err != nil:
		return nil, err
	}
	return []string{block, "KCV " + key.KCV()}, nil
}

func toolTR31Unwrap(f *tr31Flags) ([]string, error) {
	if f.header != "" || f.key != "" || f.mask != 0 {
		return nil, usagef("--header, --key and --mask are for hsm tr31 wrap; unwrap reads them from --block")
	}
	if f.block == "" {
		return nil, usagef("--block is required: the TR-31 key block")
	}
	kbpk, underLMK, err := tr31KBPK(f.kbpk, f.block[0])
	if err != nil {
		return nil, err
	}
	key, _, err := hsm.UnwrapKeyBlock(kbpk, f.block)
	if err != nil {
		if errors.Is(err, hsm.ErrKeyBlockVersion) {
			return nil, fmt.Errorf("version %q with this KBPK (%s, %d bytes): %w", f.block[:1], kbpk.Algorithm(), kbpk.Len(), err)
		}
		return nil, err
	}
	kcv := "KCV " + key.KCV()
	switch {
	case f.reveal || !underLMK && f.keyType == "":
		return []string{hex.EncodeToString(hsm.RevealKey(key)), kcv}, nil
	case f.keyType != "":
		// The LMK holds keys with odd parity; DES ignores the parity bits,
		// so setting them leaves the key (and its KCV) the same.
		b := hsm.RevealKey(key)
		hsm.FixParity(b)
		odd, err := hsm.NewTDESKey(b, hsm.ParityOdd)
		clear(b)
		if err != nil {
			return nil, fmt.Errorf("--key-type: only a DES or TDES key goes under the LMK, not %s: %w", key.Algorithm(), hsm.ErrKeyAlgorithm)
		}
		c, err := hsm.ThalesTestLMK().EncryptKey(f.keyType, lmkScheme(odd), odd)
		if err != nil {
			return nil, fmt.Errorf("--key-type %s: %w", f.keyType, err)
		}
		return []string{c, kcv}, nil
	}
	return []string{kcv}, nil
}

// lmkScheme is the Thales scheme tag for a key's length.
func lmkScheme(k hsm.Key) hsm.KeyScheme {
	switch k.Len() {
	case 8:
		return hsm.SchemeZ
	case 16:
		return hsm.SchemeU
	}
	return hsm.SchemeT
}
