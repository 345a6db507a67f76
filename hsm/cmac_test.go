package hsm

import (
	"errors"
	"testing"
)

// TestAESCMACSubkeys covers RFC 4493 §4 (NIST SP 800-38B D.1): L, K1, K2.
func TestAESCMACSubkeys(t *testing.T) {
	k := aesKey(t, "2B7E151628AED2A6ABF7158809CF4F3C")
	var l [16]byte
	k.block.Encrypt(l[:], l[:])
	wantHex(t, "L", l[:], "7DF76B0C1AB899B33E42F047B91B546F")
	k1, k2 := cmacSubkeys(k.block)
	wantHex(t, "K1", k1[:], "FBEED618357133667C85E08F7236A8DE")
	wantHex(t, "K2", k2[:], "F7DDAC306AE266CCF90BC11EE46D513B")
}

// TestAESCMACVectors covers the four RFC 4493 §4 examples (lengths 0, 16,
// 40, 64), CMAC(empty) = 917737.. from §6, and moov-io/dukpt's AES-DUKPT
// request/response CMACs from §3.
func TestAESCMACVectors(t *testing.T) {
	const m = "6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E5130C81C46A35CE411E5FBC1191A0A52EFF69F2445DF4F9B17AD2B417BE66C3710"
	msg := unhex(t, m)
	tests := []struct {
		name string
		key  string
		data []byte
		want string
	}{
		{"RFC4493 len 0", "2B7E151628AED2A6ABF7158809CF4F3C", msg[:0], "BB1D6929E95937287FA37D129B756746"},
		{"RFC4493 len 16", "2B7E151628AED2A6ABF7158809CF4F3C", msg[:16], "070A16B46B4D4144F79BDD9DD04A287C"},
		{"RFC4493 len 40", "2B7E151628AED2A6ABF7158809CF4F3C", msg[:40], "DFA66747DE9AE63030CA32611497C827"},
		{"RFC4493 len 64", "2B7E151628AED2A6ABF7158809CF4F3C", msg[:64], "51F0BEBF7E3B9D92FC49741779363CFE"},
		{"CMAC(empty) KCV", "00112233445566778899AABBCCDDEEFF", nil, "917737"},
		{"moov AES-DUKPT request", "A2DC23DE6FDE0824A2BC321E08E4B8B7", []byte("4012345678909D987"), "A2EB5C1C35809E58404E873C3C411E31"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := aesKey(t, tc.key)
			got, err := GenerateMAC(k, MACCMAC, MACPaddingNone, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			want := unhex(t, tc.want)
			wantHex(t, "CMAC", got[:len(want)], tc.want)
			if err := VerifyMAC(k, MACCMAC, MACPaddingNone, tc.data, got); err != nil {
				t.Errorf("VerifyMAC: %v", err)
			}
		})
	}
}

// TestMACErrors covers the negative cases: short or long MAC, bad key
// length for X9.19, padding not allowed, empty UnionPay input, zero key,
// oversized input.
func TestMACErrors(t *testing.T) {
	des2 := tdes(t, "0123456789ABCDEFFEDCBA9876543210")
	des1 := tdes(t, "0123456789ABCDEF")
	aes := aesKey(t, "2B7E151628AED2A6ABF7158809CF4F3C")
	data := []byte("Now is the time for all ")
	tests := []struct {
		name string
		key  Key
		alg  MACAlgorithm
		pad  MACPadding
		data []byte
		mac  []byte
		want error
	}{
		{"short MAC", des2, MACISO9797Alg3, MACPadding1, data, []byte{0xA1, 0xC7, 0x2E}, ErrMACLength},
		{"empty MAC", des2, MACISO9797Alg3, MACPadding1, data, nil, ErrMACLength},
		{"MAC longer than block", des2, MACISO9797Alg3, MACPadding1, data, make([]byte, 9), ErrMACLength},
		{"X9.19 single DES key", des1, MACISO9797Alg3, MACPadding1, data, make([]byte, 8), ErrKeyLength},
		{"X9.19 AES key", aes, MACISO9797Alg3, MACPadding1, data, make([]byte, 8), ErrKeyLength},
		{"CMAC with padding", aes, MACCMAC, MACPadding2, data, make([]byte, 8), ErrMACAlgorithm},
		{"alg1 without padding", des2, MACISO9797Alg1, MACPaddingNone, data, make([]byte, 8), ErrMACAlgorithm},
		{"unknown padding", des2, MACISO9797Alg1, MACPadding(9), data, make([]byte, 8), ErrMACAlgorithm},
		{"unknown algorithm", des2, MACAlgorithm(0), MACPadding1, data, make([]byte, 8), ErrMACAlgorithm},
		{"UnionPay empty MAB", des1, MACUnionPay, MACPaddingNone, nil, make([]byte, 8), ErrMACInput},
		{"UnionPay AES key", aes, MACUnionPay, MACPaddingNone, data, make([]byte, 8), ErrKeyAlgorithm},
		{"zero key", Key{}, MACCMAC, MACPaddingNone, data, make([]byte, 8), ErrKeyInvalid},
		{"oversized data", des2, MACISO9797Alg1, MACPadding1, make([]byte, macDataBytesMax+1), make([]byte, 8), ErrMACInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyMAC(tc.key, tc.alg, tc.pad, tc.data, tc.mac)
			if !errors.Is(err, tc.want) {
				t.Errorf("VerifyMAC = %v, want %v", err, tc.want)
			}
		})
	}
}
