package payshield

import (
	"crypto/subtle"
	"strconv"

	"github.com/cardswitch/cardswitch/hsm"
)

// kqRequest is a parsed KQ request (layout in client_emv.go).
type kqRequest struct {
	mode, scheme byte
	key          string
	y            [8]byte
	atc          [2]byte
	un           [4]byte
	data         []byte
	arqc         [8]byte
	arc          [2]byte
}

// readKQ reads KQ's fields: error 04 for a mode other than 0-2, 05 for a
// scheme other than 0-1, 81 for no transaction data, 80 for a length that
// is not two hex digits or runs past the message, 15 for anything else
// malformed, the delimiter missing or bytes left over.
func readKQ(r *fieldReader) (kqRequest, error) {
	var q kqRequest
	flags := r.take(2) // mode, scheme ID
	if r.bad {
		return q, r.err()
	}
	q.mode, q.scheme = flags[0], flags[1]
	if q.mode < '0' || q.mode > '2' {
		return q, codedError{"04", ErrHSM}
	}
	if q.scheme != '0' && q.scheme != '1' {
		return q, codedError{"05", hsm.ErrCVN}
	}
	q.key = r.key(32)
	copy(q.y[:], r.take(8))
	copy(q.atc[:], r.take(2))
	copy(q.un[:], r.take(4))
	if q.mode != '2' {
		n, err := strconv.ParseUint(r.str(2), 16, 8)
		switch {
		case r.bad:
			return q, r.err()
		case err != nil:
			return q, codedError{"80", hsm.ErrEMVData}
		case n == 0:
			return q, codedError{"81", hsm.ErrEMVData}
		}
		q.data = r.take(int(n))
		if r.bad {
			return q, codedError{"80", hsm.ErrEMVData}
		}
		if !r.optional(';') {
			return q, codedError{"15", ErrInvalidInput}
		}
	}
	copy(q.arqc[:], r.take(8))
	if q.mode != '0' {
		copy(q.arc[:], r.take(2))
	}
	if len(r.b) != 0 {
		r.bad = true
	}
	return q, r.err()
}

// handleKQ verifies an ARQC and/or generates an ARPC. Reply: the ARPC (8B
// raw) for modes 1 and 2; error 01 when the ARQC does not verify.
func handleKQ(s *Server, r *fieldReader, out []byte) ([]byte, error) {
	q, err := readKQ(r)
	if err != nil {
		return out, err
	}
	imk, err := s.key(hsm.KeyTypeMKAC, q.key, "10")
	if err != nil {
		return out, err
	}
	mk, err := hsm.ICCMasterKeyFromInput(imk, q.y)
	if err != nil {
		return out, codedError{"15", err}
	}
	if q.mode != '2' {
		sk := mk // scheme 0: the ICC master key is the AC key
		if q.scheme == '1' {
			if sk, err = hsm.EMVSessionKey(mk, hsm.SessionKeyInputMastercard(q.atc, q.un)); err != nil {
				return out, codedError{"15", err}
			}
		}
		ac, err := hsm.ApplicationCryptogram(sk, hsm.MACPadding1, q.data) // zeros, only to a whole block
		if err != nil {
			return out, codedError{"15", err}
		}
		if subtle.ConstantTimeCompare(ac[:], q.arqc[:]) != 1 {
			return out, codedError{"01", hsm.ErrARQCMismatch}
		}
	}
	if q.mode == '0' {
		return out, nil
	}
	arpc, err := hsm.ARPCMethod1(mk, q.arqc, q.arc)
	if err != nil {
		return out, codedError{"15", err}
	}
	return append(out, arpc[:]...), nil
}
