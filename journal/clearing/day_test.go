package clearing

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cardswitch/cardswitch/journal"
)

// waiter is a journal.Waiter a test waits on.
type waiter chan error

func (w waiter) Committed(err error) { w <- err }

// testKeys are fixed key material: the keyed PAN hash, and so the golden
// files, are the same on every run.
var testKeys = bytes.Repeat([]byte{0x5a}, journal.KeyFileLen)

// txn describes one test record briefly.
type txn struct {
	mti      string
	proc     uint32
	stan     uint32
	term     string
	merchant string
	mcc      uint16
	amount   int64
	currency uint16
	rc       string
	orig     string // Original, "" if none
	pan      string
}

// testPANs are Luhn-valid test cards: the scans look for them in every output.
var testPANs = []string{"4761739001010010", "5413330089020011", "6250941006528599"}

// dayTxns is a business day with every case the fold decides.
func dayTxns() []txn {
	p := testPANs
	return []txn{
		{"0200", 0, 1, "T0000001", "M-GROCER", 5411, 1000, 156, "00", "", p[0]},                   // purchase: cleared
		{"0200", 0, 2, "T0000001", "M-GROCER", 5411, 2500, 156, "00", "", p[1]},                   // purchase, reversed below
		{"0200", 0, 3, "T0000001", "M-GROCER", 5411, 700, 156, "51", "", p[0]},                    // declined: nothing
		{"0100", 0, 4, "T0000002", "M-HOTEL", 7011, 50000, 156, "00", "", p[2]},                   // pre-authorization: a hold
		{"0220", 0, 5, "T0000002", "M-HOTEL", 7011, 42000, 156, "00", "0100/000004/1201", p[2]},   // its completion: cleared
		{"0200", 200000, 6, "T0000001", "M-GROCER", 5411, 300, 156, "00", "", p[0]},               // refund: credit
		{"0200", 10000, 7, "T0000003", "M-ATM", 6011, 20000, 156, "00", "", p[1]},                 // cash: cleared
		{"0400", 0, 8, "T0000001", "M-GROCER", 5411, 2500, 156, "00", "0200/000002/1201", p[1]},   // reverses STAN 2
		{"0200", 0, 9, "T0000003", "M-ATM", 6011, 1500, 156, "00", "", p[0]},                      // purchase, voided below
		{"0200", 20000, 10, "T0000003", "M-ATM", 6011, 1500, 156, "00", "0200/000009/1201", p[0]}, // void of STAN 9
		{"0201", 0, 1, "T0000001", "M-GROCER", 5411, 1000, 156, "00", "", p[0]},                   // a repeat of STAN 1: once
		{"0400", 0, 11, "T0000001", "M-GROCER", 5411, 999, 156, "00", "0200/000777/1130", p[0]},   // reversal of another day's: orphan
		{"0200", 310000, 12, "T0000001", "M-GROCER", 5411, 0, 156, "00", "", p[0]},                // balance: not financial
		{"0200", 0, 13, "T0000009", "M-SHOP,\"X\"", 5999, 12345, 840, "00", "", p[2]},             // another currency, a merchant to quote
		{"0200", 0, 14, "T0000002", "M-HOTEL", 7011, 8000, 156, "00", "", p[1]},                   // purchase, reversed by UnionPay form (no class)
		{"0400", 0, 14, "T0000002", "M-HOTEL", 7011, 8000, 156, "00", "----/000014/1201", p[1]},   // its reversal
		{"0400", 0, 15, "T0000001", "M-GROCER", 5411, 400, 156, "00", "0200/000016/1201", p[0]},   // a reversal before its original...
		{"0200", 0, 16, "T0000001", "M-GROCER", 5411, 400, 156, "00", "", p[0]},                   // ...which is reversed all the same
	}
}

// record builds the journal record of a test transaction, PAN protected.
func record(t testing.TB, p *journal.Protector, i int, x txn, date uint32) *journal.Record {
	r := &journal.Record{BusinessDate: date, Received: 1764547200e9 + int64(i)*1e9, Link: "pos", ProcCode: x.proc,
		STAN: x.stan, LocalDate: 1201, LocalTime: 100000 + uint32(i), Transmission: 1201100000 + uint64(i),
		RRN: fmt.Sprintf("%012d", 500000+i), Terminal: x.term, Merchant: x.merchant, MCC: x.mcc, Amount: x.amount,
		Currency: x.currency, EntryMode: 51, Original: x.orig}
	r.Decided = r.Received + 1e6
	copy(r.MTI[:], x.mti)
	copy(r.RespCode[:], x.rc)
	if x.rc == "00" {
		r.Approval = fmt.Sprintf("A%05d", i)
	}
	if x.orig != "" || x.mti[1] == '4' { // the name is field 7's date: keep 1201 for every record
		r.Transmission = 1201100000 + uint64(i)
	}
	if err := p.Protect(r, []byte(x.pan)); err != nil {
		t.Fatal(err)
	}
	return r
}

// writeJournal writes the transactions on date, then one record on the
// next day (which closes date), and returns the journal directory.
func writeJournal(t testing.TB, dir string, date uint32, txns []txn) string {
	t.Helper()
	p, err := journal.NewProtector(testKeys)
	if err != nil {
		t.Fatal(err)
	}
	jdir := filepath.Join(dir, "journal")
	j, err := journal.Open(journal.Options{Dir: jdir, KeyFingerprint: p.Fingerprint(), ReserveMB: 1, MinFreeMB: 32, MemTableMB: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range txns {
		w := make(waiter, 1)
		j.Append(record(t, p, i, x, date), w)
		if err := <-w; err != nil {
			t.Fatal(err)
		}
	}
	w := make(waiter, 1)
	j.Append(record(t, p, len(txns), txn{"0800", 0, 99, "", "", 0, 0, 0, "00", "", testPANs[0]}, date+1), w)
	if err := <-w; err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return jdir
}

// daySource reads date from the journal in jdir.
func daySource(jdir string, date uint32) Source {
	return func(fn func(*journal.Record) error) error {
		_, err := ReadDay(jdir, date, fn)
		return err
	}
}
