package hsm

import (
	"crypto/cipher"
	"encoding/binary"
	"io"
	"strconv"
)

// WrapKeyBlock builds a TR-31 / ANSI X9.143 key block: key under kbpk with
// the clear header h. Only the key derivation binding versions are made:
// 'B' (TDES KBPK of 16 or 24 bytes) and 'D' (AES KBPK); A and C are legacy
// variant binding, which X9.143 keeps for reading only, so unwrap accepts
// them and wrap does not (ErrKeyBlockVersion).
//
// h.Length is ignored: the block's length is computed. h.Algorithm must
// name the key's own algorithm ('T' TDES, 'D' single DES, 'A' AES), so a
// block can never claim a key it does not hold. The optional blocks are
// written as given; if they leave the header off the cipher block size,
// a "PB" padding block of '0' fills it, as X9.143 requires.
//
// The padding after the key is random, from rnd (nil: crypto/rand), so
// tests can pass a fixed source. maskLen > 0 pads the key data as if the
// key were maskLen bytes long, to hide its length (X9.143 8.1); it must be
// at least the key's length.
func WrapKeyBlock(kbpk Key, h KeyBlockHeader, key Key, rnd io.Reader, maskLen int) (string, error) {
	if !key.Valid() || !kbpk.Valid() {
		return "", ErrKeyInvalid
	}
	if h.Version != 'B' && h.Version != 'D' {
		return "", ErrKeyBlockVersion
	}
	kbek, kbak, macLen, err := keyBlockKeys(kbpk, h.Version)
	if err != nil {
		return "", err
	}
	if err := h.checkForWrap(key); err != nil {
		return "", err
	}
	if maskLen == 0 {
		maskLen = key.Len()
	}
	if maskLen < key.Len() || maskLen > 64 {
		return "", ErrKeyLength
	}
	bs := kbek.block.BlockSize()
	opt, err := h.optionalText(bs)
	if err != nil {
		return "", err
	}
	dataLen := (2 + maskLen + bs - 1) / bs * bs
	total := keyBlockHeaderChars + len(opt) + 2*dataLen + 2*macLen
	if total > keyBlockCharsMax {
		return "", ErrKeyBlock
	}
	header := make([]byte, 0, keyBlockHeaderChars+len(opt))
	header = append(header, h.Version)
	header = append(header, pad4(total)...)
	header = append(header, h.Usage...)
	header = append(header, h.Algorithm, h.ModeOfUse)
	header = append(header, h.KeyVersion...)
	header = append(header, h.Exportability)
	header = append(header, pad2(len(h.OptionalBlocks)+pbCount(&h, bs))...)
	header = append(header, "00"...)
	header = append(header, opt...)

	data := make([]byte, dataLen)
	defer clear(data)
	binary.BigEndian.PutUint16(data, uint16(8*key.Len()))
	copy(data[2:], key.bytes())
	if _, err := io.ReadFull(randomSource(rnd), data[2+key.Len():]); err != nil {
		return "", ErrRandom
	}
	var mac [16]byte
	macInput := append(append(make([]byte, 0, len(header)+dataLen), header...), data...)
	cmac(kbak.block, macInput, &mac)
	clear(macInput)
	enc := make([]byte, dataLen)
	cipher.NewCBCEncrypter(kbek.block, mac[:bs]).CryptBlocks(enc, data)
	out := make([]byte, total)
	n := copy(out, header)
	encodeUpperHex(out[n:], enc)
	encodeUpperHex(out[n+2*dataLen:], mac[:macLen])
	return string(out), nil
}

// checkForWrap refuses a header that unwrap could not read back, or that
// misstates the key: every field printable and of its size, exportability
// one of E, N, S, and the algorithm matching the key.
func (h *KeyBlockHeader) checkForWrap(key Key) error {
	if len(h.Usage) != 2 || len(h.KeyVersion) != 2 || !alnum(h.Usage) || !alnum(h.KeyVersion) ||
		!alnum(string([]byte{h.ModeOfUse})) {
		return ErrKeyBlock
	}
	switch h.Exportability {
	case 'E', 'N', 'S':
	default:
		return ErrKeyBlock
	}
	switch {
	case h.Algorithm == 'A' && key.Algorithm() == AlgorithmAES,
		h.Algorithm == 'T' && key.Algorithm() == AlgorithmTDES && key.Len() > 8,
		h.Algorithm == 'D' && key.Algorithm() == AlgorithmTDES && key.Len() == 8:
	default:
		return ErrKeyAlgorithm
	}
	if len(h.OptionalBlocks)+1 > 99 {
		return ErrKeyBlock
	}
	return nil
}

// optionalText encodes the optional blocks, adding the PB block when the
// header would not end on a cipher block boundary. A PB block given by
// the caller must itself end the header on a boundary.
func (h *KeyBlockHeader) optionalText(bs int) ([]byte, error) {
	var out []byte
	for _, b := range h.OptionalBlocks {
		if len(b.ID) != 2 || !alnum(b.ID) || !printable(b.Data) || b.ID == "PB" && pbCount(h, bs) > 0 {
			return nil, ErrKeyBlock
		}
		out = append(out, b.ID...)
		switch size := 4 + len(b.Data); {
		case size <= 0xFF:
			out = append(out, hex2(size)...)
		case size+6 <= 0xFFFF:
			out = append(out, "0004"...)
			out = append(out, hex4(size+6)...)
		default:
			return nil, ErrKeyBlock
		}
		out = append(out, b.Data...)
	}
	if pbCount(h, bs) == 0 {
		return out, nil
	}
	fill := (bs - (keyBlockHeaderChars+len(out)+4)%bs) % bs
	out = append(out, "PB"...)
	out = append(out, hex2(4+fill)...)
	for range fill {
		out = append(out, '0')
	}
	return out, nil
}

// pbCount is 1 when the header needs a PB block added: it has optional
// blocks, and their length is not a multiple of the cipher block size.
func pbCount(h *KeyBlockHeader, bs int) int {
	if len(h.OptionalBlocks) == 0 {
		return 0
	}
	n := keyBlockHeaderChars
	for _, b := range h.OptionalBlocks {
		n += 4 + len(b.Data)
		if 4+len(b.Data) > 0xFF {
			n += 6
		}
	}
	if n%bs == 0 {
		return 0
	}
	return 1
}

func pad2(n int) string { return leftPad(strconv.Itoa(n), 2) }
func pad4(n int) string { return leftPad(strconv.Itoa(n), 4) }
func hex2(n int) string { return leftPad(upperHex([]byte{byte(n)}), 2) }
func hex4(n int) string { return upperHex([]byte{byte(n >> 8), byte(n)}) }

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// alnum reports whether s is only ASCII letters and digits.
func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return len(s) > 0
}

// printable reports whether s is only printable ASCII.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}
