package main

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/journal"
)

// The replayer applies every record, in order, and a record that does not
// apply stops it with an error naming the record.
func TestReplayerAppliesInOrderAndStopsOnABadRecord(t *testing.T) {
	_, _, st := testState(t)
	p := newReplayer(st)
	const n = 3*replayBatchLen + 7
	for i := 1; i <= n; i++ {
		if err := p.add(&journal.Record{Seq: uint64(i), RRNSeq: uint64(i), ApprovalSeq: uint64(2 * i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.wait(); err != nil {
		t.Fatal(err)
	}
	if rrn, appr := st.ids.Counters(); rrn != n || appr != 2*n {
		t.Fatalf("counters %d %d after %d records", rrn, appr, n)
	}
	p = newReplayer(st)
	var addErr error
	for i := 1; i <= 3*replayBatchLen && addErr == nil; i++ {
		r := &journal.Record{Seq: uint64(i)}
		if i == 5 {
			r.SessionKeys = []byte("not a session")
		}
		addErr = p.add(r)
	}
	err := p.wait()
	if err == nil || !strings.Contains(err.Error(), "journal record 5") {
		t.Fatalf("bad record: add %v, wait %v", addErr, err)
	}
}

// testState is the test configuration, its data keys and an empty state
// built from them, as a start builds them before the replay.
func testState(t *testing.T) (*config, *journal.Protector, *state) {
	t.Helper()
	body, _ := testConfig(t)
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	prot, _, err := dataKeys(c, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	st, err := newState(c, prot)
	if err != nil {
		t.Fatal(err)
	}
	return c, prot, st
}
