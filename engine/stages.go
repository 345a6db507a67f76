package engine

import "github.com/cardswitch/cardswitch/router"

// The stages a request passes through after it is decoded, each a small
// interface defined here, where it is consumed.

// Router decides where a request goes (package router implements it).
type Router interface {
	Route(f router.Facts) router.Decision
}

// Authorizer decides on a request routed to the local issuer: it sets
// t.Code (and t.Approval on approval), and may set t.Err.
type Authorizer interface {
	Authorize(t *Txn)
}

// Aborter is an Authorizer that can take a decision back: called when the
// reply of a decided request had to become 96 (its MAC could not be made,
// the journal refused it, a stage panicked after deciding), so no effect
// stays for an answer not given. It replaces t.Outcome with what to journal
// instead.
type Aborter interface {
	Abort(t *Txn)
}

// Journal makes a request and its decision durable before the reply leaves.
// It calls t.Committed exactly once, from any goroutine, when the record is
// durable or has failed. Append may wait when the journal is saturated
// (workers call it); TryAppend never waits (the loop calls it) and reports
// false, without calling Committed, when the journal cannot take the record.
type Journal interface {
	Append(t *Txn)
	TryAppend(t *Txn) bool
}
