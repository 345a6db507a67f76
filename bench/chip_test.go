package bench

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/chipcard"
)

// A chip card has one request in flight: the next is refused until the
// answer (or until the first is past the timeout), and the ATCs it gets
// follow each other with no gap.
func TestChipPoolOneInFlight(t *testing.T) {
	cc := newChipCards([]ChipCard{{Card: Card{PAN: "4761739001010119"}}}, &MemorySTANs{})
	now := time.Now()
	p, atc, err := cc.take(now, time.Second)
	if err != nil || p == nil || atc != 1 {
		t.Fatalf("first take: card %t, ATC %d, %v", p != nil, atc, err)
	}
	if q, _, _ := cc.take(now, time.Second); q != nil {
		t.Fatal("a second request while the first is in flight")
	}
	p.answered()
	if q, atc, _ := cc.take(now, time.Second); q != p || atc != 2 {
		t.Fatalf("after the answer: card %t, ATC %d; want the card, 2", q == p, atc)
	}
	// never answered: past the timeout the card goes on, with the next ATC
	if q, _, _ := cc.take(now.Add(time.Second), time.Second); q != nil {
		t.Fatal("taken again at the timeout")
	}
	if q, atc, _ := cc.take(now.Add(time.Second+1), time.Second); q != p || atc != 3 {
		t.Fatalf("past the timeout: card %t, ATC %d; want the card, 3", q == p, atc)
	}
}

// Across runs (two Ledgers on one file) the ATCs go on where the last run
// stopped, the unused end of its block handed back; a card that reaches
// 65535 is spent, and the run says so.
func TestChipATCsAcrossRunsAndTheirEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stans.json")
	cards := []ChipCard{{Card: Card{PAN: "4761739001010119"}}}
	next := uint16(1)
	for run := 0; run < 2; run++ {
		cc := newChipCards(cards, &Ledger{Path: path})
		for i := 0; i < 5; i++ {
			p, atc, err := cc.take(time.Now(), time.Second)
			if err != nil || p == nil || atc != next {
				t.Fatalf("run %d: card %t, ATC %d, %v; want %d", run, p != nil, atc, err, next)
			}
			p.answered()
			next++
		}
		if err := cc.pools[0].release(); err != nil {
			t.Fatal(err)
		}
	}

	m := &MemorySTANs{}
	m.book = stanBook{ATCKey(cards[0].Card.PAN): {Next: 65534}}
	cc := newChipCards(cards, m)
	for _, want := range []uint16{65534, 65535} {
		p, atc, err := cc.take(time.Now(), time.Second)
		if err != nil || p == nil || atc != want {
			t.Fatalf("card %t, ATC %d, %v; want %d", p != nil, atc, err, want)
		}
		p.answered()
	}
	if p, atc, _ := cc.take(time.Now(), time.Second); p != nil {
		t.Fatalf("ATC %d after 65535", atc)
	}
	if w := cc.warnings(); len(w) != 1 || !strings.Contains(w[0], "476173******0119") {
		t.Fatalf("warnings %q", w)
	}
}

// Closed loop on 6 connections with 4 in flight each, every request a
// chip purchase of 2 cards: the server sees each card's ATCs in order,
// 1, 2, 3 ..., and never two of one card in flight; the purchases that
// found both cards busy went as plain ones and the report says how many.
func TestChipPurchasesInOrder(t *testing.T) {
	srv := newRecorder(t)
	tr := testTraffic(t, Mix{ChipPurchase: 1})
	imk, err := hsm.ParseTDESKey("0123456789ABCDEFFEDCBA9876543210", hsm.ParityIgnore) // the demo IMK
	if err != nil {
		t.Fatal(err)
	}
	tr.Chips = []ChipCard{
		{Card: Card{PAN: "4761739001010119", Expiry: "2812"}, Chip: chipcard.Card{PAN: "4761739001010119", PSN: 1, CVN: hsm.VisaCVN10, IMK: imk}},
		{Card: Card{PAN: "4761739001010127", Expiry: "2812"}, Chip: chipcard.Card{PAN: "4761739001010127", PSN: 1, CVN: hsm.VisaCVN18, IMK: imk}},
	}
	opts := Options{Addr: srv.listen(t), Framing: srv.framing, Conns: 6, InFlight: 4, Duration: 300 * time.Millisecond, Traffic: tr}
	rep, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.bad != 0 || srv.overlaps != 0 || len(srv.atcs) != 2 {
		t.Fatalf("bad %d, overlaps %d, cards %d", srv.bad, srv.overlaps, len(srv.atcs))
	}
	chips := 0
	for pan, atcs := range srv.atcs {
		for i, a := range atcs {
			if a != uint16(i+1) {
				t.Fatalf("card %s: ATC %d is the %d-th", pan, a, i+1)
			}
		}
		chips += len(atcs)
	}
	plain := rep.Answered - int64(chips)
	t.Logf("%d chip purchases, %d answered in all, warnings %q", chips, rep.Answered, rep.Warnings)
	if chips == 0 || plain > 0 && (len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "went as plain purchases")) {
		t.Errorf("chip %d, answered %d, warnings %q", chips, rep.Answered, rep.Warnings)
	}
}
