// Package bench is the load generator and its report: it simulates
// terminals on N connections with up to K requests in flight each, closed
// loop (as fast as the server answers) or open loop at a fixed rate with
// latency measured from the moment each message was due (so a stalled
// server cannot hide its stall), records latency in HDR histograms, and
// reports throughput, response codes and percentiles as text, JSON and HTML.
// Compare runs the same traffic against several targets in turn: the
// baselines of bench/peers and the switch in its modes.
//
//	rep, err := bench.Run(ctx, bench.Options{Addr: "127.0.0.1:8583", Dialect: "iso87ascii",
//		Framing: "binary2", Conns: 64, InFlight: 16, Duration: 10 * time.Second, Traffic: t})
//	rep.WriteText(os.Stdout)
//
// Imported by nothing but the command.
package bench
