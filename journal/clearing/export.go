package clearing

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cardswitch/cardswitch/journal"
)

// Source streams one business day's records to fn (ReadDay, or a test's
// generator); a record is valid during the call only.
type Source func(fn func(*journal.Record) error) error

// ExportOptions configure one clearing export.
type ExportOptions struct {
	Date      uint32
	Format    Format
	Sealed    bool   // carry the sealed PAN (nonce || AES-GCM under the journal's data key) beside the masked PAN and keyed hash
	TempDir   string // where the sorts write their runs ("": os.TempDir)
	SortBytes int    // each sort's memory bound (0: SortBufferBytes)

	Statements string // the directory for per-merchant statements, "" for none
	Fees       Fees

	// Earlier streams the records of the days before Date that a reversal
	// of Date may reach back to (ReadDays; nil: none looked up). An
	// approved reversal naming nothing of Date whose original is an
	// earlier day's cleared transaction is cleared on Date as the opposite
	// of that transaction (kind RVD or RVC), for what it reverses.
	Earlier Source
}

// orphanMax bounds the reversals naming nothing of the day that an
// export looks up in the earlier days (a few hundred bytes each): beyond,
// they are counted (Summary.Unchecked), not looked up.
const orphanMax = 1 << 20

// Summary is what an export wrote.
type Summary struct {
	Lines     uint64  // detail lines
	Merchants int     // merchants with a line
	Totals    []Total // per currency, ascending
	Checksum  [sha256.Size]byte
	FirstSeq  uint64 // the day's first and last journal records read
	LastSeq   uint64
	Fold      FoldStats
	Later     uint64 // reversals of an earlier day's cleared transactions, cleared on this day
	Unchecked uint64 // reversals naming nothing of the day not looked up in the earlier days (beyond orphanMax)
}

// Export writes the clearing file of one business day to w: a header,
// each effective transaction ordered by merchant then journal sequence,
// each merchant's totals per currency after its lines, the file's totals
// per currency, and a trailer with the line count and the SHA-256 of
// every byte before the trailer. The same records give the same bytes.
//
// Two sorts on disk, each in bounded memory: the fold's (by transaction
// name, to net reversals and voids) and one by merchant, so that totals
// and statements are written as the lines stream by, one merchant at a
// time. The journal's own order (by sequence) would do for neither.
func Export(src Source, w io.Writer, o ExportOptions) (Summary, error) {
	var sum Summary
	fold := NewFold(o.TempDir, o.SortBytes, o.Sealed)
	defer fold.Close()
	var orphans map[string]*orphan
	if o.Earlier != nil {
		orphans = map[string]*orphan{}
		fold.OnOrphan = func(name []byte, rev *Line, remains int64) error {
			if len(orphans) >= orphanMax {
				sum.Unchecked++
				return nil
			}
			orphans[string(name)] = &orphan{rev: cloneLine(rev), remains: remains}
			return nil
		}
	}
	err := src(func(r *journal.Record) error {
		if sum.FirstSeq == 0 {
			sum.FirstSeq = r.Seq
		}
		sum.LastSeq = r.Seq
		return fold.Add(r)
	})
	if err != nil {
		return sum, err
	}
	byMerchant := newSorter(o.TempDir, o.SortBytes)
	defer byMerchant.close()
	var key, pay []byte
	err = fold.Resolve(func(l *Line, s State) error {
		if s != Effective {
			return nil
		}
		key = append(append(key[:0], l.Merchant...), 0)
		key = binary.BigEndian.AppendUint64(key, l.Seq)
		pay = appendLine(pay[:0], l)
		return byMerchant.add(key, pay)
	})
	sum.Fold = fold.Stats()
	if err == nil && len(orphans) > 0 {
		err = lookUpEarlier(o.Earlier, orphans)
		for _, or := range orphans { // any order: the sort by merchant orders them
			l, ok := or.cleared()
			if !ok || err != nil {
				continue
			}
			key = append(append(key[:0], l.Merchant...), 0)
			key = binary.BigEndian.AppendUint64(key, l.Seq)
			pay = appendLine(pay[:0], &l)
			if err = byMerchant.add(key, pay); err == nil {
				sum.Later++
			}
		}
	}
	if err != nil {
		return sum, err
	}
	x := &writer{w: bufio.NewWriterSize(w, 1<<16), sum: sha256.New(), f: o.Format, o: o}
	x.write(appendHeader(nil, o.Format, header{date: o.Date, firstSeq: sum.FirstSeq, lastSeq: sum.LastSeq}))
	var l Line
	err = byMerchant.sorted(func(_, p []byte) error {
		if !decodeLine(p, &l) {
			return errRunCorrupt
		}
		return x.line(&l)
	})
	if err == nil {
		err = x.endMerchant()
	}
	if err != nil {
		x.closeStatement()
		return sum, err
	}
	slices.SortFunc(x.file, func(a, b Total) int { return int(a.Currency) - int(b.Currency) })
	for _, t := range x.file {
		x.total(t, true)
	}
	sum.Lines, sum.Merchants, sum.Totals = x.lines, x.merchants, x.file
	x.sum.Sum(sum.Checksum[:0])
	if x.err == nil {
		_, x.err = x.w.Write(appendTrailer(nil, o.Format, x.lines, sum.Checksum[:]))
	}
	if x.err == nil {
		x.err = x.w.Flush()
	}
	return sum, x.err
}

// writer writes the clearing file and the statements as lines stream by.
type writer struct {
	w   *bufio.Writer
	sum hash.Hash
	f   Format
	o   ExportOptions
	buf []byte
	err error

	lines     uint64
	merchants int
	merchant  string
	open      bool    // a merchant's lines are being written
	cur       []Total // the merchant's, per currency
	file      []Total // the file's, per currency

	st *statement
}

func (x *writer) write(b []byte) {
	if x.err == nil {
		x.sum.Write(b)
		_, x.err = x.w.Write(b)
	}
}

func (x *writer) line(l *Line) error {
	if !x.open || l.Merchant != x.merchant {
		if err := x.endMerchant(); err != nil {
			return err
		}
		x.open, x.merchant, x.cur = true, strings.Clone(l.Merchant), x.cur[:0] // l borrows from the sort's read buffer
		x.merchants++
		if x.o.Statements != "" {
			st, err := newStatement(x.o.Statements, x.o.Date, x.merchant)
			if err != nil {
				return err
			}
			x.st = st
		}
	}
	var err error
	x.buf, err = appendDetail(x.buf[:0], x.f, l)
	if err != nil {
		return err
	}
	x.write(x.buf)
	x.lines++
	if err := addTo(&x.cur, l); err != nil {
		return err
	}
	if err := addTo(&x.file, l); err != nil {
		return err
	}
	if x.st != nil {
		x.st.line(l, x.o.Fees.Fee(l))
	}
	return x.err
}

var errOverflow = errors.New("clearing: amount total overflows")

// addTo counts a line in the total of its currency.
func addTo(ts *[]Total, l *Line) error {
	i := slices.IndexFunc(*ts, func(t Total) bool { return t.Currency == l.Currency })
	if i < 0 {
		*ts = append(*ts, Total{Currency: l.Currency})
		i = len(*ts) - 1
	}
	t := &(*ts)[i]
	t.Count++
	v := &t.Debits
	if l.Kind.Credit() {
		v = &t.Credits
	}
	if l.Amount < 0 || *v > math.MaxInt64-l.Amount {
		return errOverflow
	}
	*v += l.Amount
	return nil
}

func (x *writer) total(t Total, file bool) {
	var err error
	x.buf, err = appendTotal(x.buf[:0], x.f, t, file)
	if err != nil && x.err == nil {
		x.err = err
	}
	x.write(x.buf)
}

// endMerchant writes the merchant's totals, and closes its statement.
func (x *writer) endMerchant() error {
	if !x.open {
		return nil
	}
	slices.SortFunc(x.cur, func(a, b Total) int { return int(a.Currency) - int(b.Currency) })
	for _, t := range x.cur {
		t.Merchant = x.merchant
		x.total(t, false)
	}
	x.open = false
	if x.st != nil {
		err := x.st.finish()
		x.st = nil
		if err != nil && x.err == nil {
			x.err = err
		}
	}
	return x.err
}

func (x *writer) closeStatement() {
	if x.st != nil {
		x.st.f.Close()
		x.st = nil
	}
}

// statement is one merchant's statement of the day (CSV):
//
//	S,<merchant>,<business date>
//	L,seq,local date,local time,kind,D|C,mcc,amount,currency,fee
//	G,currency,gross (debits less credits),fees,net (gross less fees)
type statement struct {
	f    *os.File
	w    *bufio.Writer
	buf  []byte
	tots []stTotal
	err  error
}

type stTotal struct {
	currency    uint16
	gross, fees int64
}

// StatementName is the file name of a merchant's statement: the merchant
// ID when it is a safe file name, else its hex.
func StatementName(date uint32, merchant string) string {
	safe := merchant != "" && merchant[0] != '.'
	for i := 0; i < len(merchant) && safe; i++ {
		c := merchant[i]
		safe = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	name := merchant
	if !safe {
		name = "x" + hex.EncodeToString([]byte(merchant))
	}
	return strconv.FormatUint(uint64(date), 10) + "-" + name + ".csv"
}

func newStatement(dir string, date uint32, merchant string) (*statement, error) {
	f, err := os.Create(filepath.Join(dir, StatementName(date, merchant)))
	if err != nil {
		return nil, fmt.Errorf("clearing: statement: %w", err)
	}
	s := &statement{f: f, w: bufio.NewWriterSize(f, 1<<14)}
	b := appendCSVField([]byte("S,"), merchant)
	b = strconv.AppendUint(append(b, ','), uint64(date), 10)
	_, s.err = s.w.Write(append(b, '\n'))
	return s, nil
}

func (s *statement) line(l *Line, fee int64) {
	b := strconv.AppendUint(append(s.buf[:0], "L,"...), l.Seq, 10)
	b = appendZero(append(b, ','), uint64(l.LocalDate), 4)
	b = appendZero(append(b, ','), uint64(l.LocalTime), 6)
	b = append(append(b, ','), l.Kind.Code()...)
	b = append(append(b, ','), dc(l.Kind)...)
	b = append(b, ',')
	if l.MCC != 0 {
		b = appendZero(b, uint64(l.MCC), 4)
	}
	b = strconv.AppendInt(append(b, ','), l.Amount, 10)
	b = appendZero(append(b, ','), uint64(l.Currency), 3)
	b = strconv.AppendInt(append(b, ','), fee, 10)
	s.buf = append(b, '\n')
	if s.err == nil {
		_, s.err = s.w.Write(s.buf)
	}
	i := slices.IndexFunc(s.tots, func(t stTotal) bool { return t.currency == l.Currency })
	if i < 0 {
		s.tots = append(s.tots, stTotal{currency: l.Currency})
		i = len(s.tots) - 1
	}
	if l.Kind.Credit() {
		s.tots[i].gross -= l.Amount
	} else {
		s.tots[i].gross += l.Amount
	}
	s.tots[i].fees += fee // the file's own totals check for overflow first
}

func (s *statement) finish() error {
	slices.SortFunc(s.tots, func(a, b stTotal) int { return int(a.currency) - int(b.currency) })
	for _, t := range s.tots {
		b := appendZero(append(s.buf[:0], "G,"...), uint64(t.currency), 3)
		for _, v := range [...]int64{t.gross, t.fees, t.gross - t.fees} {
			b = strconv.AppendInt(append(b, ','), v, 10)
		}
		if s.err == nil {
			_, s.err = s.w.Write(append(b, '\n'))
		}
	}
	if s.err == nil {
		s.err = s.w.Flush()
	}
	if err := s.f.Close(); s.err == nil {
		s.err = err
	}
	if s.err != nil {
		return fmt.Errorf("clearing: statement: %w", s.err)
	}
	return nil
}

// orphan is a reversal of the day naming nothing of it, and what the
// earlier days say of its original.
type orphan struct {
	rev     Line  // the reversal (its strings its own)
	remains int64 // what a partial reversal leaves, 0: whole

	found    bool  // an approved financial original of that name, in an earlier day
	kind     Kind  // the original's
	amount   int64 // the original's
	currency uint16
	partly   int64 // the least a partial reversal on an earlier day left, 0: none
	reversed bool  // reversed whole on an earlier day
	voided   bool
}

// cleared is the line that clears the reversal on its day, if its
// original was cleared on an earlier one and something of it is left.
func (or *orphan) cleared() (Line, bool) {
	if !or.found || or.reversed || (or.voided && (or.kind == KindPurchase || or.kind == KindCompletion)) {
		return Line{}, false // nothing of it was cleared, or it was undone already
	}
	amount := or.amount
	if or.partly > 0 && or.partly < amount {
		amount = or.partly
	}
	if or.remains > 0 {
		amount -= or.remains
	}
	if amount <= 0 {
		return Line{}, false
	}
	l := or.rev
	l.Kind, l.Amount, l.Currency = reversedOf(or.kind), amount, or.currency
	return l, true
}

// lookUpEarlier reads the earlier days' records for the originals the
// orphans name, as the fold would have folded them on their own day:
// the first approved financial transaction of the name, less what an
// approved reversal (whole, or partial: what stays) or void of that day
// undid. Memory: the orphans alone.
func lookUpEarlier(src Source, orphans map[string]*orphan) error {
	var name []byte
	return src(func(r *journal.Record) error {
		if !Approved(r) {
			return nil
		}
		switch k := KindOf(r); {
		case k.Cleared():
			name = appendName(name[:0], r.Terminal, r.STAN, RequestDate(r))
			if or := orphans[string(name)]; or != nil && !or.found {
				or.found, or.kind, or.amount, or.currency = true, k, r.Amount, r.Currency
			}
		case k == KindReversal || k == KindVoid:
			class, stan, mmdd, ok := ParseOriginal(r.Original)
			if !ok || class == '1' {
				return nil
			}
			name = appendName(name[:0], r.Terminal, stan, mmdd)
			or := orphans[string(name)]
			switch {
			case or == nil:
			case k == KindVoid:
				or.voided = true
			case r.Replacement == 0:
				or.reversed = true
			case or.partly == 0 || r.Replacement < or.partly:
				or.partly = r.Replacement
			}
		}
		return nil
	})
}

// cloneLine copies l's borrowed strings and bytes.
func cloneLine(l *Line) Line {
	c := *l
	c.RRN, c.Approval, c.Terminal = strings.Clone(l.RRN), strings.Clone(l.Approval), strings.Clone(l.Terminal)
	c.Merchant, c.PANMasked = strings.Clone(l.Merchant), strings.Clone(l.PANMasked)
	c.PANSealed = slices.Clone(l.PANSealed)
	return c
}
