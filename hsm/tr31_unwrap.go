package hsm

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// UnwrapKeyBlock authenticates and decrypts a TR-31 key block under the key
// block protection key and returns the clear key and its header.
// Versions A and C (TDES, variant binding), B (TDES, CMAC-derived keys) and
// D (AES, CMAC-derived keys) are supported. The MAC is checked in constant
// time before anything decrypted is used (ErrKeyBlockMAC).
func UnwrapKeyBlock(kbpk Key, block string) (Key, KeyBlockHeader, error) {
	h, err := ParseKeyBlockHeader(block)
	if err != nil {
		return Key{}, KeyBlockHeader{}, err
	}
	kbek, kbak, macLen, err := keyBlockKeys(kbpk, h.Version)
	if err != nil {
		return Key{}, KeyBlockHeader{}, err
	}
	bs := kbek.block.BlockSize()
	body := block[len(h.raw):]
	encChars := len(body) - 2*macLen
	if encChars < 2*2*bs || encChars%(2*bs) != 0 {
		return Key{}, KeyBlockHeader{}, ErrKeyBlock
	}
	var macBuf [16]byte
	enc := make([]byte, encChars/2)
	if _, err := decodeHexInto(enc, body[:encChars]); err != nil {
		return Key{}, KeyBlockHeader{}, ErrKeyBlock
	}
	mac, err := decodeHexInto(macBuf[:], body[encChars:])
	if err != nil {
		return Key{}, KeyBlockHeader{}, ErrKeyBlock
	}
	payload, err := openPayload(h, kbek, kbak, enc, mac)
	if err != nil {
		return Key{}, KeyBlockHeader{}, err
	}
	k, err := payloadKey(h.Algorithm, payload)
	clear(payload)
	return k, h, err
}

// keyBlockKeys derives the encryption and MAC keys for a version and
// returns the MAC length in bytes.
func keyBlockKeys(kbpk Key, version byte) (kbek, kbak Key, macLen int, err error) {
	switch version {
	case 'A', 'C':
		if err = kbpk.requireAlg(AlgorithmTDES); err != nil || kbpk.n == 8 {
			return Key{}, Key{}, 0, ErrKeyBlockVersion
		}
		kbek, err = variantKey(kbpk, 0x45)
		if err == nil {
			kbak, err = variantKey(kbpk, 0x4D)
		}
		return kbek, kbak, 4, err
	case 'B', 'D':
		alg, macLen := AlgorithmTDES, 8
		if version == 'D' {
			alg, macLen = AlgorithmAES, 16
		}
		if err = kbpk.requireAlg(alg); err != nil || kbpk.n == 8 {
			return Key{}, Key{}, 0, ErrKeyBlockVersion
		}
		kbek, err = cmacDerive(kbpk, 0x0000)
		if err == nil {
			kbak, err = cmacDerive(kbpk, 0x0001)
		}
		return kbek, kbak, macLen, err
	}
	return Key{}, Key{}, 0, ErrKeyBlockVersion
}

// variantKey XORs every byte of a TDES key with v (versions A and C).
func variantKey(k Key, v byte) (Key, error) {
	var b [24]byte
	for i, c := range k.bytes() {
		b[i] = c ^ v
	}
	return NewTDESKey(b[:k.n], ParityIgnore)
}

// cmacDerive is the TR-31 B/D key derivation: CMAC under the KBPK of
// counter | usage | 00 | algorithm | length, once per output block.
func cmacDerive(kbpk Key, usage uint16) (Key, error) {
	alg, bitLen := keyBlockAlgorithm(kbpk)
	var data [8]byte
	binary.BigEndian.PutUint16(data[1:], usage)
	binary.BigEndian.PutUint16(data[4:], alg)
	binary.BigEndian.PutUint16(data[6:], uint16(bitLen))
	var out [48]byte
	bs := kbpk.block.BlockSize()
	var m [16]byte
	for i := 0; i*bs*8 < bitLen; i++ {
		data[0] = byte(i + 1)
		cmac(kbpk.block, data[:], &m)
		copy(out[i*bs:], m[:bs])
	}
	if kbpk.alg == AlgorithmAES {
		return NewAESKey(out[:bitLen/8])
	}
	return NewTDESKey(out[:bitLen/8], ParityIgnore)
}

// keyBlockAlgorithm returns the TR-31 derivation algorithm code and length.
func keyBlockAlgorithm(k Key) (uint16, int) {
	switch {
	case k.alg == AlgorithmTDES && k.n == 16:
		return 0x0000, 128
	case k.alg == AlgorithmTDES:
		return 0x0001, 192
	case k.n == 16:
		return 0x0002, 128
	case k.n == 24:
		return 0x0003, 192
	}
	return 0x0004, 256
}

// openPayload verifies the MAC and returns the decrypted payload. enc is
// decrypted in place.
func openPayload(h KeyBlockHeader, kbek, kbak Key, enc, mac []byte) ([]byte, error) {
	var want [16]byte
	bs := kbek.block.BlockSize()
	if h.Version == 'A' || h.Version == 'C' {
		data := append([]byte(h.raw), enc...)
		cbcMAC(kbak.block, kbak.block, data, MACPadding1, &want)
		if subtle.ConstantTimeCompare(want[:len(mac)], mac) != 1 {
			return nil, ErrKeyBlockMAC
		}
		cipher.NewCBCDecrypter(kbek.block, []byte(h.raw[:bs])).CryptBlocks(enc, enc)
		return enc, nil
	}
	cipher.NewCBCDecrypter(kbek.block, mac).CryptBlocks(enc, enc)
	data := append([]byte(h.raw), enc...)
	cmac(kbak.block, data, &want)
	clear(data)
	if subtle.ConstantTimeCompare(want[:len(mac)], mac) != 1 {
		clear(enc)
		return nil, ErrKeyBlockMAC
	}
	return enc, nil
}

// payloadKey reads the 2-byte bit length and builds the key the header's
// algorithm names ('T' or 'D' TDES/DES, 'A' AES).
func payloadKey(alg byte, payload []byte) (Key, error) {
	bitLen := int(binary.BigEndian.Uint16(payload))
	n := bitLen / 8
	if bitLen%8 != 0 || n > len(payload)-2 {
		return Key{}, ErrKeyBlock
	}
	key := payload[2 : 2+n]
	switch alg {
	case 'T', 'D':
		return NewTDESKey(key, ParityIgnore)
	case 'A':
		return NewAESKey(key)
	}
	return Key{}, ErrKeyBlock
}
