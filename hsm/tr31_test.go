package hsm

import (
	"errors"
	"testing"
)

// TestUnwrapKeyBlock covers every §7 row (TR-31:2018 A.7.2.1, A.7.2.2,
// A.7.3.1, A.7.3.2, A.7.4 and the payShield 10k A/B/C/D blocks) and the
// four chhil/TR31Keyblock blocks: clear key and KCV.
func TestUnwrapKeyBlock(t *testing.T) {
	const ks = "KS1800604B120F9292800000"
	tests := []struct {
		name, kbpk, block, key, kcv string
	}{
		{"A.7.2.1 ver A", "89E88CF7931444F334BD7547FC3F380C", "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701", "F039121BEC83D26B169BDCD5B22AAF8F", "CB9DEA"},
		{"A.7.2.2 ver B", "DD7515F2BFC17F85CE48F3CA25CB21F6", "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E", "3F419E1CB7079442AA37474C2EFBF8B8", "57C409"},
		{"A.7.3.1 ver C KS", "B8ED59E0A279A295E9F5ED7944FD06B9", "C0096B0TX12S0100KS1800604B120F9292800000BFB9B689CB567E66FC3FEE5AD5F52161FC6545B9D60989015D02155C", "EDB380DD340BC2620247D445F5B8D678", "F4B08D"},
		{"A.7.3.2 ver B KS", "1D22BF32387C600AD97F9B97A51311AC", "B0104B0TX12S0100KS1800604B120F9292800000BB68BE8680A400D9191AD4ECE45B6E6C0D21C4738A52190E248719E24B433627", "E8BC63E5479455E26577F715D587FE68", "9A4212"},
		{"A.7.4 ver D AES-256", "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6", "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34", "3F419E1CB7079442AA37474C2EFBF8B8", "08793E"},
		{"payShield A", "EFE0853B256B583D868F251CE99EA1D9", "A0072K0TN00N0000F40D5672C6D0EC86F860BA88D44D00F0CA9A8CE8CD2F640287A9A9EB", "5DB50B454F8389ADCE573BE50861F2BF", "5C9405"},
		{"payShield B", "EFE0853B256B583D868F251CE99EA1D9", "B0080K0TN00N00001C414014375212C24995E405B5EE052CB92B67F455EA2680F6751088F9F1C228", "5DB50B454F8389ADCE573BE50861F2BF", "5C9405"},
		{"payShield C", "EFE0853B256B583D868F251CE99EA1D9", "C0072K0TN00N0000C9B875FF7A5316BF221C09ED52080DE0B45632A4EA9CE87699CB565E", "5DB50B454F8389ADCE573BE50861F2BF", "5C9405"},
		{"payShield D", "4141414141414141414141414141414141414141414141414141414141414141", "D0112B0TN00N000037DB9B046B7B0048785690759580ABC3B9842AB4BB7717B49E92528E575785D8123559376A2553B27BE94F054F4E971C", "1FA1F7CEC798D91545DA8AE0C7796BD9", "FF5087"},
		{"chhil A", "89E88CF7931444F334BD7547FC3F380C", "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24D52C8D44AAEDA6D81752022B", "F039121BEC83D26B169BDCD5B22AAF8F", ""},
		{"chhil B", "DD7515F2BFC17F85CE48F3CA25CB21F6", "B0080P0TE00E0000A2C7F59BE6B748A73A56D613E9DAFCAB38FD56EB5496120F0E16D23DF31E7CD8", "3F419E1CB7079442AA37474C2EFBF8B8", ""},
		{"chhil C", "89E88CF7931444F334BD7547FC3F380C", "C0072P0TE00E00002B828E2A2249B239404A842BC2DBCB90681D684B8914D4D4BC03C461", "F03C141BEC83D26B169BDCD5B22AAF8F", ""},
		{"chhil D", "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6", "D0112P0TE00E000058742769AD697DEF9FE0EAA32B222D622C0F469170702F5BE63E6DD3F50BF78859FBF437FD5CBE4508B19DAEE31A0EAB", "3F419E1CB7079442AA37474C2EFBF8B8", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kbpk := tdesOrAES(t, tc.kbpk, tc.block[0] == 'D')
			k, h, err := UnwrapKeyBlock(kbpk, tc.block)
			if err != nil {
				t.Fatal(err)
			}
			wantKey(t, "clear key", k, tc.key)
			if tc.kcv != "" && k.KCV() != tc.kcv {
				t.Errorf("KCV = %s, want %s", k.KCV(), tc.kcv)
			}
			if h.Version != tc.block[0] || h.Usage != tc.block[5:7] || h.Algorithm != tc.block[7] ||
				h.ModeOfUse != tc.block[8] || h.KeyVersion != tc.block[9:11] || h.Exportability != tc.block[11] {
				t.Errorf("header %+v does not match %s", h, tc.block[:16])
			}
			if tc.block[12:14] == "01" && (len(h.OptionalBlocks) != 1 || h.OptionalBlocks[0].ID+"18"+h.OptionalBlocks[0].Data != ks) {
				t.Errorf("optional blocks = %+v", h.OptionalBlocks)
			}
		})
	}
}

// tdesOrAES parses a KBPK for the block's version.
func tdesOrAES(t *testing.T, s string, isAES bool) Key {
	t.Helper()
	if isAES {
		return aesKey(t, s)
	}
	return tdes(t, s)
}

// TestUnwrapKeyBlockErrors: tampered MAC, header, ciphertext; wrong KBPK;
// version/KBPK mismatch; malformed lengths and optional blocks.
func TestUnwrapKeyBlockErrors(t *testing.T) {
	const (
		kbpkB = "DD7515F2BFC17F85CE48F3CA25CB21F6"
		blkB  = "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E"
		kbpkD = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6"
		blkD  = "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34"
		kbpkA = "89E88CF7931444F334BD7547FC3F380C"
		blkA  = "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701"
	)
	tests := []struct {
		name, kbpk, block string
		aes               bool
		want              error
	}{
		{"B tampered MAC", kbpkB, blkB[:79] + "F", false, ErrKeyBlockMAC},
		{"B tampered header", kbpkB, "B0080P0TE01E0000" + blkB[16:], false, ErrKeyBlockMAC},
		{"B tampered ciphertext", kbpkB, blkB[:20] + "0" + blkB[21:], false, ErrKeyBlockMAC},
		{"D tampered MAC", kbpkD, blkD[:111] + "5", true, ErrKeyBlockMAC},
		{"D wrong KBPK", "89E88CF7931444F334BD7547FC3F380C89E88CF7931444F334BD7547FC3F380C", blkD, true, ErrKeyBlockMAC},
		{"A tampered MAC", kbpkA, blkA[:71] + "0", false, ErrKeyBlockMAC},
		{"A wrong KBPK", kbpkB, blkA, false, ErrKeyBlockMAC},
		{"D with TDES KBPK", kbpkB, blkD, false, ErrKeyBlockVersion},
		{"B with AES KBPK", kbpkD, blkB, true, ErrKeyBlockVersion},
		{"version E", kbpkB, "E" + blkB[1:], false, ErrKeyBlockVersion},
		{"length field wrong", kbpkB, "B0081" + blkB[5:], false, ErrKeyBlock},
		{"truncated", kbpkB, blkB[:70], false, ErrKeyBlock},
		{"too short", kbpkB, "B0010P0TE0", false, ErrKeyBlock},
		{"non-hex body", kbpkB, blkB[:30] + "ZZ" + blkB[32:], false, ErrKeyBlock},
		{"non-ASCII", kbpkB, blkB[:20] + "\x00" + blkB[21:], false, ErrKeyBlock},
		{"opt block count past end", kbpkB, "B0080P0TE00E9900" + blkB[16:], false, ErrKeyBlock},
		{"opt block length zero-size", "B8ED59E0A279A295E9F5ED7944FD06B9", "C0096B0TX12S0100KS0200604B120F9292800000BFB9B689CB567E66FC3FEE5AD5F52161FC6545B9D60989015D02155C", false, ErrKeyBlock},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := UnwrapKeyBlock(tdesOrAES(t, tc.kbpk, tc.aes), tc.block)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestKeyBlockExtendedOptionalBlock parses an optional block with the
// extended length form (length 00, length-of-length 04, length 0010). A
// structural test: §7 has no such block.
func TestKeyBlockExtendedOptionalBlock(t *testing.T) {
	h, err := ParseKeyBlockHeader("D0032P0AE00E0100KS00040010ABCDEF")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.OptionalBlocks) != 1 || h.OptionalBlocks[0] != (OptionalBlock{ID: "KS", Data: "ABCDEF"}) {
		t.Errorf("optional blocks = %+v", h.OptionalBlocks)
	}
	if _, err := ParseKeyBlockHeader("D0032P0AE00E0100KS00050010ABCDEF"); !errors.Is(err, ErrKeyBlock) {
		t.Errorf("bad length-of-length = %v", err)
	}
}
