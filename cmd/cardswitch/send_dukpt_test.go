package main

import (
	"testing"

	"github.com/cardswitch/cardswitch/codec"
)

// send --ksn builds the X9.24-1 PIN block (HSM_VECTORS.md §2: PIN 1234,
// PAN 4012345678909, KSN FFFF9876543210E00001 -> 1B9C1845EB993A7A) from
// the BDK in clear or under the test LMK, and puts the KSN in field 62.
func TestSendDUKPTFields(t *testing.T) {
	for _, bdk := range []string{"0123456789ABCDEFFEDCBA9876543210", "U8E3D3E2FD5919657F05A1AA90D32A014"} {
		f := &sendFlags{ksn: "FFFF9876543210E00001", bdk: bdk, pin: "1234"}
		m := codec.Message{MTI: "0200", Fields: map[string]string{"2": "4012345678909", "41": "TERM0001"}}
		if err := dukptFields(f, &m); err != nil {
			t.Fatal(err)
		}
		if m.Fields["52"] != "1B9C1845EB993A7A" || m.Fields["62"] != "FFFF9876543210E00001" {
			t.Errorf("BDK %s: 52 %s 62 %s", bdk, m.Fields["52"], m.Fields["62"])
		}
	}
	for _, ksn := range []string{"FFFF9876543210E007FF", "FFFF9876543210E00000", "FFFF98765432"} {
		f := &sendFlags{ksn: ksn, bdk: "0123456789ABCDEFFEDCBA9876543210", pin: "1234"}
		m := codec.Message{Fields: map[string]string{"2": "4012345678909", "41": "TERM0001"}}
		if err := dukptFields(f, &m); err == nil {
			t.Errorf("KSN %s accepted", ksn)
		}
	}
	f := &sendFlags{ksn: "FFFF9876543210E00001", pin: "1234"} // the embedded data has no key set
	if err := dukptFields(f, &codec.Message{Fields: map[string]string{"2": "4012345678909", "41": "TERM0001"}}); err == nil {
		t.Error("no BDK: accepted")
	}
}
