package auth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

// TestStateRoundTrip: for every scenario, the live state, the state
// replayed from its journal and the state read back from a snapshot of
// either are the same and give the same follow-up answers; a snapshot is
// deterministic (the state read back writes the same bytes).
func TestStateRoundTrip(t *testing.T) {
	eachScenario(t, "snapshot", func(t *testing.T, w *world) {
		live := roundTrip(t, w, w.a)
		replayed := roundTrip(t, w, w.replayed())
		checkSameState(t, w, live, replayed, "replayed and read back") // (follow-ups change both)
		checkSameState(t, w, w.a, roundTrip(t, w, w.a), "read back")
	})
}

// roundTrip writes a's state, reads it into a new authorizer, and checks
// that this one writes the same bytes.
func roundTrip(t *testing.T, w *world, a *Authorizer) *Authorizer {
	t.Helper()
	var snap bytes.Buffer
	if err := a.WriteState(&snap); err != nil {
		t.Fatal(err)
	}
	back := newAuth(t, w.data, w.limits)
	if err := back.ReadState(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := back.WriteState(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snap.Bytes(), again.Bytes()) {
		t.Errorf("the state read back writes other bytes (%d, %d)", snap.Len(), again.Len())
	}
	return back
}

// snapshotOf runs a scenario with a bit of everything and snapshots it.
func snapshotOf(t *testing.T) (*world, []byte) {
	t.Helper()
	sc, err := readScenario("testdata/scenarios/abort.txt")
	if err != nil {
		t.Fatal(err)
	}
	w := runScenario(t, sc)
	var b bytes.Buffer
	if err := w.a.WriteState(&b); err != nil {
		t.Fatal(err)
	}
	return w, b.Bytes()
}

// TestReadStateRefusesDamage: every truncation and every flipped byte of a
// snapshot is an error (wrapping ErrState), and the authorizer stays empty.
func TestReadStateRefusesDamage(t *testing.T) {
	w, snap := snapshotOf(t)
	check := func(what string, b []byte) {
		t.Helper()
		a := newAuth(t, w.data, w.limits)
		if err := a.ReadState(bytes.NewReader(b)); !errors.Is(err, ErrState) {
			t.Fatalf("%s: %v, want an ErrState", what, err)
		}
		if st := a.Stats(); st.Transactions != 0 || a.day.Load() != 0 {
			t.Fatalf("%s: a failed read left %d entries", what, st.Transactions)
		}
	}
	for n := 0; n < len(snap); n++ {
		check("truncated", snap[:n])
	}
	for i := range snap {
		b := append([]byte(nil), snap...)
		b[i] ^= 0x41
		check("flipped", b)
	}
}

// frame builds a snapshot from chunk payloads, with a valid end chunk:
// what a writer with a bug, not a disk, would produce.
func frame(payloads ...[]byte) []byte {
	var out []byte
	crc := uint32(0)
	for _, p := range payloads {
		crc = crc32.Update(crc, crcTable, p)
		out = append(binary.AppendUvarint(out, uint64(len(p))), p...)
	}
	return out
}

func endChunk(crcOf [][]byte, counts ...uint64) []byte {
	e := []byte{'E'}
	for _, c := range counts {
		e = binary.AppendUvarint(e, c)
	}
	crc := uint32(0)
	for _, p := range crcOf {
		crc = crc32.Update(crc, crcTable, p)
	}
	crc = crc32.Update(crc, crcTable, e)
	return binary.LittleEndian.AppendUint32(e, crc)
}

// TestReadStateBounds: absurd lengths and counts are refused before
// anything is allocated for them, even with a valid checksum.
func TestReadStateBounds(t *testing.T) {
	w, _ := snapshotOf(t)
	head := append(append([]byte{'H'}, stateMagic...), stateVersion, 1, 0)
	for _, c := range []struct {
		name string
		snap []byte
		want string
	}{
		{"chunk length", binary.AppendUvarint(nil, 1<<40), "chunk of"},
		{"shard count", frame(head, binary.AppendUvarint([]byte{'S', 0}, 1<<40)), "does not parse"},
		{"shard over the cap", frame(head, binary.AppendUvarint([]byte{'S', 0}, 11)), "max transactions"},
		{"id length", frame(head, binary.AppendUvarint([]byte{'A'}, 1<<20)), "does not parse"},
		{"shard number", frame(head, []byte{'S', 200, 0}), "does not parse"},
		{"order", frame(head, []byte{'S', 0, 0}, []byte{'A', 0, 0, 0}), "out of order"},
		{"no header", frame([]byte{'S', 0, 0}), "out of order"},
		{"version", frame(append(append([]byte{'H'}, stateMagic...), 9, 1, 0)), "version 9"},
		{"entries missing", frame(head, []byte{'S', 0, 1}, endChunk([][]byte{head, {'S', 0, 1}}, 0, 0, 0, 0, 1)), "fewer entries"},
		{"counts", frame(head, endChunk([][]byte{head}, 1, 0, 0, 0, 0)), "counts"},
	} {
		a := newAuth(t, w.data, Limits{MaxTransactions: 10, MaxPlaceholders: 1})
		err := a.ReadState(bytes.NewReader(c.snap))
		if !errors.Is(err, ErrState) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an ErrState saying %q", c.name, err, c.want)
		}
	}
}

// TestReadStateReadsExactly: the snapshot can sit inside a larger file:
// ReadState leaves what follows it unread. And it loads a new authorizer
// only.
func TestReadStateReadsExactly(t *testing.T) {
	w, snap := snapshotOf(t)
	r := bytes.NewReader(append(append([]byte(nil), snap...), "and then the ID counters"...))
	a := newAuth(t, w.data, w.limits)
	if err := a.ReadState(r); err != nil {
		t.Fatal(err)
	}
	if rest := r.Len(); rest != len("and then the ID counters") {
		t.Fatalf("%d bytes left after the snapshot, want the %d that follow it", rest, len("and then the ID counters"))
	}
	if err := a.ReadState(bytes.NewReader(snap)); !errors.Is(err, ErrState) {
		t.Fatalf("a second ReadState into the same authorizer: %v", err)
	}
}

// TestWriteStateDeterministic: the same state reached in another order
// (the index's table laid out otherwise) writes the same bytes.
func TestWriteStateDeterministic(t *testing.T) {
	const n = 3000
	write := func(order func(i int) int) []byte {
		a := newAuth(t, benchData(t), Limits{})
		r := benchRequest()
		for i := 0; i < n; i++ {
			r.STAN = uint32(order(i))
			if d := a.Decide(&r, nil, testApproval); d.Code != Approved {
				t.Fatalf("purchase %d: %s", r.STAN, d.Code)
			}
		}
		var b bytes.Buffer
		if err := a.WriteState(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	up := write(func(i int) int { return i + 1 })
	down := write(func(i int) int { return n - i })
	if !bytes.Equal(up, down) {
		t.Fatalf("the same state written twice differs (%d and %d bytes)", len(up), len(down))
	}
}
