package payshield

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/cardswitch/cardswitch/hsm"
)

// commandTable holds the simulator's commands. Field layouts follow the
// payShield host command reference; see doc.go for each.
var commandTable = map[string]handler{
	"NC": handleNC,
	"CA": handleTranslate(hsm.KeyTypeTPK), "CC": handleTranslate(hsm.KeyTypeZPK),
	"DC": handlePVV(hsm.KeyTypeTPK), "EC": handlePVV(hsm.KeyTypeZPK),
	"DA": handleIBM(hsm.KeyTypeTPK), "EA": handleIBM(hsm.KeyTypeZPK),
	"G0": handleG0, "KQ": handleKQ,
	"M6": handleM6, "M8": handleM8, "MA": handleMA, "MC": handleMC,
	"A0": handleA0, "A6": handleA6, "FA": handleFA, "BU": handleBU,
}

// key decrypts a cryptogram from the LMK. A parity error answers
// parityCode (10 for a source key, 11 for a destination key).
func (s *Server) key(keyType, cryptogram, parityCode string) (hsm.Key, error) {
	k, err := s.cfg.LMK.DecryptKey(keyType, cryptogram)
	switch {
	case errors.Is(err, hsm.ErrKeyParity):
		return k, codedError{parityCode, err}
	case errors.Is(err, hsm.ErrHex):
		return k, codedError{"15", err}
	}
	return k, err
}

// pinFormat maps a Thales format code (error 23 if unknown).
func pinFormat(code string) (hsm.PINBlockFormat, error) {
	f, err := hsm.ThalesPINBlockFormat(code)
	if err != nil || f == hsm.ISO4 {
		return 0, codedError{"23", hsm.ErrPINBlockFormat}
	}
	return f, nil
}

// decryptPIN decrypts a PIN block under k.
func decryptPIN(k hsm.Key, block []byte, code, account string) (hsm.PIN, error) {
	f, err := pinFormat(code)
	if err != nil {
		return hsm.PIN{}, err
	}
	return hsm.DecryptPINBlock(k, f, block, panFromAccount(account))
}

// sourcePIN decrypts a request's PIN block under its PIN key (a TPK or
// ZPK cryptogram; parity error code 10).
func (s *Server) sourcePIN(keyType, cryptogram string, block []byte, code, account string) (hsm.PIN, error) {
	k, err := s.key(keyType, cryptogram, "10")
	if err != nil {
		return hsm.PIN{}, err
	}
	return decryptPIN(k, block, code, account)
}

// handlePVV is DC (TPK) and EC (ZPK): verify a PIN against a Visa PVV.
// Request: PIN key (16H or 1A+32H), PVK pair (32H or 1A+32H), PIN block
// (16H), format (2N), account (12N), PVKI (1N), PVV (4N). Reply: none.
func handlePVV(pinKeyType string) handler {
	return func(s *Server, r *fieldReader, out []byte) ([]byte, error) {
		pinKey, pvk, block := r.key(16), r.key(32), r.hexBytes(16)
		code, account, pvki, pvv := r.str(2), r.digits(12), r.num(1), r.digits(4)
		if err := r.err(); err != nil {
			return out, err
		}
		pin, err := s.sourcePIN(pinKeyType, pinKey, block, code, account)
		if err != nil {
			return out, err
		}
		k, err := s.key(hsm.KeyTypePVK, pvk, "11")
		if err != nil {
			return out, err
		}
		return out, hsm.VerifyPVV(k, panFromAccount(account), pvki, pin, pvv)
	}
}

// handleIBM is DA (TPK) and EA (ZPK): verify a PIN by IBM 3624 offset.
// Request: PIN key, PVK (16H or 1A+32H), maximum PIN length (2N), PIN block
// (16H), format (2N), check length (2N), account (12N), decimalisation
// table (16N), PIN validation data (12A, N = last 5 account digits),
// offset (12H, F-padded). Reply: none.
func handleIBM(pinKeyType string) handler {
	return func(s *Server, r *fieldReader, out []byte) ([]byte, error) {
		pinKey, pvk, maxLen, block := r.key(16), r.key(16), r.num(2), r.hexBytes(16)
		code, checkLen, account := r.str(2), r.num(2), r.digits(12)
		table, data, offset := r.digits(16), r.str(12), r.str(12)
		if err := r.err(); err != nil {
			return out, err
		}
		if checkLen < 4 || checkLen > 12 || maxLen < 4 || maxLen > 12 {
			return out, codedError{"15", ErrInvalidInput}
		}
		pin, err := s.sourcePIN(pinKeyType, pinKey, block, code, account)
		if err != nil {
			return out, err
		}
		if pin.Len() > maxLen {
			return out, hsm.ErrPINLength
		}
		k, err := s.key(hsm.KeyTypePVK, pvk, "11")
		if err != nil {
			return out, err
		}
		vd, err := hsm.ThalesValidationData(data, account)
		if err != nil {
			return out, err
		}
		m := hsm.IBM3624{PVK: k, DecimalisationTable: table, ValidationData: vd}
		return out, m.Verify(pin, offset[:checkLen])
	}
}

// handleTranslate is CA (TPK to ZPK) and CC (ZPK to ZPK). Request: source
// key, destination ZPK (16H or 1A+32H), maximum PIN length (2N), PIN block
// (16H), source format (2N), destination format (2N), account (12N).
// Reply: PIN length (2N), PIN block (16H), destination format (2N).
func handleTranslate(srcType string) handler {
	return func(s *Server, r *fieldReader, out []byte) ([]byte, error) {
		src, dst, _, block := r.key(16), r.key(16), r.num(2), r.hexBytes(16)
		srcCode, dstCode, account := r.str(2), r.str(2), r.digits(12)
		if err := r.err(); err != nil {
			return out, err
		}
		pin, err := s.sourcePIN(srcType, src, block, srcCode, account)
		if err != nil {
			return out, err
		}
		return s.encryptPIN(out, dst, pin, dstCode, account)
	}
}

// encryptPIN encrypts pin under the ZPK dst and appends the translate
// reply fields.
func (s *Server) encryptPIN(out []byte, dst string, pin hsm.PIN, code, account string) ([]byte, error) {
	dk, err := s.key(hsm.KeyTypeZPK, dst, "11")
	if err != nil {
		return out, err
	}
	f, err := pinFormat(code)
	if err != nil {
		return out, err
	}
	enc, err := hsm.EncryptPINBlock(dk, f, pin, panFromAccount(account), s.cfg.Rand)
	if err != nil {
		return out, err
	}
	out = appendNum(out, pin.Len(), 2)
	out = appendHexUpper(out, enc)
	return append(out, code...), nil
}

// handleG0 translates a TDES DUKPT PIN block to a ZPK. Request: BDK
// (1A+32H), ZPK, KSN descriptor (3H), KSN (20H), PIN block (16H), source
// format (2N), destination format (2N), account (12N). Reply as CA.
func handleG0(s *Server, r *fieldReader, out []byte) ([]byte, error) {
	bdk, zpk, desc := r.key(32), r.key(16), r.str(3)
	n, err := ksnDigits(desc)
	if err != nil {
		return out, err
	}
	ksnHex, block := r.str(n), r.hexBytes(16)
	srcCode, dstCode, account := r.str(2), r.str(2), r.digits(12)
	if err := r.err(); err != nil {
		return out, err
	}
	ksn, err := hex.DecodeString(strings.Repeat("F", 20-n) + ksnHex) // left-padded with F to 80 bits
	if err != nil {
		return out, codedError{"15", err}
	}
	bk, err := s.key(hsm.KeyTypeBDK, bdk, "10")
	if err != nil {
		return out, err
	}
	pinKey, err := hsm.DUKPTKey(bk, ksn, hsm.DUKPTPIN)
	if err != nil {
		return out, codedError{"15", err}
	}
	pin, err := decryptPIN(pinKey, block, srcCode, account)
	if err != nil {
		return out, err
	}
	return s.encryptPIN(out, zpk, pin, dstCode, account)
}

// ksnDigits reads G0's KSN descriptor xyz (hex digits: the BDK ID's
// length, the sub-key's (0), the device ID's): the KSN has x+y+z+5
// digits (5 for the counter), at most 20; error 15 otherwise.
func ksnDigits(desc string) (int, error) {
	if len(desc) != 3 {
		return 0, codedError{"15", hsm.ErrKSN}
	}
	n := 5
	for _, c := range desc {
		v, err := strconv.ParseUint(string(c), 16, 8)
		if err != nil {
			return 0, codedError{"15", hsm.ErrKSN}
		}
		n += int(v)
	}
	if n > 20 || n%2 != 0 {
		return 0, codedError{"15", hsm.ErrKSN}
	}
	return n, nil
}
