package engine

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/journal"
)

// rawHost is a destination written by hand for the store-and-forward
// tests: it reads iso87ascii frames (binary2) and answers each with what
// answer returns (nil: no answer), keeping every message it read.
type rawHost struct {
	ln     net.Listener
	mu     sync.Mutex
	got    []codec.Message
	answer func(m codec.Message) *codec.Message
}

func startRawHost(t *testing.T, answer func(m codec.Message) *codec.Message) *rawHost {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
	del := safRecords(t, j, journal.UpSAFDelivered)[0]
	want := fmt.Sprintf("0200/%06d/%s", ans[0].STAN, "1121")
	if del.RespCode != [2]byte{'0', '0'} || del.Original != want || string(del.MTI[:]) != "0420" || del.Terminal != "TERM0001" {
		t.Fatalf("delivered record rc %q original %q (want %q) mti %s terminal %s", del.RespCode, del.Original, want, del.MTI[:], del.Terminal)
	}
	if testutil.ToFloat64(d.m.undelivered) != 1 {
		t.Fatal("undelivered must count 1")
	}
}
