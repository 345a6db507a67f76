package clearing

import (
	"encoding/binary"
	"fmt"

	"github.com/cardswitch/cardswitch/journal"
)

// State is what became of a financial transaction by the end of its day.
type State uint8

const (
	Effective State = iota // approved and not undone: cleared
	Reversed               // an approved reversal names it
	Voided                 // an approved void names it
)

var stateNames = [...]string{"approved", "reversed", "voided"}

func (s State) String() string { return stateNames[s] }

// FoldStats counts what the fold saw and left out.
type FoldStats struct {
	Records    uint64 // records of the day read
	Financial  uint64 // approved financial transactions (purchases, cash, refunds, completions), repeats counted once
	Effective  uint64 // of which cleared
	Reversed   uint64 // of which reversed
	Partly     uint64 // of which cleared for less: a partial reversal (field 95) left part of the amount
	Voided     uint64 // of which voided
	Duplicates uint64 // approved repeats of a transaction already counted (an 0201 or 0221 answered again)
	Holds      uint64 // approved pre-authorizations: holds, never cleared (their completions are)
	Orphans    uint64 // approved reversals and voids naming no transaction of the day (an earlier day's, a refused one, or a void's)
}

// Fold decides what is financially effective in one business day, from
// its records in any order: each approved purchase, cash withdrawal,
// refund or completion is cleared unless an approved reversal or void of
// the same day names it. A reversal and its original can be hours apart
// in the journal, so the fold sorts on disk by the name the engine keys
// originals by (terminal, STAN, date of field 7 or 13: engine.Original)
// instead of keeping open transactions in memory: memory stays at the
// sorter's buffer whatever the day's size.
//
// Rules, as the authorizer applies them (engine/auth reverse.go, apply.go):
// a reversal naming the financial class (or no class, UnionPay) undoes a
// financial transaction of that name, whichever comes first in the
// journal; a void undoes a purchase or completion; a repeat of an
// approved transaction is the same transaction; declined records change
// nothing. A reversal of a void is not followed (the void stays; counted
// among Orphans). A reversal on a later day of a transaction of this one
// is that day's: its Export finds the original in the days before
// (OnOrphan, ExportOptions.Earlier) and clears the reversal as a credit.
type Fold struct {
	s      *sorter
	sealed bool
	stats  FoldStats
	key    []byte
	pay    []byte

	// OnOrphan, when set, is called during Resolve with every approved
	// reversal of the financial class (or none) that names nothing of the
	// day: its name, its line (valid during the call) and what a partial
	// reversal leaves (0: whole). Export looks these up in earlier days.
	OnOrphan func(name []byte, rev *Line, remains int64) error
}

// NewFold makes a fold sorting in dir (temporary run files, removed by
// Close) with at most bufBytes of items in memory (0: SortBufferBytes).
// sealed keeps each line's sealed PAN.
func NewFold(dir string, bufBytes int, sealed bool) *Fold {
	s := newSorter(dir, bufBytes)
	s.hashed = true // groups by name: no order needed
	return &Fold{s: s, sealed: sealed}
}

// Close removes the fold's temporary files.
func (f *Fold) Close() { f.s.close() }

// Stats is what the fold counted (complete after Resolve).
func (f *Fold) Stats() FoldStats { return f.stats }

// item roles, the first payload byte: originals sort before what undoes
// them within a name.
const (
	roleOriginal = 0
	roleUndo     = 1
)

// appendName appends the sort key of a transaction's name.
func appendName(b []byte, terminal string, stan, mmdd uint32) []byte {
	b = append(b, terminal...)
	b = append(b, 0) // terminal IDs are printable (journal CheckClear), so 0 ends one
	b = binary.BigEndian.AppendUint32(b, stan)
	return binary.BigEndian.AppendUint16(b, uint16(mmdd))
}

// RequestDate is the date (MMDD) an original is named by: field 7's, else
// 13's. The engine names a forwarded request's original by it too.
func RequestDate(r *journal.Record) uint32 {
	if r.Transmission != 0 {
		return uint32(r.Transmission / 1000000)
	}
	return r.LocalDate
}

// ParseOriginal reads a record's Original ("0200/000123/1201", the MTI
// "----" when the request did not say): the original's MTI class ('-'
// when unknown), STAN and date (MMDD).
func ParseOriginal(s string) (class byte, stan, mmdd uint32, ok bool) {
	if len(s) != 16 || s[4] != '/' || s[11] != '/' {
		return 0, 0, 0, false
	}
	class = s[1]
	if s[:4] == "----" {
		class = '-'
	}
	for _, c := range s[5:11] {
		if c < '0' || c > '9' {
			return 0, 0, 0, false
		}
		stan = stan*10 + uint32(c-'0')
	}
	for _, c := range s[12:16] {
		if c < '0' || c > '9' {
			return 0, 0, 0, false
		}
		mmdd = mmdd*10 + uint32(c-'0')
	}
	return class, stan, mmdd, true
}

// Add takes one record of the day (valid during the call only).
func (f *Fold) Add(r *journal.Record) error {
	f.stats.Records++
	if !Approved(r) {
		return nil
	}
	k := KindOf(r)
	switch {
	case k.Cleared() || k == KindPreauth:
		f.key = appendName(f.key[:0], r.Terminal, r.STAN, RequestDate(r))
		l := lineOf(r, k, f.sealed)
		f.pay = append(f.pay[:0], roleOriginal, r.MTI[1])
		f.pay = appendLine(f.pay, &l)
	case k == KindReversal || k == KindVoid:
		class, stan, mmdd, ok := ParseOriginal(r.Original)
		if !ok {
			f.stats.Orphans++
			return nil
		}
		f.key = appendName(f.key[:0], r.Terminal, stan, mmdd)
		f.pay = append(f.pay[:0], roleUndo, class, byte(k))
		f.pay = binary.BigEndian.AppendUint64(f.pay, r.Seq)
		f.pay = binary.BigEndian.AppendUint64(f.pay, uint64(max(r.Replacement, 0))) // a partial reversal: what stays
		if k == KindReversal && class != '1' && f.OnOrphan != nil {
			l := lineOf(r, k, f.sealed) // if it names nothing of the day, an earlier day's
			f.pay = appendLine(f.pay, &l)
		}
	default:
		return nil
	}
	return f.s.add(f.key, f.pay)
}

// Resolve calls fn once for every approved financial transaction of the
// day, with its state, in the order of their names; l is valid during
// the call only.
func (f *Fold) Resolve(fn func(l *Line, s State) error) error {
	var g group
	var prev []byte
	flush := func() error {
		if len(prev) == 0 {
			return nil
		}
		err := g.finish(&f.stats, fn)
		if err == nil && !g.has && !g.holds && g.hasRev && f.OnOrphan != nil && !g.voided {
			err = f.OnOrphan(prev, &g.rev, g.revRemains)
		}
		g = group{line: g.line, buf: g.buf[:0], rev: g.rev, rbuf: g.rbuf[:0]}
		return err
	}
	err := f.s.sorted(func(key, payload []byte) error {
		if string(key) != string(prev) {
			if err := flush(); err != nil {
				return err
			}
			prev = append(prev[:0], key...)
		}
		return g.add(&f.stats, payload)
	})
	if err == nil {
		err = flush()
	}
	return err
}

// group is what the fold knows of one name: its first approved financial
// transaction, and what undoes what.
type group struct {
	has      bool // a financial original
	line     Line
	buf      []byte // the original's payload, which line borrows from
	holds    bool   // a pre-authorization of this name
	reversed bool   // an approved reversal naming the financial class or none, of the whole amount
	remains  int64  // the least a partial reversal of the financial class (or none) leaves; 0: none
	// the first reversal's line (Fold.OnOrphan set), for a name with no original
	hasRev     bool
	rev        Line
	rbuf       []byte
	revRemains int64
	revHold    bool // an approved reversal naming the authorization class or none
	voided     bool
}

func (g *group) add(st *FoldStats, p []byte) error {
	if len(p) < 2 {
		return errRunCorrupt
	}
	role, class := p[0], p[1]
	switch role {
	case roleOriginal:
		if class == '1' {
			if g.holds {
				st.Duplicates++
			}
			g.holds = true
			st.Holds++
			return nil
		}
		if g.has {
			st.Duplicates++
			return nil
		}
		g.buf = append(g.buf[:0], p[2:]...)
		if !decodeLine(g.buf, &g.line) {
			return errRunCorrupt
		}
		g.has = true
	case roleUndo:
		if len(p) < 3 {
			return errRunCorrupt
		}
		if len(p) < 3+8+8 {
			return errRunCorrupt
		}
		remains := int64(binary.BigEndian.Uint64(p[11:19]))
		if len(p) > 19 && !g.hasRev { // the line of a reversal: kept in case the name has no original
			g.rbuf = append(g.rbuf[:0], p[19:]...)
			if !decodeLine(g.rbuf, &g.rev) {
				return errRunCorrupt
			}
			g.hasRev, g.revRemains = true, remains
		}
		switch {
		case Kind(p[2]) == KindVoid:
			g.voided = true
		case remains > 0 && class != '1':
			if g.remains == 0 || remains < g.remains {
				g.remains = remains
			}
		case class == '2':
			g.reversed = true
		case class == '1':
			g.revHold = true
		default:
			g.reversed, g.revHold = true, true
		}
	default:
		return fmt.Errorf("%w: role %d", errRunCorrupt, role)
	}
	return nil
}

func (g *group) finish(st *FoldStats, fn func(*Line, State) error) error {
	if !g.has {
		if g.voided || ((g.reversed || g.remains > 0) && !g.revHold) || (g.revHold && !g.holds) {
			st.Orphans++
		}
		return nil
	}
	st.Financial++
	s := Effective
	switch {
	case g.reversed:
		s = Reversed
		st.Reversed++
	case g.voided && (g.line.Kind == KindPurchase || g.line.Kind == KindCompletion):
		s = Voided
		st.Voided++
	case g.remains > 0 && g.remains < g.line.Amount:
		g.line.Amount = g.remains // cleared for what the partial reversal left
		st.Partly++
		st.Effective++
	default:
		st.Effective++
	}
	return fn(&g.line, s)
}
