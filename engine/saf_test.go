package engine

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardswitch/cardswitch/bench/sim"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/saf"
	"github.com/cardswitch/cardswitch/engine/standin"
	"github.com/cardswitch/cardswitch/engine/upstream"
	"github.com/cardswitch/cardswitch/journal"
)

// rawHost is a destination written by hand for the store-and-forward
// tests: it reads iso87ascii frames (binary2) and answers each with what
// answer returns (nil: no answer), keeping every message it read.
type rawHost struct {
	ln     net.Listener
	mu     sync.Mutex
	got    []codec.Message
	from   []string // got's connections (the switch's end)
	answer func(m codec.Message) *codec.Message
}

func startRawHost(t *testing.T, answer func(m codec.Message) *codec.Message) *rawHost {
	t.Helper()
	return startRawHostAt(t, "127.0.0.1:0", answer)
}

func startRawHostAt(t *testing.T, addr string, answer func(m codec.Message) *codec.Message) *rawHost {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	h := &rawHost{ln: ln, answer: answer}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go h.serve(c)
		}
	}()
	return h
}

func (h *rawHost) serve(c net.Conn) {
	d, _ := codec.Lookup(codec.ISO87ASCII)
	var hdr [2]byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		buf := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		var v codec.View
		if err := d.Decode(&v, buf); err != nil {
			return
		}
		m := v.ToMessage(false)
		h.mu.Lock()
		h.got = append(h.got, m)
		h.from = append(h.from, c.RemoteAddr().String())
		answer := h.answer
		h.mu.Unlock()
		var r *codec.Message
		if m.MTI == "0800" {
			r = &codec.Message{MTI: "0810", Fields: map[string]string{"7": m.Fields["7"], "11": m.Fields["11"], "39": "00", "70": m.Fields["70"]}}
		} else {
			r = answer(m)
		}
		if r == nil {
			continue
		}
		out, err := d.Encode(*r)
		if err != nil {
			return
		}
		if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...)); err != nil {
			return
		}
	}
}

func (h *rawHost) setAnswer(f func(m codec.Message) *codec.Message) {
	h.mu.Lock()
	h.answer = f
	h.mu.Unlock()
}

// of returns the messages of an MTI read so far.
func (h *rawHost) of(mti string) []codec.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []codec.Message
	for _, m := range h.got {
		if m.MTI == mti {
			out = append(out, m)
		}
	}
	return out
}

// answerWith answers a message with code, echoing what a matcher needs.
func answerWith(m codec.Message, code string) *codec.Message {
	mti := []byte(m.MTI)
	mti[2]++
	if mti[3] == '1' {
		mti[3] = '0'
	}
	f := map[string]string{"39": code}
	for _, id := range []string{"2", "3", "4", "7", "11", "37", "41", "49"} {
		if v, ok := m.Fields[id]; ok {
			f[id] = v
		}
	}
	return &codec.Message{MTI: string(mti), Fields: f}
}

// safRecords are the journal's records of a store-and-forward state.
func safRecords(t *testing.T, j *journal.Journal, st journal.UpState) []journal.Record {
	var out []journal.Record
	for _, r := range records(t, j) {
		if r.UpState == st {
			out = append(out, r)
		}
	}
	return out
}

// A request that times out is reversed: an 0420 with the original's PAN,
// amount, outbound STAN and RRN, reason 68 and field 90 naming the
// original (its MTI, STAN and field 7 as they went out), answered 0430
// 00 and journaled delivered; the queue is empty after.
func TestSAFReversesATimeout(t *testing.T) {
	h := startRawHost(t, func(m codec.Message) *codec.Message {
		if m.MTI == "0200" {
			return nil // never answered: the switch times out
		}
		return answerWith(m, "00")
	})
	j, jst := journalFor(t)
	dc := dest("visa", Endpoint{Address: h.ln.Addr().String()})
	dc.Timeout = 50 * time.Millisecond
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
	d := waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 7, 1234), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := field(r, 39); got != "91" {
		t.Fatalf("39 = %s, want 91", got)
	}
	waitUntil(t, "the reversal delivered", func() bool { return len(safRecords(t, j, journal.UpSAFDelivered)) == 1 })
	reqs, revs := h.of("0200"), h.of("0420")
	if len(reqs) != 1 || len(revs) != 1 || len(h.of("0421")) != 0 {
		t.Fatalf("host read %d 0200, %d 0420, %d 0421: want one of each, no repeat", len(reqs), len(revs), len(h.of("0421")))
	}
	req, rev := reqs[0], revs[0]
	for _, id := range []string{"2", "3", "4", "11", "37", "41", "42", "49"} {
		if rev.Fields[id] != req.Fields[id] || rev.Fields[id] == "" {
			t.Errorf("0420 field %s = %q, the original's %q", id, rev.Fields[id], req.Fields[id])
		}
	}
	if rev.Fields["39"] != "68" {
		t.Errorf("0420 39 = %q, want 68 (no answer in time)", rev.Fields["39"])
	}
	want90 := "0200" + req.Fields["11"] + req.Fields["7"] + "00000000000" + "00000000000"
	if rev.Fields["90"] != want90 {
		t.Errorf("0420 90 = %q, want %q", rev.Fields["90"], want90)
	}
	del := safRecords(t, j, journal.UpSAFDelivered)[0]
	to := safRecords(t, j, journal.UpTimeout)[0]
	if del.RRNSeq != to.RRNSeq || del.UpCode != [2]byte{'0', '0'} || del.RespCode != [2]byte{} || string(del.MTI[:]) != "0420" ||
		del.Destination != "visa" || del.UpSTAN != to.UpSTAN {
		t.Fatalf("delivered record %+v\ndoes not close the timeout's %+v", del, to)
	}
	waitUntil(t, "the queue empty", func() bool {
		st, err := ts.SAF("visa", 10)
		return err == nil && len(st) == 1 && st[0].Depth == 0
	})
	_ = d
}

// An entry whose destination answers 91 is retried, as a repeat (0421),
// after its backoff; an answer that rejects it for good (12) ends it as an
// exception, listed by the admin API and journaled rejected.
func TestSAFRetriesAsRepeatThenRejects(t *testing.T) {
	var mu sync.Mutex
	codes := []string{"91", "12"}
	h := startRawHost(t, func(m codec.Message) *codec.Message {
		if m.MTI == "0200" {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		c := codes[0]
		if len(codes) > 1 {
			codes = codes[1:]
		}
		return answerWith(m, c)
	})
	j, jst := journalFor(t)
	dc := dest("visa", Endpoint{Address: h.ln.Addr().String()})
	dc.Timeout = 50 * time.Millisecond
	dc.SAF = SAFConfig{RetryBase: 20 * time.Millisecond, RetryMax: 40 * time.Millisecond}
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
	waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	if _, err := c.RoundTrip(card0200(t, "4761739001010010", 8, 500), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the reversal rejected", func() bool { return len(safRecords(t, j, journal.UpSAFRejected)) == 1 })
	if n, m := len(h.of("0420")), len(h.of("0421")); n != 1 || m != 1 {
		t.Fatalf("host read %d 0420 and %d 0421: want the first try, then one repeat", n, m)
	}
	if rej := safRecords(t, j, journal.UpSAFRejected)[0]; rej.UpCode != [2]byte{'1', '2'} {
		t.Fatalf("rejected record code %q", rej.UpCode)
	}
	st, err := ts.SAF("visa", 10)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Depth != 0 || len(st[0].Exceptions) != 1 || st[0].Exceptions[0].Code != "12" || st[0].Exceptions[0].PAN != "476173******0010" {
		t.Fatalf("status %+v", st[0])
	}
}

// An approval whose reply cannot reach the terminal (it hung up while the
// host thought) is reversed: journaled "approval undelivered", an 0420
// with reason 22 to the host, and the delivered record is an approved
// reversal naming the purchase, so clearing does not clear it.
func TestSAFReversesAnUndeliveredApproval(t *testing.T) {
	h := startRawHost(t, func(m codec.Message) *codec.Message {
		if m.MTI == "0200" {
			time.Sleep(200 * time.Millisecond) // the terminal hangs up meanwhile
		}
		return answerWith(m, "00")
	})
	j, jst := journalFor(t)
	ts := forwarding(t, []DestinationConfig{dest("visa", Endpoint{Address: h.ln.Addr().String()})}, func(c *Config) { c.testJournal = jst })
	d := waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	if err := c.Write(card0200(t, "4761739001010010", 9, 2500)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the host has the purchase", func() bool { return len(h.of("0200")) == 1 })
	c.Close()
	waitUntil(t, "the reversal delivered", func() bool { return len(safRecords(t, j, journal.UpSAFDelivered)) == 1 })
	und := safRecords(t, j, journal.UpUndelivered)
	ans := safRecords(t, j, journal.UpAnswered)
	if len(und) != 1 || len(ans) != 1 || und[0].RRNSeq != ans[0].RRNSeq || und[0].RespCode != [2]byte{} || ans[0].RespCode != [2]byte{'0', '0'} {
		t.Fatalf("answered %+v\nundelivered %+v", ans, und)
	}
	revs := h.of("0420")
	if len(revs) != 1 || revs[0].Fields["39"] != "22" || revs[0].Fields["11"] != h.of("0200")[0].Fields["11"] || revs[0].Fields["4"] != "000000002500" {
		t.Fatalf("0420s %+v", revs)
	}
	if want := "0200" + h.of("0200")[0].Fields["11"] + h.of("0200")[0].Fields["7"] + "00000000000" + "00000000000"; revs[0].Fields["90"] != want {
		t.Fatalf("0420 90 = %q, want %q: the original as it went out", revs[0].Fields["90"], want)
	}
	del := safRecords(t, j, journal.UpSAFDelivered)[0]
	want := fmt.Sprintf("0200/%06d/%s", ans[0].STAN, "1121")
	if del.RespCode != [2]byte{'0', '0'} || del.Original != want || string(del.MTI[:]) != "0420" || del.Terminal != "TERM0001" {
		t.Fatalf("delivered record rc %q original %q (want %q) mti %s terminal %s", del.RespCode, del.Original, want, del.MTI[:], del.Terminal)
	}
	if testutil.ToFloat64(d.m.undelivered) != 1 {
		t.Fatal("undelivered must count 1")
	}
}

// stip0200 is card0200 with an expiry date (14): stand-in declines a
// card whose expiry it cannot check.
func stip0200(t testing.TB, pan string, stan int, amount int64) []byte {
	t.Helper()
	d, _ := codec.Lookup(codec.ISO87ASCII)
	msg, err := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
		"2": pan, "3": "000000", "4": fmt.Sprint(amount), "7": "1121204500", "11": fmt.Sprint(stan), "12": "204500", "13": "1121",
		"14": "4912", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// standInDest is destination visa at addr with stand-in: 100.00 a
// purchase, two a card a day, US dollars.
func standInDest(addr string) DestinationConfig {
	dc := dest("visa", Endpoint{Address: addr})
	dc.Timeout = 100 * time.Millisecond
	dc.StandIn = StandInConfig{Config: standin.Config{Enabled: true, Currency: 840, MaxAmount: 10000, DailyAmount: 20000, DailyCount: 2}}
	dc.SAF = SAFConfig{Timeout: 200 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	return dc
}

// With its destination down, the switch stands in: within the limits it
// approves (38, and the indicator in 44), over them it declines 61 (amount)
// and 65 (count), each decision journaled as stand-in; when the
// destination is back, each approval goes to it as an 0220 advice with
// the approval and the indicator, and its answer is journaled.
func TestStandInWhileDownThenAdvices(t *testing.T) {
	addr := freeAddr(t) // nothing listens yet: the destination is down
	j, jst := journalFor(t)
	ts := forwarding(t, []DestinationConfig{standInDest(addr)}, func(c *Config) { c.testJournal = jst })
	c := ts.dial(t)
	want := []struct {
		amount int64
		rc     string
	}{{5000, "00"}, {20000, "61"}, {4000, "00"}, {1000, "65"}}
	for i, w := range want {
		r, err := c.RoundTrip(stip0200(t, "4761739001010010", 20+i, w.amount), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := field(r, 39); got != w.rc {
			t.Fatalf("request %d (amount %d): 39 = %s, want %s", i, w.amount, got, w.rc)
		}
		if ind := field(r, 44); !strings.HasPrefix(ind, "STIP:") {
			t.Fatalf("request %d: 44 = %q, want the stand-in indicator", i, ind)
		}
		if (w.rc == "00") != (len(field(r, 38)) == 6) {
			t.Fatalf("request %d: 38 = %q", i, field(r, 38))
		}
	}
	si := safRecords(t, j, journal.UpStandIn)
	if len(si) != 4 || si[0].Destination != "visa" || si[0].UpSTAN == 0 || si[0].RRNSeq == 0 || si[1].RespCode != [2]byte{'6', '1'} {
		t.Fatalf("stand-in records %+v", si)
	}
	st, _ := ts.SAF("visa", 10)
	if st[0].Depth != 2 || st[0].Entries[0].MTI != "0220" {
		t.Fatalf("advices owed %+v, want the two approvals", st[0])
	}
	h := startRawHostAt(t, addr, func(m codec.Message) *codec.Message { return answerWith(m, "00") })
	waitUntil(t, "the advices delivered", func() bool {
		if n := len(safRecords(t, j, journal.UpSAFRejected)); n > 0 {
			t.Fatalf("advices rejected: %+v", safRecords(t, j, journal.UpSAFRejected))
		}
		return len(safRecords(t, j, journal.UpSAFDelivered)) == 2
	})
	advs := h.of("0220")
	if len(advs) != 2 || advs[0].Fields["39"] != "00" || len(advs[0].Fields["38"]) != 6 || advs[0].Fields["44"] != "STIP:approved" ||
		advs[0].Fields["4"] != "000000005000" || advs[1].Fields["4"] != "000000004000" || advs[0].Fields["2"] != "4761739001010010" {
		t.Fatalf("advices %+v", advs)
	}
	for _, d := range safRecords(t, j, journal.UpSAFDelivered) {
		if string(d.MTI[:]) != "0220" || d.UpCode != [2]byte{'0', '0'} {
			t.Fatalf("delivered %+v", d)
		}
	}
}

// Timeouts in a row open the circuit: live traffic is stood in for at
// once; after the cooldown an echo test probes the destination and, once
// it answers, requests go to it again.
func TestBreakerOpensThenProbes(t *testing.T) {
	var answering atomic.Bool
	h := startRawHost(t, func(m codec.Message) *codec.Message {
		if m.MTI == "0200" && !answering.Load() {
			return nil
		}
		return answerWith(m, "00")
	})
	dc := standInDest(h.ln.Addr().String())
	dc.Breaker = upstream.BreakerConfig{Failures: 2, Window: 10 * time.Second, Cooldown: 300 * time.Millisecond}
	dc.EchoInterval = time.Second // the keeper looks every 250ms
	j, jst := journalFor(t)
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
	d := waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	for i := 0; i < 2; i++ {
		if r, err := c.RoundTrip(stip0200(t, "4761739001010010", 40+i, 100), 5*time.Second); err != nil || field(r, 39) != "91" {
			t.Fatalf("request %d: %v, want 91 (timeout)", i, err)
		}
	}
	r, err := c.RoundTrip(stip0200(t, "4761739001010010", 42, 100), 5*time.Second)
	if err != nil || field(r, 39) != "00" || field(r, 44) != "STIP:approved" || len(h.of("0200")) != 2 {
		t.Fatalf("with the circuit open: %v, 39 = %s, 44 = %q, host read %d 0200s (want stand-in, nothing sent)", err, field(r, 39), field(r, 44), len(h.of("0200")))
	}
	if testutil.ToFloat64(d.m.breakerOpened) != 1 {
		t.Fatal("breaker_opened must count 1")
	}
	if ds := ts.Destinations(); ds[0].Circuit != "open" && ds[0].Circuit != "half-open" || !ds[0].StandIn {
		t.Fatalf("GET /destinations: circuit %q, stand_in %v", ds[0].Circuit, ds[0].StandIn)
	}
	answering.Store(true)
	waitUntil(t, "the probe answered and the circuit closed", func() bool { return d.brk.state(time.Now()) == upstream.Closed })
	if len(h.of("0800")) == 0 {
		t.Fatal("no echo test probed the destination")
	}
	r, err = c.RoundTrip(stip0200(t, "4761739001010010", 43, 100), 5*time.Second)
	if err != nil || field(r, 39) != "00" || field(r, 44) != "" || len(h.of("0200")) != 3 {
		t.Fatalf("after the probe: %v, 39 = %s, 44 = %q, host read %d 0200s (want it forwarded)", err, field(r, 39), field(r, 44), len(h.of("0200")))
	}
	_ = j
}

// A terminal's reversal advice (0420) for a destination's card is
// answered 0430 00 once journaled and passed on by store-and-forward, its
// 90 naming the original as the destination saw it (the switch's STAN and
// field 7 for it, not the terminal's).
func TestSAFPassesOnATerminalReversal(t *testing.T) {
	h := startRawHost(t, func(m codec.Message) *codec.Message { return answerWith(m, "00") })
	j, jst := journalFor(t)
	ts := forwarding(t, []DestinationConfig{dest("visa", Endpoint{Address: h.ln.Addr().String()})}, func(c *Config) { c.testJournal = jst })
	waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	if r, err := c.RoundTrip(card0200(t, "4761739001010010", 31, 700), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("purchase: %v", err)
	}
	d, _ := codec.Lookup(codec.ISO87ASCII)
	rev, err := d.Encode(codec.Message{MTI: "0420", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": "700", "7": "1121204600", "11": "32", "12": "204600", "13": "1121",
		"39": "17", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
		"90": "0200" + "000031" + "1121204500" + "00000000000" + "00000000000"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.RoundTrip(rev, 5*time.Second)
	if err != nil || string(r.View.MTI().String()) != "0430" || field(r, 39) != "00" {
		t.Fatalf("reversal: %v, 39 = %s", err, field(r, 39))
	}
	waitUntil(t, "the reversal passed on", func() bool { return len(safRecords(t, j, journal.UpSAFDelivered)) == 1 })
	pur, revs := h.of("0200"), h.of("0420")
	if len(pur) != 1 || len(revs) != 1 {
		t.Fatalf("host read %d 0200 and %d 0420", len(pur), len(revs))
	}
	want90 := "0200" + pur[0].Fields["11"] + pur[0].Fields["7"] + "00000000000" + "00000000000"
	if revs[0].Fields["90"] != want90 || revs[0].Fields["4"] != "000000000700" || revs[0].Fields["11"] == pur[0].Fields["11"] ||
		revs[0].Fields["39"] != "17" { // the terminal's reason goes on with it
		t.Fatalf("0420 passed on: 90 %q (want %q), 4 %q, 11 %q", revs[0].Fields["90"], want90, revs[0].Fields["4"], revs[0].Fields["11"])
	}
	if acc := safRecords(t, j, journal.UpAdviceAccepted); len(acc) != 1 || acc[0].RespCode != [2]byte{'0', '0'} || acc[0].Original != "0200/000031/1121" {
		t.Fatalf("accepted record %+v", acc)
	}
	// an advice of what the terminal approved offline: its 38 and 39 go on
	adv, err := d.Encode(codec.Message{MTI: "0220", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": "1500", "7": "1121204700", "11": "33", "12": "204700", "13": "1121",
		"38": "OFF123", "39": "00", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.RoundTrip(adv, 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("advice: %v", err)
	}
	waitUntil(t, "the advice passed on", func() bool { return len(h.of("0220")) == 1 })
	if a := h.of("0220")[0]; a.Fields["38"] != "OFF123" || a.Fields["39"] != "00" || a.Fields["4"] != "000000001500" {
		t.Fatalf("0220 passed on: %+v", a.Fields)
	}
}

// A timeout at a UnionPay host (cup-pos, no field 7) is reversed in its
// dialect: the 0420 builds from the record with the fields cup-pos has
// and the mapping's constants (its mandatory 60), and is delivered.
func TestSAFReversalInTheCUPDialect(t *testing.T) {
	is := startSim(t, "", sim.Config{Dialect: codec.CUPPOS, Framing: "binary2+tpdu", Rules: sim.Rules{Default: "00",
		Rules: []sim.Rule{{Name: "purchases", MTIClasses: []string{"2"}, Fault: "no_answer"}}}})
	j, jst := journalFor(t)
	dc := DestinationConfig{Name: "cup", Dialect: codec.CUPPOS, Framing: "binary2+tpdu", Endpoints: []Endpoint{{Address: is.Addr()}},
		Timeout: 100 * time.Millisecond, ReconnectMin: 5 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
		// UnionPay's 60 (type code, batch, network code) is mandatory: a constant of the mapping, on the reversal too
		Mapping: MappingConfig{Out: MappingSide{CopyAll: true, Set: map[int]string{60: "22000001000"}}}}
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
	waitUp(t, ts, "cup", 1)
	c := ts.dial(t)
	if r, err := c.RoundTrip(card0200(t, "4761739001010010", 51, 300), 5*time.Second); err != nil || field(r, 39) != "91" {
		t.Fatalf("purchase: %v, 39 = %s, want 91", err, field(r, 39))
	}
	waitUntil(t, "the reversal delivered", func() bool {
		if n := len(safRecords(t, j, journal.UpSAFRejected)); n > 0 {
			t.Fatalf("rejected: %+v", safRecords(t, j, journal.UpSAFRejected))
		}
		return len(safRecords(t, j, journal.UpSAFDelivered)) == 1
	})
	if st := is.Stats(); st.Reversals != 1 || is.Applied('4') != 1 {
		t.Fatalf("the host read %d reversals, applied %d", st.Reversals, is.Applied('4'))
	}
	// the message as built, field by field
	to := safRecords(t, j, journal.UpTimeout)[0]
	out, err := ts.dests["cup"].saf.build(&safQueued{rec: to, kind: saf.Reversal}, true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cup, _ := codec.Lookup(codec.CUPPOS)
	var v codec.View
	if err := cup.Decode(&v, out[2+codec.TPDULen:]); err != nil {
		t.Fatal(err)
	}
	if m := v.ToMessage(true); m.MTI != "0421" || m.Fields["60"] != "22000001000" || m.Fields["11"] != fmt.Sprintf("%06d", to.UpSTAN) || m.Fields["39"] != "68" {
		t.Fatalf("the reversal as built: %+v", m)
	}
}

// Stand-in checks the card's expiry: from 14, else from track 2; a card
// past it is declined 54, and one with none to check too.
func TestStandInChecksExpiry(t *testing.T) {
	_, jst := journalFor(t)
	ts := forwarding(t, []DestinationConfig{standInDest(freeAddr(t))}, func(c *Config) { c.testJournal = jst })
	c := ts.dial(t)
	d, _ := codec.Lookup(codec.ISO87ASCII)
	for i, tc := range []struct {
		fields map[string]string
		rc     string
	}{
		{map[string]string{"14": "2001"}, "54"},
		{map[string]string{"35": "4761739001010010=20011011234500000"}, "54"},
		{map[string]string{"35": "4761739001010010=49121011234500000"}, "00"},
		{map[string]string{}, "54"},
	} {
		f := map[string]string{"2": "4761739001010010", "3": "000000", "4": "100", "11": fmt.Sprint(60 + i), "13": "1121",
			"22": "901", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}
		for k, v := range tc.fields {
			f[k] = v
		}
		msg, err := d.Encode(codec.Message{MTI: "0200", Fields: f})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.RoundTrip(msg, 5*time.Second)
		if err != nil || field(r, 39) != tc.rc {
			t.Fatalf("case %d: %v, 39 = %s, want %s", i, err, field(r, 39), tc.rc)
		}
	}
}

// A terminal's reversal of a request that timed out is the same reversal
// the switch owes for the timeout: the destination gets one 0420, not two.
func TestSAFOneReversalForATimeoutTheTerminalReverses(t *testing.T) {
	h := startRawHost(t, func(m codec.Message) *codec.Message {
		if m.MTI == "0200" {
			return nil
		}
		return answerWith(m, "00")
	})
	j, jst := journalFor(t)
	dc := dest("visa", Endpoint{Address: h.ln.Addr().String()})
	dc.Timeout = 100 * time.Millisecond
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
	waitUp(t, ts, "visa", 1)
	c := ts.dial(t)
	r, err := c.RoundTrip(card0200(t, "4761739001010010", 71, 900), 5*time.Second)
	if err != nil || field(r, 39) != "91" {
		t.Fatalf("purchase: %v, want 91", err)
	}
	d, _ := codec.Lookup(codec.ISO87ASCII)
	rev, err := d.Encode(codec.Message{MTI: "0420", Fields: map[string]string{
		"2": "4761739001010010", "3": "000000", "4": "900", "7": "1121204600", "11": "72", "12": "204600", "13": "1121",
		"37": field(r, 37), "39": "68", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
		"90": "0200" + "000071" + "1121204500" + "00000000000" + "00000000000"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, mti := range []string{"0420", "0421"} { // and the terminal's repeat
		msg := append([]byte(nil), rev...)
		copy(msg, mti)
		if r, err := c.RoundTrip(msg, 5*time.Second); err != nil || field(r, 39) != "00" {
			t.Fatalf("%s: %v", mti, err)
		}
	}
	waitUntil(t, "the reversals accepted", func() bool { return len(safRecords(t, j, journal.UpAdviceAccepted)) == 2 })
	waitUntil(t, "a reversal delivered", func() bool { return len(safRecords(t, j, journal.UpSAFDelivered)) >= 1 })
	time.Sleep(300 * time.Millisecond) // time for a second one to go, if one were owed
	if n := len(h.of("0420")) + len(h.of("0421")); n != 1 || len(safRecords(t, j, journal.UpSAFDelivered)) != 1 {
		t.Fatalf("the host read %d reversals (%d delivered records), want one", n, len(safRecords(t, j, journal.UpSAFDelivered)))
	}
	acc, to := safRecords(t, j, journal.UpAdviceAccepted)[0], safRecords(t, j, journal.UpTimeout)[0]
	if acc.RRNSeq != to.RRNSeq || acc.UpSTAN != to.UpSTAN || acc.UpRRN != to.UpRRN {
		t.Fatalf("the terminal's reversal %+v\ndoes not take the timed-out request's identifiers %+v", acc, to)
	}
}

// stipReversal is an 0400 of stip0200's purchase stan (amount), with a
// STAN of its own and, when remains > 0, a partial reversal's 95.
func stipReversal(t testing.TB, mti, pan string, stan, orig int, amount, remains int64) []byte {
	t.Helper()
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f := map[string]string{
		"2": pan, "3": "000000", "4": fmt.Sprint(amount), "7": "1121204600", "11": fmt.Sprint(stan), "12": "204600", "13": "1121",
		"14": "4912", "22": "051", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840",
		"90": fmt.Sprintf("0200%06d1121204500%011d%011d", orig, 0, 0)}
	if remains > 0 {
		f["95"] = fmt.Sprintf("%012d%012dC%08dC%08d", remains, 0, 0, 0)
	}
	msg, err := d.Encode(codec.Message{MTI: mti, Fields: f})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// While its destination is down, a repeat of a stand-in approval (0201)
// is answered as the approval was and counts once; a partial reversal of
// it (0400 with 95, and its repeat 0401) is answered 0410 00, frees what
// it reverses of the card's stand-in limits, and is stored. Once the
// destination is back, the reversal reaches it after the approval's
// advice has been answered (even when that advice needs a retry), once,
// naming the advice by its outbound STAN and RRN, with the 95.
func TestStandInReversalFollowsItsAdvice(t *testing.T) {
	addr := freeAddr(t) // nothing listens yet: the destination is down
	j, jst := journalFor(t)
	dc := standInDest(addr)
	dc.StandIn.DailyAmount = 15000
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
	c := ts.dial(t)
	const pan = "4761739001010010"
	steps := []struct {
		what, rc string
		msg      []byte
	}{
		{"purchase", "00", stip0200(t, pan, 20, 10000)},
		{"its repeat", "00", func() []byte { m := stip0200(t, pan, 20, 10000); copy(m, "0201"); return m }()},
		{"a partial reversal leaving 10.00", "00", stipReversal(t, "0400", pan, 21, 20, 10000, 1000)},
		{"the reversal's repeat", "00", stipReversal(t, "0401", pan, 21, 20, 10000, 1000)},
		{"a purchase within what the reversal freed", "00", stip0200(t, pan, 22, 10000)},
		{"a third purchase: two a day", "65", stip0200(t, pan, 23, 100)},
	}
	var approval string
	for _, s := range steps {
		r, err := c.RoundTrip(s.msg, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if field(r, 39) != s.rc {
			t.Fatalf("%s: 39 = %s, want %s", s.what, field(r, 39), s.rc)
		}
		switch s.what {
		case "purchase":
			approval = field(r, 38)
		case "its repeat":
			if field(r, 38) != approval || field(r, 44) != "STIP:approved" {
				t.Fatalf("the repeat: 38 %q 44 %q, want the approval's %q", field(r, 38), field(r, 44), approval)
			}
		}
	}
	var dropped atomic.Bool
	h := startRawHostAt(t, addr, func(m codec.Message) *codec.Message {
		if m.MTI == "0220" && m.Fields["38"] == approval && dropped.CompareAndSwap(false, true) {
			return nil // the first try is lost: the advice goes again as 0221
		}
		return answerWith(m, "00")
	})
	waitUntil(t, "two advices and the reversal delivered", func() bool { return len(safRecords(t, j, journal.UpSAFDelivered)) == 3 })
	time.Sleep(300 * time.Millisecond) // time for anything more to go, if it were owed
	var advice, rev []codec.Message
	order := map[string]int{}
	h.mu.Lock()
	for i, m := range h.got {
		switch {
		case m.MTI[:3] == "022" && m.Fields["38"] == approval:
			advice = append(advice, m)
			order[m.MTI] = i
		case m.MTI[:3] == "042":
			rev = append(rev, m)
			order["rev"] = i
		}
	}
	h.mu.Unlock()
	if len(advice) != 2 || advice[0].MTI != "0220" || advice[1].MTI != "0221" {
		t.Fatalf("advices of the reversed purchase: %+v (want 0220, then its repeat; none for the 0201)", advice)
	}
	if len(rev) != 1 || rev[0].MTI != "0420" || order["rev"] < order["0221"] {
		t.Fatalf("reversals %+v at %d, advice repeat at %d: want one 0420, after the advice was answered", rev, order["rev"], order["0221"])
	}
	a := advice[1]
	want90 := "0220" + a.Fields["11"]
	if rev[0].Fields["11"] != a.Fields["11"] || rev[0].Fields["37"] != a.Fields["37"] || !strings.HasPrefix(rev[0].Fields["90"], want90) ||
		rev[0].Fields["95"] != "000000001000000000000000C00000000C00000000" || rev[0].Fields["4"] != "000000010000" ||
		rev[0].Fields["22"] != "051" || a.Fields["22"] != "051" {
		t.Fatalf("0420 %+v: want the advice's 11 and 37, 90 from %q, and the 95", rev[0].Fields, want90)
	}
	si := safRecords(t, j, journal.UpStandIn)
	acc := safRecords(t, j, journal.UpAdviceAccepted)
	if len(acc) != 2 || acc[0].Follows != si[0].RRNSeq || SAFRef(&acc[1]) != SAFRef(&acc[0]) || acc[0].Replacement != 1000 || SAFRef(&acc[0]) == SAFRef(&si[0]) {
		t.Fatalf("stand-in %+v\naccepted reversals %+v: want both following the approval, one entry, the 95 kept", si[0], acc)
	}
	if si[1].RRNSeq != si[0].RRNSeq || si[1].Approval != si[0].Approval {
		t.Fatalf("the repeat's record %+v does not take its original's %+v", si[1], si[0])
	}
}

// A stand-in approval whose reply cannot be delivered (the terminal hung
// up) is reversed by the switch after its advice, and frees the card's
// stand-in usage; the terminal's own reversal of it later is the same
// entry: the destination gets one reversal.
func TestStandInUndeliveredApprovalIsReversed(t *testing.T) {
	addr := freeAddr(t)
	j, jst := journalFor(t)
	dc := standInDest(addr)
	dc.StandIn.DailyCount = 1
	ts := forwarding(t, []DestinationConfig{dc}, func(c *Config) { c.testJournal = jst })
	c := ts.dial(t)
	j.SetOnRecord(func(r *journal.Record) {
		if r.UpState == journal.UpStandIn {
			c.Close()                          // the terminal hangs up before its reply...
			time.Sleep(200 * time.Millisecond) // ...and the switch sees it first
		}
		ts.ObserveRecord(r)
	})
	const pan = "4761739001010010"
	if err := c.Write(stip0200(t, pan, 30, 5000)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the undelivered approval journaled", func() bool { return len(safRecords(t, j, journal.UpUndelivered)) == 1 })
	j.SetOnRecord(ts.ObserveRecord)
	c = ts.dial(t)
	// the count of one a day is free again: the undelivered approval does not count
	if r, err := c.RoundTrip(stip0200(t, pan, 31, 5000), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("a purchase after the undelivered one: %v, 39 %q, want 00", err, field(r, 39))
	}
	// the terminal's timeout reversal of the one it never heard of
	if r, err := c.RoundTrip(stipReversal(t, "0400", pan, 32, 30, 5000, 0), 5*time.Second); err != nil || field(r, 39) != "00" {
		t.Fatalf("the terminal's reversal: %v", err)
	}
	h := startRawHostAt(t, addr, func(m codec.Message) *codec.Message { return answerWith(m, "00") })
	waitUntil(t, "two advices and a reversal delivered", func() bool { return len(safRecords(t, j, journal.UpSAFDelivered)) == 3 })
	time.Sleep(300 * time.Millisecond)
	revs := append(h.of("0420"), h.of("0421")...)
	und := safRecords(t, j, journal.UpUndelivered)[0]
	if len(revs) != 1 || revs[0].Fields["39"] != "22" || revs[0].Fields["4"] != "000000005000" || !strings.HasPrefix(revs[0].Fields["90"], "0220") {
		t.Fatalf("reversals %+v: want one, 22, of the advice", revs)
	}
	si := safRecords(t, j, journal.UpStandIn)
	if und.Follows != si[0].RRNSeq {
		t.Fatalf("undelivered %+v of %+v", und, si[0])
	}
	if acc := safRecords(t, j, journal.UpAdviceAccepted); len(acc) != 1 || SAFRef(&acc[0]) != SAFRef(&und) {
		t.Fatalf("the terminal's reversal %+v is not the switch's entry %+v", acc, und)
	}
	for _, d := range safRecords(t, j, journal.UpSAFDelivered) {
		if string(d.MTI[:]) == "0420" && (d.RespCode != [2]byte{'0', '0'} || d.Original != "0200/000030/1121") {
			t.Fatalf("the delivered reversal %+v must be an approved reversal naming the purchase (clearing)", d)
		}
	}
}

// A terminal's repeat of an advice (0221) the switch accepted is the same
// entry as the advice: the destination gets it once.
func TestSAFAdviceRepeatIsOneEntry(t *testing.T) {
	addr := freeAddr(t)
	j, jst := journalFor(t)
	ts := forwarding(t, []DestinationConfig{standInDest(addr)}, func(c *Config) { c.testJournal = jst })
	c := ts.dial(t)
	d, _ := codec.Lookup(codec.ISO87ASCII)
	var rrns []string
	for _, mti := range []string{"0220", "0221"} {
		adv, err := d.Encode(codec.Message{MTI: mti, Fields: map[string]string{
			"2": "4761739001010010", "3": "000000", "4": "1500", "7": "1121204700", "11": "50", "12": "204700", "13": "1121",
			"38": "OFF123", "39": "00", "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.RoundTrip(adv, 5*time.Second)
		if err != nil || field(r, 39) != "00" {
			t.Fatalf("%s: %v", mti, err)
		}
		rrns = append(rrns, field(r, 37))
	}
	if rrns[0] == "" || rrns[1] != rrns[0] {
		t.Fatalf("the repeat's reply 37 %q, the advice's %q: want the same", rrns[1], rrns[0])
	}
	h := startRawHostAt(t, addr, func(m codec.Message) *codec.Message { return answerWith(m, "00") })
	waitUntil(t, "the advice delivered", func() bool { return len(safRecords(t, j, journal.UpSAFDelivered)) == 1 })
	time.Sleep(300 * time.Millisecond) // time for a second one to go, if one were owed
	if n := len(h.of("0220")) + len(h.of("0221")); n != 1 {
		t.Fatalf("the host read %d advices, want one", n)
	}
	if acc := safRecords(t, j, journal.UpAdviceAccepted); len(acc) != 2 || SAFRef(&acc[0]) != SAFRef(&acc[1]) {
		t.Fatalf("accepted %+v: want the repeat on the advice's entry", acc)
	}
}

// A destination with a circuit breaker (stand-in) and two connections
// takes its requests round robin: the availability check before a
// forward does not take the round robin's turn (it did, so with two
// connections every request went to the same one).
func TestStandInDestinationRoundRobin(t *testing.T) {
	h := startRawHost(t, func(m codec.Message) *codec.Message { return answerWith(m, "00") })
	dc := standInDest(h.ln.Addr().String())
	dc.Connections, dc.Strategy = 2, "round-robin"
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	waitUp(t, ts, "visa", 2)
	c := ts.dial(t)
	for i := 0; i < 4; i++ {
		if r, err := c.RoundTrip(stip0200(t, "4761739001010010", 60+i, 100), 5*time.Second); err != nil || field(r, 39) != "00" {
			t.Fatalf("purchase %d: %v", i, err)
		}
	}
	per := map[string]int{}
	h.mu.Lock()
	for i, m := range h.got {
		if m.MTI == "0200" {
			per[h.from[i]]++
		}
	}
	h.mu.Unlock()
	if len(per) != 2 {
		t.Fatalf("purchases per connection %v: want both connections used", per)
	}
}
