package engine

import (
	"github.com/cardswitch/cardswitch/codec"
)

// Original names the transaction a reversal, a completion or a void refers
// to, as the request states it. How a request names its original differs
// by network: ISO 8583:1987 puts the original's MTI, STAN and transmission
// date and time in field 90; UnionPay POS completions carry the original's
// batch, STAN and date in field 61, and UnionPay reversals reuse their
// original's STAN (they carry neither). The terminal is the request's own.
type Original struct {
	MTI  [4]byte // zero when the request does not say
	STAN uint32
	Date uint32 // MMDD
}

// Class is the original's MTI class ('1' authorization, '2' financial), 0
// when the request does not say.
func (o Original) Class() byte { return o.MTI[1] }

// OriginalOf reads the original a request names; ok is false when it names
// none. localDate is the request's own date (MMDD), for the UnionPay forms.
func OriginalOf(v *codec.View, localDate uint32) (o Original, ok bool) {
	class := v.MTI().Class()
	if f, found := v.Original(); found {
		return Original{MTI: f.MTI, STAN: f.STAN, Date: uint32(f.Transmission / 1000000)}, true
	}
	if stan, found := cupOriginal(v); found && class != '4' {
		return Original{STAN: stan, Date: localDate}, true
	}
	if class == '4' { // UnionPay: the reversal carries its original's STAN
		stan, _ := v.STAN()
		return Original{STAN: stan, Date: localDate}, true
	}
	return Original{}, false
}

// cupOriginal is the original's STAN from a UnionPay field 61: batch n6,
// STAN n6, date MMDD.
func cupOriginal(v *codec.View) (uint32, bool) {
	if v.Dialect().Name != codec.CUPPOS || !v.Has(codec.FieldCUPOriginal) {
		return 0, false
	}
	var buf [32]byte
	d := v.AppendText(buf[:0], codec.FieldCUPOriginal)
	if len(d) < 12 {
		return 0, false
	}
	var stan uint32
	for _, c := range d[6:12] {
		if c < '0' || c > '9' {
			return 0, false
		}
		stan = stan*10 + uint32(c-'0')
	}
	return stan, true
}

// appendText appends the reference as the journal keeps it: the MTI (or
// "----"), the STAN and the date, e.g. "0200/000123/1201".
func (o Original) appendText(b []byte) []byte {
	if o.MTI == [4]byte{} {
		b = append(b, "----"...)
	} else {
		b = append(b, o.MTI[:]...)
	}
	b = append(b, '/')
	b = appendDigits(b, uint64(o.STAN), 6)
	b = append(b, '/')
	return appendDigits(b, uint64(o.Date), 4)
}

// RequestDate is the date a request is named by (MMDD): the date of its
// transmission date and time (field 7), which is what field 90 names an
// original by, or field 13 when 7 is absent.
func RequestDate(v *codec.View) uint32 {
	if t, err := v.Uint(codec.FieldTransmission); err == nil {
		return uint32(t / 1000000)
	}
	d, _ := v.LocalDate()
	return d
}

// appendDigits appends n in decimal, zero-padded to width.
func appendDigits(b []byte, n uint64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for n > 0 || i == len(tmp) {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	for w := len(tmp) - i; w < width; w++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}

// fieldReplacement is ISO 8583:1987's replacement amounts (an 42): the
// actual transaction amount (n 12), the actual settlement amount (n 12)
// and the actual transaction and settlement fees (x+n 8 each).
const fieldReplacement = 95

// replacementOf reads what a partial reversal leaves of its original: the
// actual amount in field 95, which must be 12 digits below field 4's
// amount (a reversal of nothing is not one). 0 when the request has no
// 95, or its actual amount is zero (reversed whole); ErrFormat when 95 is
// not a partial amount of the reversed one. Pure, no allocation.
func replacementOf(v *codec.View) (int64, error) {
	if !v.Has(fieldReplacement) {
		return 0, nil
	}
	var buf [48]byte
	f := v.AppendText(buf[:0], fieldReplacement)
	if len(f) < 12 {
		return 0, ErrFormat
	}
	var actual int64
	for _, c := range f[:12] {
		if c < '0' || c > '9' {
			return 0, ErrFormat
		}
		actual = actual*10 + int64(c-'0')
	}
	amount, ok := v.Amount()
	if actual != 0 && (!ok || actual >= amount) {
		return 0, ErrFormat
	}
	return actual, nil
}
