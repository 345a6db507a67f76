package hsm

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// headerOf reads the header column of EMV_VECTORS.md §3.1 into the fields
// WrapKeyBlock takes: the fixed 16 characters, then each optional block as
// ID, 2 hex digits of size, data. The length field is left for wrap to fill.
func headerOf(t *testing.T, s string) KeyBlockHeader {
	t.Helper()
	h := KeyBlockHeader{Version: s[0], Usage: s[5:7], Algorithm: s[7], ModeOfUse: s[8], KeyVersion: s[9:11], Exportability: s[11]}
	for rest := s[16:]; rest != ""; {
		size, ok := hexNumber(rest[2:4])
		if !ok || size > len(rest) {
			t.Fatalf("bad optional block in %s", s)
		}
		h.OptionalBlocks = append(h.OptionalBlocks, OptionalBlock{ID: rest[:2], Data: rest[4:size]})
		rest = rest[size:]
	}
	return h
}

// TestWrapKeyBlockKnownAnswers wraps every row of EMV_VECTORS.md §3.1
// (TR-31:2018 A.7.2.2, A.7.3.2, A.7.4; X9.143:2021 8.1 and 8.4.2 with the
// key length masked; payShield 10k B and D; chhil B and D) with the
// recovered padding as the random source, and must give the published
// block character for character.
func TestWrapKeyBlockKnownAnswers(t *testing.T) {
	const a74 = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6"
	a41 := strings.Repeat("41", 32)
	tests := []struct {
		name, kbpk, header, key, pad string
		mask                         int
		block                        string
	}{
		{"A.7.2.2 B", "DD7515F2BFC17F85CE48F3CA25CB21F6", "B0080P0TE00E0000", "3F419E1CB7079442AA37474C2EFBF8B8", "1C2965473CE2", 0,
			"B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E"},
		{"A.7.3.2 B KS", "1D22BF32387C600AD97F9B97A51311AC", "B0104B0TX12S0100KS1800604B120F9292800000", "E8BC63E5479455E26577F715D587FE68", "30111D18CC4C", 0,
			"B0104B0TX12S0100KS1800604B120F9292800000BB68BE8680A400D9191AD4ECE45B6E6C0D21C4738A52190E248719E24B433627"},
		{"X9.143 8.4.2 B KS masked", "1D22BF32387C600AD97F9B97A51311AC", "B0120B0TX12S0100KS1800604B120F9292800000", "E8BC63E5479455E26577F715D587FE68", "7CB920D261E9F3AA30111D18CC4C", 24,
			"B0120B0TX12S0100KS1800604B120F929280000015CEB14B76D551F21EC43A75390FA118A98C6CB049E3B9E864A5F4A8B9A5108A6DB5635C95B042D7"},
		{"payShield B", "EFE0853B256B583D868F251CE99EA1D9", "B0080K0TN00N0000", "5DB50B454F8389ADCE573BE50861F2BF", "F786DF9F6A54", 0,
			"B0080K0TN00N00001C414014375212C24995E405B5EE052CB92B67F455EA2680F6751088F9F1C228"},
		{"chhil B", "DD7515F2BFC17F85CE48F3CA25CB21F6", "B0080P0TE00E0000", "3F419E1CB7079442AA37474C2EFBF8B8", "000000000000", 0,
			"B0080P0TE00E0000A2C7F59BE6B748A73A56D613E9DAFCAB38FD56EB5496120F0E16D23DF31E7CD8"},
		{"A.7.4 D", a74, "D0112P0AE00E0000", "3F419E1CB7079442AA37474C2EFBF8B8", "1C2965473CE206BB855B01533782", 0,
			"D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34"},
		{"X9.143 8.1 D masked", a74, "D0144P0AE00E0000", "3F419E1CB7079442AA37474C2EFBF8B8", "1A87BBFA2CFE78D383E5F4C6AA83473C1C2965473CE206BB855B01533782", 32,
			"D0144P0AE00E00002C77FA3F4A553BED6E88AE5C172A4166E3D4ACA8E2AC71C158A476FAC12C13C3829DE55D3AB54C48F4C4FEF7AC75E90FC47F1B77E7B19A73ED46E64410082557"},
		{"payShield D TDES key", a41, "D0112B0TN00N0000", "1FA1F7CEC798D91545DA8AE0C7796BD9", "6B58C03B829BF4CC37B8B93C17F6", 0,
			"D0112B0TN00N000037DB9B046B7B0048785690759580ABC3B9842AB4BB7717B49E92528E575785D8123559376A2553B27BE94F054F4E971C"},
		{"payShield D AES-256 key", a41, "D0144D0AN00N0000", "BE19E6A07A760F10EF8E83A226B63AAD141F463FDDD4F47DB244B4023EC3CACC", "295FF17ED49FA896A5D945C176B7", 0,
			"D0144D0AN00N0000127862F945C2DED04530FAF7CDBC8B0BA10C7AA79BD5E0C2C5D6AC173BF588E4B19ACF1357178D50EA0AB193228E13958304FC6149632DFDCADF3A5B3D57E814"},
		{"chhil D", a74, "D0112P0TE00E0000", "3F419E1CB7079442AA37474C2EFBF8B8", strings.Repeat("00", 14), 0,
			"D0112P0TE00E000058742769AD697DEF9FE0EAA32B222D622C0F469170702F5BE63E6DD3F50BF78859FBF437FD5CBE4508B19DAEE31A0EAB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kbpk := tdesOrAES(t, tc.kbpk, tc.header[0] == 'D')
			key := tdesOrAES(t, tc.key, tc.header[7] == 'A')
			pad := bytes.NewReader(unhex(t, tc.pad))
			got, err := WrapKeyBlock(kbpk, headerOf(t, tc.header), key, pad, tc.mask)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.block {
				t.Errorf("block\n got %s\nwant %s", got, tc.block)
			}
			if pad.Len() != 0 {
				t.Errorf("%d padding bytes left unread", pad.Len())
			}
		})
	}
}

// TestWrapKeyBlockRoundTrip wraps with crypto/rand padding and unwraps:
// every KBPK size of both versions, DES, TDES and AES keys, masked
// lengths, and optional blocks that need a PB block (the D header of 16 +
// 24 characters is off the 16-byte boundary) or the extended length form.
func TestWrapKeyBlockRoundTrip(t *testing.T) {
	ks := OptionalBlock{ID: "KS", Data: "00604B120F9292800000"}
	long := OptionalBlock{ID: "HM", Data: strings.Repeat("x", 300)}
	tests := []struct {
		name, kbpk, key string
		h               KeyBlockHeader
		mask            int
	}{
		{"B 2TDEA", "DD7515F2BFC17F85CE48F3CA25CB21F6", "3F419E1CB7079442AA37474C2EFBF8B8", KeyBlockHeader{Version: 'B', Usage: "P0", Algorithm: 'T', ModeOfUse: 'E', KeyVersion: "00", Exportability: 'E'}, 0},
		{"B 3TDEA KBPK, 3TDEA key", "DD7515F2BFC17F85CE48F3CA25CB21F6DD7515F2BFC17F85", "0123456789ABCDEFFEDCBA98765432100123456789ABCDEF", KeyBlockHeader{Version: 'B', Usage: "K0", Algorithm: 'T', ModeOfUse: 'B', KeyVersion: "12", Exportability: 'S'}, 0},
		{"B single DES key masked", "DD7515F2BFC17F85CE48F3CA25CB21F6", "0123456789ABCDEF", KeyBlockHeader{Version: 'B', Usage: "D0", Algorithm: 'D', ModeOfUse: 'D', KeyVersion: "00", Exportability: 'N'}, 24},
		{"B KS", "1D22BF32387C600AD97F9B97A51311AC", "E8BC63E5479455E26577F715D587FE68", KeyBlockHeader{Version: 'B', Usage: "B0", Algorithm: 'T', ModeOfUse: 'X', KeyVersion: "12", Exportability: 'S', OptionalBlocks: []OptionalBlock{ks}}, 0},
		{"D AES-128 KBPK, AES-128 key", "000102030405060708090A0B0C0D0E0F", "F0E0D0C0B0A090807060504030201000", KeyBlockHeader{Version: 'D', Usage: "P0", Algorithm: 'A', ModeOfUse: 'E', KeyVersion: "00", Exportability: 'E'}, 0},
		{"D AES-192 KBPK, TDES key", "000102030405060708090A0B0C0D0E0F1011121314151617", "3F419E1CB7079442AA37474C2EFBF8B8", KeyBlockHeader{Version: 'D', Usage: "M3", Algorithm: 'T', ModeOfUse: 'C', KeyVersion: "01", Exportability: 'N'}, 0},
		{"D KS needs PB", strings.Repeat("41", 32), "BE19E6A07A760F10EF8E83A226B63AAD141F463FDDD4F47DB244B4023EC3CACC", KeyBlockHeader{Version: 'D', Usage: "D0", Algorithm: 'A', ModeOfUse: 'B', KeyVersion: "00", Exportability: 'E', OptionalBlocks: []OptionalBlock{ks}}, 0},
		{"D extended length block, masked", strings.Repeat("41", 32), "F0E0D0C0B0A090807060504030201000", KeyBlockHeader{Version: 'D', Usage: "D0", Algorithm: 'A', ModeOfUse: 'B', KeyVersion: "00", Exportability: 'E', OptionalBlocks: []OptionalBlock{ks, long}}, 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kbpk := tdesOrAES(t, tc.kbpk, tc.h.Version == 'D')
			key := tdesOrAES(t, tc.key, tc.h.Algorithm == 'A')
			block, err := WrapKeyBlock(kbpk, tc.h, key, nil, tc.mask)
			if err != nil {
				t.Fatal(err)
			}
			got, h, err := UnwrapKeyBlock(kbpk, block)
			if err != nil {
				t.Fatalf("unwrap %s: %v", block, err)
			}
			if !got.Equal(key) {
				t.Errorf("key = %s, want %s", got.KCV(), key.KCV())
			}
			if h.Version != tc.h.Version || h.Usage != tc.h.Usage || h.Algorithm != tc.h.Algorithm ||
				h.ModeOfUse != tc.h.ModeOfUse || h.KeyVersion != tc.h.KeyVersion || h.Exportability != tc.h.Exportability {
				t.Errorf("header %+v, want %+v", h, tc.h)
			}
			if len(tc.h.OptionalBlocks) > 0 && len(h.raw)%kbpk.block.BlockSize() != 0 {
				t.Errorf("header %q is not a multiple of the block size", h.raw)
			}
			for i, b := range tc.h.OptionalBlocks {
				if i >= len(h.OptionalBlocks) || h.OptionalBlocks[i] != b {
					t.Fatalf("optional blocks = %+v, want %+v first", h.OptionalBlocks, tc.h.OptionalBlocks)
				}
			}
			if extra := len(h.OptionalBlocks) - len(tc.h.OptionalBlocks); extra > 1 || extra == 1 && h.OptionalBlocks[len(h.OptionalBlocks)-1].ID != "PB" {
				t.Errorf("optional blocks = %+v", h.OptionalBlocks)
			}
			wantLen := 2 + key.Len()
			if tc.mask > 0 {
				wantLen = 2 + tc.mask
			}
			bs := kbpk.block.BlockSize()
			macLen := 8
			if tc.h.Version == 'D' {
				macLen = 16
			}
			if enc := len(block) - len(h.raw) - 2*macLen; enc != 2*((wantLen+bs-1)/bs*bs) {
				t.Errorf("encrypted key data is %d characters, want %d", enc, 2*((wantLen+bs-1)/bs*bs))
			}
			// Two wraps of the same key differ: the padding is random.
			again, _ := WrapKeyBlock(kbpk, tc.h, key, nil, tc.mask)
			if again == block {
				t.Errorf("two wraps gave the same block %s", block)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

// TestWrapKeyBlockRefusals: a KBPK that does not fit the version, a
// version wrap does not make, a header field of the wrong size or value,
// an algorithm that misstates the key, a bad mask, a failing random source.
func TestWrapKeyBlockRefusals(t *testing.T) {
	tdesKBPK := tdes(t, "DD7515F2BFC17F85CE48F3CA25CB21F6")
	desKBPK := tdes(t, "0123456789ABCDEF")
	aesKBPK := aesKey(t, strings.Repeat("41", 32))
	key := tdes(t, "3F419E1CB7079442AA37474C2EFBF8B8")
	ok := KeyBlockHeader{Version: 'B', Usage: "P0", Algorithm: 'T', ModeOfUse: 'E', KeyVersion: "00", Exportability: 'E'}
	with := func(f func(*KeyBlockHeader)) KeyBlockHeader { h := ok; f(&h); return h }
	tests := []struct {
		name string
		kbpk Key
		h    KeyBlockHeader
		key  Key
		rnd  io.Reader
		mask int
		want error
	}{
		{"B with AES KBPK", aesKBPK, ok, key, nil, 0, ErrKeyBlockVersion},
		{"B with single DES KBPK", desKBPK, ok, key, nil, 0, ErrKeyBlockVersion},
		{"D with TDES KBPK", tdesKBPK, with(func(h *KeyBlockHeader) { h.Version = 'D' }), key, nil, 0, ErrKeyBlockVersion},
		{"version A", tdesKBPK, with(func(h *KeyBlockHeader) { h.Version = 'A' }), key, nil, 0, ErrKeyBlockVersion},
		{"version C", tdesKBPK, with(func(h *KeyBlockHeader) { h.Version = 'C' }), key, nil, 0, ErrKeyBlockVersion},
		{"usage of 1 character", tdesKBPK, with(func(h *KeyBlockHeader) { h.Usage = "P" }), key, nil, 0, ErrKeyBlock},
		{"usage not printable", tdesKBPK, with(func(h *KeyBlockHeader) { h.Usage = "P\n" }), key, nil, 0, ErrKeyBlock},
		{"key version of 3", tdesKBPK, with(func(h *KeyBlockHeader) { h.KeyVersion = "000" }), key, nil, 0, ErrKeyBlock},
		{"mode of use zero", tdesKBPK, with(func(h *KeyBlockHeader) { h.ModeOfUse = 0 }), key, nil, 0, ErrKeyBlock},
		{"exportability X", tdesKBPK, with(func(h *KeyBlockHeader) { h.Exportability = 'X' }), key, nil, 0, ErrKeyBlock},
		{"algorithm A for a TDES key", tdesKBPK, with(func(h *KeyBlockHeader) { h.Algorithm = 'A' }), key, nil, 0, ErrKeyAlgorithm},
		{"algorithm D for a 2TDEA key", tdesKBPK, with(func(h *KeyBlockHeader) { h.Algorithm = 'D' }), key, nil, 0, ErrKeyAlgorithm},
		{"optional block ID of 1", tdesKBPK, with(func(h *KeyBlockHeader) { h.OptionalBlocks = []OptionalBlock{{ID: "K", Data: "0"}} }), key, nil, 0, ErrKeyBlock},
		{"optional data not printable", tdesKBPK, with(func(h *KeyBlockHeader) { h.OptionalBlocks = []OptionalBlock{{ID: "KS", Data: "\x00"}} }), key, nil, 0, ErrKeyBlock},
		{"PB off the boundary", tdesKBPK, with(func(h *KeyBlockHeader) { h.OptionalBlocks = []OptionalBlock{{ID: "PB", Data: "0"}} }), key, nil, 0, ErrKeyBlock},
		{"mask below the key", tdesKBPK, ok, key, nil, 8, ErrKeyLength},
		{"mask too long", tdesKBPK, ok, key, nil, 65, ErrKeyLength},
		{"zero key", tdesKBPK, ok, Key{}, nil, 0, ErrKeyInvalid},
		{"zero KBPK", Key{}, ok, key, nil, 0, ErrKeyInvalid},
		{"random source fails", tdesKBPK, ok, key, failingReader{}, 0, ErrRandom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			block, err := WrapKeyBlock(tc.kbpk, tc.h, tc.key, tc.rnd, tc.mask)
			if !errors.Is(err, tc.want) || block != "" {
				t.Errorf("WrapKeyBlock = %q, %v; want %v", block, err, tc.want)
			}
		})
	}
}
