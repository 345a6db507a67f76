package payshield

import (
	"encoding/hex"
	"strings"
	"testing"
)

// unhexS decodes a hex vector into the binary string a field carries.
func unhexS(t testing.TB, s string) string {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSection9Vectors sends the HSM_VECTORS.md §9 request bodies to the
// simulator over TCP and checks the exact reply bodies. Fields are joined
// as the vector table lists them; MA/MC data, shown there as hex, travels
// as the binary bytes.
func TestSection9Vectors(t *testing.T) {
	_, addr := startServer(t, ServerConfig{})
	rc := dialRaw(t, addr)
	j := func(f ...string) string { return strings.Join(f, "") }
	const pvk, acct = "X367930344805B1FAD6146EF4ED7502B3", "550000025321"
	tests := []struct{ name, cmd, req, want string }{
		{"DC single TPK 01", "DC", j("0406FBB23A5214DF", "367930344805B1FAD6146EF4ED7502B3", "AE7A708F877571A9", "01", acct, "1", "4402"), "00"},
		{"DC PVV 4401", "DC", j("0406FBB23A5214DF", "367930344805B1FAD6146EF4ED7502B3", "AE7A708F877571A9", "01", acct, "1", "4401"), "01"},
		{"DC U TPK 03", "DC", j("U8463435FC4B4DAA0C49025272C29B12C", pvk, "028DCC093FB0471F", "03", acct, "1", "4402"), "00"},
		{"EC single ZPK 03", "EC", j("BAB32D775A38E4AB", pvk, "F7808F2CBEC63168", "03", acct, "1", "4402"), "00"},
		{"EC U ZPK 01", "EC", j("U1EF828AA8F6B80EB83E19FBC373F3A85", pvk, "91DDDA0A7C12CFAA", "01", acct, "1", "4402"), "00"},
		{"CA 03->03", "CA", j("0406FBB23A5214DF", "BAB32D775A38E4AB", "12", "DC80B186C30902B0", "03", "03", acct), j("00", "04", "F7808F2CBEC63168", "03")},
		{"CA 01->01", "CA", j("0406FBB23A5214DF", "BAB32D775A38E4AB", "12", "AE7A708F877571A9", "01", "01", acct), j("00", "04", "E98FFDA17099AF55", "01")},
		{"CA U keys", "CA", j("U8463435FC4B4DAA0C49025272C29B12C", "U1EF828AA8F6B80EB83E19FBC373F3A85", "12", "6428EB94035AF53B", "01", "01", acct), j("00", "04", "91DDDA0A7C12CFAA", "01")},
		{"CC 03->03", "CC", j("BAB32D775A38E4AB", "U1EF828AA8F6B80EB83E19FBC373F3A85", "12", "F7808F2CBEC63168", "03", "03", acct), j("00", "04", "82206CCD872229C2", "03")},
		{"CC 03->01", "CC", j("BAB32D775A38E4AB", "U1EF828AA8F6B80EB83E19FBC373F3A85", "12", "F7808F2CBEC63168", "03", "01", acct), j("00", "04", "91DDDA0A7C12CFAA", "01")},
		{"G0", "G0", j("U8E3D3E2FD5919657F05A1AA90D32A014", "U1EF828AA8F6B80EB83E19FBC373F3A85", "A05", "FFFF9876543210E00008", "50E55547A5027551", "01", "01", "401234567890"), j("00", "04", "AC623CC691B16CBF", "01")},
		// EMV_VECTORS.md §4.2 G2: a 16-digit KSN (605), left-padded with F to name the same key
		{"G0 16-digit KSN", "G0", j("U8E3D3E2FD5919657F05A1AA90D32A014", "U1EF828AA8F6B80EB83E19FBC373F3A85", "605", "9876543210E00001", "1B9C1845EB993A7A", "01", "01", "401234567890"), j("00", "04", "AC623CC691B16CBF", "01")},
		{"BU ZMK", "BU", j("00", "1", "U93CB819F8FEE4F78BF9C4CDD84750DB1"), j("00", "B70AD25C94548822")},
		{"BU ZPK", "BU", j("01", "1", "U1EF828AA8F6B80EB83E19FBC373F3A85"), j("00", "6F1E3F74F826B7EB")},
		{"A6 U", "A6", j("001", "U71979DEB8587E2734F1E99D5DCAEF9AC", "U482C4E722BB0CF1845E1E5BD16310119", "U"), j("00", "U0E07CDC0161A0DE3B5AA44DF227EC9DE", "ABDEBC")},
		{"A6 X", "A6", j("001", "U71979DEB8587E2734F1E99D5DCAEF9AC", "XC8E3118AFA853807EB7E92294663A5BA", "U"), j("00", "U1EF828AA8F6B80EB83E19FBC373F3A85", "6F1E3F")},
		{"FA", "FA", j("U1457FF6ADF6250C66C368416B4C9D383", "2B930A07119F93A8"), j("00", "BAB32D775A38E4AB", "73936E441E46819D")},
		{"MA", "MA", j("C6F34693FB39CB6E", unhexS(t, "676976656D65534F4D454D4143696E67")), j("00", "170C2BDB")},
		{"MC", "MC", j("C6F34693FB39CB6E", "170C2BDB", unhexS(t, "676976656D65534F4D454D4143696E67")), "00"},
		{"MC last byte 68->01", "MC", j("C6F34693FB39CB6E", "170C2BDB", unhexS(t, "676976656D65534F4D454D4143696E68")), "01"},
		{"M6", "M6", j("0", "1", "03", "2", "003", "U19D25F349FD03CC3556BB05F65283CA1", "0040", "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2"), j("00", "5F1448EE")},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc.t = t
			hdr := string(appendNum(nil, i, 4))
			rc := rc
			got := rc.send(hdr, tc.cmd+tc.req)
			rcode := responseCode([]byte(tc.cmd))
			if want := string(rcode[:]) + tc.want; got != want {
				t.Errorf("%s reply %q, want %q", tc.cmd, got, want)
			}
		})
	}
}
