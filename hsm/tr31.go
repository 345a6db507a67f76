package hsm

// TR-31 / ANSI X9.143 key blocks: parsing the clear header.

const (
	// keyBlockCharsMax is the largest block the 4-digit length field can state.
	keyBlockCharsMax = 9999
	// keyBlockHeaderChars is the fixed part of the header.
	keyBlockHeaderChars = 16
)

// KeyBlockHeader is the clear header of a TR-31 key block.
type KeyBlockHeader struct {
	Version        byte   // key block version ID: 'A', 'B', 'C' or 'D'
	Length         int    // total block length in characters
	Usage          string // key usage, 2 characters ("P0" PIN encryption, "B0" BDK, "K0" KEK, ...)
	Algorithm      byte   // 'T' TDES, 'D' DES, 'A' AES, ...
	ModeOfUse      byte   // 'E', 'D', 'B', 'N', 'X', ...
	KeyVersion     string // key version number, 2 characters
	Exportability  byte   // 'E', 'N' or 'S'
	OptionalBlocks []OptionalBlock
	raw            string // the header as authenticated, optional blocks included
}

// OptionalBlock is one optional header block (e.g. "KS" key set ID, "PB" padding).
type OptionalBlock struct {
	ID   string
	Data string
}

// ParseKeyBlockHeader parses and checks the header of a key block,
// including its optional blocks, without any key.
func ParseKeyBlockHeader(block string) (KeyBlockHeader, error) {
	if len(block) < keyBlockHeaderChars || len(block) > keyBlockCharsMax {
		return KeyBlockHeader{}, ErrKeyBlock
	}
	for i := 0; i < len(block); i++ {
		if block[i] < 0x20 || block[i] > 0x7E {
			return KeyBlockHeader{}, ErrKeyBlock
		}
	}
	length, ok1 := decimal(block[1:5])
	count, ok2 := decimal(block[12:14])
	if !ok1 || !ok2 || length != len(block) {
		return KeyBlockHeader{}, ErrKeyBlock
	}
	h := KeyBlockHeader{
		Version: block[0], Length: length, Usage: block[5:7], Algorithm: block[7],
		ModeOfUse: block[8], KeyVersion: block[9:11], Exportability: block[11],
	}
	end, err := h.parseOptional(block, count)
	if err != nil {
		return KeyBlockHeader{}, err
	}
	h.raw = block[:end]
	return h, nil
}

// parseOptional reads count optional blocks after the fixed header and
// returns the header's end offset. The count is two digits, so at most 99.
func (h *KeyBlockHeader) parseOptional(block string, count int) (int, error) {
	pos := keyBlockHeaderChars
	if count > 0 {
		h.OptionalBlocks = make([]OptionalBlock, 0, count)
	}
	for i := 0; i < count; i++ {
		if pos+4 > len(block) {
			return 0, ErrKeyBlock
		}
		size, ok := hexNumber(block[pos+2 : pos+4])
		dataStart := pos + 4
		if ok && size == 0 { // extended length: 2 hex digits give the length of the length
			var lenLen int
			lenLen, ok = hexNumber(block[pos+4 : min(pos+6, len(block))])
			if ok && lenLen > 0 && lenLen <= 4 && pos+6+lenLen <= len(block) {
				size, ok = hexNumber(block[pos+6 : pos+6+lenLen])
				dataStart = pos + 6 + lenLen
			} else {
				ok = false
			}
		}
		if !ok || size < dataStart-pos || pos+size > len(block) {
			return 0, ErrKeyBlock
		}
		h.OptionalBlocks = append(h.OptionalBlocks, OptionalBlock{ID: block[pos : pos+2], Data: block[dataStart : pos+size]})
		pos += size
	}
	return pos, nil
}

// decimal parses ASCII digits.
func decimal(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, len(s) > 0
}

// hexNumber parses up to 4 hex digits as a number.
func hexNumber(s string) (int, bool) {
	if len(s) == 0 || len(s) > 4 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		v, ok := hexNibble(s[i])
		if !ok {
			return 0, false
		}
		n = n<<4 | int(v)
	}
	return n, true
}
