package hsm

import "crypto/subtle"

// EMV application cryptograms (EMV 4.x Book 2 section 8 and Annex A1.2,
// the Visa VIS and Mastercard M/Chip card specifications): the ARQC a
// chip card computes over the transaction, which the issuer verifies, and
// the ARPC the issuer returns so the card knows the answer is genuine.

// CVN is a cryptogram version: the data the card MACs, the key it uses,
// the padding and the ARPC method. A card profile names it; the card says
// it in its issuer application data (9F10), and VerifyARQC checks they agree.
type CVN uint8

const (
	// VisaCVN10 (VIS 1.4, CVN 0A): the ICC master key MACs the 33 CDOL1
	// bytes and the CVR (with its length byte), zero padding (ISO 9797-1
	// method 1); ARPC method 1 under the ICC master key.
	VisaCVN10 CVN = iota + 1
	// VisaCVN18 (VIS 1.5, CVN 12): EMV common session key (R = ATC‖0…0)
	// over the 33 bytes and the whole IAD, 80 padding (method 2); ARPC
	// method 2 (CSU and optional proprietary data) under the session key.
	VisaCVN18
	// MChipCVN16 (M/Chip 4, CVN 10 hex): Mastercard SKD (R = ATC‖0000‖UN)
	// over the 33 bytes and the 6-byte CVR, method 2; ARPC method 1 under
	// the ICC master key.
	MChipCVN16
	// MChipCVN17 (CVN 11 hex): as MChipCVN16, with the 8 bytes of
	// plaintext counters from the IAD after the CVR.
	MChipCVN17
)

// cvnNames are the names configuration and the command line use.
var cvnNames = [...]string{VisaCVN10: "visa-cvn10", VisaCVN18: "visa-cvn18", MChipCVN16: "mchip-cvn16", MChipCVN17: "mchip-cvn17"}

// String returns the version's name ("visa-cvn10").
func (v CVN) String() string {
	if v >= VisaCVN10 && int(v) < len(cvnNames) {
		return cvnNames[v]
	}
	return "invalid"
}

// ParseCVN returns the version of a name String gives, or ErrCVN.
func ParseCVN(name string) (CVN, error) {
	for v, n := range cvnNames {
		if n != "" && n == name {
			return CVN(v), nil
		}
	}
	return 0, ErrCVN
}

// EMVData holds the data elements of field 55 an ARQC covers, in the
// sizes EMV gives them. IAD (9F10) is 1 to 32 bytes; the rest are fixed.
type EMVData struct {
	Amount      [6]byte // 9F02 amount authorised, BCD
	AmountOther [6]byte // 9F03 amount other, BCD
	TermCountry [2]byte // 9F1A terminal country code
	TVR         [5]byte // 95 terminal verification results
	Currency    [2]byte // 5F2A transaction currency code
	Date        [3]byte // 9A transaction date YYMMDD
	TxnType     byte    // 9C transaction type
	UN          [4]byte // 9F37 unpredictable number
	AIP         [2]byte // 82 application interchange profile
	ATC         [2]byte // 9F36 application transaction counter
	IAD         []byte  // 9F10 issuer application data
}

// cdol1Bytes is the length of the ten CDOL1 elements every version MACs
// first; arqcInputBytesMax bounds the MAC input: them and a whole 32-byte IAD.
const (
	cdol1Bytes        = 33
	iadBytesMax       = 32
	arqcInputBytesMax = cdol1Bytes + iadBytesMax
)

// AppendARQCInput appends the data version v MACs, before padding: 9F02
// 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36, then the CVR (CVN 10: IAD bytes
// 4-7, its length byte included; M/Chip: IAD bytes 3-8), the whole IAD
// (CVN 18) or the CVR and the counters in IAD bytes 11-18 (CVN 17). The
// IAD must name version v (Visa: byte 3; Mastercard: byte 2) and be long
// enough, or the error is ErrEMVData.
func AppendARQCInput(dst []byte, v CVN, d *EMVData) ([]byte, error) {
	iad := d.IAD
	if len(iad) == 0 || len(iad) > iadBytesMax {
		return dst, ErrEMVData
	}
	var tail []byte
	switch v {
	case VisaCVN10:
		if len(iad) < 7 || iad[2] != 0x0A || iad[3] != 0x03 {
			return dst, ErrEMVData
		}
		tail = iad[3:7]
	case VisaCVN18:
		if len(iad) < 4 || iad[2] != 0x12 {
			return dst, ErrEMVData
		}
		tail = iad
	case MChipCVN16:
		if len(iad) < 8 || iad[1] != 0x10 {
			return dst, ErrEMVData
		}
		tail = iad[2:8]
	case MChipCVN17:
		if len(iad) < 18 || iad[1] != 0x11 {
			return dst, ErrEMVData
		}
	default:
		return dst, ErrCVN
	}
	dst = append(dst, d.Amount[:]...)
	dst = append(dst, d.AmountOther[:]...)
	dst = append(dst, d.TermCountry[:]...)
	dst = append(dst, d.TVR[:]...)
	dst = append(dst, d.Currency[:]...)
	dst = append(dst, d.Date[:]...)
	dst = append(dst, d.TxnType)
	dst = append(dst, d.UN[:]...)
	dst = append(dst, d.AIP[:]...)
	dst = append(dst, d.ATC[:]...)
	if v == MChipCVN17 {
		dst = append(dst, iad[2:8]...)
		return append(dst, iad[10:18]...), nil
	}
	return append(dst, tail...), nil
}

// padding returns the ISO 9797-1 padding method version v uses.
func (v CVN) padding() MACPadding {
	if v == VisaCVN10 {
		return MACPadding1
	}
	return MACPadding2
}

// ApplicationCryptogram is the EMV MAC (Book 2 A1.2): ISO 9797-1 MAC
// algorithm 3 with single DES under the 16-byte key k (DES-CBC under its
// left half, zero IV, then decrypt under the right half and encrypt under
// the left on the last block), over data padded by method 1 (zeros, only
// to a whole block) or method 2 (80 then zeros). All 8 bytes are the ARQC.
func ApplicationCryptogram(k Key, pad MACPadding, data []byte) ([8]byte, error) {
	var ac [8]byte
	if pad != MACPadding1 && pad != MACPadding2 {
		return ac, ErrMACAlgorithm
	}
	if err := k.requireAlg(AlgorithmTDES); err != nil {
		return ac, err
	}
	var out [16]byte
	if _, err := generateMAC(k, MACISO9797Alg3, pad, data, &out); err != nil {
		return ac, err
	}
	copy(ac[:], out[:8])
	return ac, nil
}

// ARPCMethod1 is EMV Book 2 8.2.1: TDES(k)[ARQC ⊕ (ARC‖000000000000)],
// with k the ICC master key (Visa CVN 10, M/Chip CVN 16/17) or the AC
// session key (EMV common session key schemes). arc is the 2-byte
// authorisation response code, e.g. "00" in ASCII (3030).
func ARPCMethod1(k Key, arqc [8]byte, arc [2]byte) ([8]byte, error) {
	var out [8]byte
	if err := k.requireAlg(AlgorithmTDES); err != nil {
		return out, err
	}
	if k.n != 16 {
		return out, ErrKeyLength
	}
	out = arqc
	out[0] ^= arc[0]
	out[1] ^= arc[1]
	k.block.Encrypt(out[:], out[:])
	return out, nil
}

// ARPCMethod2 is EMV Book 2 8.2.2: the leftmost 4 bytes of the EMV MAC
// (method 2 padding) under the AC session key sk over ARQC ‖ CSU ‖
// proprietary authentication data (0 to 8 bytes; ErrEMVData if longer).
// The reply's tag 91 is the ARPC ‖ CSU ‖ proprietary data.
func ARPCMethod2(sk Key, arqc [8]byte, csu [4]byte, prop []byte) ([4]byte, error) {
	var out [4]byte
	if len(prop) > arpcPropBytesMax {
		return out, ErrEMVData
	}
	var buf [8 + 4 + arpcPropBytesMax]byte
	n := copy(buf[:], arqc[:])
	n += copy(buf[n:], csu[:])
	n += copy(buf[n:], prop)
	mac, err := ApplicationCryptogram(sk, MACPadding2, buf[:n])
	if err != nil {
		return out, err
	}
	copy(out[:], mac[:4])
	return out, nil
}

// arpcPropBytesMax is the most proprietary authentication data method 2 carries.
const arpcPropBytesMax = 8

// ARQCCheck is an ARQC to verify and, when ARPC is set, the ARPC to make.
type ARQCCheck struct {
	CVN CVN
	// KeyMethod is the ICC master key derivation (ICCKeyDefault: what the
	// version calls for).
	KeyMethod ICCKeyMethod
	PAN       string // 12 to 19 digits
	PSN       byte   // 5F34 as the card sends it, one BCD byte (0x00 if absent)
	Data      EMVData
	ARQC      [8]byte // 9F26
	ARPC      *ARPCData
}

// ARPCData is what the issuer's answer adds to the ARPC: for method 1
// (CVN 10, M/Chip) the ARC, for method 2 (CVN 18) the CSU and up to 8
// bytes of proprietary authentication data.
type ARPCData struct {
	ARC         [2]byte // authorisation response code, ASCII ("00" = 3030)
	CSU         [4]byte // card status update
	Proprietary []byte  // 0 to 8 bytes
}

// ARQCKeys are the keys one verification derives, for tools and tests
// that show the intermediate values.
type ARQCKeys struct {
	ICCMaster Key // the card's ICC master key for ACs
	Session   Key // the key the ARQC is under (the ICC master key for CVN 10)
}

// ICCKeyMethod returns the ICC master key derivation c uses: KeyMethod,
// or for ICCKeyDefault option B with Visa CVN 18 and option A otherwise.
func (c *ARQCCheck) ICCKeyMethod() ICCKeyMethod {
	switch {
	case c.KeyMethod != ICCKeyDefault:
		return c.KeyMethod
	case c.CVN == VisaCVN18:
		return ICCKeyOptionB
	}
	return ICCKeyOptionA
}

// DeriveARQCKeys derives the ICC master key and the session key for c.
func DeriveARQCKeys(imk Key, c *ARQCCheck) (ARQCKeys, error) {
	mk, err := ICCMasterKey(imk, c.PAN, c.PSN, c.ICCKeyMethod())
	if err != nil {
		return ARQCKeys{}, err
	}
	var sk Key
	switch c.CVN {
	case VisaCVN10:
		sk = mk
	case VisaCVN18:
		sk, err = EMVSessionKey(mk, SessionKeyInputCSK(c.Data.ATC))
	case MChipCVN16, MChipCVN17:
		sk, err = EMVSessionKey(mk, SessionKeyInputMastercard(c.Data.ATC, c.Data.UN))
	default:
		return ARQCKeys{}, ErrCVN
	}
	if err != nil {
		return ARQCKeys{}, err
	}
	return ARQCKeys{ICCMaster: mk, Session: sk}, nil
}

// ComputeARQC returns the ARQC a genuine card would send for c (the
// issuer master key imk, the card, the data), for tools and tests.
func ComputeARQC(imk Key, c *ARQCCheck) ([8]byte, ARQCKeys, error) {
	keys, err := DeriveARQCKeys(imk, c)
	if err != nil {
		return [8]byte{}, keys, err
	}
	var buf [arqcInputBytesMax]byte
	data, err := AppendARQCInput(buf[:0], c.CVN, &c.Data)
	if err != nil {
		return [8]byte{}, keys, err
	}
	ac, err := ApplicationCryptogram(keys.Session, c.CVN.padding(), data)
	return ac, keys, err
}

// VerifyARQC checks c.ARQC under the issuer master key imk, comparing in
// constant time: nil, ErrARQCMismatch, or an error saying why it could not
// be checked (ErrPAN, ErrEMVData, ErrCVN, key errors). When c.ARPC is set
// and the ARQC verifies, it returns the ARPC: 8 bytes by method 1 for
// Visa CVN 10 and M/Chip (ICC master key), 4 bytes by method 2 for Visa
// CVN 18 (session key). A failed ARQC gets no ARPC.
func VerifyARQC(imk Key, c *ARQCCheck) ([]byte, error) {
	ac, keys, err := ComputeARQC(imk, c)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(ac[:], c.ARQC[:]) != 1 {
		return nil, ErrARQCMismatch
	}
	if c.ARPC == nil {
		return nil, nil
	}
	return GenerateARPC(keys, c.CVN, c.ARQC, c.ARPC)
}

// GenerateARPC makes the ARPC version v calls for from the keys
// DeriveARQCKeys gave: method 1 under the ICC master key (CVN 10, M/Chip:
// 8 bytes) or method 2 under the session key (CVN 18: 4 bytes).
func GenerateARPC(keys ARQCKeys, v CVN, arqc [8]byte, a *ARPCData) ([]byte, error) {
	switch v {
	case VisaCVN10, MChipCVN16, MChipCVN17:
		out, err := ARPCMethod1(keys.ICCMaster, arqc, a.ARC)
		if err != nil {
			return nil, err
		}
		return out[:], nil
	case VisaCVN18:
		out, err := ARPCMethod2(keys.Session, arqc, a.CSU, a.Proprietary)
		if err != nil {
			return nil, err
		}
		return out[:], nil
	}
	return nil, ErrCVN
}
