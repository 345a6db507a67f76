// Package standin is the pure core of stand-in processing (STIP): when a
// destination (an issuer host the switch forwards to) is unavailable, its
// circuit open (upstream.Breaker) or every connection down, the switch may
// answer in the issuer's place for that destination's BIN ranges, by the
// destination's stand-in rules. This package decides. It does no I/O,
// keeps no clock (the business day and the card's expiry come with the
// request), logs nothing and starts no goroutine; the engine journals,
// replies and, for an approval, owes the destination an advice
// (saf.Advice for an 0200, saf.AuthAdvice for an 0100), as etcd-io/raft
// leaves its network and disk to its user.
//
// # The rules
//
// A Stand holds one destination's Config and, per card (by the PAN's
// keyed hash, never the PAN), the business day's stand-in approvals: their
// amount and count. A request is approved ("00") when stand-in is
// Enabled, its MTI and processing code are ones stand-in covers (by
// default 0100 and 0200 purchases), it is in the limits' Currency, the
// card is not on the negative file and not expired, and the amount fits
// MaxAmount and, with the card's approvals of the day, DailyAmount and
// DailyCount. Otherwise the Decision says the code and the Reason:
//
//	disabled                         91 (the answer without stand-in)
//	mti, processing, currency        Config.DeclineCode (default 05)
//	negative                         the entry's code (41, 43, 62...)
//	expired                          54
//	badamount (below zero)           13
//	amount, dailyamount              61
//	count                            65
//	full (MaxCards cards of today)   91
//
// A request of a new business day starts its card from zero: the older
// day's usage is dropped lazily, when the card is next approved or its
// slot is taken by another card. Memory is bounded by MaxCards.
//
// # Live path and replay
//
// The state is derived from the journal. On the live path the engine
// calls Authorize, which decides and records an approval in one step
// under the Stand's lock (Decide then Apply from two workers could both
// approve a card's last allowance); it journals the decision and puts
// Indicator(d.Reason) in a private field of the reply and the advice. At
// a restart the replay calls Apply for every journaled stand-in approval
// of the day, in journal order, before live traffic. Reverse takes a
// reversed approval back; the engine does not call it yet (a reversal of
// a stand-in approval leaves the card's usage counted: the stricter
// side). Decide, which changes nothing, serves a dry run.
//
//	neg, err := standin.NewNegative(hotCards) // keyed hash -> code ("41", "43", "" = 62)
//	cfg := standin.Config{Enabled: true, Currency: 840, MaxAmount: 100_00, DailyAmount: 250_00, DailyCount: 3}
//	if err := cfg.Validate(); err != nil { ... }
//	st := standin.New(cfg, neg)
//
//	// a worker, the destination unavailable:
//	r := standin.Request{MTI: [4]byte(v.MTI), Proc: proc, Amount: amt, Currency: 840,
//		PAN: keyedHash, Day: businessDay, Expired: expiry < today}
//	d := st.Authorize(r)
//	reply(d.Code, standin.Indicator(d.Reason)) // journaled; an approval queues its advice
//
//	// replay, per journaled stand-in record:
//	st.Apply(r, standin.Decision{Code: "00", Approved: true})
//	st.Reverse(r) // a reversal of that approval
package standin
