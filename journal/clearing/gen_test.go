package clearing

import (
	"fmt"
	"math/rand/v2"

	"github.com/cardswitch/cardswitch/journal"
)

// genDay makes n records of a busy day from seed: purchases, cash,
// refunds, pre-authorizations and completions, declines, repeats,
// reversals (some before their original) and voids. Every record is
// approved unless declined on purpose.
func genDay(n int, seed uint64, date uint32) []journal.Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]journal.Record, 0, n)
	stan := uint32(0)
	add := func(mti string, proc uint32, term string, st uint32, amount int64, rc, orig string) *journal.Record {
		r := journal.Record{Seq: uint64(len(out) + 1), BusinessDate: date, ProcCode: proc, STAN: st, LocalDate: 1201,
			LocalTime: uint32(80000 + len(out)%100000), Transmission: 1201000000 + uint64(len(out)%1000000),
			RRN: fmt.Sprintf("%012d", len(out)), Terminal: term, Merchant: "M" + term[1:], MCC: 5411 + uint16(term[len(term)-1]%3),
			Amount: amount, Currency: 156, EntryMode: 51, Original: orig, PANMasked: "476173******0010"}
		if term[len(term)-1] == '7' {
			r.Currency = 840
		}
		r.PANHash[0] = byte(len(out))
		copy(r.MTI[:], mti)
		copy(r.RespCode[:], rc)
		out = append(out, r)
		return &out[len(out)-1]
	}
	name := func(r *journal.Record) string {
		return fmt.Sprintf("%s/%06d/%04d", string(r.MTI[:]), r.STAN, r.Transmission/1000000)
	}
	for len(out) < n {
		term := fmt.Sprintf("T%07d", rng.IntN(200))
		stan++
		amount := int64(1 + rng.IntN(100000))
		switch p := rng.IntN(100); {
		case p < 50:
			add("0200", 0, term, stan, amount, "00", "")
		case p < 55:
			add("0200", 0, term, stan, amount, "51", "")
		case p < 62:
			add("0200", 10000, term, stan, amount, "00", "")
		case p < 67:
			add("0200", 200000, term, stan, amount, "00", "")
		case p < 75: // a pre-authorization and its completion
			pre := add("0100", 0, term, stan, amount, "00", "")
			stan++
			add("0220", 0, term, stan, amount/2+1, "00", "0100/"+name(pre)[5:])
		case p < 83: // a purchase and its reversal, sometimes its repeat between
			o := add("0200", 0, term, stan, amount, "00", "")
			if rng.IntN(3) == 0 {
				add("0201", 0, term, stan, amount, "00", "")
			}
			stan++
			add("0400", 0, term, stan, amount, "00", name(o))
		case p < 86: // a reversal that arrives first
			stan++
			add("0400", 0, term, stan, amount, "00", fmt.Sprintf("0200/%06d/1201", stan-1))
			add("0200", 0, term, stan-1, amount, "00", "")
			out[len(out)-1].Transmission = out[len(out)-2].Transmission
		case p < 90: // a purchase and its void
			o := add("0200", 0, term, stan, amount, "00", "")
			stan++
			add("0200", 20000, term, stan, amount, "00", name(o))
		case p < 92: // a declined reversal: the original stands
			o := add("0200", 0, term, stan, amount, "00", "")
			stan++
			add("0400", 0, term, stan, amount, "96", name(o))
		default:
			add("0200", 0, term, stan, amount, "00", "")
		}
	}
	return out[:n]
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
