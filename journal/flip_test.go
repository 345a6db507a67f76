package journal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestFlippedBitAnywhereInATable flips one bit at many places of the
// journal's table file: every open refuses with an error, or opens with
// every record intact (the flip hit bytes no record uses); none panics.
// Badger's open trusts the lengths in a table's trailer: a flipped bit in
// one made it panic in a goroutine of its own, which ended the process.
func TestFlippedBitAnywhereInATable(t *testing.T) {
	src := t.TempDir()
	j := open(t, src, nil)
	appendN(t, j, 300, 0)
	j.Close()
	tables, _ := filepath.Glob(filepath.Join(src, "badger", "*.sst"))
	if len(tables) != 1 {
		t.Fatalf("tables %v, want one", tables)
	}
	raw, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	refused, intact := 0, 0
	// a dozen places in the blocks and the index, and the trailer's two
	// lengths (the index's and its checksum's), which Badger's open trusts
	var places []int
	for at := 0; at < len(raw); at += max(len(raw)/12, 1) {
		places = append(places, at)
	}
	places = append(places, len(raw)-1, len(raw)-3, len(raw)-5)
	for _, at := range places {
		dir := t.TempDir()
		copyTree(t, src, dir)
		bad := append([]byte(nil), raw...)
		bad[at] ^= 0x04
		if err := os.WriteFile(filepath.Join(dir, "badger", filepath.Base(tables[0])), bad, 0o644); err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("bit flipped at byte %d of %d: panic: %v", at, len(raw), p)
				}
			}()
			jj, err := Open(Options{Dir: dir})
			if err != nil {
				refused++
				if res, err := Verify(dir); err == nil && res.Problem == nil { // the tools refuse too, without a panic
					t.Errorf("bit flipped at byte %d: Open refused, Verify passed", at)
				}
				return
			}
			jj.Close()
			if res, err := Verify(dir); err != nil || res.Problem != nil || res.LastSeq != 300 {
				t.Errorf("bit flipped at byte %d: opened, then verify: %v %+v", at, err, res.Problem)
				return
			}
			intact++
		}()
	}
	t.Logf("%d flips: %d refused, %d opened intact", refused+intact, refused, intact)
	if refused == 0 {
		t.Fatal("no flip was refused")
	}
}

// A panic inside Badger's read transaction (what a damaged table can
// cause) comes back as an integrity error.
func TestPanicInsideBadgerIsAnIntegrityError(t *testing.T) {
	j := open(t, t.TempDir(), nil)
	defer j.Close()
	err := j.withDB(func(db *badger.DB) error {
		return view(db, func(*badger.Txn) error { panic("runtime error: slice bounds out of range") })
	})
	var ie *IntegrityError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "inside Badger") {
		t.Fatalf("got %v", err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, from)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, info.Mode())
	})
	if err != nil {
		t.Fatal(err)
	}
}
