package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/codec/emv"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/hsm"
)

// The chip path of the authorization stage: for a chip or contactless
// request of a chip card (auth.NeedsARQC), field 55 is read (codec/emv,
// strictly), the ARQC verified with the HSM before the authorizer takes
// any lock (bounded by the link's hsm_timeout, as a PIN check), and the
// reply carries the ARPC (tag 91) for the code it answers: the approval's
// comes with the verification, a decline's is a second HSM call.

// chipCheck is one request's cryptogram check.
type chipCheck struct {
	emv   *issuer.EMV // the card's profile's settings (nil: no check)
	imk   hsm.KeyRef
	check hsm.ARQCCheck
	arpc  []byte // the approval's ARPC, from the verification
	ok    bool   // the ARQC verified
	raw   [emv.DataBytesMax]byte
	icc   emv.ICC
}

// Card status update of ARPC method 2 (Visa CVN 18): byte 2 bit 8 says the
// issuer approves; nothing else is updated.
var (
	csuApproved = [4]byte{0x00, 0x80, 0x00, 0x00}
	csuDeclined = [4]byte{}
)

// cvnOf is a profile's cryptogram version (issuer.EMV.CVN) for the HSM.
func cvnOf(n int) hsm.CVN {
	switch n {
	case 10:
		return hsm.VisaCVN10
	case 18:
		return hsm.VisaCVN18
	case 16:
		return hsm.MChipCVN16
	case 17:
		return hsm.MChipCVN17
	}
	return 0
}

// checkARQC verifies r's cryptogram when the card's profile asks for it,
// and sets r.ARQC, r.ARQCFor and r.ATC for the decision.
func (s AuthStage) checkARQC(t *Txn, r *auth.Request, ch *chipCheck) {
	data := s.A.Data()
	c, ok := data.Card(r.PAN)
	if !ok {
		return
	}
	p := data.Profile(c.ProfileName())
	if !auth.NeedsARQC(r, p) {
		return
	}
	ch.emv, r.ARQCFor = p.EMV, p.EMV
	ch.imk = hsm.KeyRef{Type: hsm.KeyTypeMKAC, Cryptogram: p.EMV.IMK}
	r.ARQC = ch.verify(t, r.PAN)
	r.ATC = binary.BigEndian.Uint16(ch.check.Data.ATC[:])
}

// verify reads field 55 and asks the HSM: ARQCFormat for a field 55 that
// is missing, does not parse or lacks a data object the cryptogram
// covers; ARQCWrong for a cryptogram that does not verify, or whose IAD
// names another version than the profile's (it cannot be the profile's
// card's); ARQCSystem when the HSM fails.
func (ch *chipCheck) verify(t *Txn, pan []byte) auth.ARQCResult {
	v := &t.View
	if !v.Has(codec.FieldEMV) {
		return auth.ARQCFormat
	}
	raw, err := v.EMV(ch.raw[:0])
	if err != nil || len(raw) == 0 {
		return auth.ARQCFormat
	}
	if err := ch.icc.Parse(raw); err != nil {
		return auth.ARQCFormat
	}
	c := &ch.check
	c.CVN, c.PAN = cvnOf(ch.emv.CVN), string(pan)
	if c.Data, err = EMVDataFromICC(&ch.icc); err != nil {
		return auth.ARQCFormat
	}
	arqc, err := ch.icc.Need(emv.TagARQC)
	if err != nil {
		return auth.ARQCFormat
	}
	copy(c.ARQC[:], arqc)
	if psn, ok := ch.icc.Get(emv.TagPANSequence); ok {
		c.PSN = psn[0]
	}
	c.ARPC = &hsm.ARPCData{ARC: [2]byte{'0', '0'}, CSU: csuApproved}
	arpc, err := t.VerifyARQC(ch.imk, *c)
	switch {
	case err == nil:
		ch.ok, ch.arpc = true, arpc
		return auth.ARQCVerified
	case errors.Is(err, hsm.ErrARQCMismatch), errors.Is(err, hsm.ErrEMVData):
		return auth.ARQCWrong
	}
	t.Err = fmt.Errorf("%w: ARQC verification: %v", ErrSystem, err)
	return auth.ARQCSystem
}

// addARPC puts tag 91 in the reply's field 55 for the code t answers,
// after a verified ARQC: the ARPC and the ARC (method 1: Visa CVN 10,
// M/Chip) or the CSU (method 2: Visa CVN 18). Never on a 96 (the reply
// builder drops it should the reply become one later). A decline's ARPC
// is a second HSM call; should it fail, the decline goes without one (the
// card declines all the same).
func (ch *chipCheck) addARPC(t *Txn) {
	if !ch.ok || t.Code == [2]byte{'9', '6'} || t.Link.dialect.Field(codec.FieldEMV) == nil {
		return
	}
	c := &ch.check
	arpc := ch.arpc
	if !t.Approved() {
		c.ARPC = &hsm.ARPCData{ARC: t.Code, CSU: csuDeclined}
		var err error
		if arpc, err = t.VerifyARQC(ch.imk, *c); err != nil {
			t.Link.srv.log.Warn().Err(err).Str("link", t.Link.cfg.Name).Msg("ARPC for a decline failed: the decline goes without tag 91")
			return
		}
	}
	value := make([]byte, 0, 16)
	value = append(value, arpc...)
	if c.CVN == hsm.VisaCVN18 {
		value = append(value, c.ARPC.CSU[:]...)
	} else {
		value = append(value, c.ARPC.ARC[:]...)
	}
	tlv, err := emv.AppendTLV(make([]byte, 0, 2+len(value)), emv.TagARPCResponse, value)
	if err != nil {
		return // 8 to 16 bytes: always fits
	}
	t.addReplyField(codec.FieldEMV, tlv, true)
}

// EMVDataFromICC copies the data elements an ARQC covers out of field 55
// (the IAD stays a slice of icc's bytes). A missing one is an *emv.Error
// naming its tag.
func EMVDataFromICC(icc *emv.ICC) (hsm.EMVData, error) {
	var d hsm.EMVData
	for _, f := range [...]struct {
		tag emv.Tag
		dst []byte
	}{
		{emv.TagAmount, d.Amount[:]}, {emv.TagAmountOther, d.AmountOther[:]}, {emv.TagTermCountry, d.TermCountry[:]},
		{emv.TagTVR, d.TVR[:]}, {emv.TagCurrency, d.Currency[:]}, {emv.TagTxnDate, d.Date[:]},
		{emv.TagUnpredictable, d.UN[:]}, {emv.TagAIP, d.AIP[:]}, {emv.TagATC, d.ATC[:]},
	} {
		v, err := icc.Need(f.tag)
		if err != nil {
			return d, err
		}
		copy(f.dst, v) // Parse checked the length
	}
	v, err := icc.Need(emv.TagTxnType)
	if err != nil {
		return d, err
	}
	d.TxnType = v[0]
	d.IAD, err = icc.Need(emv.TagIAD)
	return d, err
}

// ErrKCV is wrapped by CheckEMVKeys for a key whose check value is not
// the one the issuer data gives.
var ErrKCV = errors.New("engine: key check value mismatch")

// KCVer computes a key's check value (hsm.Soft and the payShield client).
type KCVer interface {
	KCV(ctx context.Context, key hsm.KeyRef) (string, error)
}

// CheckEMVKeys compares each chip profile's IMK with its imk_kcv through
// the HSM: a key pasted into the wrong profile, or damaged, is refused
// when the data is loaded rather than declining every card of the
// profile. A mismatch wraps ErrKCV; an HSM that cannot answer is its error.
func CheckEMVKeys(ctx context.Context, h KCVer, d *issuer.Data) error {
	for i := range d.Profiles {
		p := &d.Profiles[i]
		if p.EMV == nil {
			continue
		}
		got, err := h.KCV(ctx, hsm.KeyRef{Type: hsm.KeyTypeMKAC, Cryptogram: p.EMV.IMK})
		if err != nil {
			return fmt.Errorf("profiles[%d] (%s).emv.imk: %w", i, p.Name, err)
		}
		if len(got) < 6 || !strings.EqualFold(got[:6], p.EMV.IMKKCV) {
			return fmt.Errorf("%w: profiles[%d] (%s).emv.imk has check value %s, imk_kcv says %s", ErrKCV, i, p.Name, got, p.EMV.IMKKCV)
		}
	}
	return nil
}
