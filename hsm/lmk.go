package hsm

// Thales variant LMK: keys stored "under the LMK" as cryptograms, each
// encrypted under an LMK pair chosen by the key type code, with a variant
// for the key type and, for schemes U and T, one for each key part.

// lmkPairCount is the number of LMK pairs (00-01 through 38-39).
const lmkPairCount = 20

// Key type codes (payShield variant LMK) for the keys a card switch uses.
const (
	KeyTypeZMK    = "000" // zone master key (LMK 04-05)
	KeyTypeZPK    = "001" // zone PIN key (LMK 06-07)
	KeyTypeTPK    = "002" // terminal PIN key (LMK 14-15)
	KeyTypePVK    = "002" // PIN verification key, also TMK (LMK 14-15)
	KeyTypeTAK    = "003" // terminal authentication key (LMK 16-17)
	KeyTypeZAK    = "008" // zone authentication key (LMK 26-27)
	KeyTypeBDK    = "009" // DUKPT base derivation key (LMK 28-29)
	KeyTypeZEK    = "00A" // zone encryption key (LMK 30-31)
	KeyTypeDEK    = "00B" // data encryption key (LMK 32-33)
	KeyTypeMKAC   = "109" // EMV master key for application cryptograms
	KeyTypeCVK    = "402" // card verification key
	KeyTypeMKCVC3 = "709" // EMV master key for CVC3
)

// KeyScheme is the Thales key scheme tag of a cryptogram.
type KeyScheme byte

const (
	// SchemeNone is an untagged cryptogram: 16, 32 or 48 hex characters,
	// each 8-byte part encrypted as with X.
	SchemeNone KeyScheme = 0
	// SchemeZ is a single-length DES key.
	SchemeZ KeyScheme = 'Z'
	// SchemeU is a double-length key under the length variant (A6, 5A).
	SchemeU KeyScheme = 'U'
	// SchemeT is a triple-length key under the length variant (6A, DE, 2B).
	SchemeT KeyScheme = 'T'
	// SchemeX is a double-length key, ANSI X9.17 style (no length variant).
	SchemeX KeyScheme = 'X'
	// SchemeY is a triple-length key, ANSI X9.17 style.
	SchemeY KeyScheme = 'Y'
)

// lmkTypeVariants are XORed into the first byte of the LMK pair's left
// half for key-type variant 1-9.
var lmkTypeVariants = [...]byte{0xA6, 0x5A, 0x6A, 0xDE, 0x2B, 0x50, 0x74, 0x9C, 0xFA}

// Length variants XORed into the first byte of the right half, per part.
var (
	doubleVariants = [...]byte{0xA6, 0x5A}
	tripleVariants = [...]byte{0x6A, 0xDE, 0x2B}
)

// lmkPairForCode maps the key type's last two characters (00-0E) to the
// index of the LMK pair (pair 04-05 is index 2).
var lmkPairForCode = [...]int{2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}

// VariantLMK is a Thales variant LMK set. It is immutable once built and
// safe for concurrent use. It never prints its keys.
type VariantLMK struct {
	pairs [lmkPairCount][16]byte
}

// NewVariantLMK builds an LMK set from 20 double-length pairs (00-01
// first); every key must have odd parity (ErrLMK).
func NewVariantLMK(pairs [lmkPairCount][16]byte) (*VariantLMK, error) {
	for _, p := range pairs {
		if !HasOddParity(p[:]) {
			return nil, ErrLMK
		}
	}
	return &VariantLMK{pairs: pairs}, nil
}

// ThalesTestLMK returns the standard payShield test LMK set (the one every
// Thales simulator and jPOS test uses). Never use it for live keys.
func ThalesTestLMK() *VariantLMK {
	halves := [lmkPairCount][2]string{
		{"0101010101010101", "7902CD1FD36EF8BA"}, {"2020202020202020", "3131313131313131"},
		{"4040404040404040", "5151515151515151"}, {"6161616161616161", "7070707070707070"},
		{"8080808080808080", "9191919191919191"}, {"A1A1A1A1A1A1A1A1", "B0B0B0B0B0B0B0B0"},
		{"C1C1010101010101", "D0D0010101010101"}, {"E0E0010101010101", "F1F1010101010101"},
		{"1C587F1C13924FEF", "0101010101010101"}, {"0101010101010101", "0101010101010101"},
		{"0202020202020202", "0404040404040404"}, {"0707070707070707", "1010101010101010"},
		{"1313131313131313", "1515151515151515"}, {"1616161616161616", "1919191919191919"},
		{"1A1A1A1A1A1A1A1A", "1C1C1C1C1C1C1C1C"}, {"2323232323232323", "2525252525252525"},
		{"2626262626262626", "2929292929292929"}, {"2A2A2A2A2A2A2A2A", "2C2C2C2C2C2C2C2C"},
		{"2F2F2F2F2F2F2F2F", "3131313131313131"}, {"0101010101010101", "0101010101010101"},
	}
	var l VariantLMK
	for i, h := range halves {
		_, _ = decodeHexInto(l.pairs[i][:8], h[0])
		_, _ = decodeHexInto(l.pairs[i][8:], h[1])
	}
	return &l
}

// String does not show the LMK.
func (l *VariantLMK) String() string { return "hsm.VariantLMK{redacted}" }

// DecryptKey decrypts a key cryptogram (scheme tag, if any, then hex) of
// the given key type code ("001" ZPK, "009" BDK, ...). The clear key must
// have odd parity, as a payShield requires (ErrKeyParity).
func (l *VariantLMK) DecryptKey(keyType, cryptogram string) (Key, error) {
	lmk, err := l.typeKey(keyType)
	if err != nil {
		return Key{}, err
	}
	return decryptUnder(lmk, cryptogram)
}

// EncryptKey encrypts a DES/TDES key of the given type under the LMK with
// scheme s and returns the cryptogram with its scheme tag.
func (l *VariantLMK) EncryptKey(keyType string, s KeyScheme, k Key) (string, error) {
	lmk, err := l.typeKey(keyType)
	if err != nil {
		return "", err
	}
	return encryptUnder(lmk, s, k)
}

// typeKey returns the LMK pair for a key type code with its type variant.
func (l *VariantLMK) typeKey(keyType string) ([16]byte, error) {
	if l == nil || len(keyType) != 3 || keyType[0] < '0' || keyType[0] > '9' || keyType[1] != '0' {
		return [16]byte{}, ErrKeyType
	}
	code, ok := hexNibble(keyType[2])
	if !ok || int(code) >= len(lmkPairForCode) {
		return [16]byte{}, ErrKeyType
	}
	lmk := l.pairs[lmkPairForCode[code]]
	if v := keyType[0] - '0'; v > 0 {
		lmk[0] ^= lmkTypeVariants[v-1]
	}
	return lmk, nil
}
