package auth

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"time"
)

const shardCount = 64 // a power of two; bounds lock contention, not memory

// shardMap is a map split in shards, each with its own lock; values are
// created on first use and live as long as the map.
type shardMap[K comparable, V any] struct {
	shards [shardCount]struct {
		mu sync.Mutex
		m  map[K]*V
	}
	hash func(K) uint64
}

func newShardMap[K comparable, V any](hash func(K) uint64) *shardMap[K, V] {
	s := &shardMap[K, V]{hash: hash}
	for i := range s.shards {
		s.shards[i].m = map[K]*V{}
	}
	return s
}

// get returns the value for k, creating it.
func (s *shardMap[K, V]) get(k K) *V {
	sh := &s.shards[s.hash(k)&(shardCount-1)]
	sh.mu.Lock()
	v, ok := sh.m[k]
	if !ok {
		v = new(V)
		sh.m[k] = v
	}
	sh.mu.Unlock()
	return v
}

var seed = maphash.MakeSeed()

func hashString(s string) uint64 { return maphash.String(seed, s) }
func hashPAN(h [32]byte) uint64  { return binary.LittleEndian.Uint64(h[:8]) }
func hashRef(r Ref) uint64 {
	return maphash.String(seed, r.Terminal) ^ uint64(r.STAN)<<20 ^ uint64(r.LocalDate)
}

// counter is a daily amount and count; it starts again on a new business date.
type counter struct {
	date   uint32
	amount int64
	count  int
}

func (c *counter) on(date uint32) *counter {
	if c.date != date {
		*c = counter{date: date}
	}
	return c
}

// account is an account's movements since the issuer data was loaded:
// available = issuer balance + delta - held. mu guards the account and the
// state of every card on it.
type account struct {
	mu    sync.Mutex
	delta int64
	held  int64
}

// card is a card's daily usage and PIN tries; guarded by its account's mu.
type card struct {
	usage    counter
	pinFails counter // count = wrong PINs on the date
}

// acceptor is a merchant's or terminal's daily approved debits.
type acceptor struct {
	mu    sync.Mutex
	usage counter
}

// effect is what an approval did, so that a reversal or void can undo
// exactly that, once. It is journaled (Outcome) and replayed.
type effect struct {
	account  string
	cardHash [32]byte
	debit    int64 // taken from the account (negative: credited)
	hold     int64 // placed on the account (negative: released)
	usage    int64 // counted toward the daily amount limits
	count    int   // counted toward the daily count limits
	merchant string
	terminal string
	date     uint32 // business date the usage belongs to
	holdRef  Ref    // the pre-authorization a completion released
}

// txn is a transaction the switch has answered, by its Ref.
type txn struct {
	kind      Kind
	code      [2]byte
	approval  [6]byte
	eff       effect
	delta     effect // what the decision applied (journaled); eff grows when a completion absorbs its pre-auth
	applied   bool   // eff took place and has not been undone
	reversed  bool   // a reversal arrived (before or after the original)
	voided    bool
	completed bool  // a pre-authorization a completion took
	held      int64 // a pre-authorization's hold still outstanding
	date      uint32
	pinEvent  byte     // pinWrong or pinRight: journaled, so PIN tries survive a restart
	cardHash  [32]byte // the card of a PIN event
}

const (
	pinWrong = 1
	pinRight = 2
)

// retentionDays is how long answered transactions stay in the index, so
// late reversals, repeats, completions and voids find them (open
// pre-authorizations stay until completed or reversed). Lookups ignore
// older entries, so whether the background purge has run changes nothing.
const retentionDays = 7

// live reports whether t still counts on business date today.
func live(t *txn, today uint32) bool {
	if t.date == 0 || (t.kind == KindPreauth && t.applied && t.held > 0) {
		return true
	}
	return dayNumber(today)-dayNumber(t.date) <= retentionDays
}

// dayNumber turns YYYYMMDD into a day count, for date differences.
func dayNumber(d uint32) int64 {
	y, m, day := int(d/10000), time.Month(d/100%100), int(d%100)
	return time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// txnKey names an answered message: its Ref and MTI class ('1'
// authorization, '2' financial, '4' reversal), so a reversal that reuses
// its original's STAN (UnionPay) is kept apart from it.
type txnKey struct {
	ref   Ref
	class byte
}

// txnShard guards the transactions whose Ref hashes to it.
type txnShard struct {
	mu sync.Mutex
	m  map[txnKey]*txn
}
