package sim

import (
	"errors"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/hsm"
)

// Network management codes (field 70; UnionPay: 60.3).
const (
	netSignOn  = 1
	netSignOff = 2
	netEcho    = 301
)

var (
	code00 = [2]byte{'0', '0'}
	code12 = [2]byte{'1', '2'} // invalid transaction: an unknown network management code
	code30 = [2]byte{'3', '0'} // format error
	code55 = [2]byte{'5', '5'} // incorrect PIN
	code96 = [2]byte{'9', '6'} // system malfunction: a reply that cannot be built
)

// networkCode answers an 0800 as a host does: 00 to sign-on, sign-off and
// echo test, 12 to another code, 30 without one.
func networkCode(d *codec.Dialect, v *codec.View) [2]byte {
	code, ok := v.NetworkCode()
	if !ok && d.Name == codec.CUPPOS {
		code, ok = codec.CUPNetworkCode(v)
	}
	switch {
	case !ok:
		return code30
	case code == netSignOn, code == netSignOff, code == netEcho:
		return code00
	}
	return code12
}

var mti0810 = codec.MTI{'0', '8', '1', '0'}

// echoTest appends a framed echo test (0800: 7, 11, 70 = 301) to dst, with
// the transmission time now in UTC and the issuer's next STAN. A TPDU, if
// the framing has one, is zeros: the simulator has no address of its own.
func (is *Issuer) echoTest(b *codec.Builder, dst []byte, now time.Time) ([]byte, error) {
	return is.netRequest(b, dst, now, is.stan.Add(1)%999999+1, netEcho, nil)
}

// replyParts is what a reply carries beyond the request's echo.
type replyParts struct {
	code     [2]byte
	approval []byte  // 38 when the code is 00; nil: none
	mac      *macKey // nil: no MAC
	wrongMAC bool
}

// buildReply appends the framed reply to v's request to dst: the TPDU
// swapped, the dialect's header echoed, the response MTI, the echoed
// fields, 38 and 39, and the MAC last when the link uses one.
func (is *Issuer) buildReply(b *codec.Builder, dst, tpdu []byte, v *codec.View, p *replyParts) ([]byte, error) {
	var swapped [codec.TPDULen]byte
	var tp []byte
	if len(tpdu) == codec.TPDULen {
		codec.ReplyTPDU(&swapped, tpdu)
		tp = swapped[:]
	}
	start := len(dst)
	frame := is.framing.Reserve(dst, tp)
	b.Begin(is.dialect, frame, v.MTI().Response(), v.Header())
	macID := 0
	if p.mac != nil {
		macID = is.macField(v)
	}
	for id := 2; id <= codec.MaxField; id++ {
		switch {
		case id == macID:
			if err := appendMAC(b, id, p.mac, p.wrongMAC); err != nil {
				return dst, err
			}
		case id == codec.FieldApproval:
			if p.code == code00 && p.approval != nil && is.dialect.Field(id) != nil {
				b.Binary(id, p.approval)
			}
		case id == codec.FieldResponseCode:
			b.Binary(id, p.code[:])
		case is.echo[id]:
			b.Copy(v, id)
		}
	}
	out, err := b.Finish()
	if err != nil {
		return dst, err
	}
	return is.framing.Seal(out, start)
}

// macField is where the reply's MAC goes: 128 when it has secondary fields
// (the MAC must cover them), else 64.
func (is *Issuer) macField(v *codec.View) int {
	if is.dialect.Field(codec.FieldMAC2) != nil {
		for id := 65; id < codec.FieldMAC2; id++ {
			if is.echo[id] && v.Has(id) {
				return codec.FieldMAC2
			}
		}
	}
	return codec.FieldMAC
}

// macBytes is the MAC a field 64 or 128 carries: the leftmost 8 bytes.
const macBytes = 8

// appendMAC MACs the reply so far and appends the MAC as field id; a wrong
// one is the right MAC of other data (the last byte flipped), so it has
// the right form and fails only the check.
func appendMAC(b *codec.Builder, id int, k *macKey, wrong bool) error {
	in, err := b.MACInput(id)
	if err != nil {
		return err
	}
	if wrong {
		in = append([]byte(nil), in...)
		in[len(in)-1] ^= 0xFF
	}
	mac, err := hsm.GenerateMAC(k.key, k.alg, k.pad, in)
	if err != nil {
		return err
	}
	b.Binary(id, mac[:min(len(mac), macBytes)])
	return nil
}

// errNoMAC: the request carries no MAC where the link requires one.
var errNoMAC = errors.New("sim: no MAC")

// checkMAC verifies the request's MAC (64, or 128 with secondary fields).
func checkMAC(v *codec.View, k *macKey, scratch []byte) error {
	in, ok := v.MACInput()
	if !ok {
		return errNoMAC
	}
	return hsm.VerifyMAC(k.key, k.alg, k.pad, in, v.MAC(scratch[:0]))
}

// approvalCode writes six digits drawn from the request's identity: the
// same request gets the same code.
func approvalCode(dst *[6]byte, seed, id uint64) {
	x := draw(seed, saltApproval, id) % 1_000_000
	for i := 5; i >= 0; i-- {
		dst[i] = '0' + byte(x%10)
		x /= 10
	}
}
