package clearing

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unsafe"

	"github.com/cardswitch/cardswitch/internal/pan"
)

// KeyBy is what a record is matched on, with the terminal and the
// transaction's date: the retrieval reference number or the STAN.
type KeyBy uint8

const (
	ByRRN KeyBy = iota
	BySTAN
)

// ParseKeyBy reads "rrn" or "stan".
func ParseKeyBy(s string) (KeyBy, error) {
	switch s {
	case "rrn", "":
		return ByRRN, nil
	case "stan":
		return BySTAN, nil
	}
	return 0, fmt.Errorf("clearing: key %q: want rrn or stan", s)
}

// Class is how a record compares with its counterpart.
type Class uint8

const (
	Matched         Class = iota // the same amount and state on both sides (or reversed on one, absent on the other: neither settles it)
	SwitchOnly                   // approved here, absent there
	CounterpartOnly              // approved there, absent here
	AmountMismatch               // on both sides, in the same state, with another amount or currency
	StateMismatch                // approved on one side, reversed on the other
	classCount
)

var classNames = [...]string{"matched", "switch-only", "counterpart-only", "amount-mismatch", "state-mismatch"}

func (c Class) String() string { return classNames[c] }

// sideRecord is one side's view of a transaction.
type sideRecord struct {
	side     byte // 0 the switch, 1 the counterpart
	amount   int64
	currency uint16
	reversed bool
	ref      uint64 // the journal sequence, or the counterpart's line number
}

func appendSide(b []byte, s sideRecord) []byte {
	b = append(b, s.side)
	b = binary.BigEndian.AppendUint64(b, s.ref) // sorts duplicates of a key by journal or file order
	b = binary.AppendVarint(b, s.amount)
	b = binary.AppendUvarint(b, uint64(s.currency))
	if s.reversed {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeSide(b []byte) (sideRecord, bool) {
	var s sideRecord
	if len(b) < 10 {
		return s, false
	}
	s.side, s.ref = b[0], binary.BigEndian.Uint64(b[1:])
	b = b[9:]
	a, n := binary.Varint(b)
	if n <= 0 {
		return s, false
	}
	c, m := binary.Uvarint(b[n:])
	if m <= 0 || len(b) != n+m+1 {
		return s, false
	}
	s.amount, s.currency, s.reversed = a, uint16(c), b[n+m] == 1
	return s, true
}

// appendReconKey appends the match key: terminal, RRN or STAN, MMDD.
func appendReconKey(b []byte, terminal, id string, mmdd uint32) []byte {
	b = append(append(b, terminal...), 0)
	b = append(append(b, id...), 0)
	return binary.BigEndian.AppendUint16(b, uint16(mmdd))
}

func splitReconKey(k []byte) (terminal, id string, mmdd uint32) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+3 {
		return string(k), "", 0
	}
	j := bytes.IndexByte(k[i+1:], 0)
	if j < 0 || len(k) != i+1+j+3 {
		return string(k[:i]), string(k[i+1:]), 0
	}
	return string(k[:i]), string(k[i+1 : i+1+j]), uint32(binary.BigEndian.Uint16(k[i+1+j+1:]))
}

// groupMax bounds the records sharing one key on one side: beyond it the
// files are not a day's transactions (a key repeats once or twice, for a
// repeat or a terminal that reused a STAN).
const groupMax = 4096

// ReconOptions configure a reconciliation.
type ReconOptions struct {
	Date      uint32
	Key       KeyBy
	TempDir   string
	SortBytes int
	// Resolved is the state of exceptions already resolved, by ID
	// (Resolutions); the rest are open.
	Resolved map[string]Resolution
}

// ClassTotal is what one class holds in one currency.
type ClassTotal struct {
	Class               Class
	Currency            uint16
	Count               uint64
	Switch, Counterpart int64 // amounts on each side
}

// ReconSummary is a reconciliation's outcome.
type ReconSummary struct {
	Switch, Counterpart uint64             // records on each side
	Counts              [classCount]uint64 // records (pairs, or one side's) per class
	Totals              []ClassTotal       // per class and currency
	Exceptions          uint64
	Open                uint64 // exceptions not resolved
	ResolvedBy          map[ResolutionState]uint64
	Fold                FoldStats
}

// Row is one classified record of the report.
type Row struct {
	Class       Class
	Exception   string // the exception's ID, "" when matched
	State       string // the exception's state: open, adjusted, reversed, written-off
	Terminal    string
	ID          string // RRN or STAN
	MMDD        uint32
	Switch      *sideRecord
	Counterpart *sideRecord
}

// Reconcile compares the switch's financial transactions of the day (src,
// folded as for export: approved, reversed or voided) with a counterpart
// CSV (ReadCounterpart), both sorted by key on disk in one bounded sort,
// and calls row for every record, classified. Records that share a key
// are paired in journal and file order.
func Reconcile(src Source, counterpart io.Reader, o ReconOptions, row func(*Row) error) (ReconSummary, error) {
	sum := ReconSummary{ResolvedBy: map[ResolutionState]uint64{}}
	fold := NewFold(o.TempDir, o.SortBytes, false)
	defer fold.Close()
	if err := src(fold.Add); err != nil {
		return sum, err
	}
	s := newSorter(o.TempDir, o.SortBytes)
	s.hashed = true // pairs records by key: the report's order is the hash's, the same on every run
	defer s.close()
	var key, pay []byte
	var idb [20]byte
	err := fold.Resolve(func(l *Line, st State) error {
		id := l.RRN
		if o.Key == BySTAN {
			id = string(appendZero(idb[:0], uint64(l.STAN), 6))
		}
		mmdd := l.LocalDate
		if mmdd == 0 {
			mmdd = uint32(l.Transmission / 1000000)
		}
		key = appendReconKey(key[:0], l.Terminal, id, mmdd)
		pay = appendSide(pay[:0], sideRecord{side: 0, amount: l.Amount, currency: l.Currency, reversed: st != Effective, ref: l.Seq})
		sum.Switch++
		return s.add(key, pay)
	})
	sum.Fold = fold.Stats()
	if err != nil {
		return sum, err
	}
	err = ReadCounterpart(counterpart, o.Key, func(c *CounterpartRecord) error {
		key = appendReconKey(key[:0], c.Terminal, c.ID, c.MMDD)
		pay = appendSide(pay[:0], sideRecord{side: 1, amount: c.Amount, currency: c.Currency, reversed: c.Reversed, ref: c.Line})
		sum.Counterpart++
		return s.add(key, pay)
	})
	if err != nil {
		return sum, err
	}
	var here, there []sideRecord
	var prev []byte
	flush := func() error {
		if len(here)+len(there) == 0 {
			return nil
		}
		terminal, id, mmdd := splitReconKey(prev)
		for i := 0; i < max(len(here), len(there)); i++ {
			r := Row{Terminal: terminal, ID: id, MMDD: mmdd}
			if i < len(here) {
				r.Switch = &here[i]
			}
			if i < len(there) {
				r.Counterpart = &there[i]
			}
			r.Class = classify(r.Switch, r.Counterpart)
			if r.Class != Matched {
				r.Exception = ExceptionID(o.Date, prev, i)
				r.State = Open.String()
				if res, ok := o.Resolved[r.Exception]; ok {
					r.State = res.State.String()
					sum.ResolvedBy[res.State]++
				} else {
					sum.Open++
				}
				sum.Exceptions++
			}
			if err := sum.count(&r); err != nil {
				return err
			}
			if err := row(&r); err != nil {
				return err
			}
		}
		here, there = here[:0], there[:0]
		return nil
	}
	err = s.sorted(func(k, p []byte) error {
		if !bytes.Equal(k, prev) {
			if err := flush(); err != nil {
				return err
			}
			prev = append(prev[:0], k...)
		}
		sr, ok := decodeSide(p)
		if !ok {
			return errRunCorrupt
		}
		if len(here)+len(there) >= groupMax {
			t, id, _ := splitReconKey(k)
			return fmt.Errorf("clearing: more than %d records share terminal %q and key %q", groupMax, t, id)
		}
		if sr.side == 0 {
			here = append(here, sr)
		} else {
			there = append(there, sr)
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return sum, err
}

// classify compares one side's record with the other's (nil: absent).
func classify(here, there *sideRecord) Class {
	switch {
	case there == nil && here.reversed, here == nil && there.reversed:
		return Matched // reversed on one side, absent on the other: neither settles it
	case there == nil:
		return SwitchOnly
	case here == nil:
		return CounterpartOnly
	case here.reversed != there.reversed:
		return StateMismatch
	case here.amount != there.amount || here.currency != there.currency:
		return AmountMismatch
	}
	return Matched
}

func (s *ReconSummary) count(r *Row) error {
	s.Counts[r.Class]++
	cur := uint16(0)
	if r.Switch != nil {
		cur = r.Switch.currency
	} else {
		cur = r.Counterpart.currency
	}
	i := -1
	for j := range s.Totals {
		if s.Totals[j].Class == r.Class && s.Totals[j].Currency == cur {
			i = j
		}
	}
	if i < 0 {
		s.Totals = append(s.Totals, ClassTotal{Class: r.Class, Currency: cur})
		i = len(s.Totals) - 1
	}
	t := &s.Totals[i]
	t.Count++
	for _, x := range [...]struct {
		r *sideRecord
		v *int64
	}{{r.Switch, &t.Switch}, {r.Counterpart, &t.Counterpart}} {
		if x.r == nil {
			continue
		}
		if x.r.amount < 0 || *x.v > math.MaxInt64-x.r.amount {
			return errOverflow
		}
		*x.v += x.r.amount
	}
	return nil
}

// ExceptionID names an exception by the day, the record's key and its
// place among the records of that key: the same on every reconciliation
// of the day, whatever its class then (a corrected counterpart file may
// turn an amount mismatch into a match).
func ExceptionID(date uint32, key []byte, n int) string {
	h := sha256.New()
	var b [12]byte
	binary.BigEndian.PutUint32(b[:], date)
	binary.BigEndian.PutUint64(b[4:], uint64(n))
	h.Write(b[:])
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// CounterpartRecord is one line of a counterpart file.
type CounterpartRecord struct {
	Line     uint64
	Terminal string
	ID       string // RRN or STAN (6 digits)
	MMDD     uint32
	Amount   int64
	Currency uint16
	Reversed bool

	stan []byte // the STAN's digits, which ID borrows
}

func borrow(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// counterpartLineMax bounds a counterpart line: its fields are short.
const counterpartLineMax = 4096

// ErrCounterpart is a counterpart file that does not parse.
var ErrCounterpart = errors.New("clearing: counterpart file")

// ReadCounterpart reads a counterpart CSV: a header line naming the
// columns (any order; others are ignored), then one transaction a line:
//
//	date      YYYYMMDD or MMDD: the transaction's local date
//	terminal  the terminal ID (field 41)
//	rrn       the retrieval reference number (field 37), when keyed by RRN
//	stan      the STAN (field 11), when keyed by STAN
//	amount    in minor units, digits only
//	currency  ISO 4217 numeric (optional: 0 when absent)
//	state     approved or reversed (optional: approved)
//
// No quoting: a field holding a quote is refused. Every bad line is an
// error naming its number. rec is valid during the call only.
func ReadCounterpart(r io.Reader, key KeyBy, fn func(*CounterpartRecord) error) error {
	br := bufio.NewReaderSize(r, counterpartLineMax)
	var cols map[string]int
	var fields [][]byte
	var rec CounterpartRecord
	for n := uint64(1); ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("%w: line %d: longer than %d bytes", ErrCounterpart, n, counterpartLineMax)
		}
		if err != nil && err != io.EOF {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > 0 {
			if bytes.IndexByte(line, '"') >= 0 {
				return fmt.Errorf("%w: line %d: quoted fields are not taken", ErrCounterpart, n)
			}
			fields = splitComma(fields[:0], line)
			if cols == nil {
				if cols, err = counterpartColumns(fields, key); err != nil {
					return err
				}
			} else {
				if perr := parseCounterpart(&rec, cols, fields, key); perr != nil {
					return fmt.Errorf("%w: line %d: %v", ErrCounterpart, n, perr)
				}
				rec.Line = n
				if ferr := fn(&rec); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			break
		}
	}
	if cols == nil {
		return fmt.Errorf("%w: empty (no header line)", ErrCounterpart)
	}
	return nil
}

func splitComma(out [][]byte, line []byte) [][]byte {
	for {
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			return append(out, bytes.TrimSpace(line))
		}
		out = append(out, bytes.TrimSpace(line[:i]))
		line = line[i+1:]
	}
}

func counterpartColumns(fields [][]byte, key KeyBy) (map[string]int, error) {
	cols := map[string]int{}
	for i, f := range fields {
		name := string(bytes.ToLower(f))
		if _, dup := cols[name]; dup {
			return nil, fmt.Errorf("%w: the header names %q twice", ErrCounterpart, name)
		}
		cols[name] = i
	}
	need := []string{"date", "terminal", "amount", "rrn"}
	if key == BySTAN {
		need[3] = "stan"
	}
	for _, c := range need {
		if _, ok := cols[c]; !ok {
			return nil, fmt.Errorf("%w: the header names no %q column (it needs %v)", ErrCounterpart, c, need)
		}
	}
	return cols, nil
}

func field(cols map[string]int, fields [][]byte, name string) ([]byte, bool) {
	i, ok := cols[name]
	if !ok || i >= len(fields) {
		return nil, false
	}
	return fields[i], true
}

func digits(b []byte, maxLen int) (uint64, bool) {
	if len(b) == 0 || len(b) > maxLen {
		return 0, false
	}
	v := uint64(0)
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

func parseCounterpart(rec *CounterpartRecord, cols map[string]int, fields [][]byte, key KeyBy) error {
	*rec = CounterpartRecord{stan: rec.stan}
	if len(fields) != len(cols) {
		return fmt.Errorf("%d fields, the header has %d", len(fields), len(cols))
	}
	d, _ := field(cols, fields, "date")
	v, ok := digits(d, 8)
	if !ok || (len(d) != 8 && len(d) != 4) {
		return fmt.Errorf("date %q: want YYYYMMDD or MMDD", d)
	}
	rec.MMDD = uint32(v % 10000)
	t, _ := field(cols, fields, "terminal")
	rec.Terminal = borrow(t) // valid during the callback, as documented
	if key == BySTAN {
		s, _ := field(cols, fields, "stan")
		v, ok := digits(s, 6)
		if !ok {
			return fmt.Errorf("stan %q: want up to 6 digits", s)
		}
		rec.stan = appendZero(rec.stan[:0], v, 6)
		rec.ID = borrow(rec.stan)
	} else {
		r, _ := field(cols, fields, "rrn")
		if len(r) == 0 || len(r) > 12 {
			return fmt.Errorf("rrn %q: want 1 to 12 characters", r)
		}
		rec.ID = borrow(r)
	}
	for _, s := range [...]string{rec.Terminal, rec.ID} {
		if len(s) > 64 || pan.Inspect([]byte(s)) != 0 {
			return fmt.Errorf("terminal or key %q: not plain text", s)
		}
	}
	a, _ := field(cols, fields, "amount")
	amt, ok := digits(a, 12)
	if !ok {
		return fmt.Errorf("amount %q: want up to 12 digits, minor units", a)
	}
	rec.Amount = int64(amt)
	if c, ok := field(cols, fields, "currency"); ok && len(c) > 0 {
		v, ok := digits(c, 3)
		if !ok {
			return fmt.Errorf("currency %q: want ISO 4217 numeric", c)
		}
		rec.Currency = uint16(v)
	}
	if s, ok := field(cols, fields, "state"); ok && len(s) > 0 {
		switch {
		case bytes.EqualFold(s, []byte("approved")):
		case bytes.EqualFold(s, []byte("reversed")):
			rec.Reversed = true
		default:
			return fmt.Errorf("state %q: want approved or reversed", s)
		}
	}
	return nil
}

// AppendRowCSV appends a report row (ReportCSVHeader's columns).
func AppendRowCSV(b []byte, r *Row) []byte {
	b = append(b, r.Class.String()...)
	b = append(append(b, ','), r.Exception...)
	b = append(append(b, ','), r.State...)
	b = appendCSVField(append(b, ','), r.Terminal)
	b = appendCSVField(append(b, ','), r.ID)
	b = appendZero(append(b, ','), uint64(r.MMDD), 4)
	for _, s := range [...]*sideRecord{r.Switch, r.Counterpart} {
		if s == nil {
			b = append(b, ",,,,"...)
			continue
		}
		b = strconv.AppendUint(append(b, ','), s.ref, 10)
		b = strconv.AppendInt(append(b, ','), s.amount, 10)
		b = appendZero(append(b, ','), uint64(s.currency), 3)
		if s.reversed {
			b = append(b, ",reversed"...)
		} else {
			b = append(b, ",approved"...)
		}
	}
	return append(b, '\n')
}

// ReportCSVHeader is the first line of a reconciliation's CSV report.
const ReportCSVHeader = "class,exception,state,terminal,key,date,switch_seq,switch_amount,switch_currency,switch_state," +
	"counterpart_line,counterpart_amount,counterpart_currency,counterpart_state\n"

// WriteText writes the summary for people.
func (s *ReconSummary) WriteText(w io.Writer, date uint32) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "reconciliation of business day %d\n", date)
	fmt.Fprintf(bw, "switch records %d (approved financial, reversed and voided included), counterpart records %d\n", s.Switch, s.Counterpart)
	fmt.Fprintf(bw, "%-17s %10s\n", "class", "records")
	for c := Class(0); c < classCount; c++ {
		fmt.Fprintf(bw, "%-17s %10d\n", c, s.Counts[c])
	}
	fmt.Fprintf(bw, "\n%-17s %-8s %10s %18s %18s\n", "class", "currency", "records", "switch amount", "counterpart amount")
	for c := Class(0); c < classCount; c++ {
		for _, t := range s.Totals {
			if t.Class == c {
				fmt.Fprintf(bw, "%-17s %-8s %10d %18d %18d\n", c, fmt.Sprintf("%03d", t.Currency), t.Count, t.Switch, t.Counterpart)
			}
		}
	}
	fmt.Fprintf(bw, "\nexceptions %d: open %d", s.Exceptions, s.Open)
	for st := Adjusted; st <= WrittenOff; st++ {
		fmt.Fprintf(bw, ", %s %d", st, s.ResolvedBy[st])
	}
	fmt.Fprintln(bw)
	return bw.Flush()
}
