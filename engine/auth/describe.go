package auth

// Effect is a journaled decision's outcome as people read it (journal dump):
// what it was, what it changed, and what it refers to. It holds no PAN:
// the card is named by its keyed hash only.
type Effect struct {
	Kind       string `json:"kind"`
	Date       uint32 `json:"date"`                 // the business date it counted in
	Applied    bool   `json:"applied,omitempty"`    // its effect took place
	Undid      bool   `json:"undid,omitempty"`      // it undid its original (a reversal, an approved void)
	NoEntry    bool   `json:"no_entry,omitempty"`   // answered 96 with nothing kept (a full index, an abort)
	Remembered bool   `json:"remembered,omitempty"` // a reversal of an original not seen, remembered
	PINWrong   bool   `json:"pin_wrong,omitempty"`  // a wrong PIN was counted
	PINRight   bool   `json:"pin_right,omitempty"`  // a right PIN cleared the count
	ATC        *int   `json:"atc,omitempty"`        // a chip card's transaction counter it recorded
	ARQCWrong  bool   `json:"arqc_wrong,omitempty"` // declined for a chip cryptogram that did not verify
	Account    string `json:"account,omitempty"`    // the account it changed
	Debit      int64  `json:"debit,omitempty"`      // taken from the account (negative: credited)
	Hold       int64  `json:"hold,omitempty"`       // placed on the account (negative: released)
	Usage      int64  `json:"usage,omitempty"`      // counted toward the daily amount limits
	Count      int32  `json:"count,omitempty"`      // counted toward the daily count limits
	Merchant   string `json:"merchant,omitempty"`   // whose daily usage it counted in
	Terminal   string `json:"terminal,omitempty"`   // (the terminal's too)
	OrigSTAN   uint32 `json:"orig_stan,omitempty"`  // the original it names
	OrigDate   uint32 `json:"orig_date,omitempty"`  // MMDD
	OrigClass  string `json:"orig_class,omitempty"` // the original's MTI class, as named
	Batch      uint32 `json:"batch,omitempty"`      // a settlement's batch number
	Closed     bool   `json:"closed,omitempty"`     // a settlement closed the terminal's batch
	Upload     bool   `json:"upload,omitempty"`     // out of balance: a batch upload is awaited (UnionPay)
}

// DescribeOutcome reads a journaled outcome for people; ok is false when
// there is none or it does not parse.
func DescribeOutcome(b []byte) (e Effect, ok bool) {
	if len(b) == 0 {
		return e, false
	}
	if isSettleOutcome(b) {
		s, err := decodeSettle(b)
		if err != nil {
			return e, false
		}
		kind := [...]string{SettleTotals: "settlement", SettleUpload: "batch upload", SettleUploadEnd: "batch upload end"}[s.op]
		return Effect{Kind: kind, Date: s.date, Terminal: string(s.terminal), Batch: s.number,
			Closed: s.flags&settleClosed != 0, Upload: s.flags&settleUpload != 0}, true
	}
	o, err := decodeOutcome(b)
	if err != nil {
		return e, false
	}
	e = Effect{Kind: o.kind.String(), Date: o.date,
		Applied: o.flags&flagApplied != 0, Undid: o.flags&flagUndo != 0, NoEntry: o.flags&flagNoEntry != 0,
		Remembered: o.flags&flagRemembered != 0, PINWrong: o.flags&flagPINWrong != 0, PINRight: o.flags&flagPINRight != 0,
		ARQCWrong: o.flags&flagARQCWrong != 0}
	if o.pin.atc.set {
		atc := int(o.pin.atc.atc)
		e.ATC = &atc
	}
	if e.Applied {
		e.Account, e.Merchant, e.Terminal = string(o.ids.account), string(o.ids.merchant), string(o.ids.terminal)
		e.Debit, e.Hold, e.Usage, e.Count = o.eff.debit, o.eff.hold, o.eff.usage, o.eff.count
	}
	if o.origOK && o.orig.stan != 0 {
		e.OrigSTAN, e.OrigDate = o.orig.stan, uint32(o.orig.ldate)
	}
	if o.origClass != 0 {
		e.OrigClass = string(o.origClass)
	}
	return e, true
}
