package clearing

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unsafe"

	"github.com/cardswitch/cardswitch/journal"
)

// genDay makes n records of a busy day from seed (genStream), kept.
func genDay(n int, seed uint64, date uint32) []journal.Record {
	out := make([]journal.Record, 0, n)
	genStream(n, seed, date, func(r *journal.Record) error {
		c := *r
		c.RRN = strings.Clone(r.RRN)
		out = append(out, c)
		return nil
	})
	return out
}

// genTerminals are the generated day's terminals and merchants.
var genTerminals, genMerchants = func() (t, m [200]string) {
	for i := range t {
		t[i], m[i] = fmt.Sprintf("T%07d", i), fmt.Sprintf("M%07d", i)
	}
	return
}()

// genStream calls fn with n records of a busy day from seed: purchases,
// cash, refunds, pre-authorizations and completions, declines, repeats,
// reversals (some before their original) and voids. A record is valid
// during the call only (its RRN is a reused buffer): the stream costs
// little, so a benchmark measures clearing, not the generator.
func genStream(n int, seed uint64, date uint32, fn func(*journal.Record) error) error {
	rng := rand.New(rand.NewPCG(seed, 1))
	var r journal.Record
	var rrn [12]byte
	seq, stan := 0, uint32(0)
	var err error
	emit := func(mti string, proc uint32, ti int, st uint32, amount int64, rc, orig string) {
		if seq >= n || err != nil {
			return
		}
		seq++
		v := uint64(seq)
		for i := len(rrn) - 1; i >= 0; i-- {
			rrn[i] = byte('0' + v%10)
			v /= 10
		}
		r = journal.Record{Seq: uint64(seq), BusinessDate: date, ProcCode: proc, STAN: st, LocalDate: 1201,
			LocalTime: uint32(80000 + seq%100000), Transmission: 1201000000 + uint64(seq%1000000),
			RRN: unsafe.String(&rrn[0], len(rrn)), Terminal: genTerminals[ti], Merchant: genMerchants[ti], MCC: 5411 + uint16(ti%3),
			Amount: amount, Currency: 156, EntryMode: 51, Original: orig, PANMasked: "476173******0010"}
		if ti%10 == 7 {
			r.Currency = 840
		}
		r.PANHash[0], r.PANHash[1] = byte(seq), byte(seq>>8)
		copy(r.MTI[:], mti)
		copy(r.RespCode[:], rc)
		err = fn(&r)
	}
	name := func(mti string, st uint32) string { return fmt.Sprintf("%s/%06d/1201", mti, st) }
	for seq < n && err == nil {
		ti := rng.IntN(len(genTerminals))
		stan++
		amount := int64(1 + rng.IntN(100000))
		switch p := rng.IntN(100); {
		case p < 50:
			emit("0200", 0, ti, stan, amount, "00", "")
		case p < 55:
			emit("0200", 0, ti, stan, amount, "51", "")
		case p < 62:
			emit("0200", 10000, ti, stan, amount, "00", "")
		case p < 67:
			emit("0200", 200000, ti, stan, amount, "00", "")
		case p < 75: // a pre-authorization and its completion
			emit("0100", 0, ti, stan, amount, "00", "")
			stan++
			emit("0220", 0, ti, stan, amount/2+1, "00", name("0100", stan-1))
		case p < 83: // a purchase and its reversal, sometimes its repeat between
			emit("0200", 0, ti, stan, amount, "00", "")
			if rng.IntN(3) == 0 {
				emit("0201", 0, ti, stan, amount, "00", "")
			}
			stan++
			emit("0400", 0, ti, stan, amount, "00", name("0200", stan-1))
		case p < 86: // a reversal that arrives first
			stan++
			emit("0400", 0, ti, stan, amount, "00", name("0200", stan-1))
			emit("0200", 0, ti, stan-1, amount, "00", "")
		case p < 90: // a purchase and its void
			emit("0200", 0, ti, stan, amount, "00", "")
			stan++
			emit("0200", 20000, ti, stan, amount, "00", name("0200", stan-1))
		case p < 92: // a declined reversal: the original stands
			emit("0200", 0, ti, stan, amount, "00", "")
			stan++
			emit("0400", 0, ti, stan, amount, "96", name("0200", stan-1))
		default:
			emit("0200", 0, ti, stan, amount, "00", "")
		}
	}
	return err
}

// sliceSource serves records from memory.
func sliceSource(rs []journal.Record) Source {
	return func(fn func(*journal.Record) error) error {
		for i := range rs {
			if err := fn(&rs[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

// oracle is the day's totals the simple way, in memory: the approved
// financial transactions' amounts per currency (debits less credits),
// less those an approved reversal or void names.
func oracle(rs []journal.Record) (count map[uint16]uint64, net map[uint16]int64) {
	type key struct {
		term string
		stan uint32
		date uint64
	}
	approved := map[key]*journal.Record{}
	undone := map[key]bool{}
	for i := range rs {
		r := &rs[i]
		if r.RespCode != [2]byte{'0', '0'} {
			continue
		}
		k := KindOf(r)
		switch {
		case k.Cleared():
			kk := key{r.Terminal, r.STAN, r.Transmission / 1000000}
			if approved[kk] == nil {
				approved[kk] = r
			}
		case k == KindReversal || k == KindVoid:
			var s, d uint64
			fmt.Sscanf(r.Original[5:], "%06d/%04d", &s, &d)
			if r.Original[:4] != "0100" {
				undone[key{r.Terminal, uint32(s), d}] = true
			}
		}
	}
	count, net = map[uint16]uint64{}, map[uint16]int64{}
	approvals, reversals := map[uint16]int64{}, map[uint16]int64{}
	for kk, r := range approved {
		v := r.Amount
		if KindOf(r).Credit() {
			v = -v
		}
		approvals[r.Currency] += v
		if undone[kk] {
			reversals[r.Currency] += v
		} else {
			count[r.Currency]++
		}
	}
	for c, v := range approvals {
		net[c] = v - reversals[c]
	}
	return count, net
}
