package auth

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
)

const shardCount = 64 // a power of two; bounds lock contention, not memory

// shardMap is a map split in shards, each with its own lock; values are
// made by newV on first use and live as long as the map. Its keys are
// accounts, cards, merchants and terminals: the issuer data's, so the map
// is as large as the issuer data ever was (state for unknown ones is never
// made).
type shardMap[K comparable, V any] struct {
	shards [shardCount]struct {
		mu sync.Mutex
		m  map[K]*V
	}
	hash func(K) uint64
	newV func(K) *V
}

func newShardMap[K comparable, V any](hash func(K) uint64, newV func(K) *V) *shardMap[K, V] {
	s := &shardMap[K, V]{hash: hash, newV: newV}
	for i := range s.shards {
		s.shards[i].m = map[K]*V{}
	}
	return s
}

// get returns the value for k, creating it.
func (s *shardMap[K, V]) get(k K) *V {
	sh := &s.shards[s.hash(k)&(shardCount-1)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v, ok := sh.m[k]
	if !ok {
		v = s.newV(k)
		sh.m[k] = v
	}
	return v
}

// each calls fn for every value, one shard locked at a time.
func (s *shardMap[K, V]) each(fn func(K, *V)) {
	for i := range s.shards {
		sh := &s.shards[i]
		func() {
			sh.mu.Lock()
			defer sh.mu.Unlock()
			for k, v := range sh.m {
				fn(k, v)
			}
		}()
	}
}

var seed = maphash.MakeSeed()

func hashString(s string) uint64 { return maphash.String(seed, s) }
func hashPAN(h [32]byte) uint64  { return binary.LittleEndian.Uint64(h[:8]) }

// counter is a daily amount and count. Counters roll forward only: an
// effect of a newer business date starts the counter again, one of the
// counter's date counts in it, and an older one leaves it alone.
type counter struct {
	date   uint32
	count  int32
	amount int64
}

// on is the counter as of business date date: zero when it belongs to an
// older date; ok is false when it belongs to a newer one.
func (c *counter) on(date uint32) (v counter, ok bool) {
	switch {
	case c.date > date:
		return counter{}, false
	case c.date < date:
		return counter{date: date}, true
	}
	return *c, true
}

// add counts (sign 1) or takes back (sign -1) an amount and count of
// business date date, by the roll-forward rule: a newer date starts the
// counter again, an older one changes nothing (a take-back of a date the
// counter has left, an effect older than the counter).
func (c *counter) add(date uint32, sign int64, amount int64, count int32) {
	switch {
	case amount == 0 && count == 0, date < c.date, sign < 0 && date != c.date:
		return
	case date > c.date:
		*c = counter{date: date}
	}
	c.amount += sign * amount
	c.count += int32(sign) * count
}

// clearOn starts the counter again on date, unless it is on a newer one.
func (c *counter) clearOn(date uint32) {
	if date >= c.date {
		*c = counter{date: date}
	}
}

// account is an account's movements since the issuer data was loaded:
// available = issuer balance + delta - held. mu guards the account and the
// state of every card on it.
type account struct {
	mu    sync.Mutex
	id    string
	delta int64
	held  int64
}

// card is a card's daily usage and PIN tries; guarded by its account's mu.
type card struct {
	hash     [32]byte
	usage    counter
	pinFails counter // count = wrong PINs on the date
}

// acceptor is a merchant's or terminal's daily approved debits.
type acceptor struct {
	mu    sync.Mutex
	id    string
	usage counter
}

// effect is what an approval did, so that a reversal or void can undo
// exactly that, once. It points at the state it changed (64 bytes, where
// the IDs themselves would take 80 more); the journal's form (Outcome)
// names the same state by its keys.
type effect struct {
	acc      *account
	card     *card
	merchant *acceptor
	terminal *acceptor
	debit    int64 // taken from the account (negative: credited)
	hold     int64 // placed on the account (negative: released)
	usage    int64 // counted toward the daily amount limits
	count    int32 // counted toward the daily count limits
	date     uint32
}

// txn is an entry of the transaction index: a message the switch
// answered, by its key. 80 bytes, a size class of Go's allocator and of
// the index's slabs (index.go).
type txn struct {
	eff      effect // an approval's effect (the combined one for a completion); eff.date is every entry's business date
	at       uint32 // the request's time, unix seconds (to 2106): liveness
	code     [2]byte
	approval [6]byte
	kind     Kind
	flags    uint8
}

// txn.flags
const (
	txnApplied     = 1 << iota // eff took place and has not been undone
	txnReversed                // a reversal arrived (before or after the original)
	txnVoided                  // an approved void undid it
	txnCompleted               // a pre-authorization a completion took
	txnPlaceholder             // made by a reversal of an unknown original (counted in Stats.Placeholders)
)

func (t *txn) has(f uint8) bool { return t.flags&f != 0 }
func (t *txn) set(f uint8)      { t.flags |= f }
func (t *txn) clear(f uint8)    { t.flags &^= f }

// held is a pre-authorization's hold still outstanding.
func (t *txn) held() int64 {
	if t.kind == KindPreauth && t.has(txnApplied) {
		return t.eff.hold
	}
	return 0
}

// waiting reports a placeholder its original has not met yet.
func (t *txn) waiting() bool { return t.code == [2]byte{} && t.has(txnReversed) }

// txnKey names an answered message: its Ref (the terminal packed in 8
// bytes, see packTerminal) and MTI class ('1' authorization, '2'
// financial, '4' reversal), so a reversal that reuses its original's STAN
// (UnionPay) is kept apart from it. 16 bytes.
type txnKey struct {
	term  uint64
	stan  uint32
	ldate uint16 // MMDD
	class byte
}

// packTerminal packs a terminal ID of up to 8 bytes, none of them NUL,
// into a uint64 (field 41 is 8 characters in every dialect the switch
// knows, and issuer data's terminal IDs are at most 8).
func packTerminal(id string) (uint64, bool) {
	if len(id) > 8 {
		return 0, false
	}
	var b [8]byte
	for i := 0; i < len(id); i++ {
		if id[i] == 0 {
			return 0, false
		}
		b[i] = id[i]
	}
	return binary.LittleEndian.Uint64(b[:]), true
}

// appendTerminal appends a packed terminal ID's bytes.
func appendTerminal(dst []byte, term uint64) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], term)
	n := 8
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return append(dst, b[:n]...)
}

// keyOf is the index key of a Ref and class; false when the Ref cannot be
// keyed (a terminal ID longer than 8 bytes or with a NUL, a local date
// that is not MMDD): no such terminal is in the issuer data.
func keyOf(r Ref, class byte) (txnKey, bool) {
	term, ok := packTerminal(r.Terminal)
	if !ok || r.LocalDate > 9999 {
		return txnKey{}, false
	}
	return txnKey{term: term, stan: r.STAN, ldate: uint16(r.LocalDate), class: class}, true
}

// ref is the key's Ref (for tests and messages: it allocates).
func (k txnKey) ref() Ref {
	return Ref{Terminal: string(appendTerminal(nil, k.term)), STAN: k.stan, LocalDate: uint32(k.ldate)}
}

// withClass is the key of the same Ref in another class.
func (k txnKey) withClass(c byte) txnKey { k.class = c; return k }

// shardOf spreads keys over the index shards: the terminal, STAN and local
// date are mixed (a murmur3 finalizer), so one terminal's traffic of one
// day spreads over every shard. Fixed, not seeded: WriteState writes shard
// by shard, and the shard only picks a lock (Go's maps seed themselves).
func shardOf(k txnKey) uint64 {
	h := k.term*0x9E3779B97F4A7C15 ^ uint64(k.stan)<<16 ^ uint64(k.ldate)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h & (shardCount - 1)
}
