package issuer

import (
	"strings"
	"testing"
)

// The demo chip profiles load with their defaults; each bad EMV setting
// rejects the whole file, naming the profile and the setting.
func TestEMVSettings(t *testing.T) {
	d, err := ParseCounted(DemoYAML())
	if err != nil {
		t.Fatal(err)
	}
	e := d.Profile("chip-cvn10").EMV
	if e == nil || e.CVN != 10 || e.ARQCFailureCode != "05" || e.ATCMaxJump != 100 || e.Fallback || d.Profile("standard").EMV != nil {
		t.Fatalf("chip-cvn10: %+v", e)
	}
	demo := string(DemoYAML())
	const line = "      cvn: 10                               # Visa CVN 10: ARPC method 1 (ARC)"
	if !strings.Contains(demo, line) {
		t.Fatal("the demo data changed: update the test")
	}
	for _, c := range []struct{ replace, with, want string }{
		{line, "      cvn: 11", "profiles[1].emv: cvn 11 must be 10, 18 (Visa), 16 or 17 (M/Chip)"},
		{"imk: U7475636CC30B93B493CF5EA53799EBCC  #", "imk: 0123456789ABCDEFFEDCBA9876543210  #", "profiles[1].emv: imk must be a cryptogram under the LMK"},
		{"imk_kcv: 08D7B4\n      arqc_failure_code: \"05\"               #", "imk_kcv: 08D7\n      arqc_failure_code: \"05\"               #", `profiles[1].emv: imk_kcv "08D7" must be`},
		{`arqc_failure_code: "05"               #`, `arqc_failure_code: "00"               #`, `profiles[1].emv: arqc_failure_code "00" must be 2 letters or digits, not 00`},
		{"atc_max_jump: 100                     #", "atc_max_jump: 70000                   #", "profiles[1].emv: atc_max_jump 70000 must be 1 to 65535"},
	} {
		bad := strings.Replace(demo, c.replace, c.with, 1)
		if bad == demo {
			t.Fatalf("%q not in the demo data", c.replace)
		}
		if _, err := ParseCounted([]byte(bad)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.with, err, c.want)
		}
	}
}
