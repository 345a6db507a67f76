package hsm

import (
	"errors"
	"testing"
)

const (
	aesBDK  = "FEDCBA9876543210F1F1F1F1F1F1F1F1"
	aesIKID = "1234567890123456"
)

// TestAESDUKPTInitialKey covers §3: derivation data and initial key.
func TestAESDUKPTInitialKey(t *testing.T) {
	var data [16]byte
	setDerivationHeader(&data, usageInitial, DUKPTKeyAES128)
	copy(data[8:], unhex(t, aesIKID))
	wantHex(t, "derivation data", data[:], "01018001000200801234567890123456")
	k, err := AESDUKPTInitialKey(aesKey(t, aesBDK), unhex(t, aesIKID))
	if err != nil {
		t.Fatal(err)
	}
	wantKey(t, "initial key", k, "1273671EA26AC29AFA4D1084127652A1")
}

// TestAESDUKPTTable covers all 8 rows and every column of the §3 table:
// transaction key, PIN key, MAC-generation key, data-encryption key and
// the ISO-4 PIN block (PIN 1234, PAN 4111111111111111, fixed random).
func TestAESDUKPTTable(t *testing.T) {
	rows := []struct{ ctr, txn, pinKey, macKey, dataKey, block string }{
		{"00000001", "4F21B565BAD9835E112B6465635EAE44", "AF8CB133A78F8DC2D1359F18527593FB", "A2DC23DE6FDE0824A2BC321E08E4B8B7", "A35C412EFD41FDB98B69797C02DCD08F", "A912150391AB65A67E52883D81CE2D15"},
		{"00000002", "2F34D68DE10F68D38091A73B9E7C437C", "D30BDC73EC9714B000BEC66BDB7B6D09", "484C3B06E8562704528CD5B46FB12FB6", "D639514AA33AC43AD9229E433D6D4E5B", "52A00503BD34BA1383F6A7EE9FE2547F"},
		{"00000003", "031504E530365CF81264238540518318", "7D69F01F3B45449F62C7816ECE723268", "A5DF7D9D800CA769766F0C77CA4E6E6C", "EF17F6AB45B4820C93A3DCB21BC491AD", "A5A27E82B43A9A866A93D7ABE89CEF93"},
		{"00000004", "0EEFC7ADA628BA68878DA9165A8A1887", "91A0588318EC2673214271F70137896E", "E6E4679647D8A9057C1FC15537CB4C4E", "B3BD44C08BB6BA27C3BB4711D7D70387", "71B3D0528669498777555A8BE6698E44"},
		{"00000005", "C2A7AC328A5DA2D6002D62465BFC028B", "35A43BC9EFEB09C756204B57E3FB7D4D", "0588185FE1FF8C7E22FAD78C1C61F065", "CA02DF6F30B39E14BD0B4A30E460920F", "881A7F77A2E04E5BEA985E342FD0B628"},
		{"00000006", "D30F7D9351DA58448A2F5E92B4EE3B7D", "02DCC6CD1201A3A2CA7099559C862123", "7B60F72A5639C0EE7EB2100FA80BB793", "C9B8A7C4E486180B2229115164F0B293", "BDC1C3871AFB0B340AA5B5CEFD08695E"},
		{"00000007", "A8253CEED9AC042C54F75D35C8352278", "6ECF912F3B18CA11A7A27BB60705FD09", "BAA08CA263C69525BC6B1BA8F4275D69", "0FA8F1F0A2DD7B1005A862D77CDED698", "4A8E6B8C7DBEE6CBA6DC774F0CB83396"},
		{"00000008", "718EE6CF0B27E53D5F7AF99C4D8146A2", "4D9DF3FBEE3448FC3E676D04320A90F5", "6FD572E5D59E618875F193484F9178FB", "650F34204ABD4E57764D61AC3D266FB1", "8308BB857C17F390369F761F8EB358FA"},
	}
	bdk := aesKey(t, aesBDK)
	initial, err := AESDUKPTInitialKey(bdk, unhex(t, aesIKID))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		t.Run(r.ctr, func(t *testing.T) {
			ksn := unhex(t, aesIKID+r.ctr)
			txn, err := AESDUKPTTransactionKey(initial, ksn)
			if err != nil {
				t.Fatal(err)
			}
			wantKey(t, "transaction key", txn, r.txn)
			for _, w := range []struct {
				u    DUKPTUsage
				want string
			}{{DUKPTUsagePINEncryption, r.pinKey}, {DUKPTUsageMACGenerate, r.macKey}, {DUKPTUsageDataEncrypt, r.dataKey}} {
				k, err := AESDUKPTKey(bdk, ksn, w.u, DUKPTKeyAES128)
				if err != nil {
					t.Fatal(err)
				}
				wantKey(t, "working key", k, w.want)
			}
			pinKey, _ := AESDUKPTKey(bdk, ksn, DUKPTUsagePINEncryption, DUKPTKeyAES128)
			got, err := EncryptPINBlock(pinKey, ISO4, pin(t, "1234"), "4111111111111111", constReader{unhex(t, "2F69ADDE2E9E7ACE")})
			if err != nil {
				t.Fatal(err)
			}
			wantHex(t, "ISO-4 block", got, r.block)
		})
	}
}

// TestAESDUKPTExtraCounters covers the §3 additional transaction keys, the
// CyberChef PIN keys and moov-io/dukpt's request/response CMACs.
func TestAESDUKPTExtraCounters(t *testing.T) {
	bdk := aesKey(t, aesBDK)
	initial, err := AESDUKPTInitialKey(bdk, unhex(t, aesIKID))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ ctr, want string }{
		{"0001FFFE", "E21E8C8D347F8561A2BE752DAA85A111"}, {"00020000", "F7AE9025468A25D37B7249CFFED224C8"},
		{"00020001", "692C8EA4013645135B36497131DF9D2C"}, {"FFFE2000", "48E585B694EB0B18D5C35443E163C0BA"},
		{"FFFE4000", "396C2C7CA1EA701C03B86B7D41F0C562"}, {"FFFE8000", "0387625F189B58AE03EF0E8CCA41105E"},
		{"FFFF0000", "F6BA59389BD14A9855BE9727E7C52E3C"},
	} {
		txn, err := AESDUKPTTransactionKey(initial, unhex(t, aesIKID+r.ctr))
		if err != nil {
			t.Fatalf("%s: %v", r.ctr, err)
		}
		wantKey(t, "transaction key "+r.ctr, txn, r.want)
	}
	for _, r := range []struct{ ctr, want string }{
		{"00020000", "AB828BE7B58C7EC5D5ED0D5D320A0C9D"}, {"00845FED", "D1DDA386AA4A556AF0119FDCB5D132C6"},
	} {
		k, err := AESDUKPTKey(bdk, unhex(t, aesIKID+r.ctr), DUKPTUsagePINEncryption, DUKPTKeyAES128)
		if err != nil {
			t.Fatal(err)
		}
		wantKey(t, "PIN key "+r.ctr, k, r.want)
	}
	ksn := unhex(t, aesIKID+"00000001")
	for u, want := range map[DUKPTUsage]string{DUKPTUsageMACGenerate: "A2EB5C1C35809E58404E873C3C411E31", DUKPTUsageMACVerify: "DD4E1895FD9BF53D8DAF25568ABF551D"} {
		k, err := AESDUKPTKey(bdk, ksn, u, DUKPTKeyAES128)
		if err != nil {
			t.Fatal(err)
		}
		mac, err := GenerateMAC(k, MACCMAC, MACPaddingNone, []byte(dukptMACData))
		if err != nil {
			t.Fatal(err)
		}
		wantHex(t, "CMAC", mac, want)
	}
}

// TestAESDUKPTErrors covers invalid counters (including the supplement's
// 17-bit 0001FFFF), KSN length, key types and usages.
func TestAESDUKPTErrors(t *testing.T) {
	bdk := aesKey(t, aesBDK)
	tests := []struct {
		name string
		key  Key
		ksn  string
		u    DUKPTUsage
		kt   DUKPTKeyType
		want error
	}{
		{"counter 17 ones", bdk, aesIKID + "0001FFFF", DUKPTUsagePINEncryption, DUKPTKeyAES128, ErrKSN},
		{"counter zero", bdk, aesIKID + "00000000", DUKPTUsagePINEncryption, DUKPTKeyAES128, ErrKSN},
		{"KSN 10 bytes", bdk, "FFFF9876543210E00001", DUKPTUsagePINEncryption, DUKPTKeyAES128, ErrKSN},
		{"AES-256 from AES-128", bdk, aesIKID + "00000001", DUKPTUsagePINEncryption, DUKPTKeyAES256, ErrDUKPTUsage},
		{"unknown usage", bdk, aesIKID + "00000001", DUKPTUsage(0x8000), DUKPTKeyAES128, ErrDUKPTUsage},
		{"unknown key type", bdk, aesIKID + "00000001", DUKPTUsagePINEncryption, DUKPTKeyType(9), ErrDUKPTUsage},
		{"TDES BDK", tdes(t, dukptBDK), aesIKID + "00000001", DUKPTUsagePINEncryption, DUKPTKeyAES128, ErrKeyAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := AESDUKPTKey(tc.key, unhex(t, tc.ksn), tc.u, tc.kt); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
