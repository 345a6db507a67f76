package hsm

import (
	"errors"
	"testing"
)

// FuzzDecryptPINBlock: any bytes, any format, any PAN give a PIN or an
// error, never a panic.
func FuzzDecryptPINBlock(f *testing.F) {
	f.Add(uint8(ISO0), unhex(f, "1B9C1845EB993A7A"), "4012345678909")
	f.Add(uint8(ISO4), unhex(f, "A912150391AB65A67E52883D81CE2D15"), "4111111111111111")
	f.Add(uint8(Diebold), unhex(f, "028DCC093FB0471F"), "")
	tk := tdes(f, "042666B49184CF5C68DE9628D0397B36")
	ak := aesKey(f, "AF8CB133A78F8DC2D1359F18527593FB")
	f.Fuzz(func(t *testing.T, format uint8, block []byte, pan string) {
		for _, k := range []Key{tk, ak, {}} {
			p, err := DecryptPINBlock(k, PINBlockFormat(format), block, pan)
			if err == nil && (p.Len() < 4 || p.Len() > 12) {
				t.Fatalf("PIN of length %d accepted", p.Len())
			}
			_, _ = DecodePINBlock(PINBlockFormat(format), block, pan)
		}
	})
}

// FuzzUnwrapKeyBlock: any string is a key or an error, never a panic.
func FuzzUnwrapKeyBlock(f *testing.F) {
	f.Add("B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E")
	f.Add("C0096B0TX12S0100KS1800604B120F9292800000BFB9B689CB567E66FC3FEE5AD5F52161FC6545B9D60989015D02155C")
	f.Add("D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34")
	f.Add("A0040P0TE00E0200KS0000000004PB04")
	tk := tdes(f, "DD7515F2BFC17F85CE48F3CA25CB21F6")
	ak := aesKey(f, "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6")
	f.Fuzz(func(t *testing.T, block string) {
		_, _, _ = UnwrapKeyBlock(tk, block)
		_, _, _ = UnwrapKeyBlock(ak, block)
	})
}

// FuzzLMKDecryptKey: any key type and cryptogram give a key or an error.
func FuzzLMKDecryptKey(f *testing.F) {
	f.Add("001", "U1EF828AA8F6B80EB83E19FBC373F3A85")
	f.Add("002", "0406FBB23A5214DF")
	f.Add("009", "T1EF828AA8F6B80EB83E19FBC373F3A851EF828AA8F6B80EB")
	lmk := ThalesTestLMK()
	f.Fuzz(func(t *testing.T, keyType, c string) {
		_, _ = lmk.DecryptKey(keyType, c)
		_, _, _ = SplitKeyCryptogram(c)
	})
}

// FuzzVerifyARQC: any version, PAN, PSN, data, IAD and ARQC give nil,
// ErrARQCMismatch or another error, never a panic; whatever ComputeARQC
// accepts, VerifyARQC accepts with the computed ARQC and refuses with one
// bit changed; and the result is the same with ARPC data of any size.
func FuzzVerifyARQC(f *testing.F) {
	f.Add(uint8(VisaCVN10), "1234567890123456", uint8(0x00), unhex(f, "0000000040000000000000000124800004800001241911050152BF45851800001C"), unhex(f, "06010A03A06010"), []byte{})
	f.Add(uint8(MChipCVN17), "1234567890123456", uint8(0x00), make([]byte, 33), unhex(f, "0111A00003220000000000000000000322FF"), []byte{1, 2})
	f.Add(uint8(VisaCVN18), "12345678901234567", uint8(0x45), make([]byte, 33), unhex(f, "06011203A0B800"), make([]byte, 9))
	imk := tdes(f, "0123456789ABCDEFFEDCBA9876543210")
	f.Fuzz(func(t *testing.T, cvn uint8, pan string, psn uint8, cdol, iad, prop []byte) {
		var c ARQCCheck
		c.CVN, c.PAN, c.PSN = CVN(cvn), pan, psn
		d := &c.Data
		for _, dst := range [][]byte{d.Amount[:], d.AmountOther[:], d.TermCountry[:], d.TVR[:], d.Currency[:], d.Date[:], d.UN[:], d.AIP[:], d.ATC[:]} {
			cdol = cdol[copy(dst, cdol):]
		}
		d.IAD = iad
		ac, _, err := ComputeARQC(imk, &c)
		c.ARQC = ac
		c.ARPC = &ARPCData{Proprietary: prop}
		arpc, verr := VerifyARQC(imk, &c)
		switch {
		case err != nil && !errors.Is(verr, err):
			t.Fatalf("ComputeARQC: %v, VerifyARQC: %v", err, verr)
		case err != nil:
			return
		case verr != nil && !(c.CVN == VisaCVN18 && len(prop) > 8 && errors.Is(verr, ErrEMVData)):
			t.Fatalf("the computed ARQC does not verify: %v", verr)
		case verr == nil && len(arpc) != 4 && len(arpc) != 8:
			t.Fatalf("ARPC of %d bytes", len(arpc))
		}
		c.ARQC[int(psn)%8] ^= 1 << (cvn % 8)
		if _, err := VerifyARQC(imk, &c); !errors.Is(err, ErrARQCMismatch) {
			t.Fatalf("a changed ARQC: %v", err)
		}
	})
}
