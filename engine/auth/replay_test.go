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
	for _, f := range scenarioFiles(t) {
		name := strings.TrimSuffix(f[strings.LastIndex(f, "/")+1:], ".txt")
		t.Run(name, func(t *testing.T) {
			sc, err := readScenario(f)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case sc.skip != "":
				t.Skip("skip: " + sc.skip)
			case sc.replaySkip != "":
				t.Skip("replay-skip: " + sc.replaySkip)
			}
			w := runScenario(t, sc)
			if t.Failed() {
				return
			}
			w.where = sc.path + " (replayed)"
			fresh := w.replayed()
			// The live index drops transactions older than the previous
			// business date in the background (BUG-10); compare the rest.
			floor := retained(w.dates)
			if got, want := dumpState(fresh, floor), dumpState(w.a, floor); !reflect.DeepEqual(got, want) {
				t.Errorf("replayed state differs:\n%s", diffDumps(want, got))
			}
			live, again := followUp(w, w.a), followUp(w, fresh)
			for i := range live {
				if live[i] != again[i] {
					t.Errorf("follow-up %d: live %s, replayed %s", i, live[i], again[i])
				}
			}
		})
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
			LocalDate: w.date % 10000, BusinessDate: w.date, Today: 2601}
		copy(r.MTI[:], mti)
		d, _ := decideWith(a, r, pin)
		out = append(out, fmt.Sprintf("%s %s %s %d -> %s bal=%d", card, mti, r.Kind(), amt, d.Code, d.Balance))
	}
	for _, c := range w.data.Cards {
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

// retained is the oldest business date the live index keeps: the one
// before the newest.
func retained(dates map[uint32]bool) uint32 {
	var newest, prev uint32
	for d := range dates {
		switch {
		case d > newest:
			newest, prev = d, newest
		case d > prev:
			prev = d
		}
	}
	return prev
}

// txnView is what a transaction's answers depend on.
type txnView struct {
	Code                      string
	Applied, Reversed, Voided bool
	Held                      int64
	Eff                       effect
}

type stateDump struct {
	Accounts  map[string][2]int64 // delta, held
	Cards     map[[32]byte][2]counter
	Merchants map[string]counter
	Terminals map[string]counter
	Txns      map[txnKey]txnView
}

// dumpState reads all state; entries that are all zero are left out, as
// the live authorizer creates them on first look and a replay need not.
func dumpState(a *Authorizer, floor uint32) stateDump {
	d := stateDump{Accounts: map[string][2]int64{}, Cards: map[[32]byte][2]counter{},
		Merchants: map[string]counter{}, Terminals: map[string]counter{}, Txns: map[txnKey]txnView{}}
	for i := range a.accounts.shards {
		sh := &a.accounts.shards[i]
		sh.mu.Lock()
		for k, v := range sh.m {
			v.mu.Lock()
			if v.delta != 0 || v.held != 0 {
				d.Accounts[k] = [2]int64{v.delta, v.held}
			}
			v.mu.Unlock()
		}
		sh.mu.Unlock()
	}
	norm := func(c counter) counter {
		if c.amount == 0 && c.count == 0 {
			return counter{}
		}
		return c
	}
	for i := range a.cards.shards {
		sh := &a.cards.shards[i]
		sh.mu.Lock()
		for k, v := range sh.m {
			if c := [2]counter{norm(v.usage), norm(v.pinFails)}; c != [2]counter{} {
				d.Cards[k] = c
			}
		}
		sh.mu.Unlock()
	}
	for _, x := range []struct {
		m   *shardMap[string, acceptor]
		out map[string]counter
	}{{a.merchants, d.Merchants}, {a.terminals, d.Terminals}} {
		for i := range x.m.shards {
			sh := &x.m.shards[i]
			sh.mu.Lock()
			for k, v := range sh.m {
				v.mu.Lock()
				if c := norm(v.usage); c != (counter{}) {
					x.out[k] = c
				}
				v.mu.Unlock()
			}
			sh.mu.Unlock()
		}
	}
	for i := range a.txns {
		sh := &a.txns[i]
		sh.mu.Lock()
		for k, t := range sh.m {
			if k.ref.LocalDate < floor%10000 { // by the Ref: a replayed decline has no date
				continue
			}
			v := txnView{Code: string(t.code[:]), Applied: t.applied, Reversed: t.reversed, Voided: t.voided}
			if t.applied { // a declined pre-authorization keeps its amount in held: it is never read
				v.Eff, v.Held = t.eff, t.held
			}
			d.Txns[k] = v
		}
		sh.mu.Unlock()
	}
	return d
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
