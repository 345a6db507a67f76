package hsm

import (
	"crypto/des"
	"math/bits"
)

// TDES DUKPT (ANSI X9.24-1:2009), host side: the BDK and a 10-byte KSN give
// the initial key (IPEK), the transaction key, and its variant keys.

const (
	// ksnBytes is the length of a TDES DUKPT key serial number.
	ksnBytes = 10
	// ksnCounterBits is the width of the transaction counter (rightmost bits).
	ksnCounterBits = 21
	// ksnOnesMax is the most one bits a device's counter can have (X9.24-1
	// A.2: the originator skips counters with more). It also bounds the
	// derivation to ten non-reversible steps.
	ksnOnesMax = 10
)

// DUKPTVariant selects the key a TDES DUKPT transaction key is turned into.
type DUKPTVariant uint8

const (
	// DUKPTPIN is the PIN encryption key (variant 00..FF 00..FF).
	DUKPTPIN DUKPTVariant = iota + 1
	// DUKPTMACRequest is the MAC key for requests.
	DUKPTMACRequest
	// DUKPTMACResponse is the MAC key for responses.
	DUKPTMACResponse
	// DUKPTDataRequest is the data encryption key for requests (variant,
	// then the one-way function).
	DUKPTDataRequest
	// DUKPTDataResponse is the data encryption key for responses.
	DUKPTDataResponse
)

// dukptMasks are the X9.24-1 variant masks, indexed by DUKPTVariant.
var dukptMasks = [...][16]byte{
	DUKPTPIN:          {7: 0xFF, 15: 0xFF},
	DUKPTMACRequest:   {6: 0xFF, 14: 0xFF},
	DUKPTMACResponse:  {4: 0xFF, 12: 0xFF},
	DUKPTDataRequest:  {5: 0xFF, 13: 0xFF},
	DUKPTDataResponse: {3: 0xFF, 11: 0xFF},
}

// keyMaskC0 is the mask X9.24-1 applies to derive the second key half.
var keyMaskC0 = [16]byte{0xC0, 0xC0, 0xC0, 0xC0, 8: 0xC0, 0xC0, 0xC0, 0xC0}

// DUKPTIPEK derives the initial PIN encryption key (IPEK) of the device
// named by ksn (10 bytes; the counter bits are ignored) from a 16-byte BDK.
func DUKPTIPEK(bdk Key, ksn []byte) (Key, error) {
	if err := bdk.requireAlg(AlgorithmTDES); err != nil {
		return Key{}, err
	}
	if bdk.n != 16 {
		return Key{}, ErrKeyLength
	}
	if len(ksn) != ksnBytes {
		return Key{}, ErrKSN
	}
	var reg [8]byte
	copy(reg[:], ksn[:8])
	reg[7] &= 0xE0
	var masked, ipek [16]byte
	xorBytes(masked[:], bdk.bytes(), keyMaskC0[:])
	right, err := NewTDESKey(masked[:], ParityIgnore)
	if err != nil {
		return Key{}, err
	}
	bdk.block.Encrypt(ipek[:8], reg[:])
	right.block.Encrypt(ipek[8:], reg[:])
	return NewTDESKey(ipek[:], ParityIgnore)
}

// DUKPTTransactionKey derives the current transaction key (before any
// variant) for ksn from the device's IPEK. The counter must be non-zero with
// at most 10 one bits (ErrKSN).
func DUKPTTransactionKey(ipek Key, ksn []byte) (Key, error) {
	if err := ipek.requireAlg(AlgorithmTDES); err != nil {
		return Key{}, err
	}
	if ipek.n != 16 {
		return Key{}, ErrKeyLength
	}
	if len(ksn) != ksnBytes {
		return Key{}, ErrKSN
	}
	counter := uint32(ksn[7]&0x1F)<<16 | uint32(ksn[8])<<8 | uint32(ksn[9])
	if counter == 0 || bits.OnesCount32(counter) > ksnOnesMax {
		return Key{}, ErrKSN
	}
	var reg [8]byte
	copy(reg[:], ksn[2:])
	reg[5] &= 0xE0
	reg[6], reg[7] = 0, 0
	var key [16]byte
	copy(key[:], ipek.bytes())
	for bit := uint32(1) << (ksnCounterBits - 1); bit != 0; bit >>= 1 {
		if counter&bit == 0 {
			continue
		}
		reg[5] |= byte(bit >> 16)
		reg[6] |= byte(bit >> 8)
		reg[7] |= byte(bit)
		if err := nonReversibleKey(&key, &reg); err != nil {
			return Key{}, err
		}
	}
	return NewTDESKey(key[:], ParityIgnore)
}

// nonReversibleKey is the X9.24-1 non-reversible key generation process:
// it replaces key with the key for the shift register value reg.
func nonReversibleKey(key *[16]byte, reg *[8]byte) error {
	var out [16]byte
	if err := nonReversibleHalf(key, reg, out[8:]); err != nil {
		return err
	}
	xorBytes(key[:], key[:], keyMaskC0[:])
	if err := nonReversibleHalf(key, reg, out[:8]); err != nil {
		return err
	}
	*key = out
	return nil
}

// nonReversibleHalf writes DES_Kl(reg XOR Kr) XOR Kr into dst.
func nonReversibleHalf(key *[16]byte, reg *[8]byte, dst []byte) error {
	c, err := des.NewCipher(key[:8])
	if err != nil {
		return ErrKeyLength
	}
	xorBytes(dst, reg[:], key[8:])
	c.Encrypt(dst, dst)
	xorBytes(dst, dst, key[8:])
	return nil
}

// DUKPTVariantKey turns a transaction key into the key for variant v; the
// data keys also go through the one-way function (each half TDES-encrypted
// under the variant key).
func DUKPTVariantKey(txn Key, v DUKPTVariant) (Key, error) {
	if err := txn.requireAlg(AlgorithmTDES); err != nil {
		return Key{}, err
	}
	if txn.n != 16 {
		return Key{}, ErrKeyLength
	}
	if v < DUKPTPIN || v > DUKPTDataResponse {
		return Key{}, ErrDUKPTUsage
	}
	var b [16]byte
	xorBytes(b[:], txn.bytes(), dukptMasks[v][:])
	k, err := NewTDESKey(b[:], ParityIgnore)
	if err != nil || (v != DUKPTDataRequest && v != DUKPTDataResponse) {
		return k, err
	}
	k.block.Encrypt(b[:8], k.b[:8])
	k.block.Encrypt(b[8:], k.b[8:16])
	return NewTDESKey(b[:], ParityIgnore)
}

// DUKPTKey derives the variant v key for ksn straight from the BDK:
// IPEK, transaction key, variant.
func DUKPTKey(bdk Key, ksn []byte, v DUKPTVariant) (Key, error) {
	ipek, err := DUKPTIPEK(bdk, ksn)
	if err != nil {
		return Key{}, err
	}
	txn, err := DUKPTTransactionKey(ipek, ksn)
	if err != nil {
		return Key{}, err
	}
	return DUKPTVariantKey(txn, v)
}
