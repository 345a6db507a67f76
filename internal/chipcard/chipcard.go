// Package chipcard plays an EMV chip card for the tools and the tests: it
// builds the field 55 a terminal would send, with the ARQC the card would
// compute from its issuer's master key, so that chip traffic can be sent
// by hand (cardswitch send --chip) and tested end to end. It holds clear
// test keys: nothing in the switch's own path uses it.
package chipcard

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cardswitch/cardswitch/codec/emv"
	"github.com/cardswitch/cardswitch/hsm"
)

// Card is a chip card: its PAN, PAN sequence number (5F34, one BCD byte),
// cryptogram version and its issuer's master key for ACs.
type Card struct {
	PAN string
	PSN byte
	CVN hsm.CVN
	IMK hsm.Key
}

// Txn is what the terminal and the card put in the cryptogram.
type Txn struct {
	Amount   int64   // minor units (9F02)
	Currency uint16  // ISO 4217 numeric (5F2A), also the terminal country (9F1A)
	Date     [3]byte // YYMMDD, BCD (9A)
	Type     byte    // 9C: 00 goods and services, 01 cash, 30 balance (BCD)
	UN       [4]byte // 9F37
	ATC      uint16  // 9F36
}

// IAD is the issuer application data a card of version v sends (9F10),
// with a CVR of zeros.
func IAD(v hsm.CVN) ([]byte, error) {
	switch v {
	case hsm.VisaCVN10:
		return []byte{0x06, 0x01, 0x0A, 0x03, 0x00, 0x00, 0x00}, nil
	case hsm.VisaCVN18:
		return []byte{0x06, 0x01, 0x12, 0x03, 0x00, 0x00, 0x00}, nil
	case hsm.MChipCVN16, hsm.MChipCVN17:
		b := make([]byte, 18)
		b[0], b[1] = 0x01, 0x10
		if v == hsm.MChipCVN17 {
			b[1] = 0x11
		}
		copy(b[2:], []byte{0xA0, 0x00, 0x03, 0x22, 0x00, 0x00})
		b[17] = 0xFF
		return b, nil
	}
	return nil, hsm.ErrCVN
}

// Check is the hsm.ARQCCheck of the card and transaction, with its ARQC.
func Check(c Card, t Txn) (hsm.ARQCCheck, error) {
	if t.Amount < 0 || t.Amount > 999999999999 {
		return hsm.ARQCCheck{}, errors.New("chipcard: amount out of range")
	}
	iad, err := IAD(c.CVN)
	if err != nil {
		return hsm.ARQCCheck{}, err
	}
	chk := hsm.ARQCCheck{CVN: c.CVN, PAN: c.PAN, PSN: c.PSN}
	d := &chk.Data
	putBCD(d.Amount[:], uint64(t.Amount))
	putBCD(d.Currency[:], uint64(t.Currency))
	d.TermCountry = d.Currency
	d.Date, d.TxnType, d.UN = t.Date, t.Type, t.UN
	d.AIP = [2]byte{0x18, 0x00}
	binary.BigEndian.PutUint16(d.ATC[:], t.ATC)
	d.IAD = iad
	if chk.ARQC, _, err = hsm.ComputeARQC(c.IMK, &chk); err != nil {
		return chk, err
	}
	return chk, nil
}

// ICC is field 55 for the card and transaction: the data objects the ARQC
// covers, the PAN sequence number and the ARQC (9F26), with 9F27 (ARQC).
func ICC(c Card, t Txn) ([]byte, error) {
	chk, err := Check(c, t)
	if err != nil {
		return nil, err
	}
	d := &chk.Data
	var out []byte
	for _, o := range []struct {
		tag emv.Tag
		v   []byte
	}{
		{emv.TagAmount, d.Amount[:]}, {emv.TagAmountOther, d.AmountOther[:]}, {emv.TagTermCountry, d.TermCountry[:]},
		{emv.TagTVR, d.TVR[:]}, {emv.TagCurrency, d.Currency[:]}, {emv.TagTxnDate, d.Date[:]},
		{emv.TagTxnType, []byte{d.TxnType}}, {emv.TagUnpredictable, d.UN[:]}, {emv.TagAIP, d.AIP[:]},
		{emv.TagATC, d.ATC[:]}, {emv.TagIAD, d.IAD}, {emv.TagPANSequence, []byte{c.PSN}},
		{emv.TagCID, []byte{0x80}}, {emv.TagARQC, chk.ARQC[:]},
	} {
		if out, err = emv.AppendTLV(out, o.tag, o.v); err != nil {
			return nil, fmt.Errorf("chipcard: %v: %w", o.tag, err)
		}
	}
	return out, nil
}

// putBCD writes x as BCD into b, right-aligned.
func putBCD(b []byte, x uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte(x%10) | byte(x/10%10)<<4
		x /= 100
	}
}
