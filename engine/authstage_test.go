package engine

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/auth"
)

// How a request names its original, per dialect: field 90 on ISO 8583
// links; on UnionPay links a reversal carries the original's STAN and a
// completion names it in field 61 (batch, STAN, date).
func TestFillOriginal(t *testing.T) {
	base := map[string]string{"2": "4761739001010010", "3": "000000", "4": "000000001000",
		"41": "TERM0001", "42": "MERCHANT0000001", "49": "840", "22": "051", "25": "00"}
	for _, c := range []struct {
		name, dialect, mti string
		extra              map[string]string
		has                bool
		stan               uint32
	}{
		{"iso completion, field 90", "iso87ascii", "0220", map[string]string{"11": "000002", "7": "1121101010",
			"90": "0100" + "000001" + "1121101010" + strings.Repeat("0", 22)}, true, 1},
		{"iso purchase", "iso87ascii", "0200", map[string]string{"11": "000002", "7": "1121101010"}, false, 0},
		{"cup completion, field 61", "cup-pos", "0220", map[string]string{"11": "000007", "60": "22000001000",
			"61": "0000010000051121"}, true, 5},
		{"cup reversal, same STAN", "cup-pos", "0400", map[string]string{"11": "000005", "60": "22000001000"}, false, 5},
		{"cup completion, short 61", "cup-pos", "0220", map[string]string{"11": "000007", "60": "22000001000",
			"61": "00000100"}, false, 0},
	} {
		d, err := codec.Lookup(c.dialect)
		if err != nil {
			t.Fatal(err)
		}
		f := map[string]string{}
		for k, v := range base {
			f[k] = v
		}
		for k, v := range c.extra {
			f[k] = v
		}
		m := codec.Message{MTI: c.mti, Fields: f}
		if c.dialect == "cup-pos" {
			m.Header = "600000000000"
		}
		msg, err := d.Encode(m)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var tx Txn
		if err := d.Decode(&tx.View, msg); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		tx.Received = time.Date(2026, 11, 21, 10, 10, 10, 0, time.UTC)
		var r auth.Request
		fill(&r, &tx, func(p []byte) [32]byte { return sha256.Sum256(p) })
		if r.HasOriginal != c.has || r.Original.STAN != c.stan || (c.stan != 0 && r.Original.Terminal != "TERM0001") {
			t.Errorf("%s: has %v original %+v", c.name, r.HasOriginal, r.Original)
		}
	}
}
