package auth

// reverse handles an 0400/0420: it undoes what the original did, exactly
// once, whatever order the reversal, its repeats and a late original
// arrive in. It is acknowledged, unless the index is full; a reversal for
// an unknown original is remembered (a placeholder), so the original
// arriving later is declined.
func (a *Authorizer) reverse(r *Request, w when, key, okey txnKey, okOrig bool, own, origShard *txnShard) Decision {
	prev := own.get(key)
	if prev != nil && a.live(prev, w.now) {
		if r.MTI.IsRepeat() {
			return Decision{Code: codeText(prev.code), Approved: true, Date: w.date, repeat: true}
		}
		return Decision{Code: Duplicate, Date: w.date}
	}
	var n, p int64
	if prev == nil {
		n++
	}
	if okOrig {
		if orig, _ := a.findOriginal(r.OriginalClass, okey, origShard, w.now); orig == nil {
			ks, m := rememberKeys(r.OriginalClass, okey)
			for _, k := range ks[:m] {
				if origShard.get(k) == nil {
					n++
				}
			}
			p = int64(m)
		}
	}
	if !a.index.room(&a.lim, n, p) {
		return a.refuse(KindReversal, w, key, okey)
	}
	t := txn{kind: KindReversal, code: [2]byte{'0', '0'}, at: clampTime(w.now)}
	t.eff.date = w.date
	a.index.put(own, key, t)
	o := outcomeOf(KindReversal, key, okey, r.OriginalClass, w.date, w.now)
	if okOrig {
		o.flags, o.found = a.reverseOriginal(w, r.OriginalClass, okey, origShard)
	}
	return Decision{Code: Approved, Approved: true, Date: w.date, Outcome: o.encode(a)}
}

// reverseOriginal marks the original reversed and undoes its effect, or
// remembers it when it is not in the index; live and in a replay. It
// returns the outcome flags (flagUndo, flagRemembered) and the class of
// the original it marked (0: none). Shard locks held.
func (a *Authorizer) reverseOriginal(w when, origClass byte, okey txnKey, sh *txnShard) (flags, found byte) {
	orig, k := a.findOriginal(origClass, okey, sh, w.now)
	switch {
	case orig == nil: // not seen yet: remember, so a late original is declined
		ks, n := rememberKeys(origClass, okey)
		for _, k := range ks[:n] {
			p := txn{flags: txnReversed | txnPlaceholder, at: clampTime(w.now)}
			p.eff.date = w.date
			a.index.put(sh, k, p)
		}
		return flagRemembered, 0
	case !orig.has(txnReversed):
		orig.set(txnReversed)
		if orig.has(txnApplied) {
			a.undoLocked(orig)
			a.batchCount(orig, countReversal, 1)
			flags = flagUndo
		}
		return flags, k.class
	}
	return 0, 0
}

// rememberKeys: a reversal that names its original's class (field 90) is
// remembered under it; one that does not, under both classes it could be.
func rememberKeys(origClass byte, okey txnKey) ([2]txnKey, int) {
	if origClass != 0 {
		return [2]txnKey{okey.withClass(origClass)}, 1
	}
	return [2]txnKey{okey.withClass('2'), okey.withClass('1')}, 2
}

// findOriginal looks the reversed transaction up by the class field 90
// names, or (UnionPay, no field 90) financial then authorization.
func (a *Authorizer) findOriginal(origClass byte, okey txnKey, sh *txnShard, now int64) (*txn, txnKey) {
	if origClass != 0 {
		k := okey.withClass(origClass)
		return a.lookup(sh, k, now), k
	}
	for _, c := range [2]byte{'2', '1'} {
		if t := a.lookup(sh, okey.withClass(c), now); t != nil {
			return t, okey.withClass(c)
		}
	}
	return nil, okey.withClass('2')
}
