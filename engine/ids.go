package engine

import (
	"sync/atomic"
	"time"
)

// IDs allocates the identifiers the switch gives out: retrieval reference
// numbers (field 37, when a request has none) and approval codes (field
// 38). Each comes from a 64-bit counter that never goes back and never
// starts again, not at a restart (the counters are journaled with every
// record that used one and restored from the journal and the snapshots)
// and not at a business-date change. Safe for concurrent use.
//
// Bounds, from the field sizes:
//   - RRN: 12 characters, the year's last digit and the day of the year
//     (4), then the counter in base 36 (8 characters, 36^8 = 2.8e12 values).
//     Two RRNs are equal only if their counters are 2.8e12 apart and fall
//     on the same day of the year: at 200,000 a second that is 163 days of
//     traffic; a day at that rate uses 1.7e10.
//   - Approval code: 6 characters, the counter in base 36 (36^6 = 2.18e9
//     values): no code repeats, for any card or terminal, until 2.18e9
//     approvals later, which at 3,600 approvals a second is a week (the
//     index's default retention).
//
// Both fields are alphanumeric (an 12, an 6) in ISO 8583:1987 and UnionPay.
// An identifier is only given out on a reply the journal records before it
// leaves (replies made on the loop carry none), so the journal always
// holds the highest counter used.
type IDs struct {
	rrn      atomic.Uint64 // the last RRN counter given out
	approval atomic.Uint64 // the last approval counter given out
}

const (
	rrnSpace      = 2821109907456 // 36^8
	approvalSpace = 2176782336    // 36^6
)

// NextRRN writes a new RRN for a request received at tm into dst and
// returns its counter.
func (ids *IDs) NextRRN(dst *[12]byte, tm time.Time) uint64 {
	n := ids.rrn.Add(1)
	dst[0] = byte('0' + tm.Year()%10)
	day := tm.YearDay()
	dst[1], dst[2], dst[3] = byte('0'+day/100), byte('0'+day/10%10), byte('0'+day%10)
	putBase36(dst[4:], n%rrnSpace)
	return n
}

// NextApproval writes a new approval code into dst and returns its counter.
func (ids *IDs) NextApproval(dst *[6]byte) uint64 {
	n := ids.approval.Add(1)
	putBase36(dst[:], n%approvalSpace)
	return n
}

// Observe raises the counters to at least the ones given (replay of a
// journaled record or a snapshot): the next identifiers follow them.
func (ids *IDs) Observe(rrn, approval uint64) {
	raise(&ids.rrn, rrn)
	raise(&ids.approval, approval)
}

// Counters returns the last counters given out (for snapshots).
func (ids *IDs) Counters() (rrn, approval uint64) { return ids.rrn.Load(), ids.approval.Load() }

func raise(c *atomic.Uint64, v uint64) {
	for {
		cur := c.Load()
		if v <= cur || c.CompareAndSwap(cur, v) {
			return
		}
	}
}

const base36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// putBase36 writes n in base 36 into dst, zero-padded to len(dst).
func putBase36(dst []byte, n uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = base36[n%36]
		n /= 36
	}
}
