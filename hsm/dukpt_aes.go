package hsm

import (
	"encoding/binary"
	"math/bits"
)

// AES DUKPT (ANSI X9.24-3:2017), host side: an AES BDK and a 12-byte KSN
// (8-byte initial key ID || 32-bit counter) give the initial key, the
// transaction derivation key, and working keys by usage.

const (
	// aesKSNBytes is the length of an AES DUKPT KSN.
	aesKSNBytes = 12
	// aesIKIDBytes is the length of the initial key ID (BDK ID || derivation ID).
	aesIKIDBytes = 8
	// aesCounterOnesMax is the most one bits a device counter has
	// (X9.24-3 MAX_WORK); it bounds the derivation to 16 steps.
	aesCounterOnesMax = 16
)

// DUKPTUsage is an X9.24-3 key usage indicator for working keys.
type DUKPTUsage uint16

// X9.24-3 key usage indicators.
const (
	DUKPTUsageKeyEncryption DUKPTUsage = 0x0002
	DUKPTUsagePINEncryption DUKPTUsage = 0x1000
	DUKPTUsageMACGenerate   DUKPTUsage = 0x2000
	DUKPTUsageMACVerify     DUKPTUsage = 0x2001
	DUKPTUsageMACBoth       DUKPTUsage = 0x2002
	DUKPTUsageDataEncrypt   DUKPTUsage = 0x3000
	DUKPTUsageDataDecrypt   DUKPTUsage = 0x3001
	DUKPTUsageDataBoth      DUKPTUsage = 0x3002
	// usageDerivation and usageInitial are for intermediate and initial keys.
	usageDerivation DUKPTUsage = 0x8000
	usageInitial    DUKPTUsage = 0x8001
)

// DUKPTKeyType is the algorithm and length of an AES DUKPT derived key.
type DUKPTKeyType uint8

// X9.24-3 derived key types (algorithm indicators 0000-0004).
const (
	DUKPTKeyTDES2 DUKPTKeyType = iota + 1
	DUKPTKeyTDES3
	DUKPTKeyAES128
	DUKPTKeyAES192
	DUKPTKeyAES256
)

// indicator returns the algorithm indicator and length in bits.
func (t DUKPTKeyType) indicator() (alg uint16, bitLen int, ok bool) {
	switch t {
	case DUKPTKeyTDES2:
		return 0, 128, true
	case DUKPTKeyTDES3:
		return 1, 192, true
	case DUKPTKeyAES128:
		return 2, 128, true
	case DUKPTKeyAES192:
		return 3, 192, true
	case DUKPTKeyAES256:
		return 4, 256, true
	}
	return 0, 0, false
}

// aesKeyType returns the derived key type matching an AES key's length.
func aesKeyType(k Key) DUKPTKeyType {
	return DUKPTKeyAES128 + DUKPTKeyType(k.n/8-2)
}

// AESDUKPTInitialKey derives a device's initial key from an AES BDK and
// its 8-byte initial key ID.
func AESDUKPTInitialKey(bdk Key, ikid []byte) (Key, error) {
	if err := bdk.requireAlg(AlgorithmAES); err != nil {
		return Key{}, err
	}
	if len(ikid) != aesIKIDBytes {
		return Key{}, ErrKSN
	}
	var data [16]byte
	setDerivationHeader(&data, usageInitial, aesKeyType(bdk))
	copy(data[8:], ikid)
	return aesDerive(bdk, &data, aesKeyType(bdk))
}

// AESDUKPTTransactionKey derives the transaction derivation key for a
// 12-byte KSN from the device's initial key. The counter must be non-zero
// with at most 16 one bits (ErrKSN).
func AESDUKPTTransactionKey(initial Key, ksn []byte) (Key, error) {
	if err := initial.requireAlg(AlgorithmAES); err != nil {
		return Key{}, err
	}
	counter, err := aesKSNCounter(ksn)
	if err != nil {
		return Key{}, err
	}
	var data [16]byte
	setDerivationHeader(&data, usageDerivation, aesKeyType(initial))
	copy(data[8:12], ksn[4:8])
	key := initial
	var working uint32
	for bit := uint32(1) << 31; bit != 0; bit >>= 1 {
		if counter&bit == 0 {
			continue
		}
		working |= bit
		binary.BigEndian.PutUint32(data[12:], working)
		if key, err = aesDerive(key, &data, aesKeyType(initial)); err != nil {
			return Key{}, err
		}
	}
	return key, nil
}

// AESDUKPTWorkingKey derives the working key of the given usage and type
// from a transaction derivation key. The working key may not be longer
// than the derivation key (ErrDUKPTUsage).
func AESDUKPTWorkingKey(txn Key, ksn []byte, usage DUKPTUsage, t DUKPTKeyType) (Key, error) {
	if err := txn.requireAlg(AlgorithmAES); err != nil {
		return Key{}, err
	}
	if _, err := aesKSNCounter(ksn); err != nil {
		return Key{}, err
	}
	_, bitLen, ok := t.indicator()
	if !ok || bitLen > int(txn.n)*8 || !knownUsage(usage) {
		return Key{}, ErrDUKPTUsage
	}
	var data [16]byte
	setDerivationHeader(&data, usage, t)
	copy(data[8:], ksn[4:12])
	return aesDerive(txn, &data, t)
}

// AESDUKPTKey derives a working key for ksn straight from the BDK.
func AESDUKPTKey(bdk Key, ksn []byte, usage DUKPTUsage, t DUKPTKeyType) (Key, error) {
	if len(ksn) != aesKSNBytes {
		return Key{}, ErrKSN
	}
	initial, err := AESDUKPTInitialKey(bdk, ksn[:aesIKIDBytes])
	if err != nil {
		return Key{}, err
	}
	txn, err := AESDUKPTTransactionKey(initial, ksn)
	if err != nil {
		return Key{}, err
	}
	return AESDUKPTWorkingKey(txn, ksn, usage, t)
}

// knownUsage reports whether u is a working-key usage.
func knownUsage(u DUKPTUsage) bool {
	switch u {
	case DUKPTUsageKeyEncryption, DUKPTUsagePINEncryption, DUKPTUsageMACGenerate,
		DUKPTUsageMACVerify, DUKPTUsageMACBoth, DUKPTUsageDataEncrypt,
		DUKPTUsageDataDecrypt, DUKPTUsageDataBoth:
		return true
	}
	return false
}

// aesKSNCounter checks a 12-byte KSN and returns its counter.
func aesKSNCounter(ksn []byte) (uint32, error) {
	if len(ksn) != aesKSNBytes {
		return 0, ErrKSN
	}
	c := binary.BigEndian.Uint32(ksn[8:])
	if c == 0 || bits.OnesCount32(c) > aesCounterOnesMax {
		return 0, ErrKSN
	}
	return c, nil
}

// setDerivationHeader writes version 01, block counter 01, usage,
// algorithm and length into data[:8].
func setDerivationHeader(data *[16]byte, usage DUKPTUsage, t DUKPTKeyType) {
	alg, bitLen, _ := t.indicator()
	data[0], data[1] = 0x01, 0x01
	binary.BigEndian.PutUint16(data[2:], uint16(usage))
	binary.BigEndian.PutUint16(data[4:], alg)
	binary.BigEndian.PutUint16(data[6:], uint16(bitLen))
}

// aesDerive is the X9.24-3 derivation: AES-ECB of the derivation data under
// k, once per 128 bits of output with the block counter 1, 2.
func aesDerive(k Key, data *[16]byte, t DUKPTKeyType) (Key, error) {
	_, bitLen, ok := t.indicator()
	if !ok {
		return Key{}, ErrDUKPTUsage
	}
	var out [32]byte
	d := *data
	for i := 0; i*128 < bitLen; i++ {
		d[1] = byte(i + 1)
		k.block.Encrypt(out[16*i:16*i+16], d[:])
	}
	if t == DUKPTKeyTDES2 || t == DUKPTKeyTDES3 {
		return NewTDESKey(out[:bitLen/8], ParityIgnore)
	}
	return NewAESKey(out[:bitLen/8])
}
