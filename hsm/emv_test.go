package hsm

import (
	"errors"
	"strings"
	"testing"
)

// EMV cryptogram vectors: every row of EMV_VECTORS.md §1.3-1.6 (the shared
// vectors file, part 2) that a supported version covers. Each names its
// source as that file does. Not used, as the file says: jPOS's method-2
// values for VSDC/MCHIP (701E5370, C5868248, 4A344A05, 24E13D5D), which sit
// inside assertThrows blocks and are never checked, and ThalesSim's TestKQ
// request (its MK-AC is not a test-LMK key and its ARQC verifies under no
// standard method).

// emvVector is one row of the CVN tables, every intermediate value included.
type emvVector struct {
	name, source string
	cvn          CVN
	imk          string
	pan          string
	psn          byte
	y            string // the ICC master key derivation block
	mk, mkKCV    string
	skIn         string // the first TDES input of the session key ("" for CVN 10)
	sk, skKCV    string
	data         EMVData
	iad          string
	macInput     string
	arqc         string
	arpc         []arpcCase
}

type arpcCase struct {
	arc, csu, prop string // method 1: arc; method 2: csu and prop
	want           string
}

// emvData builds EMVData from the hex of 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36.
func emvData(t testing.TB, amount, other, country, tvr, currency, date, typ, un, aip, atc string) EMVData {
	t.Helper()
	var d EMVData
	for _, f := range []struct {
		dst []byte
		hex string
	}{
		{d.Amount[:], amount}, {d.AmountOther[:], other}, {d.TermCountry[:], country}, {d.TVR[:], tvr},
		{d.Currency[:], currency}, {d.Date[:], date}, {d.UN[:], un}, {d.AIP[:], aip}, {d.ATC[:], atc},
	} {
		b := unhex(t, f.hex)
		if len(b) != len(f.dst) {
			t.Fatalf("data element %s: %d bytes, want %d", f.hex, len(b), len(f.dst))
		}
		copy(f.dst, b)
	}
	d.TxnType = unhex(t, typ)[0]
	return d
}

const (
	imk0123 = "0123456789ABCDEFFEDCBA9876543210"
	imk1334 = "13345779133457791334577913345779"
	// imk1334LMK is imk1334 under the Thales test LMK, key type 109 (§1.3 V10-2 and §4.1).
	imk1334LMK = "U0D39A43C864D1B40F33998B80BB02C95"
)

func emvVectors(t testing.TB) []emvVector {
	v101 := emvData(t, "000000004000", "000000000000", "0124", "8000048000", "0124", "191105", "01", "52BF4585", "1800", "001C")
	v103 := emvData(t, "000000000100", "000000000000", "0840", "0000000000", "0840", "181231", "01", "ABCDEF10", "1800", "0002")
	v182 := emvData(t, "000000009999", "000000000000", "0840", "8000048000", "0840", "991231", "01", "52BF4585", "1800", "0FFF")
	v183 := v103
	v183.ATC = [2]byte{0x00, 0x01}
	m161 := emvData(t, "000000009999", "000000000000", "0124", "8000000000", "0124", "209906", "00", "ABCDEF12", "1800", "001C")
	m162 := emvData(t, "000000010000", "000000001000", "0840", "0000001080", "0840", "980704", "00", "11111111", "5800", "3456")
	return []emvVector{
		{
			name: "V10-1", source: "pyemv tests/test_cvn_hsm.py::test_visa_cvn10", cvn: VisaCVN10,
			imk: imk0123, pan: "1234567890123456", psn: 0x00, y: "3456789012345600",
			mk: "154F349D8585CB7F6B0798E9839B10C1", mkKCV: "BAB02F", sk: "154F349D8585CB7F6B0798E9839B10C1", skKCV: "BAB02F",
			data: v101, iad: "06010A03A06010",
			macInput: "0000000040000000000000000124800004800001241911050152BF45851800001C03A06010",
			arqc:     "29CCA15AE665FA2E", arpc: []arpcCase{{arc: "3030", want: "28993816AFAE4AEB"}},
		},
		{
			name: "V10-3 (constructed)", source: "EMV_VECTORS.md V10-3: data VSDC IIG H.1 Example 1 via jPOS CVN10DataBuilderTest, keys chosen there",
			cvn: VisaCVN10, imk: imk0123, pan: "4761739001010010", psn: 0x01, y: "6173900101001001",
			mk: "2F02C8B0E9CBC7B05B5167F7A1CDE6E5", mkKCV: "F23EFA", sk: "2F02C8B0E9CBC7B05B5167F7A1CDE6E5", skKCV: "F23EFA",
			data: v103, iad: "06010A03000000",
			macInput: "00000000010000000000000008400000000000084018123101ABCDEF101800000203000000",
			arqc:     "082044A7C7262817", arpc: []arpcCase{{arc: "3030", want: "49FF200AD0E79F49"}, {arc: "3035", want: "7FF8E5460C83A1C4"}},
		},
		{
			name: "V18-1", source: "pyemv tests/test_cvn_hsm.py::test_visa_cvn18", cvn: VisaCVN18,
			imk: imk0123, pan: "1234567890123456", psn: 0x00, y: "3456789012345600",
			mk: "154F349D8585CB7F6B0798E9839B10C1", mkKCV: "BAB02F",
			skIn: "001CF00000000000", sk: "436B942AD637E08564B532B0EC97CB26", skKCV: "22C810",
			data: v101, iad: "06011203A0B800",
			macInput: "0000000040000000000000000124800004800001241911050152BF45851800001C06011203A0B800",
			arqc:     "7A788EA6B8A3E733", arpc: []arpcCase{{csu: "00000000", want: "9AF514C1"}},
		},
		{
			name: "V18-2", source: "pyemv pyemv/cvn.py module docstring", cvn: VisaCVN18,
			imk: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pan: "1234567890123456", psn: 0x00, y: "3456789012345600",
			mk: "2A92983429409197E59194151398C22C", mkKCV: "4200A0",
			skIn: "0FFFF00000000000", sk: "02B04654322589DF5B6BF4C8135BD326", skKCV: "346FA0",
			data: v182, iad: "06011203A0B800",
			macInput: "0000000099990000000000000840800004800008409912310152BF458518000FFF06011203A0B800",
			arqc:     "769577B5ABE9FE62", arpc: []arpcCase{{csu: "00000000", want: "76503F48"}},
		},
		{
			name: "V18-3 (constructed)", source: "EMV_VECTORS.md V18-3: data VSDC IIG H.1 Example 1 CVN 18 via jPOS CVN18DataBuilderTest",
			cvn: VisaCVN18, imk: imk0123, pan: "4761739001010010", psn: 0x01, y: "6173900101001001",
			mk: "2F02C8B0E9CBC7B05B5167F7A1CDE6E5", mkKCV: "F23EFA",
			skIn: "0001F00000000000", sk: "DC43A16846233E20CB1ACD7A0D0BC485", skKCV: "24749C",
			data: v183, iad: "06011203000000",
			macInput: "00000000010000000000000008400000000000084018123101ABCDEF101800000106011203000000",
			arqc:     "0D69A8D61C867CF4",
			arpc:     []arpcCase{{csu: "00800000", want: "FF3DCE00"}, {csu: "80800000", prop: "1234567890ABCDEF", want: "52933494"}},
		},
		{
			name: "M16-1", source: "pyemv tests/test_cvn_hsm.py::test_mastercard_cvn16", cvn: MChipCVN16,
			imk: imk0123, pan: "1234567890123456", psn: 0x00, y: "3456789012345600",
			mk: "154F349D8585CB7F6B0798E9839B10C1", mkKCV: "BAB02F",
			skIn: "001CF000ABCDEF12", sk: "5D8F37BCD9E5DA68048CDFA2EA255D9E", skKCV: "2FD528",
			data: m161, iad: "0110A00003220000000000000000000000FF",
			macInput: "00000000999900000000000001248000000000012420990600ABCDEF121800001CA00003220000",
			arqc:     "24CCF3DEE3158C70", arpc: []arpcCase{{arc: "0010", want: "73F6BBF389A6586C"}},
		},
		{
			// jPOS gives the CVR, not the IAD: this IAD is M17-2's with CVN 16, whose CVR (bytes 3-8) is jPOS's
			name: "M16-2", source: "jPOS JCESecurityModuleTest testVerifyARQCImpl_MCHIP_P80, testGenerateARPCImpl_MCHIP_M1 (data EMV IASG A.3.3)",
			cvn: MChipCVN16, imk: imk1334, pan: "1234567890123456", psn: 0x00, y: "3456789012345600",
			mk: "DCE992BCE398C264F7858AFD4C4A324A", mkKCV: "50E877",
			skIn: "3456F00011111111", sk: "68E9A15BBCF283EF0164F7E6C44C4325", skKCV: "E55F49",
			data: m162, iad: "0110A08003242000000000000000000000FF",
			macInput: "000000010000000000001000084000000010800840980704001111111158003456A08003242000",
			arqc:     "AC8074C9E62EE6EF", arpc: []arpcCase{{arc: "0012", want: "5B5B712F9A644774"}},
		},
		{
			name: "M17-1", source: "pyemv tests/test_cvn_hsm.py::test_mastercard_cvn17", cvn: MChipCVN17,
			imk: imk0123, pan: "1234567890123456", psn: 0x00, y: "3456789012345600",
			mk: "154F349D8585CB7F6B0798E9839B10C1", mkKCV: "BAB02F",
			skIn: "001CF000ABCDEF12", sk: "5D8F37BCD9E5DA68048CDFA2EA255D9E", skKCV: "2FD528",
			data: m161, iad: "0111A00003220000000000000000000322FF",
			macInput: "00000000999900000000000001248000000000012420990600ABCDEF121800001CA00003220000" + "00000000000322FF",
			arqc:     "EAE8A620A75648D8", arpc: []arpcCase{{arc: "0010", want: "29CF11FBDB9CA650"}},
		},
		{
			name: "M17-2 (constructed)", source: "EMV_VECTORS.md M17-2: M16-2 (jPOS) plus counters",
			cvn: MChipCVN17, imk: imk1334, pan: "1234567890123456", psn: 0x00, y: "3456789012345600",
			mk: "DCE992BCE398C264F7858AFD4C4A324A", mkKCV: "50E877",
			skIn: "3456F00011111111", sk: "68E9A15BBCF283EF0164F7E6C44C4325", skKCV: "E55F49",
			data: m162, iad: "0111A08003242000000000000000000000FF",
			macInput: "000000010000000000001000084000000010800840980704001111111158003456A08003242000" + "00000000000000FF",
			arqc:     "A97785F58BE3B38E", arpc: []arpcCase{{arc: "0012", want: "20D2E9B2CCADF012"}},
		},
	}
}

// check returns the ARQCCheck of a vector.
func (v *emvVector) check(t testing.TB) ARQCCheck {
	c := ARQCCheck{CVN: v.cvn, PAN: v.pan, PSN: v.psn, Data: v.data}
	c.Data.IAD = unhex(t, v.iad)
	copy(c.ARQC[:], unhex(t, v.arqc))
	return c
}

func (a arpcCase) data(t testing.TB) *ARPCData {
	var d ARPCData
	if a.arc != "" {
		copy(d.ARC[:], unhex(t, a.arc))
	}
	if a.csu != "" {
		copy(d.CSU[:], unhex(t, a.csu))
	}
	if a.prop != "" {
		d.Proprietary = unhex(t, a.prop)
	}
	return &d
}

// TestEMVCryptogramVectors checks every intermediate value of each vector:
// the derivation block Y, the ICC master key and its KCV, the session key
// input, the session key and its KCV, the MAC input, the ARQC, then
// VerifyARQC (accepting it, returning each ARPC) and a rejection of the
// ARQC with its last bit flipped.
func TestEMVCryptogramVectors(t *testing.T) {
	for _, v := range emvVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			t.Logf("source: %s", v.source)
			imk := tdes(t, v.imk)
			c := v.check(t)
			m := ICCKeyOptionA
			if v.cvn == VisaCVN18 {
				m = ICCKeyOptionB
			}
			y, err := ICCKeyInput(v.pan, v.psn, m)
			if err != nil {
				t.Fatal(err)
			}
			wantHex(t, "Y", y[:], v.y)
			keys, err := DeriveARQCKeys(imk, &c)
			if err != nil {
				t.Fatal(err)
			}
			wantKey(t, "ICC MK", keys.ICCMaster, v.mk)
			if got := keys.ICCMaster.KCV(); got != v.mkKCV {
				t.Errorf("ICC MK KCV %s, want %s", got, v.mkKCV)
			}
			if v.skIn != "" {
				r := SessionKeyInputCSK(v.data.ATC)
				if v.cvn == MChipCVN16 || v.cvn == MChipCVN17 {
					r = SessionKeyInputMastercard(v.data.ATC, v.data.UN)
				}
				r[2] = 0xF0
				wantHex(t, "session key input", r[:], v.skIn)
			}
			wantKey(t, "session key", keys.Session, v.sk)
			if got := keys.Session.KCV(); got != v.skKCV {
				t.Errorf("session key KCV %s, want %s", got, v.skKCV)
			}
			in, err := AppendARQCInput(nil, v.cvn, &c.Data)
			if err != nil {
				t.Fatal(err)
			}
			wantHex(t, "MAC input", in, v.macInput)
			ac, _, err := ComputeARQC(imk, &c)
			if err != nil {
				t.Fatal(err)
			}
			wantHex(t, "ARQC", ac[:], v.arqc)
			if _, err := VerifyARQC(imk, &c); err != nil {
				t.Errorf("VerifyARQC without ARPC: %v", err)
			}
			for _, a := range v.arpc {
				c.ARPC = a.data(t)
				got, err := VerifyARQC(imk, &c)
				if err != nil {
					t.Fatalf("VerifyARQC: %v", err)
				}
				wantHex(t, "ARPC "+a.arc+a.csu+a.prop, got, a.want)
			}
			c.ARQC[7] ^= 0x01
			if got, err := VerifyARQC(imk, &c); !errors.Is(err, ErrARQCMismatch) || got != nil {
				t.Errorf("a wrong ARQC: %X %v, want ErrARQCMismatch and no ARPC", got, err)
			}
		})
	}
}

// TestEMVMACInputVectors covers the published rows whose data the vector
// file gives as the MAC input only (jPOS supplies a 6-byte CVR that no
// CVN 10 IAD holds), and the padding variants: the same data with the
// other padding gives the value jPOS prints for it.
func TestEMVMACInputVectors(t *testing.T) {
	const jposData = "000000010000000000001000084000000010800840980704001111111158003456A08003242000"
	mk, err := ICCMasterKey(tdes(t, imk1334), "1234567890123456", 0x00, ICCKeyOptionA)
	if err != nil {
		t.Fatal(err)
	}
	mchipSK, err := EMVSessionKey(mk, SessionKeyInputMastercard([2]byte{0x34, 0x56}, [4]byte{0x11, 0x11, 0x11, 0x11}))
	if err != nil {
		t.Fatal(err)
	}
	cskSK, err := EMVSessionKey(mk, SessionKeyInputCSK([2]byte{0x34, 0x56}))
	if err != nil {
		t.Fatal(err)
	}
	wantKey(t, "jPOS CSK session key", cskSK, "F2A75194C2B954A4163E9886BCA45473")
	if cskSK.KCV() != "B57DB1" {
		t.Errorf("CSK KCV %s", cskSK.KCV())
	}
	tests := []struct {
		name, source string
		key          Key
		pad          MACPadding
		arqc         string
		arpcKey      Key
		arc, arpc    string
	}{
		{"V10-2", "jPOS testVerifyARQCImpl_VSDC_P00, testGenerateARPCImpl_VSDC_M1", mk, MACPadding1, "26C8A1042D1CAF3E", mk, "3030", "98DE7C7B3D80A831"},
		{"V10-2 with 80 padding", "jPOS ..._VSDC_P80", mk, MACPadding2, "2263CD868F3E0234", mk, "3030", "5A1D15A96C035C4F"},
		{"M16-2 with zero padding", "jPOS ..._MCHIP_P00 (what KQ computes when the host forgets the 80)", mchipSK, MACPadding1, "9FFD1D52AE0EC0F3", mk, "0012", "20DCD25599B060B5"},
		{"EMV CSK, zero padding", "jPOS (EMV_VECTORS.md §1.6), ARPC method 1 with the SK", cskSK, MACPadding1, "36DBEE15F36B1E7F", cskSK, "0012", "0E56BBA476EB5588"},
		{"EMV CSK, 80 padding", "jPOS (EMV_VECTORS.md §1.6)", cskSK, MACPadding2, "55BE45DD2C9E0CBF", cskSK, "0012", "01BAE8DE6A0DE9E0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("source: %s", tc.source)
			ac, err := ApplicationCryptogram(tc.key, tc.pad, unhex(t, jposData))
			if err != nil {
				t.Fatal(err)
			}
			wantHex(t, "ARQC", ac[:], tc.arqc)
			arpc, err := ARPCMethod1(tc.arpcKey, ac, [2]byte(unhex(t, tc.arc)))
			if err != nil {
				t.Fatal(err)
			}
			wantHex(t, "ARPC", arpc[:], tc.arpc)
		})
	}
	// jPOS CSK method 2, CSU 00120000, over the 80-padded ARQC
	ac, _ := ApplicationCryptogram(cskSK, MACPadding2, unhex(t, jposData))
	m2, err := ARPCMethod2(cskSK, ac, [4]byte{0x00, 0x12, 0x00, 0x00}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "jPOS CSK method 2 ARPC", m2[:], "B4C698B6")
}

// TestEMVOptionB covers ICC master key option B (A1.4.2) and the long-PAN
// handling of option A.
func TestEMVOptionB(t *testing.T) {
	imk := tdes(t, imk0123)
	tests := []struct {
		name, source string
		imk          Key
		pan          string
		psn          byte
		m            ICCKeyMethod
		y, mk, kcv   string
	}{
		{"jPOS option B", "jPOS JCESecurityModuleTest (EMV_VECTORS.md §1.6)", tdes(t, imk1334), "8901234567890123456", 0x00, ICCKeyOptionB,
			"3712337853619639", "26D086ADE92CCE753EBAC28C3D5B349E", ""},
		{"17 digits option B", "pyemv tests/test_kd_hsm.py", imk, "12345678901234567", 0x45, ICCKeyOptionB, "", "F767ECC2263B2C543775CB62AB6B57D6", "0BAF"},
		{"17 digits option A", "pyemv tests/test_kd_hsm.py", imk, "12345678901234567", 0x45, ICCKeyOptionA, "", "946DC1A8C78A624519BC4645CB073737", "FF08"},
		{"17 digits option B PSN 00", "pyemv tests/test_kd_hsm.py", imk, "12345678901234567", 0x00, ICCKeyOptionB, "", "1C13AE23B54AF7BA49FBE09192C87983", "4626"},
		{"19 digits option B (constructed)", "EMV_VECTORS.md §1.6, pyemv prints no value", imk, "1234567890123456789", 0x01, ICCKeyOptionB, "", "BA382F7FDA3D38FD1CE531348C9EEC25", ""},
		{"16 digits: option B is option A", "pyemv tests/test_cvn_hsm.py", imk, "1234567890123456", 0x00, ICCKeyOptionB, "3456789012345600", "154F349D8585CB7F6B0798E9839B10C1", "BAB0"},
		{"19 digits option A: the last 16", "jPOS ..._CSKD_P00_M1_OA_P19 (EMV_VECTORS.md §1.1)", imk, "9991234567890123456", 0x00, ICCKeyOptionA, "3456789012345600", "154F349D8585CB7F6B0798E9839B10C1", ""},
		{"13 digits option A, left padded", "PBOC example, alibabacloud page §1.6", tdes(t, "F0C34A8124CEE0A91A0B034AA97D6EAC"), "6228000100001", 0x01, ICCKeyOptionA,
			"0622800010000101", "014C986ECD8F49157CC8B59E3BCDFD98", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("source: %s", tc.source)
			if tc.y != "" {
				y, err := ICCKeyInput(tc.pan, tc.psn, tc.m)
				if err != nil {
					t.Fatal(err)
				}
				wantHex(t, "Y", y[:], tc.y)
			}
			mk, err := ICCMasterKey(tc.imk, tc.pan, tc.psn, tc.m)
			if err != nil {
				t.Fatal(err)
			}
			wantKey(t, "ICC MK", mk, tc.mk)
			if tc.kcv != "" && !strings.HasPrefix(mk.KCV(), tc.kcv) {
				t.Errorf("KCV %s, want %s", mk.KCV(), tc.kcv)
			}
		})
	}
	// jPOS option B goes on to the session key (ATC 3456), the ARQC over
	// the 39 bytes of V10-2 with zero padding, and a method 1 ARPC with the SK
	mk, _ := ICCMasterKey(tdes(t, imk1334), "8901234567890123456", 0x00, ICCKeyOptionB)
	sk, err := EMVSessionKey(mk, SessionKeyInputCSK([2]byte{0x34, 0x56}))
	if err != nil {
		t.Fatal(err)
	}
	wantKey(t, "jPOS option B SK", sk, "DC9297D6AE43AB20D39B9D0DE5E03E0D")
	ac, _ := ApplicationCryptogram(sk, MACPadding1, unhex(t, "000000010000000000001000084000000010800840980704001111111158003456A08003242000"))
	wantHex(t, "jPOS option B ARQC", ac[:], "FD4271966BB0E366")
	arpc, _ := ARPCMethod1(sk, ac, [2]byte{0x00, 0x12})
	wantHex(t, "jPOS option B ARPC", arpc[:], "1882BCA130A38D6C")
}

// TestEMVOptionBDecimalise checks step 2 of option B where no vector
// reaches: a digest with fewer than 16 decimal nibbles continues with its
// A-F nibbles as 0-5 (EMV Book 2 A1.4.2; the digests are made up).
func TestEMVOptionBDecimalise(t *testing.T) {
	for digest, want := range map[string]string{
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1234567890": "1234567890000000",
		"FEDCBAFEDCBAFEDCBAFEDCBAFEDCBAFEDCBA9876": "9876543210543210",
		"371A2B33E7C853E61963C946856E1BA55123EFA8": "3712337853619639", // jPOS option B
	} {
		got := decimaliseDigest([20]byte(unhex(t, digest)))
		var s strings.Builder
		for _, d := range got {
			s.WriteByte('0' + d)
		}
		if s.String() != want {
			t.Errorf("%s: %s, want %s", digest, s.String(), want)
		}
	}
}

// TestEMVAtallaSample is pyemv tests/test_ac_hsm.py, the "Atalla sample"
// of the net.e6tech.elements simulator tests (EMV_VECTORS.md §1.6): the
// session key from an arbitrary R, both paddings, ARPC methods 1 and 2
// with and without proprietary data.
func TestEMVAtallaSample(t *testing.T) {
	mk, err := ICCMasterKey(tdes(t, imk0123), "9901234567890123", 0x45, ICCKeyOptionA)
	if err != nil {
		t.Fatal(err)
	}
	wantKey(t, "MK", mk, "F84315C7B95BD3B0C74694922C3808B0")
	sk, err := EMVSessionKey(mk, [8]byte(unhex(t, "1234567890123456")))
	if err != nil {
		t.Fatal(err)
	}
	wantKey(t, "SK", sk, "3E736BF8D37664348A04E3ABE00DEFC1")
	if !strings.HasPrefix(mk.KCV(), "1DA5") || !strings.HasPrefix(sk.KCV(), "0995") {
		t.Errorf("KCVs %s %s", mk.KCV(), sk.KCV())
	}
	data := unhex(t, "0123456789ABCDEF0123456789ABCDEF")
	ac, _ := ApplicationCryptogram(sk, MACPadding2, data)
	wantHex(t, "ARQC 80 padding", ac[:], "4B46013359B7A58B")
	a1, _ := ARPCMethod1(mk, ac, [2]byte{})
	wantHex(t, "ARPC method 1", a1[:], "F8C9CECAABD55AD1")
	a2, _ := ARPCMethod2(sk, ac, [4]byte{}, unhex(t, "1234567890ABCDEF"))
	wantHex(t, "ARPC method 2 with proprietary data", a2[:], "4962B76C")
	a2, _ = ARPCMethod2(sk, ac, [4]byte{}, nil)
	wantHex(t, "ARPC method 2", a2[:], "7DFB1188")
	ac, _ = ApplicationCryptogram(sk, MACPadding1, append(data, 0x01))
	wantHex(t, "ARQC zero padding, 17 bytes", ac[:], "2E141C6BC4A20DA8")
	a1, _ = ARPCMethod1(mk, ac, [2]byte{})
	wantHex(t, "its ARPC", a1[:], "16A49AAB314B9262")
	ac, _ = ApplicationCryptogram(sk, MACPadding1, data)
	wantHex(t, "ARQC, 16 bytes: method 1 adds nothing", ac[:], "922F3E83125EB46B")
	a1, _ = ARPCMethod1(mk, ac, [2]byte{})
	wantHex(t, "its ARPC", a1[:], "8AE6E836084B0E80")
}

// TestEMVRefuses: data that does not fit the version is ErrEMVData, never
// a mismatch or a panic.
func TestEMVRefuses(t *testing.T) {
	imk := tdes(t, imk0123)
	base := emvVectors(t)[0].check(t) // V10-1
	tests := []struct {
		name string
		edit func(c *ARQCCheck)
		err  error
	}{
		{"CVN 10 IAD naming CVN 18", func(c *ARQCCheck) { c.Data.IAD = unhex(t, "06011203A0B800") }, ErrEMVData},
		{"CVN 10 IAD too short", func(c *ARQCCheck) { c.Data.IAD = unhex(t, "06010A03A060") }, ErrEMVData},
		{"CVN 10 IAD CVR length not 03", func(c *ARQCCheck) { c.Data.IAD = unhex(t, "06010A04A06010") }, ErrEMVData},
		{"no IAD", func(c *ARQCCheck) { c.Data.IAD = nil }, ErrEMVData},
		{"IAD of 33 bytes", func(c *ARQCCheck) { c.Data.IAD = append(unhex(t, "06010A03A06010"), make([]byte, 26)...) }, ErrEMVData},
		{"CVN 18 IAD naming CVN 10", func(c *ARQCCheck) { c.CVN = VisaCVN18 }, ErrEMVData},
		{"CVN 16 with a Visa IAD", func(c *ARQCCheck) { c.CVN = MChipCVN16 }, ErrEMVData},
		{"CVN 17 IAD of 17 bytes", func(c *ARQCCheck) {
			c.CVN = MChipCVN17
			c.Data.IAD = unhex(t, "0111A00003220000000000000000000322")
		}, ErrEMVData},
		{"CVN 16 IAD naming 17", func(c *ARQCCheck) {
			c.CVN = MChipCVN16
			c.Data.IAD = unhex(t, "0111A00003220000000000000000000322FF")
		}, ErrEMVData},
		{"unknown CVN", func(c *ARQCCheck) { c.CVN = 0 }, ErrCVN},
		{"PSN not BCD", func(c *ARQCCheck) { c.PSN = 0x0A }, ErrEMVData},
		{"PAN of 11 digits", func(c *ARQCCheck) { c.PAN = "12345678901" }, ErrPAN},
		{"PAN of 20 digits", func(c *ARQCCheck) { c.PAN = "12345678901234567890" }, ErrPAN},
		{"PAN with a letter", func(c *ARQCCheck) { c.PAN = "123456789012345X" }, ErrPAN},
		{"unknown key method", func(c *ARQCCheck) { c.KeyMethod = 9 }, ErrEMVData},
		{"method 2 proprietary data of 9 bytes", func(c *ARQCCheck) {
			*c = emvVectors(t)[2].check(t) // V18-1
			c.ARPC = &ARPCData{Proprietary: make([]byte, 9)}
		}, ErrEMVData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			if got, err := VerifyARQC(imk, &c); !errors.Is(err, tc.err) || got != nil {
				t.Errorf("VerifyARQC = %X %v, want %v", got, err, tc.err)
			}
		})
	}
	if _, err := VerifyARQC(tdes(t, "0123456789ABCDEF"), &base); !errors.Is(err, ErrKeyLength) {
		t.Errorf("single-length IMK: %v", err)
	}
	if _, err := VerifyARQC(Key{}, &base); !errors.Is(err, ErrKeyInvalid) {
		t.Errorf("zero IMK: %v", err)
	}
	if _, err := ApplicationCryptogram(imk, MACPadding3, nil); !errors.Is(err, ErrMACAlgorithm) {
		t.Errorf("padding method 3: %v", err)
	}
}

func TestCVNNames(t *testing.T) {
	for _, v := range []CVN{VisaCVN10, VisaCVN18, MChipCVN16, MChipCVN17} {
		got, err := ParseCVN(v.String())
		if err != nil || got != v {
			t.Errorf("%s: %v %v", v, got, err)
		}
	}
	if _, err := ParseCVN("visa-cvn22"); !errors.Is(err, ErrCVN) {
		t.Errorf("visa-cvn22: %v", err)
	}
	if CVN(0).String() != "invalid" || CVN(99).String() != "invalid" {
		t.Error("invalid CVN names")
	}
}

// The test LMK cryptogram of jPOS's IMK (EMV_VECTORS.md §1.3 V10-2, §4.1).
func TestEMVIMKUnderTestLMK(t *testing.T) {
	k, err := ThalesTestLMK().DecryptKey(KeyTypeMKAC, imk1334LMK)
	if err != nil {
		t.Fatal(err)
	}
	wantKey(t, "IMK", k, imk1334)
	if k.KCV() != "6FB1C8" {
		t.Errorf("KCV %s, want 6FB1C8", k.KCV())
	}
}

// imkRef returns the vector's IMK under lmk as an MK-AC: jPOS's published
// cryptogram for its IMK, the others encrypted here.
func (v *emvVector) imkRef(t testing.TB, lmk *VariantLMK) KeyRef {
	t.Helper()
	if v.imk == imk1334 {
		return KeyRef{Type: KeyTypeMKAC, Cryptogram: imk1334LMK}
	}
	kb := unhex(t, v.imk)
	FixParity(kb)
	k, err := NewTDESKey(kb, ParityOdd)
	if err != nil {
		t.Fatal(err)
	}
	c, err := lmk.EncryptKey(KeyTypeMKAC, SchemeU, k)
	if err != nil {
		t.Fatal(err)
	}
	return KeyRef{Type: KeyTypeMKAC, Cryptogram: c}
}

// TestSoftVerifyARQC runs every CVN vector through the Service with the
// IMK as a cryptogram under the test LMK (jPOS's published cryptogram for
// its IMK; the others encrypted here) and checks key separation: an IMK
// presented as another key type is refused.
func TestSoftVerifyARQC(t *testing.T) {
	lmk := ThalesTestLMK()
	s := &Soft{LMK: lmk}
	ctx := t.Context()
	for _, v := range emvVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			ref := v.imkRef(t, lmk)
			c := v.check(t)
			for _, a := range v.arpc {
				c.ARPC = a.data(t)
				got, err := s.VerifyARQC(ctx, ref, c)
				if err != nil {
					t.Fatal(err)
				}
				wantHex(t, "ARPC", got, a.want)
			}
			if _, err := s.VerifyARQC(ctx, KeyRef{Type: KeyTypeZPK, Cryptogram: ref.Cryptogram}, c); !errors.Is(err, ErrKeyType) {
				t.Errorf("IMK as a ZPK: %v, want ErrKeyType", err)
			}
			c.ARQC[0] ^= 0x80
			if _, err := s.VerifyARQC(ctx, ref, c); !errors.Is(err, ErrARQCMismatch) {
				t.Errorf("a wrong ARQC: %v", err)
			}
		})
	}
}
