package hsm

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// MACAlgorithm selects a MAC algorithm for GenerateMAC and VerifyMAC.
type MACAlgorithm uint8

const (
	// MACISO9797Alg1 is ISO 9797-1 MAC algorithm 1, the CBC-MAC (ANSI X9.9
	// and FIPS 113 with a single DES key). Any DES, TDES or AES key.
	MACISO9797Alg1 MACAlgorithm = iota + 1
	// MACISO9797Alg3 is ISO 9797-1 MAC algorithm 3, the ANSI X9.19 retail
	// MAC: DES-CBC under K1, then decrypt under K2 and encrypt under K1 on
	// the last block. A 16-byte TDES key K1||K2.
	MACISO9797Alg3
	// MACCMAC is CMAC (RFC 4493 for AES, SP 800-38B for TDES). Padding must
	// be MACPaddingNone.
	MACCMAC
	// MACUnionPay is the China UnionPay POS terminal MAC ("ECB 算法") under
	// a DES or double-length TDES MAK. The result is 8 ASCII hex characters.
	// Padding must be MACPaddingNone (the algorithm zero-pads itself).
	MACUnionPay
)

// MACMethods are the MAC algorithms by the names the configuration and
// the command line use.
var MACMethods = map[string]MACAlgorithm{
	"x919": MACISO9797Alg3, "alg1": MACISO9797Alg1, "cmac": MACCMAC, "cup": MACUnionPay,
}

// MACPaddingFor is the padding an algorithm is used with on a link: ISO
// 9797-1 method 1 for the CBC MACs; CMAC and the UnionPay MAC pad
// themselves.
func MACPaddingFor(a MACAlgorithm) MACPadding {
	if a == MACCMAC || a == MACUnionPay {
		return MACPaddingNone
	}
	return MACPadding1
}

// MACPadding is an ISO 9797-1 padding method.
type MACPadding uint8

const (
	// MACPaddingNone is for algorithms that define their own padding.
	MACPaddingNone MACPadding = iota
	// MACPadding1 appends zero bytes to a whole block (one zero block if the
	// data is empty).
	MACPadding1
	// MACPadding2 appends 0x80 then zero bytes (always at least one byte).
	MACPadding2
	// MACPadding3 prefixes a block holding the data length in bits, then pads
	// with zero bytes as method 1 (no block is added for empty data).
	MACPadding3
)

const (
	// macDataBytesMax bounds the data one MAC covers: the largest ISO 8583
	// message a 2-byte length header can frame, with room for a TR-31 block.
	macDataBytesMax = 1 << 16
	// macBytesMin is the shortest MAC VerifyMAC accepts: ISO 9797-1 and the
	// card networks use at least 32 bits.
	macBytesMin = 4
)

// GenerateMAC returns the full MAC (one cipher block; 8 ASCII characters
// for MACUnionPay). Callers keep the leftmost bytes their link uses.
func GenerateMAC(k Key, alg MACAlgorithm, p MACPadding, data []byte) ([]byte, error) {
	var out [16]byte
	n, err := generateMAC(k, alg, p, data, &out)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), out[:n]...), nil
}

// VerifyMAC recomputes the MAC over data and compares its leftmost
// len(mac) bytes with mac in constant time. mac must be at least 4 bytes
// and at most the full MAC (ErrMACLength); a mismatch is ErrMACMismatch.
func VerifyMAC(k Key, alg MACAlgorithm, p MACPadding, data, mac []byte) error {
	var out [16]byte
	n, err := generateMAC(k, alg, p, data, &out)
	if err != nil {
		return err
	}
	if len(mac) < macBytesMin || len(mac) > n {
		return ErrMACLength
	}
	if subtle.ConstantTimeCompare(out[:len(mac)], mac) != 1 {
		return ErrMACMismatch
	}
	return nil
}

// generateMAC checks the arguments and writes the MAC into out.
func generateMAC(k Key, alg MACAlgorithm, p MACPadding, data []byte, out *[16]byte) (int, error) {
	if !k.Valid() {
		return 0, ErrKeyInvalid
	}
	if len(data) > macDataBytesMax {
		return 0, ErrMACInput
	}
	cbc := p >= MACPadding1 && p <= MACPadding3
	switch {
	case alg == MACISO9797Alg1 && cbc:
		cbcMAC(k.block, k.block, data, p, out)
		return k.block.BlockSize(), nil
	case alg == MACISO9797Alg3 && cbc:
		if k.alg != AlgorithmTDES || k.n != 16 {
			return 0, ErrKeyLength
		}
		cbcMAC(k.left, k.block, data, p, out)
		return 8, nil
	case alg == MACCMAC && p == MACPaddingNone:
		cmac(k.block, data, out)
		return k.block.BlockSize(), nil
	case alg == MACUnionPay && p == MACPaddingNone:
		if k.alg != AlgorithmTDES || k.n == 24 {
			return 0, ErrKeyAlgorithm
		}
		if len(data) == 0 {
			return 0, ErrMACInput
		}
		unionPayMAC(k.block, data, out)
		return 8, nil
	}
	return 0, ErrMACAlgorithm
}

// cbcMAC computes a CBC-MAC with a zero IV over data padded by p, using
// first for every block but the last and final for the last (the same
// cipher for algorithm 1; DES(K1) then TDES(K1,K2,K1) for algorithm 3,
// since E_K1(D_K2(E_K1(x))) is 2-key TDES). It allocates nothing.
func cbcMAC(first, final cipher.Block, data []byte, p MACPadding, x *[16]byte) {
	bs := first.BlockSize()
	*x = [16]byte{}
	full := len(data) / bs
	tail := len(data)%bs != 0 || p == MACPadding2 || (p == MACPadding1 && len(data) == 0)
	total := full
	if tail {
		total++
	}
	i := 0
	if p == MACPadding3 {
		total++
		var lb [16]byte
		binary.BigEndian.PutUint64(lb[bs-8:bs], uint64(len(data))*8)
		macStep(first, final, x[:bs], lb[:bs], i == total-1)
		i++
	}
	for j := 0; j < full; j++ {
		macStep(first, final, x[:bs], data[j*bs:(j+1)*bs], i == total-1)
		i++
	}
	if tail {
		var last [16]byte
		rem := copy(last[:bs], data[full*bs:])
		if p == MACPadding2 {
			last[rem] = 0x80
		}
		macStep(first, final, x[:bs], last[:bs], true)
	}
}

// macStep XORs blk into the chaining value x and encrypts it.
func macStep(first, final cipher.Block, x, blk []byte, last bool) {
	xorBytes(x, x, blk)
	if last {
		final.Encrypt(x, x)
		return
	}
	first.Encrypt(x, x)
}

// unionPayMAC is the CUP POS MAC: XOR the zero-padded 8-byte blocks, expand
// to 16 hex characters, E(first 8) XOR last 8, E again, and keep the first 8
// hex characters of the result (written to out[:8]).
func unionPayMAC(b cipher.Block, data []byte, out *[16]byte) {
	var x [8]byte
	for i := 0; i < len(data); i += 8 {
		end := min(i+8, len(data))
		for j := i; j < end; j++ {
			x[j-i] ^= data[j]
		}
	}
	var h [16]byte
	encodeUpperHex(h[:], x[:])
	var e [8]byte
	b.Encrypt(e[:], h[:8])
	xorBytes(e[:], e[:], h[8:])
	b.Encrypt(e[:], e[:])
	encodeUpperHex(out[:], e[:])
}
