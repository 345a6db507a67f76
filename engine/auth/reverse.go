package auth

// reverse handles an 0400/0420: it undoes what the original did, exactly
// once, whatever order the reversal, its repeats and a late original
// arrive in. It is always acknowledged; a reversal for an unknown original
// is remembered, so the original arriving later is declined.
func (a *Authorizer) reverse(r *Request, own, origShard *txnShard) Decision {
	key := txnKey{r.Ref(), '4'}
	if prev, ok := own.m[key]; ok && live(prev, r.BusinessDate) {
		if r.MTI.IsRepeat() {
			return Decision{Code: string(prev.code[:]), Approved: true, repeat: true}
		}
		return Decision{Code: Duplicate}
	}
	own.m[key] = &txn{kind: KindReversal, code: [2]byte{'0', '0'}, date: r.BusinessDate}
	orig, okey := a.findOriginal(r, origShard)
	switch {
	case orig == nil: // not seen yet: remember, so a late original is declined
		for _, k := range a.rememberKeys(r, okey) {
			origShard.m[k] = &txn{reversed: true, date: r.BusinessDate}
		}
	case !orig.reversed:
		orig.reversed = true
		if orig.applied {
			acc := a.accounts.get(orig.eff.account)
			acc.mu.Lock()
			a.undo(acc, a.cards.get(orig.eff.cardHash), orig)
			acc.mu.Unlock()
		}
	}
	return Decision{Code: Approved, Approved: true, Outcome: encodeOutcome(KindReversal, key, r.Original, r.OriginalClass, nil, true, r.BusinessDate, nil, [6]byte{})}
}

// rememberKeys: a reversal that names its original's class (field 90) is
// remembered under it; one that does not, under both classes it could be.
func (a *Authorizer) rememberKeys(r *Request, k txnKey) []txnKey {
	if r.OriginalClass != 0 {
		return []txnKey{k}
	}
	return []txnKey{{r.Original, '2'}, {r.Original, '1'}}
}

// findOriginal looks the reversed transaction up by the class field 90
// names, or (UnionPay, no field 90) financial then authorization.
func (a *Authorizer) findOriginal(r *Request, sh *txnShard) (*txn, txnKey) {
	classes := []byte{'2', '1'}
	if r.OriginalClass != 0 {
		classes = []byte{r.OriginalClass}
	}
	for _, c := range classes {
		k := txnKey{r.Original, c}
		if t := lookup(sh, k, r.BusinessDate); t != nil {
			return t, k
		}
	}
	return nil, txnKey{r.Original, classes[0]}
}
