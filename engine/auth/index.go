package auth

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// index is the transaction index: the messages the switch answered, by
// key, in shards. Its counts are kept for the caps (Limits) and Stats.
type index struct {
	shards       [shardCount]txnShard
	count        atomic.Int64  // entries, placeholders included
	placeholders atomic.Int64  // entries made by a reversal of an unknown original
	refused      atomic.Uint64 // requests refused at a cap
}

// txnShard guards the entries whose key hashes to it (shardOf). Entries
// live in slabs of slabLen and are reused once removed; the map holds their
// slot numbers, so neither map nor slabs hold a pointer, and an entry costs
// its 64 bytes and its share of the map.
type txnShard struct {
	mu    sync.Mutex
	m     keyTable // key -> slot
	slabs [][]txn
	free  []uint32 // slots removed, to reuse (at most as many as the peak count)
}

// slabLen entries per slab: 64 KB, one allocation per 1024 new entries.
const slabLen = 1024

// get is the entry under k, nil if none.
func (sh *txnShard) get(k txnKey) *txn {
	if slot, ok := sh.m.get(k); ok {
		return sh.at(slot)
	}
	return nil
}

func (sh *txnShard) at(slot uint32) *txn { return &sh.slabs[slot/slabLen][slot%slabLen] }

// alloc takes a free slot.
func (sh *txnShard) alloc() uint32 {
	if n := len(sh.free); n > 0 {
		slot := sh.free[n-1]
		sh.free = sh.free[:n-1]
		return slot
	}
	n := len(sh.slabs)
	if n == 0 || len(sh.slabs[n-1]) == slabLen {
		sh.slabs = append(sh.slabs, make([]txn, 0, slabLen))
		n++
	}
	last := &sh.slabs[n-1]
	*last = (*last)[:len(*last)+1]
	return uint32((n-1)*slabLen + len(*last) - 1)
}

// room reports whether n more entries, p of them placeholders, fit under
// the caps (Limits), counting a refusal. It reads the counts without a
// lock over all shards, so decisions in flight at once (at most the
// engine's workers) can pass a cap by as many entries as there are of
// them: a bound of a few dozen on millions.
func (ix *index) room(lim *Limits, n, p int64) bool {
	if ix.count.Load()+n > int64(lim.MaxTransactions) || ix.placeholders.Load()+p > int64(lim.MaxPlaceholders) {
		ix.refused.Add(1)
		return false
	}
	return true
}

// put stores t under k, over the entry already there (callers check it is
// dead, or mean to change it) or in a new one, and keeps the counts. Shard
// lock held.
func (ix *index) put(sh *txnShard, k txnKey, t txn) *txn {
	slot, ok := sh.m.get(k)
	switch {
	case !ok:
		slot = sh.alloc()
		sh.m.set(k, slot)
		ix.count.Add(1)
	case sh.at(slot).has(txnPlaceholder):
		ix.placeholders.Add(-1)
	}
	if t.has(txnPlaceholder) {
		ix.placeholders.Add(1)
	}
	e := sh.at(slot)
	*e = t
	return e
}

// remove drops the entry under k, if any, and keeps the counts. Shard
// lock held.
func (ix *index) remove(sh *txnShard, k txnKey) {
	slot, ok := sh.m.get(k)
	if !ok {
		return
	}
	sh.m.remove(k)
	ix.count.Add(-1)
	e := sh.at(slot)
	if e.has(txnPlaceholder) {
		ix.placeholders.Add(-1)
	}
	*e = txn{}
	sh.free = append(sh.free, slot)
}

// live reports whether t still counts at request time now (unix seconds):
// approved transactions, reversals and placeholders for the Retention,
// declines and balance inquiries for the DeclineWindow, open
// pre-authorizations until they are completed or reversed. Lookups and
// the purge use this one rule, so whether a purge has run changes no
// answer.
func (a *Authorizer) live(t *txn, now int64) bool {
	if t.held() > 0 {
		return true
	}
	window := a.declineSec
	if t.has(txnPlaceholder) || (t.code == [2]byte{'0', '0'} && t.kind != KindBalance) {
		window = a.retainSec
	}
	return now-int64(t.at) <= window
}

// lookup finds an entry still live at now. Shard lock held.
func (a *Authorizer) lookup(sh *txnShard, k txnKey, now int64) *txn {
	if t := sh.get(k); t != nil && a.live(t, now) {
		return t
	}
	return nil
}

// purgeBatch entries are looked at per hold of a shard's lock, so a purge
// of millions of entries delays a decision by microseconds, not a scan.
const purgeBatch = 1024

// purge drops, shard by shard, the entries no longer live at request time
// now. Lookups ignore them already: it only frees memory.
func (a *Authorizer) purge(now int64) {
	for i := range a.index.shards {
		a.purgeShard(&a.index.shards[i], now)
	}
}

func (a *Authorizer) purgeShard(sh *txnShard, now int64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for i := 0; i < sh.m.places(); i++ {
		// A removal moves later keys back, maybe into place i: look at
		// it again. A key seen twice is only looked at twice.
		for k, slot, ok := sh.m.at(i); ok && !a.live(sh.at(slot), now); k, slot, ok = sh.m.at(i) {
			a.index.remove(sh, k)
		}
		if (i+1)%purgeBatch == 0 {
			// Let decisions in. Nothing between the two calls can panic,
			// and the deferred Unlock covers the lock taken again. The
			// table may change meanwhile (grow, move keys back): a key
			// missed is dropped by the next purge, as lookups ignore it.
			sh.mu.Unlock()
			sh.mu.Lock()
		}
	}
}

// lockPair locks one or two shards in address order; unlockPair undoes it.
// (A returned unlock closure would cost an allocation per decision.)
func lockPair(x, y *txnShard) {
	if x == y {
		x.mu.Lock()
		return
	}
	if uintptrOf(x) > uintptrOf(y) {
		x, y = y, x
	}
	x.mu.Lock()
	y.mu.Lock()
}

func unlockPair(x, y *txnShard) {
	x.mu.Unlock()
	if x != y {
		y.mu.Unlock()
	}
}

func uintptrOf(s *txnShard) uintptr { return uintptr(unsafe.Pointer(s)) }
