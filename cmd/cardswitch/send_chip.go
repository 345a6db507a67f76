package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cardswitch/cardswitch/bench"
	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/codec/emv"
	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/chipcard"
	"github.com/cardswitch/cardswitch/internal/client"
)

// demoChipPAN is the demo chip card send --chip uses without --pan (Visa
// CVN 10; 4761739001010127 is the CVN 18 one).
const demoChipPAN = "4761739001010119"

// sendChip plays the chip card: field 55 with an ARQC from the card's
// profile (cvn, and the IMK decrypted under the Thales test LMK, as the
// card was personalised), for the message's amount, currency and date.
// The ARQC covers the ATC (--atc; by default the card's next one in the
// ledger bench keeps them in, so that sends and bench runs move the card's
// counter forward together; the STAN's low 16 bits when no ledger can be
// kept).
type sendChip struct {
	card chipcard.Card
	chk  hsm.ARQCCheck
}

func newSendChip(f *sendFlags, m *codec.Message, now time.Time) (*sendChip, error) {
	c, err := loadConfig(f.config)
	if err != nil {
		return nil, err
	}
	pan := m.Fields["2"]
	card, ok := c.issuer.Card([]byte(pan))
	if !ok {
		return nil, usagef("--chip: card %s is not in the issuer data", codec.MaskPAN(pan))
	}
	p := c.issuer.Profile(card.ProfileName())
	if p.EMV == nil {
		return nil, usagef("--chip: card %s's profile %s has no emv settings (not a chip card)", codec.MaskPAN(pan), p.Name)
	}
	imk, err := hsm.ThalesTestLMK().DecryptKey(hsm.KeyTypeMKAC, p.EMV.IMK)
	if err != nil {
		return nil, fmt.Errorf("--chip: profile %s's IMK under the test LMK: %v", p.Name, err)
	}
	atc := f.atc
	if atc < 0 {
		atc = sendATC(pan, m.Fields["11"])
	}
	if atc > 0xFFFF {
		return nil, usagef("--atc %d: must be 0 to 65535", atc)
	}
	amount, _ := strconv.ParseInt(m.Fields["4"], 10, 64)
	cur, _ := strconv.Atoi(m.Fields["49"])
	var date [3]byte
	if b, err := hex.DecodeString(now.Format("060102")); err == nil {
		copy(date[:], b)
	}
	txType := byte(0x00)
	if proc := m.Fields["3"]; len(proc) >= 2 {
		if b, err := hex.DecodeString(proc[:2]); err == nil {
			txType = b[0]
		}
	}
	var un [4]byte // the terminal's unpredictable number
	if _, err := rand.Read(un[:]); err != nil {
		return nil, err
	}
	s := &sendChip{card: chipcard.Card{PAN: pan, PSN: 0x01, CVN: cvnNamed(p.EMV.CVN), IMK: imk}}
	tx := chipcard.Txn{Amount: amount, Currency: uint16(cur), Date: date, Type: txType, UN: un, ATC: uint16(atc)}
	icc, err := chipcard.ICC(s.card, tx)
	if err != nil {
		return nil, fmt.Errorf("--chip: %v", err)
	}
	if s.chk, err = chipcard.Check(s.card, tx); err != nil {
		return nil, fmt.Errorf("--chip: %v", err)
	}
	m.Fields["55"] = strings.ToUpper(hex.EncodeToString(icc))
	return s, nil
}

// sendATC is the card's next ATC from the ledger, or the STAN's low 16
// bits when the ledger cannot be kept (or the card has used them all: the
// switch will refuse it, and says so).
func sendATC(pan, stan string) int {
	if l, err := stanLedger(); err == nil {
		if first, got, err := l.ReserveATC(bench.ATCKey(pan), 1); err == nil && got == 1 {
			return int(first)
		}
	}
	n, _ := strconv.Atoi(stan)
	return n & 0xFFFF
}

// cvnNamed is a profile's cvn as the HSM's version.
func cvnNamed(n int) hsm.CVN {
	return map[int]hsm.CVN{10: hsm.VisaCVN10, 18: hsm.VisaCVN18, 16: hsm.MChipCVN16, 17: hsm.MChipCVN17}[n]
}

// check authenticates the reply's tag 91 as the card would: the lines to
// print (none when the reply has no field 55: a wrong ARQC's decline, a
// 30 or a 96), and an error when the ARPC is not the issuer's.
func (s *sendChip) check(r *client.Reply) ([]string, error) {
	if !r.View.Has(codec.FieldEMV) {
		return nil, nil
	}
	raw, err := r.View.EMV(nil)
	if err != nil {
		return nil, fmt.Errorf("field 55 of the reply: %v", err)
	}
	var icc emv.ICC
	if err := icc.Parse(raw); err != nil {
		return nil, fmt.Errorf("field 55 of the reply: %v", err)
	}
	v, ok := icc.Get(emv.TagARPCResponse)
	if !ok {
		return nil, fmt.Errorf("field 55 of the reply has no tag 91")
	}
	keys, err := hsm.DeriveARQCKeys(s.card.IMK, &s.chk)
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("tag 91  %X  (ATC %X)", v, s.chk.Data.ATC)
	var want []byte
	var how string
	if s.card.CVN == hsm.VisaCVN18 {
		if len(v) < 8 {
			return []string{head}, fmt.Errorf("tag 91 is too short for ARPC method 2 (ARPC and CSU)")
		}
		csu := [4]byte(v[4:8])
		a, err := hsm.ARPCMethod2(keys.Session, s.chk.ARQC, csu, v[8:])
		if err != nil {
			return []string{head}, err
		}
		want, how = append(a[:], v[4:]...), fmt.Sprintf("method 2, CSU %X", csu)
	} else {
		code := r.View.AppendText(nil, codec.FieldResponseCode)
		if len(code) != 2 {
			return []string{head}, fmt.Errorf("the reply has no response code for the ARPC")
		}
		a, err := hsm.ARPCMethod1(keys.ICCMaster, s.chk.ARQC, [2]byte(code))
		if err != nil {
			return []string{head}, err
		}
		want, how = append(a[:], code...), fmt.Sprintf("method 1, ARC %X", code)
	}
	if !bytes.Equal(v, want) {
		return []string{head}, fmt.Errorf("the ARPC does not authenticate the issuer: the card expects tag 91 %X", want)
	}
	return []string{head, fmt.Sprintf("ARPC OK (%s: %s)", s.card.CVN, how)}, nil
}
