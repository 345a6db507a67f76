package journal

import (
	"os"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"path/filepath"
	"sort"
	"testing"
)

// tablesOf lists the Badger table files of a closed journal, oldest first.
func tablesOf(t *testing.T, dir string) []string {
	t.Helper()
	ssts, err := filepath.Glob(filepath.Join(dir, "badger", "*.sst"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ssts)
	return ssts
}

// A table file of a closed journal is deleted: Badger refuses to open
// without it, and --accept-journal-loss must still start, on the records
// that verify, with the rest moved aside.
func TestAcceptLossWithAMissingTable(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 3; i++ { // each close flushes the memtable: one table per run
		j := open(t, dir, nil)
		appendN(t, j, 100, i*100)
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ssts := tablesOf(t, dir)
	if len(ssts) < 3 {
		t.Fatalf("want 3 tables, have %v", ssts)
	}
	if err := os.Remove(ssts[1]); err != nil { // records 101..200
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "--accept-journal-loss") {
		t.Fatalf("a journal missing a table, opened without --accept-journal-loss: %v", err)
	}
	if _, err := Verify(dir); err == nil || !strings.Contains(err.Error(), "--accept-journal-loss") {
		t.Fatalf("verify of a journal missing a table: %v", err)
	}
	j := open(t, dir, func(o *Options) { o.AcceptLoss = true })
	if j.LastSeq() != 100 {
		t.Fatalf("accepting the loss: the journal continues at %d, want 100", j.LastSeq())
	}
	if kept, _ := filepath.Glob(filepath.Join(dir, quarantineDir, "MANIFEST-*")); len(kept) != 1 {
		t.Fatalf("the manifest as it was is not kept: %v", kept)
	}
	if q := quarantined(t, j); q != 100 { // 201..300: readable, after the gap
		t.Fatalf("%d records quarantined, want 100", q)
	}
	// what was set aside is told, for the switch to report
	l := j.Loss()
	if l == nil || len(l.Tables) != 1 || l.Tables[0] != filepath.Base(ssts[1]) || l.Quarantined != 100 || l.LastSeq != 100 || l.Problem == nil {
		t.Fatalf("the loss reported: %+v", l)
	}
	if s := l.String(); !strings.Contains(s, filepath.Base(ssts[1])) || !strings.Contains(s, "100 records after sequence 100 quarantined") {
		t.Fatalf("the loss described: %s", s)
	}
	r := testRecord(1000)
	commitOne(t, j, r)
	if r.Seq != 101 {
		t.Fatalf("next record %d, want 101", r.Seq)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(dir)
	if err != nil || res.Problem != nil || res.LastSeq != 101 {
		t.Fatalf("verify after the accepted loss: %+v %v", res, err)
	}
	j = open(t, dir, func(o *Options) { o.AcceptLoss = true })
	defer j.Close()
	if l := j.Loss(); l != nil {
		t.Fatalf("a journal that verifies, opened accepting a loss, reports one: %+v", l)
	}
}

// quarantined counts the records moved aside (key prefix 'q').
func quarantined(t *testing.T, j *Journal) int {
	t.Helper()
	n := 0
	err := j.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'q'}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			for len(v) > 0 {
				_, _, rest, ok := nextStored(v)
				if !ok {
					return nil
				}
				n, v = n+1, rest
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A table file that does not read (cut in half, or its bytes flipped) is
// moved to quarantine/ by an accepting open, which then starts as when it
// is missing. Badger alone panics opening a cut table.
func TestAcceptLossWithAnUnreadableTable(t *testing.T) {
	for _, damage := range []string{"cut", "flipped"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			for i := 0; i < 3; i++ {
				j := open(t, dir, nil)
				appendN(t, j, 100, i*100)
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
			}
			sst := tablesOf(t, dir)[1]
			b, err := os.ReadFile(sst)
			if err != nil {
				t.Fatal(err)
			}
			if damage == "cut" {
				b = b[:len(b)/2]
			} else {
				for i := 0; i < len(b)/2; i++ {
					b[i] ^= 0xff
				}
			}
			if err := os.WriteFile(sst, b, 0o600); err != nil {
				t.Fatal(err)
			}
			j := open(t, dir, func(o *Options) { o.AcceptLoss = true })
			defer j.Close()
			if j.LastSeq() != 100 || quarantined(t, j) != 100 {
				t.Fatalf("accepting the loss: at %d with %d quarantined, want 100 and 100", j.LastSeq(), quarantined(t, j))
			}
			if l := j.Loss(); l == nil || len(l.Tables) != 1 || l.Tables[0] != filepath.Base(sst) || l.Quarantined != 100 {
				t.Fatalf("the loss reported: %+v", l)
			}
			if _, err := os.Stat(filepath.Join(dir, quarantineDir, filepath.Base(sst))); err != nil {
				t.Fatalf("the unreadable table is not kept: %v", err)
			}
		})
	}
}
