package auth

import (
	"encoding/hex"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
)

// version1 are outcomes as the journal holds them from before version 2
// (written by the previous code, demo issuer data, 2026-11-21): a
// pre-authorization of 700, its completion for 600, a purchase of 250, its
// reversal, and a purchase declined for a wrong PIN.
var version1 = []struct{ code, hex string }{
	{"00", "010301310081d2d409313233343536085445524d3030303101e108000000084143432d30303031b0fbd8a9581209cb3a70d2b2c204616ebd274a219d56b003b3563345041266d600f80af80a0282a4a9130000000f4d45524348414e5430303030303031085445524d30303031"},
	{"00", "010401323181d2d409313233343536085445524d3030303102e108085445524d3030303101e108084143432d30303031b0fbd8a9581209cb3a70d2b2c204616ebd274a219d56b003b3563345041266d6b009f70ac7010082a4a913085445524d3030303101e1080f4d45524348414e5430303030303031085445524d30303031"},
	{"00", "010101320081d2d409313233343536085445524d3030303103e108000000084143432d30303031b0fbd8a9581209cb3a70d2b2c204616ebd274a219d56b003b3563345041266d6f40300f4030282a4a9130000000f4d45524348414e5430303030303031085445524d30303031"},
	{"00", "010802343281d2d409000000000000085445524d3030303104e108085445524d3030303103e108"},
	{"55", "010104323281d2d409000000000000085445524d3030303105e108085445524d3030303103e108b0fbd8a9581209cb3a70d2b2c204616ebd274a219d56b003b3563345041266d6"},
}

// TestReplayVersion1Outcomes: a journal written before outcome version 2
// replays to the state it described.
func TestReplayVersion1Outcomes(t *testing.T) {
	data := benchData(t)
	a := newAuth(t, data, Limits{})
	for i, o := range version1 {
		b, err := hex.DecodeString(o.hex)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Replay(b, [2]byte{o.code[0], o.code[1]}); err != nil {
			t.Fatalf("outcome %d: %v", i, err)
		}
	}
	if _, held, delta := accountState(a, "ACC-0001"); delta != -600 || held != 0 {
		t.Fatalf("account delta %d held %d, want -600 and 0 (completed for 600, the purchase reversed)", delta, held)
	}
	pan := []byte("4761739001010010")
	u, fails, _ := cardState(a, sha256PAN(pan), 20261121)
	if u.amount != 600 || u.count != 1 || fails != 1 {
		t.Fatalf("card usage %+v, wrong PINs %d; want 600 in 1, and 1", u, fails)
	}
	if m := acceptorState(a.merchants, "MERCHANT0000001", 20261121); m.amount != 600 || m.count != 1 {
		t.Fatalf("merchant usage %+v, want 600 in 1", m)
	}
	r := benchRequest()
	r.MTI, r.STAN, r.Amount, r.Received = codec.MTI{'0', '2', '2', '1'}, 2, 600, dayStart(20261121)+60
	r.Original, r.OriginalClass, r.HasOriginal = Ref{"TERM0001", 1, 1121}, '1', true
	if d := a.Decide(&r, nil, testApproval); !d.Repeat() || d.Code != Approved || d.Approval != testCode {
		t.Fatalf("repeat of the replayed completion: %s repeat %v approval %s", d.Code, d.Repeat(), d.Approval)
	}
}
