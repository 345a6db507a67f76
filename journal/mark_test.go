package journal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// writeMark replaces the mark file with a mark at seq with hash, in both
// slots.
func writeMark(t *testing.T, dir string, seq uint64, hash [HashLen]byte) {
	t.Helper()
	h, err := createHWM(filepath.Join(dir, hwmName), Point{Seq: seq, Hash: hash})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.lower(seq, hash); err != nil {
		t.Fatal(err)
	}
	h.close()
}

// TestMarkInsideJournalWithWrongHash: the mark's hash is compared when the
// walk passes its record, not only when it is the last.
func TestMarkInsideJournalWithWrongHash(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	recs := commitDays(t, j, []uint32{20261121, 20261122}, 10)
	j.Close()
	wrong := recs[9].Hash
	wrong[0] ^= 1
	writeMark(t, dir, 10, wrong)
	_, err := Open(Options{Dir: dir})
	var ie *IntegrityError
	if !errors.As(err, &ie) || ie.Seq != 10 || !strings.Contains(err.Error(), "differs from the mark's hash") {
		t.Fatalf("open: %v", err)
	}
	if res, _ := Verify(dir); res.Problem == nil || res.Problem.Seq != 10 {
		t.Fatalf("verify: %+v", res.Problem)
	}
	writeMark(t, dir, 10, recs[9].Hash) // the right hash inside the journal is fine
	if res, err := Verify(dir); err != nil || res.Problem != nil || res.MarkSeq != 10 {
		t.Fatalf("verify: %v %+v", err, res.Problem)
	}
}

// TestMissingMark: with the mark file gone, Open refuses naming the file
// and the flag, Verify says the mark is missing, and RebuildMark takes the
// last intact record as the acknowledged one.
func TestMissingMark(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	appendN(t, j, 25, 0)
	j.Close()
	path := filepath.Join(dir, hwmName)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for _, unreadable := range []bool{false, true} {
		if unreadable {
			if err := os.WriteFile(path, make([]byte, 2*slotLen), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Open(Options{Dir: dir})
		var me *MissingError
		if !errors.As(err, &me) || me.Path != path || me.Records != 25 || me.Unreadable != unreadable ||
			!strings.Contains(err.Error(), RebuildMarkFlag) || !strings.Contains(err.Error(), path) {
			t.Fatalf("open (unreadable %v): %v", unreadable, err)
		}
		res, err := Verify(dir)
		if err != nil || !res.MarkMissing || res.Problem == nil || !strings.Contains(res.Problem.Reason, "hwm") || res.LastSeq != 25 {
			t.Fatalf("verify (unreadable %v): %v %+v", unreadable, err, res)
		}
	}
	j = open(t, dir, func(o *Options) { o.RebuildMark = true })
	appendN(t, j, 2, 100)
	j.Close()
	if res, err := Verify(dir); err != nil || res.Problem != nil || res.MarkSeq != 27 || res.MarkMissing {
		t.Fatalf("after rebuild: %v %+v", err, res)
	}
}

// TestNewJournalMark: a new journal has a mark before any record (so a
// crash before the first commit leaves nothing missing), and a journal
// with meta but no mark is refused even without records.
func TestNewJournalMark(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	j.Close()
	if res, err := Verify(dir); err != nil || res.Problem != nil || res.MarkMissing || res.Records != 0 {
		t.Fatalf("verify: %v %+v", err, res)
	}
	os.Remove(filepath.Join(dir, hwmName))
	var me *MissingError
	if _, err := Open(Options{Dir: dir}); !errors.As(err, &me) || me.Records != 0 {
		t.Fatalf("open: %v", err)
	}
}

// TestAcceptLossLowersTheMark: once a loss is accepted the mark is lowered
// in both slots, so the next start does not find the old mark again.
func TestAcceptLossLowersTheMark(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	commitDays(t, j, []uint32{20261121}, 10)
	commitDays(t, j, []uint32{20261121}, 10)
	j.Close()
	tamper(t, dir, func(txn *badger.Txn) error { return dropAfter(t, txn, 15) })
	j = open(t, dir, func(o *Options) { o.AcceptLoss = true })
	j.Close()
	j = open(t, dir, nil) // no records since: a mark of 20 left in the other slot would refuse this
	if j.LastSeq() != 15 {
		t.Fatalf("last %d", j.LastSeq())
	}
	j.Close()
}
