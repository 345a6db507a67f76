package hsm

import (
	"bytes"
	"crypto/des"
	"errors"
	"testing"
)

const (
	dukptBDK      = "0123456789ABCDEFFEDCBA9876543210"
	dukptClearPIN = "041274EDCBA9876F" // ISO-0, PIN 1234, PAN 4012345678909
	dukptMACData  = "4012345678909D987"
)

// TestDUKPTIPEK covers §2: IPEK 6AC292FAA1315B4D858AB3A3D7D5933A.
func TestDUKPTIPEK(t *testing.T) {
	ipek, err := DUKPTIPEK(tdes(t, dukptBDK), unhex(t, "FFFF9876543210E00000"))
	if err != nil {
		t.Fatal(err)
	}
	wantKey(t, "IPEK", ipek, "6AC292FAA1315B4D858AB3A3D7D5933A")
}

// TestDUKPTTable covers all 21 rows of the §2 table (E00001-E00015):
// transaction key, encrypted PIN block, request and response X9.19 MACs.
func TestDUKPTTable(t *testing.T) {
	rows := []struct{ ksn, txn, pinBlock, reqMAC, respMAC string }{
		{"FFFF9876543210E00001", "042666B49184CFA368DE9628D0397BC9", "1B9C1845EB993A7A", "9CCC7817", "20364223"},
		{"FFFF9876543210E00002", "C46551CEF9FD24B0AA9AD834130D3BC7", "10A01C8D02C69107", "F608A9BC", "D1FCA6BE"},
		{"FFFF9876543210E00003", "0DF3D9422ACA56E547676D07AD6BADFA", "18DC07B94797B466", "20B59A4F", "BAD4CC9C"},
		{"FFFF9876543210E00004", "279C0F6AEED0BE652B2C733E1383AE91", "0BC79509D5645DF7", "C7BFA6CC", "1EB08AEE"},
		{"FFFF9876543210E00005", "5F8DC6D2C845C125508DDC048093B83F", "5BC0AF22AD87B327", "0202B963", "5CBE3E81"},
		{"FFFF9876543210E00006", "5E415CB0BAF9F03CD0C14B63FB62FF43", "A16DF70AE36158D8", "CF6C72E6", "C60D38E8"},
		{"FFFF9876543210E00007", "0C8F780B7C8B49D0AE84A9EB2A6CE660", "27711C16CB257F8E", "B11EB0D9", "053EFD39"},
		{"FFFF9876543210E00008", "27F66D5244FF62E1AA6F6120EDEB4280", "50E55547A5027551", "3679055B", "7FACA91D"},
		{"FFFF9876543210E00009", "27E31064FDC565698900E2057F658E7E", "536CF7F678ACFC8D", "26AA23DC", "37F17B8F"},
		{"FFFF9876543210E0000A", "6CF2500A22507C7CC776CEADC1E33014", "EDABBA23221833FE", "1632621C", "CE038CC9"},
		{"FFFF9876543210E0000B", "3E8260BA04B2D620C01482B3819A18B7", "2328981C57B4BDBA", "76D95CB4", "27C9FA5E"},
		{"FFFF9876543210E0000C", "B716E1E11CF53D80726CAEE75C3A624F", "038D03CC926CF286", "BAD9D84D", "6D2ECC6A"},
		{"FFFF9876543210E0000D", "E072EDF95340535FB6C581C58FBF2533", "6C8AA97088B62C68", "AAAFB598", "7E40B492"},
		{"FFFF9876543210E0000E", "A80046087F5B8F245AAD95E18429084F", "F17C9E1D72CD4950", "4EC79532", "55233989"},
		{"FFFF9876543210E0000F", "93DD5B956C4878472E453AAEFD32A5AA", "B170F6E7F7F2F64A", "82500D05", "AFE23CBA"},
		{"FFFF9876543210E00010", "59598DCBD9BD94C094165CE453585F57", "D5D9638559EF53D6", "D39D3A59", "9E933C88"},
		{"FFFF9876543210E00011", "2B5F01F4F0CC05EA639D523231BF1BA2", "D544F8CDD292C863", "F094AF93", "631E7B39"},
		{"FFFF9876543210E00012", "9CF640F279C2AEE615F725EEEAC2CBAF", "7A21BD10F36DC41D", "A819AF04", "E93F5E27"},
		{"FFFF9876543210E00013", "C3DF489FDF1153B4F03DE97C27DC4C2F", "78649BD17D0DFA60", "79285A17", "FCE7A5A5"},
		{"FFFF9876543210E00014", "658488507721B3F14737FA93F923CBD2", "7E7E16EA0C31AD56", "E2B2637F", "A10E94AA"},
		{"FFFF9876543210E00015", "E161D1956A61F6D2F37AFD7F9CC3699A", "72105C22EBC791E6", "B2033EBD", "BDA3AEE1"},
	}
	bdk := tdes(t, dukptBDK)
	for _, r := range rows {
		t.Run(r.ksn, func(t *testing.T) {
			ksn := unhex(t, r.ksn)
			ipek, err := DUKPTIPEK(bdk, ksn)
			if err != nil {
				t.Fatal(err)
			}
			txn, err := DUKPTTransactionKey(ipek, ksn)
			if err != nil {
				t.Fatal(err)
			}
			wantKey(t, "transaction key", txn, r.txn)
			checkDUKPTPINBlock(t, bdk, ksn, r.pinBlock)
			for _, m := range []struct {
				v    DUKPTVariant
				want string
			}{{DUKPTMACRequest, r.reqMAC}, {DUKPTMACResponse, r.respMAC}} {
				k, err := DUKPTKey(bdk, ksn, m.v)
				if err != nil {
					t.Fatal(err)
				}
				mac, err := GenerateMAC(k, MACISO9797Alg3, MACPadding1, []byte(dukptMACData))
				if err != nil {
					t.Fatal(err)
				}
				wantHex(t, "MAC", mac[:4], m.want)
			}
		})
	}
}

// checkDUKPTPINBlock encrypts the §2 clear block under the PIN key for ksn
// and decrypts the vector back to PIN 1234.
func checkDUKPTPINBlock(t *testing.T, bdk Key, ksn []byte, want string) {
	t.Helper()
	k, err := DUKPTKey(bdk, ksn, DUKPTPIN)
	if err != nil {
		t.Fatal(err)
	}
	got, err := EncryptPINBlock(k, ISO0, pin(t, "1234"), "4012345678909", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantHex(t, "PIN block", got, want)
	p, err := DecryptPINBlock(k, ISO0, unhex(t, want), "4012345678909")
	if err != nil || !p.Equal(pin(t, "1234")) {
		t.Errorf("decrypt %s: %v", want, err)
	}
}

// TestDUKPTFullMACs covers moov-io/dukpt's full 8-byte MACs for E00001.
func TestDUKPTFullMACs(t *testing.T) {
	bdk := tdes(t, dukptBDK)
	ksn := unhex(t, "FFFF9876543210E00001")
	for v, want := range map[DUKPTVariant]string{DUKPTMACRequest: "9CCC78173FC4FB64", DUKPTMACResponse: "20364223C1FF00FA"} {
		k, err := DUKPTKey(bdk, ksn, v)
		if err != nil {
			t.Fatal(err)
		}
		mac, err := GenerateMAC(k, MACISO9797Alg3, MACPadding1, []byte(dukptMACData))
		if err != nil {
			t.Fatal(err)
		}
		wantHex(t, "MAC", mac, want)
	}
}

// TestDUKPTVariantKeys covers the §2 variant keys for E00001 (PIN, MAC
// request, MAC response, data-request variant before the one-way function).
func TestDUKPTVariantKeys(t *testing.T) {
	bdk := tdes(t, dukptBDK)
	ksn := unhex(t, "FFFF9876543210E00001")
	for _, tc := range []struct {
		v    DUKPTVariant
		want string
	}{
		{DUKPTPIN, "042666B49184CF5C68DE9628D0397B36"},
		{DUKPTMACRequest, "042666B4918430A368DE9628D03984C9"},
		{DUKPTMACResponse, "042666B46E84CFA368DE96282F397BC9"},
	} {
		k, err := DUKPTKey(bdk, ksn, tc.v)
		if err != nil {
			t.Fatal(err)
		}
		wantKey(t, "variant key", k, tc.want)
	}
	var pre [16]byte
	xorBytes(pre[:], unhex(t, "042666B49184CFA368DE9628D0397BC9"), dukptMasks[DUKPTDataRequest][:])
	wantHex(t, "data-request variant", pre[:], "042666B4917BCFA368DE9628D0C67BC9")
}

// TestDUKPTExtraKSNs covers the §2 extra KSNs (encrypted PIN blocks) and
// the X9.24-1 A.4.3 rollover transaction keys.
func TestDUKPTExtraKSNs(t *testing.T) {
	blocks := []struct{ ctr, block string }{
		{"E10000", "19776D96D73AF1E2"}, {"E20000", "83F14581B8946B2D"}, {"E40000", "96B3ADCBF9F5219C"},
		{"E80000", "1E0F453FD55FCE45"}, {"EFF800", "33365F5CC6F23C35"}, {"EFF801", "3A86BF003F835C9D"},
		{"EFF802", "3DB977D05C36DF3F"}, {"EFF804", "BA83243305712099"}, {"EFF808", "B0DA04AC90A36D85"},
		{"EFF810", "2CF02BD9C309EEDA"}, {"EFF820", "9D1E2F77AEEE81C6"}, {"EFF840", "40870B0F8BA2011C"},
		{"EFF880", "22E340D6ABB40981"}, {"EFF900", "1A4C10AFBA03A430"}, {"EFFA00", "849763B43E5F9CFF"},
		{"EFFC00", "DEFC6F09F8927B71"}, {"F00000", "73EC88AD0AC5830E"},
	}
	bdk := tdes(t, dukptBDK)
	for _, b := range blocks {
		t.Run("block "+b.ctr, func(t *testing.T) {
			checkDUKPTPINBlock(t, bdk, unhex(t, "FFFF9876543210"+b.ctr), b.block)
		})
	}
	keys := []struct{ ctr, txn string }{
		{"EFF800", "F9CDFEBF4F5B1D9EB3EC12454527E176"}, {"EFF801", "5BEE92627E97825C911BF619DF72CA3B"},
		{"EFF802", "64CA2F8AB93F61B01620B00BF77C7301"}, {"EFF804", "35A168695B3BA83307E871C42021DD37"},
		{"EFF808", "12C380FCB72ED3C26FC6079AF63F4787"}, {"EFF810", "D8007C833A1E3C49C6889B97A68C54FF"},
		{"EFF820", "A9C9FF9B735FDD49591F296B0BF0FD70"}, {"EFF840", "0E3E221062CB5E03A384602783A004FA"},
		{"EFF880", "CA8225C587124DFBB87F279C0BE29727"}, {"EFF900", "906AAC1751D4971A144D52C76C6E1F97"},
		{"EFFA00", "2B9E2CE7C2750337E10B54D2989EA6AF"}, {"EFFC00", "F9430DF975082491C77BE4EF4FDB91EE"},
		{"F00000", "AA4D58DB653EC74A48C75F2F047DD2B5"},
	}
	ipek, err := DUKPTIPEK(bdk, unhex(t, "FFFF9876543210E00000"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		txn, err := DUKPTTransactionKey(ipek, unhex(t, "FFFF9876543210"+k.ctr))
		if err != nil {
			t.Fatal(err)
		}
		wantKey(t, "rollover key "+k.ctr, txn, k.txn)
	}
}

// TestDUKPTErrors covers bad KSNs, key lengths and variants.
func TestDUKPTErrors(t *testing.T) {
	bdk := tdes(t, dukptBDK)
	tests := []struct {
		name string
		bdk  Key
		ksn  string
		v    DUKPTVariant
		want error
	}{
		{"KSN 9 bytes", bdk, "FFFF9876543210E000", DUKPTPIN, ErrKSN},
		{"counter zero", bdk, "FFFF9876543210E00000", DUKPTPIN, ErrKSN},
		{"counter 11 ones", bdk, "FFFF9876543210E007FF", DUKPTPIN, ErrKSN},
		{"single DES BDK", tdes(t, "0123456789ABCDEF"), "FFFF9876543210E00001", DUKPTPIN, ErrKeyLength},
		{"AES BDK", aesKey(t, "FEDCBA9876543210F1F1F1F1F1F1F1F1"), "FFFF9876543210E00001", DUKPTPIN, ErrKeyAlgorithm},
		{"unknown variant", bdk, "FFFF9876543210E00001", DUKPTVariant(9), ErrDUKPTUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DUKPTKey(tc.bdk, unhex(t, tc.ksn), tc.v); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDUKPTMasks checks the variant masks against the §2 list, and the
// data keys' one-way function against a direct crypto/des computation from
// the §2 data-request variant. HSM_VECTORS.md has no vector for a data key
// after the one-way function, so this last part is a structural check, not
// a known answer.
func TestDUKPTMasks(t *testing.T) {
	for v, want := range map[DUKPTVariant]string{
		DUKPTPIN:          "00000000000000FF00000000000000FF",
		DUKPTMACRequest:   "000000000000FF00000000000000FF00",
		DUKPTMACResponse:  "00000000FF00000000000000FF000000",
		DUKPTDataRequest:  "0000000000FF00000000000000FF0000",
		DUKPTDataResponse: "000000FF00000000000000FF00000000",
	} {
		wantHex(t, "mask", dukptMasks[v][:], want)
	}
	variant := unhex(t, "042666B4917BCFA368DE9628D0C67BC9")
	c, err := des.NewTripleDESCipher(append(append([]byte{}, variant...), variant[:8]...))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 16)
	c.Encrypt(want[:8], variant[:8])
	c.Encrypt(want[8:], variant[8:])
	got, err := DUKPTKey(tdes(t, dukptBDK), unhex(t, "FFFF9876543210E00001"), DUKPTDataRequest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.bytes(), want) {
		t.Errorf("data-request key = %X, want %X", got.bytes(), want)
	}
	if _, err := DUKPTKey(tdes(t, dukptBDK), unhex(t, "FFFF9876543210E00001"), DUKPTDataResponse); err != nil {
		t.Error(err)
	}
}
