package chipcard

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/cardswitch/cardswitch/codec/emv"
	"github.com/cardswitch/cardswitch/hsm"
)

// TestVectorV10_3: the card and transaction of EMV_VECTORS.md V10-3 (Visa
// CVN 10, IMK 0123...3210, PAN 4761739001010010 PSN 01, 1.00 USD on
// 18-12-31, UN ABCDEF10, ATC 0002) give its ARQC 082044A7C7262817; and
// V18-3 (CVN 18, ATC 0001) its 0D69A8D61C867CF4. Field 55 parses and holds
// them.
func TestVectors(t *testing.T) {
	imk, err := hsm.ParseTDESKey("0123456789ABCDEFFEDCBA9876543210", hsm.ParityIgnore)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		cvn  hsm.CVN
		atc  uint16
		arqc string
	}{{hsm.VisaCVN10, 2, "082044A7C7262817"}, {hsm.VisaCVN18, 1, "0D69A8D61C867CF4"}} {
		c := Card{PAN: "4761739001010010", PSN: 0x01, CVN: v.cvn, IMK: imk}
		tx := Txn{Amount: 100, Currency: 840, Date: [3]byte{0x18, 0x12, 0x31}, Type: 0x01, UN: [4]byte{0xAB, 0xCD, 0xEF, 0x10}, ATC: v.atc}
		raw, err := ICC(c, tx)
		if err != nil {
			t.Fatal(err)
		}
		var icc emv.ICC
		if err := icc.Parse(raw); err != nil {
			t.Fatalf("%v: field 55 does not parse: %v", v.cvn, err)
		}
		got, _ := icc.Get(emv.TagARQC)
		if h := strings.ToUpper(hex.EncodeToString(got)); h != v.arqc {
			t.Errorf("%v: ARQC %s, want %s", v.cvn, h, v.arqc)
		}
	}
}
