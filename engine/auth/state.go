package auth

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

const shardCount = 64 // a power of two; bounds lock contention, not memory

// store holds the state of accounts, cards, merchants or terminals: a
// map split in shards, each with its own lock, from a key to a ref (1, 2,
// ...) into an append-only table of values. Values are made on first use
// and live as long as the store; index entries name them by ref (4 bytes,
// no pointer for the garbage collector to follow). The keys are the
// issuer data's, so a store is as large as the issuer data ever was
// (state for unknown cards and acceptors is never made).
type store[K comparable, V any] struct {
	shards [shardCount]struct {
		mu sync.Mutex
		m  map[K]uint32
	}
	hash func(K) uint64
	init func(K, *V) // sets a new value's key
	tab  table[V]
}

func newStore[K comparable, V any](hash func(K) uint64, init func(K, *V)) *store[K, V] {
	s := &store[K, V]{hash: hash, init: init}
	for i := range s.shards {
		s.shards[i].m = map[K]uint32{}
	}
	return s
}

// get returns the value for k and its ref, creating it.
func (s *store[K, V]) get(k K) (*V, uint32) {
	sh := &s.shards[s.hash(k)&(shardCount-1)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if ref, ok := sh.m[k]; ok {
		return s.tab.at(ref), ref
	}
	v, ref := s.tab.add()
	s.init(k, v)
	sh.m[k] = ref
	return v, ref
}

// find is the value for k, nil if it has none (nothing is made).
func (s *store[K, V]) find(k K) *V {
	sh := &s.shards[s.hash(k)&(shardCount-1)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if ref, ok := sh.m[k]; ok {
		return s.tab.at(ref)
	}
	return nil
}

// at is the value of a ref get returned (0: nil).
func (s *store[K, V]) at(ref uint32) *V {
	if ref == 0 {
		return nil
	}
	return s.tab.at(ref)
}

// each calls fn for every value, in ref order.
func (s *store[K, V]) each(fn func(ref uint32, v *V)) {
	for ref := uint32(1); ref <= s.tab.len(); ref++ {
		fn(ref, s.tab.at(ref))
	}
}

// tableChunk values per chunk of a table.
const tableChunk = 1024

// table is an append-only list of values in chunks that never move, so a
// ref read under any lock of the state reaches its value without a lock
// of the table: the list of chunks is swapped whole when it grows.
type table[V any] struct {
	mu     sync.Mutex
	n      atomic.Uint32
	chunks atomic.Pointer[[]*[tableChunk]V]
}

func (t *table[V]) len() uint32 { return t.n.Load() }

func (t *table[V]) at(ref uint32) *V {
	i := ref - 1
	return &(*t.chunks.Load())[i/tableChunk][i%tableChunk]
}

// add appends a zero value and returns it with its ref.
func (t *table[V]) add() (*V, uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.n.Load()
	var chunks []*[tableChunk]V
	if p := t.chunks.Load(); p != nil {
		chunks = *p
	}
	if int(i/tableChunk) == len(chunks) {
		grown := append(chunks[:len(chunks):len(chunks)], new([tableChunk]V))
		t.chunks.Store(&grown)
		chunks = grown
	}
	t.n.Store(i + 1)
	return &chunks[i/tableChunk][i%tableChunk], i + 1
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

// card is a card's daily usage, PIN tries and transaction counter;
// guarded by its account's mu. Its size is fixed: a card's state does not
// grow with its traffic.
type card struct {
	hash     [32]byte
	usage    counter
	pinFails counter // count = wrong PINs on the date
	atc      uint32  // the highest ATC a verified cryptogram carried, plus one (0: none)
}

// acceptor is a merchant's or terminal's daily approved debits.
type acceptor struct {
	mu    sync.Mutex
	id    string
	usage counter
	batch batchState // a terminal's settlement batch (batch.go); unused for a merchant
}

// effect is what an approval did, so that a reversal or void can undo
// exactly that, once. It names the state it changed by ref (the account's
// and card's always, the acceptors' 0 when it took no acceptor usage); the
// journal's form (Outcome) names them by key. 48 bytes, no pointer.
type effect struct {
	acc      uint32
	card     uint32
	merchant uint32
	terminal uint32
	debit    int64 // taken from the account (negative: credited)
	hold     int64 // placed on the account (negative: released)
	usage    int64 // counted toward the daily amount limits
	count    int32 // counted toward the daily count limits
	date     uint32
}

// txn is an entry of the transaction index: a message the switch
// answered, by its key. 64 bytes and no pointer: the index's slabs
// (index.go) are never scanned by the garbage collector.
type txn struct {
	eff      effect // an approval's effect (the combined one for a completion); eff.date is every entry's business date
	at       uint32 // the request's time, unix seconds (to 2106): liveness
	code     [2]byte
	approval [6]byte
	kind     Kind
	flags    uint8
	batch    uint16 // the generation of the terminal batch it counted in (txnInBatch), low 16 bits: two padding bytes of the 64
}

// txn.flags
const (
	txnApplied     = 1 << iota // eff took place and has not been undone
	txnReversed                // a reversal arrived (before or after the original)
	txnVoided                  // an approved void undid it
	txnCompleted               // a pre-authorization a completion took
	txnPlaceholder             // made by a reversal of an unknown original (counted in Stats.Placeholders)
	txnInBatch                 // counted in its terminal's batch of generation batch
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
