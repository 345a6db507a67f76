package clearing

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
)

// b64 encodes the PAN's keyed hash and its ciphertext: base64url without
// padding, whose alphabet is mostly letters, so a scanner for card data
// does not find Luhn-valid digit runs in it as it would in hex (some 1 in
// 100 hashes).
var b64 = base64.RawURLEncoding

// Format is a clearing file's layout.
type Format uint8

const (
	CSV   Format = iota // one record per line, comma separated, the record type first
	Fixed               // fixed-width lines of FixedWidth characters
)

// ParseFormat reads "csv" or "fixed".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "csv", "":
		return CSV, nil
	case "fixed":
		return Fixed, nil
	}
	return 0, fmt.Errorf("clearing: format %q: want csv or fixed", s)
}

// FileVersion is the clearing file layout version in its header.
const FileVersion = 1

// FixedWidth is the width of every fixed-layout line, without its newline:
// the detail line's columns (README, "Clearing file layout"), each after
// one space. The space matters: adjacent numeric columns would make digit
// runs that pass a card-data scanner's Luhn test ("6011" "051" "541333"),
// and no numeric column is 13 to 19 digits wide for the same reason
// (totals take 20).
const FixedWidth = 264

// Total is what one merchant, or the whole file, cleared in one currency.
type Total struct {
	Merchant string // "" for a file total
	Currency uint16
	Count    uint64
	Debits   int64 // purchases, cash, completions
	Credits  int64 // refunds
}

// Net is what the card side owes the merchant side: debits less credits.
func (t Total) Net() int64 { return t.Debits - t.Credits }

// header is the first line's content.
type header struct {
	date              uint32
	firstSeq, lastSeq uint64
}

// fixedCol appends v in a column of width w: numbers right-aligned with
// zeros, text left-aligned with spaces; a value wider than its column is
// an error (never cut: a clearing file must not lose a digit).
func fixedNum(b []byte, v uint64, w int, name string) ([]byte, error) {
	s := strconv.AppendUint(nil, v, 10)
	if len(s) > w {
		return b, fmt.Errorf("clearing: %s %d does not fit the fixed layout's %d digits", name, v, w)
	}
	for i := len(s); i < w; i++ {
		b = append(b, '0')
	}
	return append(b, s...), nil
}

func fixedText(b []byte, v string, w int, name string) ([]byte, error) {
	if len(v) > w {
		return b, fmt.Errorf("clearing: %s %q does not fit the fixed layout's %d characters", name, v, w)
	}
	b = append(b, v...)
	for i := len(v); i < w; i++ {
		b = append(b, ' ')
	}
	return b, nil
}

func fixedSigned(b []byte, v int64, w int, name string) ([]byte, error) {
	if v < 0 {
		return fixedNum(append(b, '-'), uint64(-v), w, name)
	}
	return fixedNum(append(b, '+'), uint64(v), w, name)
}

// pad fills a fixed line to FixedWidth and ends it.
func pad(b []byte, start int) []byte {
	for len(b)-start < FixedWidth {
		b = append(b, ' ')
	}
	return append(b, '\n')
}

// chain runs appenders in order, stopping at the first error.
type chain struct {
	b   []byte
	err error
}

func (c *chain) num(v uint64, w int, name string) {
	if c.err == nil {
		c.b, c.err = fixedNum(append(c.b, ' '), v, w, name)
	}
}

func (c *chain) text(v string, w int, name string) {
	if c.err == nil {
		c.b, c.err = fixedText(append(c.b, ' '), v, w, name)
	}
}

func (c *chain) signed(v int64, w int, name string) {
	if c.err == nil {
		c.b, c.err = fixedSigned(append(c.b, ' '), v, w, name)
	}
}

func appendHeader(b []byte, f Format, h header) []byte {
	if f == CSV {
		b = append(b, "H,cardswitch-clearing,"...)
		b = strconv.AppendUint(b, FileVersion, 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(h.date), 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, h.firstSeq, 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, h.lastSeq, 10)
		return append(b, '\n')
	}
	start := len(b)
	c := chain{b: append(b, 'H')}
	c.text("CARDSWITCH", 10, "")
	c.text("CLR", 3, "")
	c.num(FileVersion, 2, "version")
	c.num(uint64(h.date), 8, "date")
	c.num(h.firstSeq, 12, "first sequence")
	c.num(h.lastSeq, 12, "last sequence")
	return pad(c.b, start) // these always fit: a date has 8 digits and a sequence is below 10^12 in any real journal
}

func dc(k Kind) string {
	if k.Credit() {
		return "C"
	}
	return "D"
}

func appendDetail(b []byte, f Format, l *Line) ([]byte, error) {
	if f == CSV {
		b = append(b, "D,"...)
		b = strconv.AppendUint(b, l.Seq, 10)
		b = append(b, ',')
		b = appendZero(b, uint64(l.LocalDate), 4)
		b = append(b, ',')
		b = appendZero(b, uint64(l.LocalTime), 6)
		b = append(b, ',')
		b = append(b, l.MTI[:]...)
		b = append(b, ',')
		b = appendZero(b, uint64(l.ProcCode), 6)
		b = append(b, ',')
		b = append(b, l.Kind.Code()...)
		b = append(b, ',')
		b = append(b, dc(l.Kind)...)
		b = append(b, ',')
		b = strconv.AppendInt(b, l.Amount, 10)
		b = append(b, ',')
		b = appendZero(b, uint64(l.Currency), 3)
		b = append(b, ',')
		b = appendZero(b, uint64(l.STAN), 6)
		for _, s := range [...]string{l.RRN, l.Approval, l.Terminal, l.Merchant} {
			b = appendCSVField(append(b, ','), s)
		}
		b = append(b, ',')
		if l.MCC != 0 {
			b = appendZero(b, uint64(l.MCC), 4)
		}
		b = append(b, ',')
		b = appendZero(b, uint64(l.EntryMode), 3)
		b = appendCSVField(append(b, ','), l.PANMasked)
		b = append(b, ',')
		b = b64.AppendEncode(b, l.PANHash[:])
		b = append(b, ',')
		b = b64.AppendEncode(b, l.PANSealed)
		return append(b, '\n'), nil
	}
	if l.Amount < 0 {
		return b, fmt.Errorf("clearing: record %d: negative amount %d", l.Seq, l.Amount)
	}
	start := len(b)
	c := chain{b: append(b, 'D')}
	c.num(l.Seq, 12, "sequence")
	c.num(uint64(l.LocalDate), 4, "local date")
	c.num(uint64(l.LocalTime), 6, "local time")
	c.text(string(l.MTI[:]), 4, "MTI")
	c.num(uint64(l.ProcCode), 6, "processing code")
	c.text(l.Kind.Code(), 3, "kind")
	c.text(dc(l.Kind), 1, "")
	c.num(uint64(l.Amount), 12, "amount")
	c.num(uint64(l.Currency), 3, "currency")
	c.num(uint64(l.STAN), 6, "STAN")
	c.text(l.RRN, 12, "RRN")
	c.text(l.Approval, 6, "approval code")
	c.text(l.Terminal, 16, "terminal")
	c.text(l.Merchant, 20, "merchant")
	c.num(uint64(l.MCC), 4, "MCC")
	c.num(uint64(l.EntryMode), 3, "entry mode")
	c.text(l.PANMasked, 19, "masked PAN")
	var enc [96]byte
	c.text(string(b64.AppendEncode(enc[:0], l.PANHash[:])), 43, "")
	c.text(string(b64.AppendEncode(enc[:0], l.PANSealed)), 64, "sealed PAN")
	if c.err != nil {
		return b[:start], fmt.Errorf("record %d: %w", l.Seq, c.err)
	}
	return append(c.b, '\n'), nil
}

// appendTotal appends a merchant total (M) or, with an empty merchant
// and file set, a file total per currency (C).
func appendTotal(b []byte, f Format, t Total, file bool) ([]byte, error) {
	if f == CSV {
		if file {
			b = append(b, "C,"...)
		} else {
			b = appendCSVField(append(b, "M,"...), t.Merchant)
			b = append(b, ',')
		}
		b = appendZero(b, uint64(t.Currency), 3)
		for _, v := range [...]int64{int64(t.Count), t.Debits, t.Credits, t.Net()} {
			b = strconv.AppendInt(append(b, ','), v, 10)
		}
		return append(b, '\n'), nil
	}
	start := len(b)
	c := chain{}
	if file {
		c.b = append(b, 'C')
	} else {
		c.b = append(b, 'M')
		c.text(t.Merchant, 20, "merchant")
	}
	c.num(uint64(t.Currency), 3, "currency")
	c.num(t.Count, 12, "count")
	c.num(uint64(t.Debits), 20, "debits")
	c.num(uint64(t.Credits), 20, "credits")
	c.signed(t.Net(), 20, "net")
	if c.err != nil {
		return b[:start], c.err
	}
	return pad(c.b, start), nil
}

func appendTrailer(b []byte, f Format, records uint64, sum []byte) []byte {
	if f == CSV {
		b = strconv.AppendUint(append(b, "T,"...), records, 10)
		b = append(b, ',')
		return append(hex.AppendEncode(b, sum), '\n')
	}
	start := len(b)
	c := chain{b: append(b, 'T')}
	c.num(records, 12, "records")
	c.text(hex.EncodeToString(sum), 64, "")
	return pad(c.b, start)
}

func appendZero(b []byte, v uint64, w int) []byte {
	var tmp [20]byte
	s := strconv.AppendUint(tmp[:0], v, 10)
	for i := len(s); i < w; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendCSVField appends s, quoted when it holds a comma, a quote or a
// line break (RFC 4180).
func appendCSVField(b []byte, s string) []byte {
	quote := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
			quote = true
			break
		}
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}
