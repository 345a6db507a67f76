package payshield

import (
	"crypto/rand"
	"io"
	"strconv"

	"github.com/cardswitch/cardswitch/hsm"
)

// firmware is the 9-character firmware number NC reports.
const firmware = "0007-SIM0"

// handleNC is "perform diagnostics". Reply: LMK check value (16H),
// firmware number (9A). The check value here is the test pattern
// 0101010101010101 encrypted under LMK pair 04-05: it identifies the LMK
// set but is not Thales's own algorithm.
func handleNC(s *Server, _ *fieldReader, out []byte) ([]byte, error) {
	k, err := hsm.ParseTDESKey("0101010101010101", hsm.ParityOdd)
	if err != nil {
		return out, err
	}
	c, err := s.cfg.LMK.EncryptKey(hsm.KeyTypeZMK, hsm.SchemeNone, k)
	if err != nil {
		return out, err
	}
	out = append(out, c...)
	return append(out, firmware...), nil
}

// macParams are the M6/M8 fields before the key.
type macParams struct {
	alg     hsm.MACAlgorithm
	pad     hsm.MACPadding
	macLen  int    // bytes: 4 (size 0) or 8 (size 1)
	keyType string // 003 TAK or 008 ZAK
}

// readMACParams reads mode (1N, 0 only), input format (1N: 0 binary,
// 1 hex, 2 text), MAC size (1N), MAC algorithm (1N: 1, 3, 5 CMAC),
// padding (1N: 0 none, 1-3 ISO 9797-1 methods), key type (3H), key,
// message length (4H) and message; it returns the key and message.
func readMACParams(r *fieldReader) (macParams, string, []byte, error) {
	mode, in, size, alg, pad, typ := r.num(1), r.num(1), r.num(1), r.num(1), r.num(1), r.str(3)
	key, lenHex := r.key(16), r.str(4)
	n, perr := strconv.ParseUint(lenHex, 16, 16)
	if err := r.err(); err != nil || perr != nil || mode != 0 || in > 2 || size > 1 || pad > 3 {
		return macParams{}, "", nil, codedError{"15", ErrInvalidInput}
	}
	p := macParams{pad: hsm.MACPadding(pad), macLen: 4 << size, keyType: typ}
	switch alg {
	case 1:
		p.alg = hsm.MACISO9797Alg1
	case 3:
		p.alg = hsm.MACISO9797Alg3
	case 5:
		p.alg = hsm.MACCMAC
	default:
		return p, "", nil, codedError{"15", ErrInvalidInput}
	}
	if typ != hsm.KeyTypeTAK && typ != hsm.KeyTypeZAK {
		return p, "", nil, codedError{"04", hsm.ErrKeyType}
	}
	var data []byte
	if in == 1 {
		data = r.hexBytes(int(n))
	} else {
		data = r.take(int(n))
	}
	return p, key, data, r.err()
}

// handleM6 generates a MAC. Reply: MAC (8H or 16H by MAC size).
func handleM6(s *Server, r *fieldReader, out []byte) ([]byte, error) {
	p, key, data, err := readMACParams(r)
	if err != nil {
		return out, err
	}
	k, err := s.key(p.keyType, key, "10")
	if err != nil {
		return out, err
	}
	mac, err := hsm.GenerateMAC(k, p.alg, p.pad, data)
	if err != nil {
		return out, err
	}
	return appendHexUpper(out, mac[:p.macLen]), nil
}

// handleM8 verifies a MAC: M6's fields, then the MAC (8H or 16H).
// Reply: none; a mismatch is error 01.
func handleM8(s *Server, r *fieldReader, out []byte) ([]byte, error) {
	p, key, data, err := readMACParams(r)
	if err != nil {
		return out, err
	}
	mac := r.hexBytes(2 * p.macLen)
	if err := r.err(); err != nil {
		return out, err
	}
	k, err := s.key(p.keyType, key, "10")
	if err != nil {
		return out, err
	}
	return out, hsm.VerifyMAC(k, p.alg, p.pad, data, mac)
}

// handleMA generates an ANSI X9.9 MAC (ISO 9797-1 algorithm 1, zero
// padding). Request: TAK (16H or 1A+32H), data (the rest). Reply: MAC (8H).
func handleMA(s *Server, r *fieldReader, out []byte) ([]byte, error) {
	key := r.key(16)
	data := r.take(len(r.b))
	if err := r.err(); err != nil {
		return out, err
	}
	k, err := s.key(hsm.KeyTypeTAK, key, "10")
	if err != nil {
		return out, err
	}
	mac, err := hsm.GenerateMAC(k, hsm.MACISO9797Alg1, hsm.MACPadding1, data)
	if err != nil {
		return out, err
	}
	return appendHexUpper(out, mac[:4]), nil
}

// handleMC verifies an MA MAC. Request: TAK, MAC (8H), data (the rest).
func handleMC(s *Server, r *fieldReader, out []byte) ([]byte, error) {
	key, mac := r.key(16), r.hexBytes(8)
	data := r.take(len(r.b))
	if err := r.err(); err != nil {
		return out, err
	}
	k, err := s.key(hsm.KeyTypeTAK, key, "10")
	if err != nil {
		return out, err
	}
	return out, hsm.VerifyMAC(k, hsm.MACISO9797Alg1, hsm.MACPadding1, data, mac)
}

// randomKey returns a random odd-parity DES/TDES key of n bytes and its bytes.
func (s *Server) randomKey(n int) (hsm.Key, []byte, error) {
	rnd := s.cfg.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(rnd, raw); err != nil {
		return hsm.Key{}, nil, hsm.ErrRandom
	}
	hsm.FixParity(raw)
	k, err := hsm.NewTDESKey(raw, hsm.ParityOdd)
	return k, raw, err
}

// schemeLen returns the key length a scheme tag makes (0 if unknown).
func schemeLen(s string) int {
	if len(s) != 1 {
		return 0
	}
	switch hsm.KeyScheme(s[0]) {
	case hsm.SchemeZ:
		return 8
	case hsm.SchemeU, hsm.SchemeX:
		return 16
	case hsm.SchemeT, hsm.SchemeY:
		return 24
	}
	return 0
}
