package engine

import (
	"sync"
	"sync/atomic"
)

// connState is one peer connection. Fields marked "loop" are touched only on
// the connection's event loop; the others say how they are guarded.
type connState struct {
	c      peer   // a gnet.Conn, or a streamConn (TLS)
	id     uint64 // connection number, in logs and journal records
	link   *Link
	remote string // peer address, for logs
	ip     string

	// loop
	inflight int    // requests handed to workers and not yet answered
	signedOn bool   // an 0800 sign-on was accepted
	local    []*Txn // replies made on the loop, written at the end of OnTraffic
	toWork   *batch // requests read this turn, for the workers
	batch    [][]byte
	sent     []*Txn

	// atomics, read by the ticker goroutine
	lastActivity atomic.Int64 // unix nanoseconds of the last bytes received
	lastMessage  atomic.Int64 // unix nanoseconds of the last message (keep-alives aside) or of the open
	partialSince atomic.Int64 // when an incomplete frame began, 0 if none
	outBuffered  atomic.Int64 // gnet outbound bytes after the last write
	buffered     atomic.Int64 // gnet inbound + outbound bytes after the last turn (Server.buffered's share)
	paused       atomic.Bool  // requests left unread until the replies drain; the ticker wakes the loop

	mu     sync.Mutex
	done   []*Txn // mu guards done: replies finished by workers, to write
	woken  bool   // mu guards woken: a Wake is on its way to the loop
	closed bool   // mu guards closed: OnClose has run; finish txns directly
}

var connIDs atomic.Uint64

// deliver hands a finished transaction back to its connection: the loop
// writes it on its next turn. Called by workers.
func (cs *connState) deliver(t *Txn, s *Server) {
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		s.finished(t, false)
		return
	}
	cs.done = append(cs.done, t)
	wake := !cs.woken
	cs.woken = true
	cs.mu.Unlock()
	if wake {
		if err := cs.c.Wake(nil); err != nil {
			s.log.Warn().Err(err).Str("link", cs.link.cfg.Name).Msg("wake failed")
		}
	}
}

// takeDone moves the workers' finished txns to the loop.
func (cs *connState) takeDone() {
	cs.mu.Lock()
	cs.sent = append(cs.sent, cs.done...)
	clear(cs.done)
	cs.done = cs.done[:0]
	cs.woken = false
	cs.mu.Unlock()
}
