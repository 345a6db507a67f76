package issuer

import (
	"strings"
	"testing"
)

// A DUKPT terminal names its device by its initial KSN (zero counter) in a
// key set of keys.bdks; anything else rejects the file.
func TestDUKPTSettings(t *testing.T) {
	const bdks = "  pvki: 1\n  bdks:\n    - {ksi: FFFF987654, bdk: U8E3D3E2FD5919657F05A1AA90D32A014}\n"
	with := func(keys, dukpt string) string {
		s := strings.Replace(string(DemoYAML()), "  pvki: 1\n", keys, 1)
		return strings.Replace(s, "  - id: TERM0001\n", "  - id: TERM0001\n    dukpt: "+dukpt+"\n", 1)
	}
	d, err := ParseCounted([]byte(with(bdks, "{ksn: FFFF9876543210E00000}")))
	if err != nil {
		t.Fatal(err)
	}
	if tm, _ := d.Terminal([]byte("TERM0001")); tm.DUKPT.Field != DefaultKSNField {
		t.Errorf("field %d, want the default %d", tm.DUKPT.Field, DefaultKSNField)
	}
	if b, ok := d.BDK("ffff987654"); !ok || b != "U8E3D3E2FD5919657F05A1AA90D32A014" {
		t.Errorf("BDK %q %v", b, ok)
	}
	for _, c := range []struct{ keys, dukpt, want string }{
		{bdks, "{ksn: FFFF9876543210F00000}", "dukpt.ksn"}, // a counter bit set (the low bit of digit 15)
		{bdks, "{ksn: FFFF9876543210E00001}", "dukpt.ksn"},
		{bdks, "{ksn: FFFF9876543210E0000}", "dukpt.ksn"},
		{bdks, "{ksn: AAAA9876543210E00000}", "key set AAAA987654 is not in keys.bdks"},
		{bdks, "{ksn: FFFF9876543210E00000, field: 52}", "dukpt.field 52"},
		{"  pvki: 1\n  bdks:\n    - {ksi: FFFF98765, bdk: U8E3D3E2FD5919657F05A1AA90D32A014}\n", "{ksn: FFFF9876543210E00000}", "keys.bdks[0]: ksi"},
		{"  pvki: 1\n  bdks:\n    - {ksi: FFFF987654, bdk: 0123456789ABCDEFFEDCBA9876543210}\n", "{ksn: FFFF9876543210E00000}", "keys.bdks[0]: bdk must be a cryptogram"},
	} {
		if _, err := ParseCounted([]byte(with(c.keys, c.dukpt))); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.dukpt, err, c.want)
		}
	}
}
