package auth

import "hash/maphash"

// Replay applies one journaled decision to the state, as it was applied
// when it was made: its effect, and its entry in the index with the code
// it was answered (respCode). Records without an outcome (network
// management, format errors) change nothing. Replay runs alone, before
// traffic, in journal order.
func (a *Authorizer) Replay(outcomeBytes []byte, respCode [2]byte) error {
	if len(outcomeBytes) == 0 {
		return nil
	}
	if isSettleOutcome(outcomeBytes) {
		return a.replaySettle(outcomeBytes)
	}
	o, err := decodeOutcome(outcomeBytes)
	if err != nil {
		return err
	}
	a.replayAdvance(o.date, o.at)
	a.replayPIN(&o)
	a.replayATC(&o)
	if o.flags&flagNoEntry != 0 || !o.keyOK {
		return nil // answered 96 with no entry; or a Ref no decision could have keyed
	}
	w := when{date: o.date, now: o.at}
	own, orig := &a.index.shards[shardOf(o.key)], &a.index.shards[shardOf(o.orig)]
	lockPair(own, orig)
	defer unlockPair(own, orig)
	if o.kind == KindReversal {
		t := txn{kind: KindReversal, code: respCode, at: clampTime(o.at)}
		t.eff.date = o.date
		a.index.put(own, o.key, t)
		if o.origOK {
			a.reverseOriginal(w, o.origClass, o.orig, orig)
		}
		return nil
	}
	reversedFirst := false // journaled after the reversal that undid it
	if prev := own.get(o.key); prev != nil && prev.waiting() && a.live(prev, o.at) {
		if o.flags&flagApplied == 0 {
			prev.code, prev.kind = respCode, o.kind // the late original that was declined
			return nil
		}
		// An approval the reversal found live, but journaled after it (its
		// reply was signed, then appended, while the reversal's went
		// first): apply it, then undo it, as live did, and drop what the
		// reversal left for an original it did not find.
		reversedFirst = true
		a.dropSibling(own, o.key)
	}
	t := txn{kind: o.kind, code: respCode, approval: o.approval, at: clampTime(o.at)}
	t.eff.date = o.date
	if o.flags&flagApplied != 0 {
		t.eff = a.resolve(&o)
	}
	e := a.index.put(own, o.key, t)
	if o.flags&flagApplied != 0 {
		a.redoLocked(e)
		if e.kind == KindCompletion && o.origOK {
			if pre := a.lookup(orig, o.orig.withClass('1'), o.at); pre != nil {
				absorb(pre, e)
			}
		}
		a.batchCount(e, countTxn, 1)
	}
	if reversedFirst {
		e.set(txnReversed)
		if e.has(txnApplied) {
			a.undoLocked(e)
			a.batchCount(e, countReversal, 1)
		}
	}
	if o.flags&flagUndo != 0 && o.kind == KindVoid && o.origOK { // an approved void
		if v := a.lookup(orig, o.orig.withClass('2'), o.at); v != nil {
			v.set(txnVoided)
			if v.has(txnApplied) {
				a.undoLocked(v)
				a.batchCount(v, countVoid, 1)
			}
		}
	}
	return nil
}

// replayAdvance rolls the date and time forward as the decision did, and
// purges the index as the live one does, but amortized: only once a
// quarter as many records were replayed since the last purge as the index
// holds entries, so a replay of a long journal scans each entry a bounded
// number of times. (A record can leave up to three entries, a reversal of
// an original not seen: with a bar of a whole index's worth, entries could
// outgrow the records and never be purged, and a follower that replays
// for weeks would keep them all.)
func (a *Authorizer) replayAdvance(date uint32, at int64) {
	storeMax32(&a.day, date)
	now := storeMax64(&a.now, at)
	a.replayed++
	switch next := a.nextPurge.Load(); {
	case next == 0:
		a.nextPurge.Store(now + a.purgeEvery)
	case now >= next && 4*a.replayed >= a.index.count.Load():
		a.nextPurge.Store(now + a.purgeEvery)
		a.replayed = 0
		a.purge(now - purgeSlack)
	}
}

// replayPIN counts a journaled wrong PIN, or clears the count on a right
// one, by the roll-forward rule.
func (a *Authorizer) replayPIN(o *outcome) {
	if o.pin.kind == 0 {
		return
	}
	c := a.snap.Load().byHash[o.pin.card]
	cs, _ := a.cards.get(o.pin.card)
	if c != nil { // the card's account guards its state
		acc, _ := a.accounts.get(c.Account)
		acc.mu.Lock()
		defer acc.mu.Unlock()
	}
	if o.pin.kind == pinWrong {
		cs.pinFails.add(o.date, 1, 0, 1)
	} else {
		cs.pinFails.clearOn(o.date)
	}
}

// resolve is a decoded effect with the state it names.
func (a *Authorizer) resolve(o *outcome) effect {
	e := o.eff
	e.acc = refOf(a.accounts, o.ids.account)
	_, e.card = a.cards.get(o.ids.card)
	if len(o.ids.merchant) > 0 {
		e.merchant = refOf(a.merchants, o.ids.merchant)
	}
	if len(o.ids.terminal) > 0 {
		e.terminal = refOf(a.terminals, o.ids.terminal)
	}
	return e
}

// refOf is get's ref for a string key given as bytes: no string is made
// unless the value is new.
func refOf[V any](s *store[string, V], k []byte) uint32 {
	sh := &s.shards[maphash.Bytes(seed, k)&(shardCount-1)]
	if ref := func() uint32 {
		sh.mu.Lock()
		defer sh.mu.Unlock()
		return sh.m[string(k)]
	}(); ref != 0 {
		return ref
	}
	_, ref := s.get(string(k))
	return ref
}

// dropSibling removes the placeholder a reversal that named no class left
// under the other class of key (it remembered both, not finding either).
func (a *Authorizer) dropSibling(sh *txnShard, key txnKey) {
	other := byte('1')
	if key.class == '1' {
		other = '2'
	}
	if p := sh.get(key.withClass(other)); p != nil && p.has(txnPlaceholder) && p.waiting() {
		a.index.remove(sh, key.withClass(other))
	}
}
