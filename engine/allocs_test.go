package engine

import (
	"testing"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/router"
)

// wakeOnly is a gnet.Conn whose only working method is Wake (the workers'
// way back to the loop); the test plays the loop itself.
type wakeOnly struct{ gnet.Conn }

func (wakeOnly) Wake(gnet.AsyncCallback) error { return nil }

// pathServer builds a server whose link the test drives by hand, without
// sockets, event loops or workers.
func pathServer(t testing.TB, auth Authorizer, j Journal) (*Link, *connState) {
	t.Helper()
	rt, err := router.Compile([]router.Rule{{Name: "on-us", PANPrefixes: []string{"4"}, Action: router.Local}}, "15")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Links: []LinkConfig{{Name: "pos", Listen: "127.0.0.1:0", Dialect: codec.ISO87ASCII, Framing: "binary2"}}},
		Deps{Log: zerolog.Nop(), Router: router.New(rt), Authorizer: auth, Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	l := s.links[0]
	return l, &connState{c: wakeOnly{}, link: l, toWork: batchPool.Get().(*batch)}
}

// onePass takes one request from its frame to its written reply: the loop's
// share (decode, validate, route, admit), a worker's (decide, reply,
// journal), and the loop's again (take the reply, account for it).
func onePass(l *Link, cs *connState, frame []byte) {
	t := getTxn(l, cs, l.srv.clock.Now())
	t.frame = append(t.frame[:0], frame...)
	l.handle(cs, t)
	for _, t := range cs.toWork.txns {
		l.srv.inflight.Add(1)
		l.srv.process(t)
	}
	clear(cs.toWork.txns)
	cs.toWork.txns = cs.toWork.txns[:0]
	cs.takeDone()
	for _, t := range cs.sent {
		l.srv.finished(t, true)
	}
	clear(cs.sent)
	cs.sent = cs.sent[:0]
}

// The engine's own path allocates nothing per request: decode, route, the
// reply and the hand-offs reuse pooled buffers.
func TestEnginePathAllocatesNothing(t *testing.T) {
	data := demoData(t)
	l, cs := pathServer(t, DemoAuthorizer{Data: data}, NoJournal{})
	frame := purchase(t, 1, 100)
	onePass(l, cs, frame) // warm the pools and the metric cache
	if n := testing.AllocsPerRun(1000, func() { onePass(l, cs, frame) }); n != 0 {
		t.Fatalf("%.1f allocations per request through the engine", n)
	}
}

func BenchmarkEnginePath(b *testing.B) {
	data := demoData(b)
	l, cs := pathServer(b, DemoAuthorizer{Data: data}, NoJournal{})
	frame := purchase(b, 1, 100)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		onePass(l, cs, frame)
	}
}
