package hsm

import (
	"testing"
)

// The benchmarks use §2/§5/§9 vector keys and blocks; they do not assert.

func BenchmarkPINVerifyPVV(b *testing.B) {
	lmk := ThalesTestLMK()
	tpk, _ := lmk.DecryptKey(KeyTypeTPK, "U8463435FC4B4DAA0C49025272C29B12C")
	pvk, _ := lmk.DecryptKey(KeyTypePVK, "X367930344805B1FAD6146EF4ED7502B3")
	block := unhex(b, "028DCC093FB0471F")
	b.ReportAllocs()
	for b.Loop() {
		p, err := DecryptPINBlock(tpk, Diebold, block, "5500000253210")
		if err != nil {
			b.Fatal(err)
		}
		if err := VerifyPVV(pvk, "5500000253210", 1, p, "4402"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPINVerifyIBMOffset(b *testing.B) {
	pinKey := tdes(b, "042666B49184CF5C68DE9628D0397B36")
	m := IBM3624{PVK: tdes(b, "1C1C1C1C1C1C1C1C"), DecimalisationTable: "0123456789012345", ValidationData: "0004012345678909"}
	block := unhex(b, "1B9C1845EB993A7A")
	b.ReportAllocs()
	for b.Loop() {
		p, err := DecryptPINBlock(pinKey, ISO0, block, "4012345678909")
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Verify(p, "9252FFFFFFFF"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPINTranslate(b *testing.B) {
	src := tdes(b, "D3DCC7EA9BCB755D254620B376B3D007")
	dst := tdes(b, "C7152C20BC2C830EA7EC9E8334ABE3FE")
	block := unhex(b, "6428EB94035AF53B")
	for _, f := range []PINBlockFormat{ISO0, ISO3} {
		b.Run("ISO0-to-"+f.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := TranslatePINBlock(src, ISO0, dst, f, block, "5500000253210", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMAC200(b *testing.B) {
	data := make([]byte, 200)
	for i := range data {
		data[i] = byte(i)
	}
	cases := []struct {
		name string
		key  Key
		alg  MACAlgorithm
		pad  MACPadding
	}{
		{"X9.19", tdes(b, "0123456789ABCDEFFEDCBA9876543210"), MACISO9797Alg3, MACPadding1},
		{"AES-CMAC", aesKey(b, "2B7E151628AED2A6ABF7158809CF4F3C"), MACCMAC, MACPaddingNone},
	}
	for _, c := range cases {
		mac, _ := GenerateMAC(c.key, c.alg, c.pad, data)
		b.Run(c.name+"/generate", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := GenerateMAC(c.key, c.alg, c.pad, data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/verify", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := VerifyMAC(c.key, c.alg, c.pad, data, mac[:8]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDUKPTDerive(b *testing.B) {
	bdk := tdes(b, dukptBDK)
	ksn := unhex(b, "FFFF9876543210EFF800") // 9 counter bits set: near the worst case
	b.Run("TDES-PIN-key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DUKPTKey(bdk, ksn, DUKPTPIN); err != nil {
				b.Fatal(err)
			}
		}
	})
	aesBDKKey := aesKey(b, aesBDK)
	aesKSN := unhex(b, aesIKID+"FFFE8000") // 16 counter bits set: the worst case
	b.Run("AES-PIN-key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := AESDUKPTKey(aesBDKKey, aesKSN, DUKPTUsagePINEncryption, DUKPTKeyAES128); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSoftVerifyARQC is one ARQC verification with its ARPC, as the
// switch asks the software HSM for it: the IMK decrypted from the LMK,
// the ICC master key and session key derived, the MAC, the ARPC
// (EMV_VECTORS.md §1.3-1.5, one per vector).
func BenchmarkSoftVerifyARQC(b *testing.B) {
	s := &Soft{LMK: ThalesTestLMK()}
	for _, v := range emvVectors(b) {
		c := v.check(b)
		c.ARPC = v.arpc[0].data(b)
		ref := v.imkRef(b, s.LMK)
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.VerifyARQC(b.Context(), ref, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyARQC is the same with the IMK already clear: what the
// derivations and the MAC cost without unwrapping the key from the LMK.
func BenchmarkVerifyARQC(b *testing.B) {
	for _, v := range emvVectors(b) {
		c := v.check(b)
		c.ARPC = v.arpc[0].data(b)
		imk := tdes(b, v.imk)
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := VerifyARQC(imk, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
