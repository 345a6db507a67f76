// Package sim is an issuer simulator: a host that a switch (or an
// acquirer, or a terminal integration under test) sends ISO 8583 requests
// to, and that answers them by rules, with a latency distribution and
// faults on demand, like jPOS-EE's server simulator. The cardswitch
// command runs it (`cardswitch sim issuer`); tests use it as a library.
//
//	is, err := sim.Start("127.0.0.1:0", sim.Config{Dialect: "iso87ascii", Framing: "binary2",
//		Rules: sim.Rules{Seed: 1, Latency: "uniform 1ms 3ms", Rules: []sim.Rule{
//			{Name: "big", AmountOver: 100000, Code: "51"},
//			{Name: "blocked", PANPrefixes: []string{"400000-400999"}, Code: "14"},
//			{Name: "flaky", Percent: 2, Code: "05"},
//		}}})
//	defer is.Close()
//	is.Inject(sim.Rule{Fault: "no_answer", Percent: 10}) // at run time
//	fmt.Println(is.Stats().Answered["51"])
//
// It speaks every dialect and framing a switch link does (codec.Lookup and
// codec.ParseFraming: iso87ascii, iso87binary, cup-pos, a moov JSON spec;
// binary2, ascii4, bcd2, each with +tpdu). A reply is built as the switch
// builds its own (engine/reply.go): the response MTI, the dialect's header
// echoed, the TPDU with its addresses swapped, the fields a matcher keys
// on echoed (2, 3, 4, 7, 11, 12, 13, 37, 41, 42, 49, ...), 38 on an
// approval and 39. An 0800 sign-on (70 = 001), sign-off (002) or echo test
// (301) is answered 0810 with 00 (UnionPay: the code in 60.3); another
// code 12; with Config.EchoIdle it sends its own echo tests on idle
// connections and counts the answers. A field that does not decode, or a mandatory one missing, is
// answered 30 with the fields that could be read; a message whose MTI does
// not decode closes the connection; responses are ignored.
//
// Decisions are data (Rules): amount thresholds, PAN prefix ranges,
// shares in percent, each giving a response code and/or a fault (slow, no
// answer, drop the connection, wrong MAC, answer twice, late). They are
// deterministic: a draw is a hash of the seed and the request's identity,
// never a shared random stream, so the same requests get the same answers
// whatever the timing (draw.go). Rules are swapped whole at run time
// (SetRules), and rules injected at run time go first (Inject).
//
// Delayed replies wait in one scheduler (a heap and a timer, sched.go), not
// in a goroutine or a timer each: a connection costs two goroutines (its
// reader, which decodes, decides and builds the reply at once, and its
// writer, which sends what has gathered in one write), and replies in
// flight cost their bytes. Everything is bounded: connections, replies in
// flight, bytes waiting for a peer that does not read, frame size, rules,
// delays (see Config).
//
// Counters (Stats) count requests received, answered by code, faults
// injected, format errors and MAC failures.
//
// Store-and-forward (ledger.go): reversals (0420, repeats 0421), financial
// advices (0220, 0221) and authorization advices (0120, 0121) are answered
// as requests are (0430, 0230, 0130, by the rules and their faults, MACs
// checked), and booked in a ledger keyed by MTI class, RRN (37) and STAN
// (11), so a test can check the switch's reversals against what the issuer
// applied (answered 00), how often each came and how many were repeats:
//
//	is.Inject(sim.Rule{MTIClasses: []string{"4"}, Fault: "no_answer"}) // the host is silent to reversals
//	// ... the switch times out, queues its 0420, repeats it as 0421 ...
//	is.ClearInjected()
//	// ... later:
//	if is.Applied('4') != want || is.Stats().Duplicates != 0 { ... }
//	for _, e := range is.Ledger() { ... e.Received, e.Repeats, e.Applied, e.FirstCode ... }
//
// Zone keys (Config.ZMK, ZPK, ZAK; zone.go): with a ZPK it decrypts field
// 52 and checks the PIN (Config.PIN; wrong: 55), with a ZAK it verifies
// and makes MACs, with a ZMK it takes 0800 key changes (70 = 161: 53 says
// which key, 48 carries it under the ZMK with its check value) and sends
// its own (ChangeKey).
//
// The simulator is a test tool: it holds its keys in clear (it has no
// HSM), and logs nothing, so no card data ever leaves it.
package sim
