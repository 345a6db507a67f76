// Package engine is the switch's data plane: one gnet event-loop engine per
// link, the connection state, the transaction pipeline and its worker pool,
// network management, protections (caps, timers, panic guard, overload) and
// metrics. A TLS link (LinkConfig.TLS) or destination (DestinationConfig.TLS)
// is served by crypto/tls connections on goroutines of their own
// (streamconn.go), whose turns run the same handlers as gnet's loops.
//
// A request goes: the link's event loop cuts the frame (codec.Framing),
// copies it into a pooled Txn, decodes and validates it (format error: 30),
// answers 0800s itself, checks sign-on, routes it (Router), and hands it to
// the worker pool through a bounded queue; when the queue or the
// connection's in-flight cap is full it answers the overload code at once.
// A worker runs the Authorizer, builds the reply, and asks the Journal to
// make the record durable; when the journal says so, the reply goes back to
// the connection's loop (a gnet Wake), which writes every finished reply of
// the connection in one writev.
//
//	srv, err := engine.New(cfg, engine.Deps{Log: log, Router: r, Authorizer: a, Journal: j})
//	if err := srv.Start(ctx); err != nil { ... }  // listening on every link
//	http.ListenAndServe(admin, srv.AdminHandler()) // /metrics, /healthz, /readyz
//	...
//	srv.Shutdown(ctx)                              // drain, then stop
package engine
