package engine

import (
	"testing"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/internal/proc"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/router"
)

// fullPathAllocs pins TestFullPathAllocs.
const fullPathAllocs = 12

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
// journal), and the loop's again (take the reply, account for it). It
// returns the approvals among the replies.
func onePass(l *Link, cs *connState, frame []byte) (approved int) {
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
		if t.Approved() {
			approved++
		}
		l.srv.finished(t, true)
	}
	clear(cs.sent)
	cs.sent = cs.sent[:0]
	return approved
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

// fillOnly is the journal stage without a journal: it builds the record
// as JournalStage does and answers durable at once, so the test counts
// what the switch itself allocates per message on the full path.
type fillOnly struct{ stage JournalStage }

func (j fillOnly) Append(t *Txn) {
	if err := j.stage.fill(t); err != nil {
		t.Committed(err)
		return
	}
	t.Committed(nil)
}

func (j fillOnly) TryAppend(t *Txn) bool { j.Append(t); return true }

// fullPath is the path server with authorization and limits over the demo
// data, and the journal stage's record building.
func fullPath(t testing.TB) (*Link, *connState) {
	t.Helper()
	p, err := journal.NewProtector(make([]byte, journal.KeyFileLen))
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(demoData(t), p.HashPAN, auth.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return pathServer(t, AuthStage{A: a, P: p}, fillOnly{JournalStage{P: p}})
}

// The full path's allocations per approved purchase, pinned: the
// decision's outcome and index entry, the record's strings (RRN,
// terminal, merchant, acquirer, the masked PAN) and the sealed PAN. A
// change that adds one fails here; one that removes some lowers the pin.
func TestFullPathAllocs(t *testing.T) {
	if proc.Race {
		t.Skip("the race detector's sync.Pool drops items: the counts are not the switch's")
	}
	l, cs := fullPath(t)
	const runs = 40 // the demo card's daily count is 50: every one is approved
	frames := make([][]byte, runs+2)
	for i := range frames {
		frames[i] = purchase(t, 1+i, 100) // built before the count: the test's frames are not the switch's
	}
	approved, i := 0, 0
	pass := func() {
		approved += onePass(l, cs, frames[i])
		i++
	}
	pass() // warm the pools and the metric cache
	n := testing.AllocsPerRun(runs, pass)
	if approved != i {
		t.Fatalf("%d of %d approved: the count is not of approvals", approved, i)
	}
	if n > fullPathAllocs {
		t.Fatalf("%.1f allocations per approved purchase on the full path, want at most %d", n, fullPathAllocs)
	}
	t.Logf("%.1f allocations per approved purchase (pinned at %d)", n, fullPathAllocs)
}

// The journal stage takes the PAN hash the authorizer made with its own
// Protector, and hashes again when it was made by another (or none).
func TestJournalStageReusesPANHash(t *testing.T) {
	p, _ := journal.NewProtector(make([]byte, journal.KeyFileLen))
	other, _ := journal.NewProtector(append(make([]byte, journal.KeyFileLen-1), 1))
	l, cs := pathServer(t, DemoAuthorizer{Data: demoData(t)}, NoJournal{})
	tx := getTxn(l, cs, l.srv.clock.Now())
	tx.frame = append(tx.frame[:0], purchase(t, 1, 100)...)
	if err := l.dialect.Decode(&tx.View, tx.frame); err != nil {
		t.Fatal(err)
	}
	pan := append([]byte(nil), tx.PAN()...)
	a, err := auth.New(demoData(t), p.HashPAN, auth.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	AuthStage{A: a, P: p}.Authorize(tx)
	if tx.panHashBy != p || tx.panHash != p.HashPAN(pan) {
		t.Fatal("the authorization stage did not leave its PAN hash for the journal stage")
	}
	sentinel := [32]byte{1, 2, 3}
	tx.panHash, tx.panHashBy = sentinel, p
	if err := (JournalStage{P: p}).fill(tx); err != nil || tx.rec.PANHash != sentinel {
		t.Fatalf("with its own Protector's hash: %v, record hash %x, want the authorizer's", err, tx.rec.PANHash[:4])
	}
	tx.panHashBy = other
	if err := (JournalStage{P: p}).fill(tx); err != nil || tx.rec.PANHash != p.HashPAN(pan) {
		t.Fatalf("with another Protector's hash: %v, record hash %x, want its own", err, tx.rec.PANHash[:4])
	}
}

// BenchmarkFullPath: one approved purchase through the full path in
// process (authorization, the record built; no disk): the CPU and the
// allocations the switch adds to the engine's. hash=twice is the stage
// without AuthStage.P: the journal stage hashes the PAN again.
func BenchmarkFullPath(b *testing.B) {
	for _, once := range []bool{true, false} {
		name := "hash=once"
		if !once {
			name = "hash=twice"
		}
		b.Run(name, func(b *testing.B) {
			l, cs := fullPath(b)
			if !once {
				l.srv.auth = AuthStage{A: l.srv.auth.(AuthStage).A}
			}
			frames := make([][]byte, 40)
			for i := range frames {
				frames[i] = purchase(b, 1+i, 100)
			}
			approved := 0
			b.ReportAllocs()
			b.ResetTimer()
			cpu, _ := proc.CPU()
			for i := 0; i < b.N; i++ {
				approved += onePass(l, cs, frames[i%len(frames)]) // repeats are answered as repeats: the same work
			}
			used, _ := proc.CPU()
			b.ReportMetric(float64((used-cpu).Nanoseconds())/1e3/float64(b.N), "cpu-us/op")
		})
	}
}
