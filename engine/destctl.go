package engine

import (
	"context"
	"errors"
	"fmt"
)

// Operator control of a destination's connections (the admin API): sign
// on or off, an echo test, closing a connection. Each runs on the
// connection's keeper (keepSession), which owns the session's network
// management exchanges, so an operator's 0800 never races the keeper's
// own echo tests or key changes.

// DestOp is an operator action on a destination's connections.
type DestOp string

const (
	DestSignOn  DestOp = "signon"  // 0800 70=001 on each connection; traffic returns on 00
	DestSignOff DestOp = "signoff" // 0800 70=002 on each; no traffic goes (nor after a reconnect) until a sign-on
	DestEcho    DestOp = "echo"    // 0800 70=301 on each
	DestClose   DestOp = "close"   // close the connection (its keeper redials after its backoff)
)

// ErrNoConnection is a destination connection not connected now.
var ErrNoConnection = errors.New("engine: destination connection not connected")

// destCtl is one operator action for a keeper.
type destCtl struct {
	op   DestOp
	done chan error
}

// DestConnResult is what an action did on one connection.
type DestConnResult struct {
	Conn  int    `json:"conn"`
	Error string `json:"error,omitempty"` // "" when it was done (answered 00)
}

// ControlDestination runs op on destination name's connections (conn < 0:
// every connection; else that one), waiting for each keeper's answer
// within ctx. A sign-off holds until the next sign-on, across reconnects.
func (s *Server) ControlDestination(ctx context.Context, name string, op DestOp, conn int) ([]DestConnResult, error) {
	d := s.dests[name]
	if d == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoDestination, name)
	}
	switch op {
	case DestSignOn, DestSignOff, DestEcho, DestClose:
	default:
		return nil, fmt.Errorf("action %q: signon, signoff, echo or close", op)
	}
	if conn >= len(d.conns) {
		return nil, fmt.Errorf("destination %s has no connection %d", name, conn)
	}
	switch op {
	case DestSignOff:
		d.signedOff.Store(true) // before any 0800: no request is picked for it from now on
		for _, oc := range d.conns {
			if conn < 0 || oc.idx == conn {
				d.pool.SetUp(oc.idx, false)
			}
		}
	case DestSignOn:
		d.signedOff.Store(false)
	}
	var out []DestConnResult
	for _, oc := range d.conns {
		if conn >= 0 && oc.idx != conn {
			continue
		}
		r := DestConnResult{Conn: oc.idx}
		if err := oc.control(ctx, op); err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	return out, nil
}

// control hands op to oc's keeper and waits for its answer.
func (oc *outConn) control(ctx context.Context, op DestOp) error {
	if oc.session() == nil {
		return ErrNoConnection
	}
	c := destCtl{op: op, done: make(chan error, 1)}
	return askKeeper(ctx, oc.ctl, c, c.done)
}

// askKeeper hands v to a keeper on ch and waits for its answer on done,
// within ctx (the admin API's operator actions and key changes).
func askKeeper[T any](ctx context.Context, ch chan<- T, v T, done <-chan error) error {
	select {
	case ch <- v:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runControl is op on the keeper's session ss.
func (s *Server) runControl(ss *outSession, op DestOp) error {
	oc, d := ss.oc, ss.oc.d
	switch op {
	case DestEcho:
		return s.netMessage(ss, netEcho)
	case DestSignOff:
		err := s.netMessage(ss, netSignOff)
		oc.signedOn.Store(false) // answered or not: the switch sends nothing more on it
		return err
	case DestSignOn:
		if err := s.netMessage(ss, netSignOn); err != nil {
			return err
		}
		oc.signedOn.Store(true)
		d.pool.SetUp(oc.idx, true)
		oc.up.Set(1)
		return nil
	case DestClose:
		d.pool.SetUp(oc.idx, false)
		oc.setErr(errClosedByOperator, s.clock.Now())
		if c := ss.c; c != nil {
			return c.Close()
		}
	}
	return nil
}

var errClosedByOperator = errors.New("closed by the operator")
