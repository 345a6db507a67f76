package payshield

import (
	"github.com/cardswitch/cardswitch/hsm"
)

// handleA0 generates a key. Request: mode (1H: 0 generate, 1 generate and
// export), key type (3H), key scheme LMK (1A); for mode 1 also an optional
// ';' and ZMK/TMK flag (1N: 0 ZMK, 1 TMK), the ZMK or TMK (16H or
// 1A+32H) and the key scheme ZMK (1A: X/Z plain ECB, U/T with the length
// variant). Reply: key under LMK, key under ZMK/TMK (mode 1), KCV (6H).
func handleA0(s *Server, r *fieldReader, out []byte) ([]byte, error) {
	mode, typ, scheme := r.str(1), r.str(3), r.str(1)
	n := schemeLen(scheme)
	if err := r.err(); err != nil || (mode != "0" && mode != "1") || n == 0 {
		return out, codedError{"15", ErrInvalidInput}
	}
	k, raw, err := s.randomKey(n)
	if err != nil {
		return out, err
	}
	under, err := s.cfg.LMK.EncryptKey(typ, hsm.KeyScheme(scheme[0]), k)
	if err != nil {
		return out, err
	}
	out = append(out, under...)
	if mode == "1" {
		if out, err = s.exportKey(r, out, k, raw); err != nil {
			return out, err
		}
	}
	return append(out, k.KCV()...), nil
}

// exportKey reads A0's ZMK/TMK fields and appends k encrypted under it.
func (s *Server) exportKey(r *fieldReader, out []byte, k hsm.Key, raw []byte) ([]byte, error) {
	wrapType := hsm.KeyTypeZMK
	if r.optional(';') && r.num(1) == 1 {
		wrapType = hsm.KeyTypeTPK // a TMK is stored as key type 002
	}
	wrap, scheme := r.key(16), r.str(1)
	if err := r.err(); err != nil {
		return out, err
	}
	wk, err := s.key(wrapType, wrap, "11")
	if err != nil {
		return out, err
	}
	if schemeLen(scheme) != len(raw) {
		return out, codedError{"26", hsm.ErrKeyScheme}
	}
	if sc := hsm.KeyScheme(scheme[0]); sc == hsm.SchemeU || sc == hsm.SchemeT {
		c, err := hsm.EncryptUnderZMK(wk, sc, k)
		return append(out, c...), err
	}
	out = append(out, scheme...)
	for i := 0; i < len(raw); i += 8 {
		// One block of CBC-MAC with a zero IV is ECB encryption under wk.
		e, err := hsm.GenerateMAC(wk, hsm.MACISO9797Alg1, hsm.MACPadding1, raw[i:i+8])
		if err != nil {
			return out, err
		}
		out = appendHexUpper(out, e)
	}
	return out, nil
}

// handleA6 imports a key from under a ZMK. Request: key type (3H), ZMK
// (16H or 1A+32H), key under ZMK (16H or 1A+32H), key scheme LMK (1A).
// Reply: key under LMK, KCV (6H).
func handleA6(s *Server, r *fieldReader, out []byte) ([]byte, error) {
	typ, zmk, key, scheme := r.str(3), r.key(16), r.key(16), r.str(1)
	if err := r.err(); err != nil || len(scheme) != 1 {
		return out, codedError{"15", ErrInvalidInput}
	}
	zk, err := s.key(hsm.KeyTypeZMK, zmk, "10")
	if err != nil {
		return out, err
	}
	k, err := hsm.DecryptUnderZMK(zk, key)
	if err != nil {
		return out, err
	}
	c, err := s.cfg.LMK.EncryptKey(typ, hsm.KeyScheme(scheme[0]), k)
	if err != nil {
		return out, err
	}
	return append(append(out, c...), k.KCV()...), nil
}

// handleFA translates a ZPK from a ZMK to the LMK. Request: ZMK (16H or
// 1A+32H), ZPK under ZMK (16H or 1A+32H). Reply: ZPK under LMK (same
// scheme), KCV (16H).
func handleFA(s *Server, r *fieldReader, out []byte) ([]byte, error) {
	zmk, key := r.key(16), r.key(16)
	if err := r.err(); err != nil {
		return out, err
	}
	zk, err := s.key(hsm.KeyTypeZMK, zmk, "10")
	if err != nil {
		return out, err
	}
	k, err := hsm.DecryptUnderZMK(zk, key)
	if err != nil {
		return out, err
	}
	scheme := hsm.SchemeNone
	if schemeLen(key[:1]) != 0 {
		scheme = hsm.KeyScheme(key[0])
	}
	c, err := s.cfg.LMK.EncryptKey(hsm.KeyTypeZPK, scheme, k)
	if err != nil {
		return out, err
	}
	return appendCheckValue(append(out, c...), k)
}

// handleBU returns a key check value. Request: key type code (2H; FF
// means the 3H type follows the key after ';'), key length flag (1N: 0
// single, 1 double, 2 triple), key. Reply: KCV (16H).
func handleBU(s *Server, r *fieldReader, out []byte) ([]byte, error) {
	code, flag := r.str(2), r.num(1)
	if flag > 2 {
		return out, codedError{"05", hsm.ErrKeyLength}
	}
	key := r.key(16 * (flag + 1))
	typ := "0" + code
	if code == "FF" {
		if !r.optional(';') {
			return out, codedError{"15", ErrInvalidInput}
		}
		typ = r.str(3)
	}
	if err := r.err(); err != nil {
		return out, err
	}
	k, err := s.key(typ, key, "10")
	if err != nil {
		return out, err
	}
	return appendCheckValue(out, k)
}

// appendCheckValue appends the 16H zero-block check value of k.
func appendCheckValue(out []byte, k hsm.Key) ([]byte, error) {
	cv, err := k.CheckValue(hsm.KCVZeroBlock)
	if err != nil {
		return out, err
	}
	return appendHexUpper(out, cv[:8]), nil
}
