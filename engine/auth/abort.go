package auth

// Abort takes back a decision whose reply could not go out as decided (the
// HSM failed to MAC it, the journal failed, a panic after the decision):
// any effect it had is undone (an applied effect; an approved void's, whose
// original is applied again; a reversal's, whose original is applied again
// and marked not reversed, or whose placeholders are removed), and its
// index entry is removed, so a resend is decided afresh. It returns the
// outcome to journal instead, which replays as "answered 96, no effect, no
// entry" (a PIN try it counted stays counted: the PIN was tried; so does a
// chip card's transaction counter: the card used it). Safe on
// any outcome: one without an effect, one that does not parse (returned
// as it is), one aborted already.
func (a *Authorizer) Abort(outcomeBytes []byte) []byte {
	o, err := decodeOutcome(outcomeBytes)
	if err != nil || o.flags&flagNoEntry != 0 || !o.keyOK {
		return outcomeBytes
	}
	own, orig := &a.index.shards[shardOf(o.key)], &a.index.shards[shardOf(o.orig)]
	a.abortLocked(&o, own, orig)
	o.flags = o.flags&(flagPINWrong|flagPINRight) | flagNoEntry
	return o.encode(a)
}

func (a *Authorizer) abortLocked(o *outcome, own, orig *txnShard) {
	lockPair(own, orig)
	defer unlockPair(own, orig)
	e := own.get(o.key)
	if e != nil && e.has(txnPlaceholder) && e.kind == o.kind && o.flags&flagApplied == 0 && o.kind != KindReversal {
		// a late original declined for its reversal: the reversal is still
		// there; the placeholder waits again for the original
		e.code, e.kind = [2]byte{}, KindUnknown
		return
	}
	if e == nil || e.at != clampTime(o.at) || e.kind != o.kind || e.approval != o.approval {
		return // aborted already, or not this decision's entry (a later one of the same Ref)
	}
	keep := false
	switch {
	case o.kind == KindReversal:
		a.abortReversal(o, orig)
	case o.kind == KindVoid && o.flags&flagUndo != 0:
		if v := orig.get(o.orig.withClass('2')); v != nil && v.has(txnVoided) && !v.has(txnApplied) {
			v.clear(txnVoided)
			a.redoLocked(v)
			a.batchCount(v, countVoid, -1)
		}
	case o.flags&flagApplied != 0:
		keep = a.abortEffect(o, e, own, orig)
	}
	if !keep {
		a.index.remove(own, o.key)
	}
}

// abortEffect undoes what the decision applied; it reports true when the
// entry must stay, as the placeholder its reversal meanwhile left.
func (a *Authorizer) abortEffect(o *outcome, e *txn, own, orig *txnShard) bool {
	if !e.has(txnApplied) { // undone since, by a reversal or a void
		if e.has(txnReversed) { // as a replay sees it: a reversal of an unknown original
			p := txn{flags: txnReversed | txnPlaceholder, at: e.at}
			p.eff.date = e.eff.date
			a.index.put(own, o.key, p)
			return true
		}
		return false
	}
	if e.kind != KindCompletion {
		a.undoLocked(e)
		a.batchCount(e, countTxn, -1)
		return false
	}
	// A completion: undo its own delta (the debit, the hold it released,
	// its usage), and give the pre-authorization its hold back.
	delta := o.eff
	delta.acc, delta.card, delta.merchant, delta.terminal = e.eff.acc, e.eff.card, e.eff.merchant, e.eff.terminal
	e.eff = delta
	a.undoLocked(e)
	a.batchCount(e, countTxn, -1)
	if pre := orig.get(o.orig.withClass('1')); pre != nil && pre.has(txnCompleted) {
		pre.clear(txnCompleted)
		pre.set(txnApplied)
	}
	return false
}

// abortReversal applies the original again and marks it not reversed, or
// removes the placeholders the reversal left.
func (a *Authorizer) abortReversal(o *outcome, orig *txnShard) {
	if o.found != 0 {
		if t := orig.get(o.orig.withClass(o.found)); t != nil && t.has(txnReversed) {
			t.clear(txnReversed)
			if o.flags&flagUndo != 0 && !t.has(txnApplied) {
				a.redoLocked(t)
				a.batchCount(t, countReversal, -1)
			}
		}
	}
	if o.flags&flagRemembered == 0 {
		return
	}
	ks, n := rememberKeys(o.origClass, o.orig)
	for _, k := range ks[:n] {
		p := orig.get(k)
		switch {
		case p == nil || !p.has(txnPlaceholder):
		case p.waiting():
			a.index.remove(orig, k)
		default: // the late original met it and was declined: a decline like any other now
			d := *p
			d.clear(txnPlaceholder | txnReversed)
			a.index.put(orig, k, d)
		}
	}
}
