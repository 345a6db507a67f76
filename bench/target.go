package bench

import "context"

// Target is a server the generator can measure: the switch in one of its
// modes, or a baseline peer. Start brings it up on a loopback address and
// returns that address and a stop function.
type Target struct {
	Name        string // short name, as in the report ("echo", "moov", "engine", "full")
	Description string // one line: what it is, what it does per message
	Echo        bool   // it writes each request back: any answer is as planned
	Start       func(ctx context.Context) (addr string, stop func(), err error)
}
