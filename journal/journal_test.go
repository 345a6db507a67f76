package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// waiter records the commit result.
type waiter struct {
	err  error
	done chan struct{}
}

func newWaiter() *waiter              { return &waiter{done: make(chan struct{})} }
func (w *waiter) Committed(err error) { w.err = err; close(w.done) }
func (w *waiter) wait(t testing.TB) error {
	select {
	case <-w.done:
		return w.err
	case <-time.After(10 * time.Second):
		t.Fatal("commit never reported")
		return nil
	}
}

func testRecord(i int) *Record {
	r := &Record{BusinessDate: 20261121, Received: int64(1e18) + int64(i), Decided: int64(1e18) + int64(i) + 1500,
		Link: "pos", Conn: 7, MTI: [4]byte{'0', '2', '0', '0'}, ProcCode: 0, STAN: uint32(i % 1000000),
		LocalDate: 1121, LocalTime: 204500, RRN: "632520000102", Terminal: "TERM0001", Merchant: "MERCHANT0000001",
		MCC: 5411, Amount: int64(100 + i), Currency: 840, EntryMode: 51, RespCode: [2]byte{'0', '0'},
		Approval: "123456", Route: "on-us", Outcome: []byte{1, 2, 3},
		Transmission: 1121204500, Acquirer: "40001", RRNSeq: uint64(1000 + i), ApprovalSeq: uint64(i + 1)}
	p, _ := NewProtector(make([]byte, KeyFileLen))
	_ = p.Protect(r, []byte("4761739001010010"))
	return r
}

func open(t testing.TB, dir string, mod func(*Options)) *Journal {
	t.Helper()
	o := Options{Dir: dir}
	if mod != nil {
		mod(&o)
	}
	j, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func appendN(t testing.TB, j *Journal, n, from int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := newWaiter()
			j.Append(testRecord(from+i), w)
			errs <- w.wait(t)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppendReopenReplay(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	appendN(t, j, 500, 0)
	if j.LastSeq() != 500 {
		t.Fatalf("last seq %d", j.LastSeq())
	}
	if st := j.Stats(); st.Commits >= 500 || st.MaxBatch < 2 {
		t.Logf("commits %d for 500 records (max batch %d)", st.Commits, st.MaxBatch)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	res, err := Replay(dir, func(r *Record) error {
		seqs = append(seqs, r.Seq)
		if r.Terminal != "TERM0001" || r.PANMasked != "476173******0010" || r.Amount < 100 || r.Route != "on-us" {
			return fmt.Errorf("record %d: %+v", r.Seq, r)
		}
		return nil
	})
	if err != nil || res.Problem != nil || res.Records != 500 || res.LastSeq != 500 || res.MarkSeq != 500 {
		t.Fatalf("replay: %v %+v", err, res)
	}
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, s)
		}
	}
	// reopening continues the sequence
	j = open(t, dir, nil)
	appendN(t, j, 10, 500)
	if j.LastSeq() != 510 {
		t.Fatalf("after reopen: %d", j.LastSeq())
	}
	j.Close()
}

func TestProtector(t *testing.T) {
	p, err := LoadOrCreateKeys(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	var r Record
	if err := p.Protect(&r, []byte("6228480402564890018")); err != nil {
		t.Fatal(err)
	}
	if r.PANMasked != "622848*********0018" || r.PANHash != p.HashPAN([]byte("6228480402564890018")) {
		t.Fatalf("%+v", r)
	}
	if strings.Contains(string(r.PANSealed), "6228480402564890018") {
		t.Fatal("PAN in clear")
	}
	pan, err := p.Unseal(&r)
	if err != nil || string(pan) != "6228480402564890018" {
		t.Fatalf("unseal: %v %s", err, pan)
	}
	r.PANSealed[len(r.PANSealed)-1] ^= 1
	if _, err := p.Unseal(&r); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
}

// tamper changes badger directly, as a fault or an attacker could.
func tamper(t *testing.T, dir string, fn func(txn *badger.Txn) error) {
	t.Helper()
	db, err := badger.Open(badgerOptions(dir, 16))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	db.Close()
}

// chunks lists the stored chunks in key order.
func chunks(t *testing.T, txn *badger.Txn) (keys, vals [][]byte) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{'r'}})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			t.Fatal(err)
		}
		keys, vals = append(keys, it.Item().KeyCopy(nil)), append(vals, v)
	}
	return keys, vals
}

// dropAfter loses every record after seq, as Badger dropping a log tail would.
func dropAfter(t *testing.T, txn *badger.Txn, seq uint64) error {
	keys, vals := chunks(t, txn)
	for i, k := range keys {
		if lastSeqIn(vals[i]) <= seq {
			continue
		}
		if err := txn.Delete(k); err != nil {
			return err
		}
		if keep := prefixUpTo(vals[i], seq); len(keep) > 0 {
			if err := txn.Set(k, keep); err != nil {
				return err
			}
		}
	}
	return nil
}

// flipIn flips a bit inside record seq's stored bytes.
func flipIn(t *testing.T, txn *badger.Txn, seq uint64) error {
	keys, vals := chunks(t, txn)
	for i, k := range keys {
		off := 0
		for rest := vals[i]; len(rest) > 0; {
			n, r, next, ok := nextStored(rest)
			if !ok {
				t.Fatal("bad chunk")
			}
			if binary.BigEndian.Uint64(r[seqOffset:]) == seq {
				vals[i][off+3+20] ^= 0x01
				return txn.Set(k, vals[i])
			}
			off += 3 + n
			rest = next
		}
	}
	t.Fatalf("record %d not found", seq)
	return nil
}

func TestLostTailIsRefused(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	appendN(t, j, 20, 0)
	j.Close()
	// Badger loses the last two acknowledged records
	tamper(t, dir, func(txn *badger.Txn) error { return dropAfter(t, txn, 18) })
	_, err := Open(Options{Dir: dir})
	var ie *IntegrityError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "acknowledged records are missing") {
		t.Fatalf("open: %v", err)
	}
	res, _ := Verify(dir)
	if res.Problem == nil || res.LastSeq != 18 || res.MarkSeq != 20 {
		t.Fatalf("verify: %+v", res)
	}
	// told to accept the loss, it continues after the last intact record
	j = open(t, dir, func(o *Options) { o.AcceptLoss = true })
	appendN(t, j, 3, 100)
	if j.LastSeq() != 21 {
		t.Fatalf("after accepting the loss: %d", j.LastSeq())
	}
	j.Close()
	if res, err := Verify(dir); err != nil || res.Problem != nil || res.LastSeq != 21 {
		t.Fatalf("verify after: %v %+v", err, res.Problem)
	}
}

func TestAlteredRecordIsRefused(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	appendN(t, j, 30, 0)
	j.Close()
	tamper(t, dir, func(txn *badger.Txn) error { return flipIn(t, txn, 12) }) // one flipped bit in record 12
	_, err := Open(Options{Dir: dir})
	var ie *IntegrityError
	if !errors.As(err, &ie) || ie.Seq != 12 || !strings.Contains(err.Error(), "hash chain broken") {
		t.Fatalf("open: %v", err)
	}
	// accepting the loss keeps 1..11 and quarantines 12..30
	j = open(t, dir, func(o *Options) { o.AcceptLoss = true })
	if j.LastSeq() != 11 {
		t.Fatalf("kept %d", j.LastSeq())
	}
	appendN(t, j, 1, 0)
	j.Close()
	if res, _ := Verify(dir); res.Problem != nil || res.LastSeq != 12 {
		t.Fatalf("verify: %+v", res)
	}
}

func TestTornHighWaterMark(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	appendN(t, j, 5, 0)
	j.Close()
	f, err := os.OpenFile(filepath.Join(dir, "hwm"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// tear the slot that holds the newest mark (seq 5)
	// (the second slot exists only once a second commit has written it:
	// five appends can land in one group commit)
	buf := make([]byte, 2*slotLen)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == slotLen) {
		t.Fatal(err)
	}
	newest := 0
	if seq, _, ok := parseSlot(buf[slotLen:]); n == 2*slotLen && ok && seq == 5 {
		newest = 1
	}
	if _, err := f.WriteAt([]byte{0xde, 0xad}, int64(newest)*slotLen+10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res, err := Verify(dir)
	if err != nil || res.Problem != nil || res.MarkSeq >= 5 || res.LastSeq != 5 {
		t.Fatalf("torn mark: %v %+v", err, res)
	}
}

func TestClosedJournalFailsAppends(t *testing.T) {
	j := open(t, t.TempDir(), nil)
	j.Close()
	w := newWaiter()
	j.Append(testRecord(1), w)
	if err := w.wait(t); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// TestFlippedBitInBadgersLog: Badger may open cleanly after a flipped bit in
// its write-ahead log and silently drop the records after it. The high-water
// mark catches what Badger does not.
func TestFlippedBitInBadgersLog(t *testing.T) {
	caught := 0
	for _, at := range []float64{0.3, 0.6, 0.9} {
		dir := t.TempDir()
		j := open(t, dir, nil)
		appendN(t, j, 200, 0)
		j.Close()
		files, _ := filepath.Glob(filepath.Join(dir, "badger", "*"))
		var target string
		var size int64
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && (strings.HasSuffix(f, ".mem") || strings.HasSuffix(f, ".vlog") || strings.HasSuffix(f, ".sst")) && st.Size() > size {
				target, size = f, st.Size()
			}
		}
		if target == "" {
			t.Fatal("no badger log file")
		}
		raw, _ := os.ReadFile(target)
		used := len(raw)
		for used > 0 && raw[used-1] == 0 { // preallocated tail
			used--
		}
		raw[int(float64(used)*at)] ^= 0x10
		if err := os.WriteFile(target, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(Options{Dir: dir})
		var ie *IntegrityError
		switch {
		case errors.As(err, &ie):
			caught++
			t.Logf("bit flipped at %.0f%% of %s: refused: %v", at*100, filepath.Base(target), err)
		case err != nil:
			caught++
			t.Logf("bit flipped at %.0f%% of %s: badger refused: %v", at*100, filepath.Base(target), err)
		default:
			res, _ := Verify(dir)
			t.Fatalf("a flipped bit in %s went unnoticed: %+v", filepath.Base(target), res)
		}
	}
	if caught != 3 {
		t.Fatalf("caught %d of 3", caught)
	}
}
