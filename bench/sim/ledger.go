package sim

import (
	"sort"
	"sync"

	"github.com/cardswitch/cardswitch/codec"
)

// The ledger is what the simulator, standing for the issuer, has booked of
// the store-and-forward messages a switch sent it: reversal advices (0420,
// repeats 0421), financial advices (0220, 0221) and authorization advices
// (0120, 0121). A store-and-forward test compares it with the switch's own
// record: every reversal the switch queued reached the host, none was
// applied twice, none is missing.
//
// An entry is keyed by the MTI's class digit, field 37 (the RRN) and field
// 11 (the STAN): what the switch keeps the same on every repeat of one
// advice. It counts the messages received under that key and how many were
// repeats, and it is applied once an answer with 00 goes out for it. An
// answer is booked when the simulator hands it to its connection (at once,
// or when its delay is over), as a host books before it replies: a reply
// lost with its connection leaves the entry applied, which is what a
// repeat is for and what Stats.Duplicates then counts. A message that gets
// no answer (the no_answer and drop faults) books nothing: the host was
// silent. A message answered 30 (it does not decode, or lacks a mandatory
// field) is counted in Stats.Reversals or Advices but not booked: its key
// may be what did not decode; so is one without field 11.

// defaultLedgerKeys bounds the ledger when Config.LedgerKeys is 0. A key
// costs about 150 bytes (its map slot, the entry, the RRN's string), so the
// full ledger is about 150 MiB: more advices than a test checks one by one,
// and a soak test that sends reversals for hours would otherwise grow the
// simulator without end. Past the bound the counters go on counting and
// Stats.LedgerFull says how many messages were not booked.
const defaultLedgerKeys = 1 << 20

// ledgerKey names one advice and all its repeats.
type ledgerKey struct {
	class byte   // the MTI's second digit: '1', '2' or '4'
	rrn   string // field 37; "" when absent (UnionPay reversals may have none)
	stan  uint32 // field 11
}

// ledgerEntry is one key's record; the ledger's mu guards its fields.
type ledgerEntry struct {
	class             byte
	received, repeats int
	answered          bool  // an answer was booked: firstCode is set
	firstCode         int16 // codeIndex of the first answer booked
	applied           bool  // an answer with 00 was booked
}

// ledger is the issuer's book of advices, shared by every connection.
type ledger struct {
	max     int
	mu      sync.Mutex
	entries map[ledgerKey]*ledgerEntry // mu guards entries, applied and every entry's fields
	applied [10]int                    // distinct keys applied, by class digit
}

func newLedger(max int) *ledger {
	return &ledger{max: max, entries: make(map[ledgerKey]*ledgerEntry)}
}

// storeAndForward reports the messages the ledger books: advices (function
// 2) of the authorization, financial and reversal classes, repeats
// included.
func storeAndForward(m codec.MTI) bool {
	if !m.IsAdvice() {
		return false
	}
	switch m.Class() {
	case '1', '2', '4':
		return true
	}
	return false
}

// receive books one message under its key. It returns the key's entry (nil
// when the ledger is full and the key is new: full is then true) and
// whether the key was applied before this message.
func (l *ledger) receive(k ledgerKey, repeat bool) (e *ledgerEntry, duplicate, full bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e = l.entries[k]
	if e == nil {
		if len(l.entries) >= l.max {
			return nil, false, true
		}
		e = &ledgerEntry{class: k.class}
		l.entries[k] = e
	}
	duplicate = e.applied
	e.received++
	if repeat {
		e.repeats++
	}
	return e, duplicate, false
}

// answered books the answer given to one of e's messages (code is a
// codeIndex); the first answer's code stays, and a 00 applies the key.
func (l *ledger) answered(e *ledgerEntry, code int16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !e.answered {
		e.answered, e.firstCode = true, code
	}
	if code == int16(codeIndex(code00)) && !e.applied {
		e.applied = true
		l.applied[e.class-'0']++
	}
}

// LedgerEntry is one advice or reversal as the simulator booked it, with
// its repeats: see Issuer.Ledger.
type LedgerEntry struct {
	Class     byte   // the MTI's second digit: '1' authorization, '2' financial, '4' reversal
	RRN       string // field 37 ("" when absent)
	STAN      uint32 // field 11
	Received  int    // messages read under this key, repeats included
	Repeats   int    // of which repeats (0121, 0221, 0421)
	Applied   bool   // an answer with 00 went out
	FirstCode string // the code of the first answer that went out; "": none yet
}

// Ledger returns the advices and reversals booked, sorted by class, RRN
// and STAN. It copies the whole ledger: for the end of a test, not for a
// loop.
//
//	for _, e := range is.Ledger() {
//		if e.Class == '4' && !e.Applied { t.Errorf("reversal %s/%06d not applied", e.RRN, e.STAN) }
//	}
func (is *Issuer) Ledger() []LedgerEntry {
	l := is.ledger
	l.mu.Lock()
	out := make([]LedgerEntry, 0, len(l.entries))
	for k, e := range l.entries {
		le := LedgerEntry{Class: k.class, RRN: k.rrn, STAN: k.stan, Received: e.received, Repeats: e.repeats, Applied: e.applied}
		if e.answered {
			le.FirstCode = codeName(int(e.firstCode))
		}
		out = append(out, le)
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		if a.RRN != b.RRN {
			return a.RRN < b.RRN
		}
		return a.STAN < b.STAN
	})
	return out
}

// Applied is the number of distinct keys of one class ('1', '2' or '4')
// that an answer with 00 went out for: the reversals (or advices) the
// issuer has applied, each once however often it was repeated.
func (is *Issuer) Applied(class byte) int {
	if class < '0' || class > '9' {
		return 0
	}
	l := is.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.applied[class-'0']
}

// book counts a store-and-forward message in the stats and, when it
// decoded (ok), in the ledger; it returns the entry its answer is booked
// in, nil for none (reader only: it uses the connection's scratch).
func (c *conn) book(v *codec.View, ok bool) *ledgerEntry {
	is, m := c.is, v.MTI()
	repeat := m.IsRepeat()
	if m.Class() == '4' {
		is.stats.reversals.Add(1)
		if repeat {
			is.stats.reversalRepeats.Add(1)
		}
	} else {
		is.stats.advices.Add(1)
		if repeat {
			is.stats.adviceRepeats.Add(1)
		}
	}
	stan, hasSTAN := v.STAN()
	if !ok || !hasSTAN {
		return nil
	}
	k := ledgerKey{class: m.Class(), rrn: string(v.RRN(c.scratch[:0])), stan: stan}
	e, dup, full := is.ledger.receive(k, repeat)
	if dup {
		is.stats.duplicates.Add(1)
	}
	if full {
		is.stats.ledgerFull.Add(1)
	}
	return e
}
