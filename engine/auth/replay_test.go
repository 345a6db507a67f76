package auth

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestScenarioReplay runs every scenario, rebuilds a fresh authorizer from
// its journal (every Decision.Outcome with its code, in order) and checks
// that the two hold the same state and give the same answers to the same
// follow-up requests.
func TestScenarioReplay(t *testing.T) {
	eachScenario(t, "replayed", func(t *testing.T, w *world) {
		checkSameState(t, w, w.a, w.replayed(), "replayed")
	})
}

// eachScenario runs every scenario file as a subtest, then check on its
// world (marked where as the scenario's path and what).
func eachScenario(t *testing.T, what string, check func(*testing.T, *world)) {
	for _, f := range scenarioFiles(t) {
		name := strings.TrimSuffix(f[strings.LastIndex(f, "/")+1:], ".txt")
		t.Run(name, func(t *testing.T) {
			sc, err := readScenario(f)
			if err != nil {
				t.Fatal(err)
			}
			w := runScenario(t, sc)
			if t.Failed() {
				return
			}
			w.where = sc.path + " (" + what + ")"
			check(t, w)
		})
	}
}

// checkSameState compares two authorizers' state (as of the scenario's
// newest date and time) and their answers to the same follow-up requests.
func checkSameState(t *testing.T, w *world, live, other *Authorizer, what string) {
	t.Helper()
	if got, want := dumpState(other, w.date, w.now), dumpState(live, w.date, w.now); !reflect.DeepEqual(got, want) {
		t.Errorf("%s state differs:\n%s", what, diffDumps(want, got))
	}
	a, b := followUp(w, live), followUp(w, other)
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("follow-up %d: live %s, %s %s", i, a[i], what, b[i])
		}
	}
}

// followUp asks the same questions of an authorizer: per card, a balance,
// a wrong PIN (PIN tries), a purchase and a pre-authorization (limits and
// funds), and the balance after them.
func followUp(w *world, a *Authorizer) []string {
	var out []string
	stan := uint32(900000)
	ask := func(card string, mti string, tt uint32, amt int64, entry uint32, pin string) {
		stan++
		r := &Request{Proc: tt * 10000, PAN: []byte(card), PANHash: sha256PAN([]byte(card)), Amount: amt,
			Terminal: "T1", Merchant: "M1", EntryMode: entry * 10, HasPIN: pin != "none", STAN: stan,
			LocalDate: w.date % 10000, BusinessDate: w.date, Today: 2601, Received: w.now}
		copy(r.MTI[:], mti)
		d, _ := decideWith(a, r, pin)
		out = append(out, fmt.Sprintf("%s %s %s %d -> %s bal=%d", card, mti, r.Kind(), amt, d.Code, d.Balance))
	}
	for _, c := range w.data.Cards {
		if w.data.Profile(c.ProfileName()).EMV != nil {
			// a chip card's counter: a replay of the last, the next, a jump
			for _, atc := range []uint16{0, 1, 7, 8, 9, 500} {
				stan++
				r := &Request{Proc: 0, PAN: []byte(c.PAN), PANHash: sha256PAN([]byte(c.PAN)), Amount: 100,
					Terminal: "T1", Merchant: "M1", EntryMode: 50, STAN: stan, LocalDate: w.date % 10000,
					BusinessDate: w.date, Today: 2601, Received: w.now, ARQC: ARQCVerified, ATC: atc,
					ARQCFor: a.Data().Profile(c.ProfileName()).EMV}
				copy(r.MTI[:], "0200")
				d, _ := decideWith(a, r, "none")
				out = append(out, fmt.Sprintf("%s chip atc %d -> %s", c.PAN, atc, d.Code))
			}
		}
		ask(c.PAN, "0100", 30, 0, 5, "none")
		ask(c.PAN, "0100", 30, 0, 5, "wrong")
		for _, amt := range []int64{100, 1000, 5000, 20000, 40000} {
			ask(c.PAN, "0200", 0, amt, 5, "right")
			ask(c.PAN, "0100", 0, amt, 5, "right")
		}
		ask(c.PAN, "0100", 30, 0, 5, "none")
	}
	return out
}

// txnView is what an entry's answers depend on.
type txnView struct {
	Kind                                 Kind
	Code, Approval                       string
	Applied, Reversed, Voided, Completed bool
	Placeholder                          bool
	Held                                 int64
	Eff                                  effView
}

// effView is an effect with its state named by key.
type effView struct {
	Account, Merchant, Terminal string
	Card                        [32]byte
	Debit, Hold, Usage          int64
	Count                       int32
	Date                        uint32
}

func viewOf(a *Authorizer, e effect) effView {
	v := effView{Debit: e.debit, Hold: e.hold, Usage: e.usage, Count: e.count, Date: e.date,
		Merchant: acceptorID(a.merchants.at(e.merchant)), Terminal: acceptorID(a.terminals.at(e.terminal))}
	if e.acc != 0 {
		v.Account = a.accounts.at(e.acc).id
	}
	if e.card != 0 {
		v.Card = a.cards.at(e.card).hash
	}
	return v
}

// cardView is a card's state.
type cardView struct {
	Usage, PINFails counter
	ATC             uint32
}

type stateDump struct {
	Accounts  map[string][2]int64 // delta, held
	Cards     map[[32]byte]cardView
	Merchants map[string]counter
	Terminals map[string]counter
	Txns      map[txnKey]txnView
}

// dumpState reads all state as of business date date and request time
// now: counters of older dates read as zero (they can never count again),
// entries no longer live are left out (no lookup finds them), and so are
// entries that are all zero, as the live authorizer creates them on first
// look and a replay need not.
func dumpState(a *Authorizer, date uint32, now int64) stateDump {
	d := stateDump{Accounts: map[string][2]int64{}, Cards: map[[32]byte]cardView{},
		Merchants: map[string]counter{}, Terminals: map[string]counter{}, Txns: map[txnKey]txnView{}}
	a.accounts.each(func(_ uint32, v *account) {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.delta != 0 || v.held != 0 {
			d.Accounts[v.id] = [2]int64{v.delta, v.held}
		}
	})
	norm := func(c counter) counter {
		if v, _ := c.on(date); v.amount != 0 || v.count != 0 {
			return v
		}
		return counter{}
	}
	a.cards.each(func(_ uint32, v *card) {
		if c := (cardView{norm(v.usage), norm(v.pinFails), v.atc}); c != (cardView{}) {
			d.Cards[v.hash] = c
		}
	})
	for _, x := range []struct {
		m   *store[string, acceptor]
		out map[string]counter
	}{{a.merchants, d.Merchants}, {a.terminals, d.Terminals}} {
		x.m.each(func(_ uint32, v *acceptor) {
			v.mu.Lock()
			defer v.mu.Unlock()
			if c := norm(v.usage); c != (counter{}) {
				x.out[v.id] = c
			}
		})
	}
	for i := range a.index.shards {
		sh := &a.index.shards[i]
		sh.mu.Lock()
		for p := 0; p < sh.m.places(); p++ {
			if k, slot, ok := sh.m.at(p); ok && a.live(sh.at(slot), now) {
				t := sh.at(slot)
				d.Txns[k] = txnViewOf(a, t)
			}
		}
		sh.mu.Unlock()
	}
	return d
}

func txnViewOf(a *Authorizer, t *txn) txnView {
	v := txnView{Kind: t.kind, Code: string(t.code[:]), Approval: string(t.approval[:]),
		Applied: t.has(txnApplied), Reversed: t.has(txnReversed), Voided: t.has(txnVoided),
		Completed: t.has(txnCompleted), Placeholder: t.has(txnPlaceholder), Held: t.held()}
	if t.has(txnApplied) { // a declined entry keeps no effect that is ever read
		v.Eff = viewOf(a, t.eff)
	}
	return v
}

func diffDumps(want, got stateDump) string {
	var b strings.Builder
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := 0; i < wv.NumField(); i++ {
		wm, gm := wv.Field(i), gv.Field(i)
		for _, k := range wm.MapKeys() {
			g := gm.MapIndex(k)
			if !g.IsValid() || !reflect.DeepEqual(g.Interface(), wm.MapIndex(k).Interface()) {
				fmt.Fprintf(&b, "  %s[%v]: live %+v, replayed %+v\n", wv.Type().Field(i).Name, k, wm.MapIndex(k), g)
			}
		}
		for _, k := range gm.MapKeys() {
			if !wm.MapIndex(k).IsValid() {
				fmt.Fprintf(&b, "  %s[%v]: live none, replayed %+v\n", wv.Type().Field(i).Name, k, gm.MapIndex(k))
			}
		}
	}
	return b.String()
}
