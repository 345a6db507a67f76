package upstream

import "time"

// Run is the one goroutine that expires the tables: at every tick it
// advances each table to the tick's time and hands each expired request to
// fire, outside the table's lock, once. It returns when ticks is closed.
// The engine gives it a time.Ticker's channel at the tables' tick (1 ms);
// a test, or an engine on a fake clock, sends the fake clock's times. A
// tick that comes late (a busy machine) is caught up, every deadline since
// the last tick firing in order. fire must not wait: it queues the 91 to a
// worker or the originator's loop.
func Run[P any](ticks <-chan time.Time, fire func(Expired[P]), tables ...*Table[P]) {
	for now := range ticks {
		for _, t := range tables {
			for _, e := range t.Expire(now) {
				fire(e)
			}
		}
	}
}
