package auth

import (
	"fmt"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// A state that only replays (the snapshotter's follower, for weeks) purges
// its index as the live one does: it never keeps more than a bounded
// multiple of what the live index holds.
func TestReplayOnlyStatePurges(t *testing.T) {
	live, follower := concIssuer(t), concIssuer(t)
	for d := 0; d < 20; d++ {
		day := dayStart(20260115) + int64(d)*86400
		tm := time.Unix(day, 0).UTC()
		bd := uint32(tm.Year()*10000 + int(tm.Month())*100 + tm.Day())
		for i := 0; i < 5000; i++ {
			pan := concPAN(i%concAccounts, i%concCards)
			r := &Request{PAN: pan, PANHash: sha256PAN(pan), Amount: 1, Terminal: fmt.Sprintf("T%d", i%4), Merchant: fmt.Sprintf("M%d", (i%4)%2),
				EntryMode: 50, STAN: uint32(i + 1), LocalDate: uint32(tm.Month())*100 + uint32(tm.Day()), BusinessDate: bd, Today: 2601,
				Received: day + int64(i)*10}
			r.MTI, _ = codec.ParseMTI("0200")
			dd := live.Decide(r, noPIN, func() [6]byte { return [6]byte{'1'} })
			if err := follower.Replay(dd.Outcome, [2]byte{dd.Code[0], dd.Code[1]}); err != nil {
				t.Fatal(err)
			}
		}
		live.bg.Wait()
		if l, f := live.Stats().Transactions, follower.Stats().Transactions; d > 8 && f > 2*l+5000 {
			t.Fatalf("day %d: the follower holds %d entries, the live index %d", d, f, l)
		}
	}
}
