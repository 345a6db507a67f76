package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
)

// settleOn sends TERM0001's settlement (0500, or mti) of batch with debits
// n of amount each, and checks the answer.
func settleOn(t *testing.T, addr, mti string, stan, batch, n int, amount int64, want string) {
	t.Helper()
	f := map[string]string{"7": "1201101500", "11": fmt.Sprintf("%06d", stan), "41": "TERM0001", "42": "MERCHANT0000001",
		"60": fmt.Sprintf("%06d", batch), "74": "0", "75": "0", "76": fmt.Sprint(n), "77": "0", "86": "0", "87": "0",
		"88": fmt.Sprint(int64(n) * amount), "89": "0", "97": fmt.Sprintf("D%016d", int64(n)*amount)}
	r := roundTripPOS(t, addr, codec.Message{MTI: mti, Fields: f})
	if got := string(r.View.AppendText(nil, 39)); got != want {
		t.Fatalf("settlement of batch %d (%d debits): %s, want %s (the switch's 76=%s 88=%s)", batch, n, got, want,
			r.View.AppendText(nil, 76), r.View.AppendText(nil, 88))
	}
}

// A terminal's batches survive a restart, from a snapshot and from the
// journal alone: the batch a settlement closed stays closed (its repeat is
// answered from it), the open one keeps its totals.
func TestSettlementSurvivesRestart(t *testing.T) {
	c, addrs, fake := snapConfig(t, 1, 0)
	day := fake.Now()
	pos := addrs["8583"]
	stop := startServe(t, c)
	purchasesOn(t, pos, 1, 4, day)
	settleOn(t, pos, "0500", 10, 1, 3, 100, "95")
	settleOn(t, pos, "0500", 11, 1, 4, 100, "00")
	purchasesOn(t, pos, 20, 2, day) // batch 2
	waitSnapshot(t, c, 8)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stop = startServe(t, c)
	settleOn(t, pos, "0500", 30, 2, 2, 100, "00") // batch 1 closed, batch 2's totals came back
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(c.snapshotDir()); err != nil {
		t.Fatal(err)
	}
	stop = startServe(t, c)
	defer stop()
	settleOn(t, pos, "0501", 31, 2, 2, 100, "00") // batch 2's repeat: answered from it, closed
	settleOn(t, pos, "0500", 32, 3, 1, 100, "95") // batch 3 is empty
	settleOn(t, pos, "0500", 33, 3, 0, 100, "00")
}
