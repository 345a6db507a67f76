package hsm

import "crypto/cipher"

// cmacSubkeys returns the CMAC subkeys K1 and K2 of NIST SP 800-38B for a
// 64-bit (TDES, Rb = 0x1B) or 128-bit (AES, Rb = 0x87) block cipher.
func cmacSubkeys(b cipher.Block) (k1, k2 [16]byte) {
	bs := b.BlockSize()
	var l [16]byte
	b.Encrypt(l[:bs], l[:bs])
	rb := byte(0x87)
	if bs == 8 {
		rb = 0x1B
	}
	doubleBlock(k1[:bs], l[:bs], rb)
	doubleBlock(k2[:bs], k1[:bs], rb)
	return k1, k2
}

// doubleBlock sets dst = src << 1, XOR rb if the top bit of src was set.
func doubleBlock(dst, src []byte, rb byte) {
	carry := src[0] >> 7
	for i := 0; i < len(src)-1; i++ {
		dst[i] = src[i]<<1 | src[i+1]>>7
	}
	dst[len(src)-1] = src[len(src)-1] << 1
	if carry == 1 {
		dst[len(src)-1] ^= rb
	}
}

// cmac writes the CMAC (RFC 4493, NIST SP 800-38B) of data under b into
// out[:b.BlockSize()]. It allocates nothing.
func cmac(b cipher.Block, data []byte, out *[16]byte) {
	bs := b.BlockSize()
	k1, k2 := cmacSubkeys(b)
	var x [16]byte
	lastStart := 0
	if len(data) > 0 {
		lastStart = (len(data) - 1) / bs * bs
	}
	for i := 0; i < lastStart; i += bs {
		xorBytes(x[:bs], x[:bs], data[i:i+bs])
		b.Encrypt(x[:bs], x[:bs])
	}
	var m [16]byte
	rem := data[lastStart:]
	copy(m[:bs], rem)
	if len(rem) == bs {
		xorBytes(m[:bs], m[:bs], k1[:bs])
	} else {
		m[len(rem)] = 0x80
		xorBytes(m[:bs], m[:bs], k2[:bs])
	}
	xorBytes(x[:bs], x[:bs], m[:bs])
	b.Encrypt(out[:bs], x[:bs])
}
