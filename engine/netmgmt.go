package engine

import "github.com/cardswitch/cardswitch/codec"

// Network management codes (field 70; China UnionPay: field 60.3).
const (
	netSignOn  = 1
	netSignOff = 2
	netEcho    = 301
)

// networkManagement answers an 0800 on the loop: echo test, sign-on and
// sign-off. UnionPay terminals sign on with an 0800 whose field 60 carries
// the network management code in digits 9 to 11.
func (l *Link) networkManagement(cs *connState, t *Txn) {
	v := &t.View
	code, ok := v.NetworkCode()
	if !ok && l.dialect.Name == codec.CUPPOS {
		code, ok = codec.CUPNetworkCode(v)
	}
	switch {
	case !ok:
		t.Fail(ErrFormat)
	case code == netEcho:
		t.SetCode("00")
	case code == netSignOff:
		cs.signedOn = false
		t.SetCode("00")
		l.log.Info().Str("remote", cs.remote).Msg("signed off")
	case code == netSignOn: // (UnionPay sign-ons, 1, 3 and 4, are answered by signOn on a worker)
		if id, reason := l.srv.refusedTerminal(v, l.cfg.Name); reason != "" {
			t.Fail(ErrSignOnRefused) // 58; the connection's state stays as it was
			l.signOnRefused(id, reason)
			break
		}
		cs.signedOn = true
		t.SetCode("00")
		l.log.Info().Str("remote", cs.remote).Msg("signed on")
	case code == netCutover: // only links with accept_cutover take it (link.go, cutover.go)
		t.Fail(ErrInvalidTxn)
		l.log.Debug().Str("remote", cs.remote).Msg("cutover 0800 refused: the link does not accept cutovers (links[].accept_cutover)")
	default:
		t.Fail(ErrInvalidTxn)
	}
	l.srv.respond(t)
	l.journalLocal(cs, t)
}
