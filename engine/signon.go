package engine

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/internal/logline"
)

// ErrSignOnRefused is a sign-on that may not sign the terminal on or
// change its keys: the terminal is not in the issuer data (or has no
// master key), is not active, does not belong to the link, signed on too
// often, or the sign-on is not authenticated as the link requires (58: not
// permitted to terminal). An unknown terminal gets the same 58 as a known
// one of another link, so that sign-ons cannot be used to find which
// terminal IDs exist.
var ErrSignOnRefused = errors.New("engine: sign-on refused")

// Sign-on authentication, per link (links[].sign_on_auth).
const (
	SignOnAuthNone   = "none"   // any sign-on from a terminal of the link is taken
	SignOnAuthMAC    = "mac"    // the 0800 carries a MAC (64) under the terminal's current MAC key on the link
	SignOnAuthSerial = "serial" // the 0800 carries the terminal's serial number (issuer data) in field 62
)

// signOnWindow is the span over which links[].sign_on_limit counts.
const signOnWindow = time.Minute

// maxSignOnTerminals bounds the limiter's table (about 64 bytes an entry:
// 16 MiB at most). Only terminals of the issuer data that name the link
// reach it, so the bound is only met by issuer data that large; then
// windows that ended are swept, and a terminal that still finds no room is
// refused (fail closed) until one ends.
const maxSignOnTerminals = 1 << 18

// signOnLimiter counts each terminal's sign-ons in a fixed window that
// begins at its first sign-on: at most limit per window. Sign-ons are rare
// and go to the workers, so one mutex is enough.
type signOnLimiter struct {
	limit int
	mu    sync.Mutex
	seen  map[string]signOnCount // mu guards seen
}

type signOnCount struct {
	began time.Time
	n     int
}

func newSignOnLimiter(limit int) *signOnLimiter {
	return &signOnLimiter{limit: limit, seen: map[string]signOnCount{}}
}

// allow counts one sign-on of terminal at now and reports whether it is
// within the limit.
func (l *signOnLimiter) allow(terminal string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.seen[terminal]
	if !ok || now.Sub(c.began) >= signOnWindow || now.Before(c.began) {
		if !ok && len(l.seen) >= maxSignOnTerminals {
			for id, e := range l.seen {
				if now.Sub(e.began) >= signOnWindow {
					delete(l.seen, id)
				}
			}
			if len(l.seen) >= maxSignOnTerminals {
				return false
			}
		}
		c = signOnCount{began: now}
	}
	if c.n >= l.limit {
		return false
	}
	c.n++
	l.seen[terminal] = c
	return true
}

// reasonInactive is why an inactive terminal's sign-on is refused.
const reasonInactive = "the terminal is not active (issuer data: terminals[].status)"

// reasonOtherLink is why a sign-on by a terminal of other links is refused.
const reasonOtherLink = "the terminal does not belong to the link (issuer data: terminals[].links)"

// admitSignOn decides whether t, a UnionPay sign-on by the terminal id
// names, may change its keys on t's link: the terminal is term (nil: not
// in the issuer data, or without a master key), it is active and names
// the link in the issuer data, it is within the link's sign_on_limit, and
// the sign-on is authenticated as the link's sign_on_auth asks. A refusal
// is logged (bounded) with the terminal and the reason.
func (s *Server) admitSignOn(t *Txn, id []byte, term *issuer.Terminal) error {
	l := t.Link
	reason := ""
	var err error
	switch {
	case term == nil:
		reason, err = "the terminal is not in the issuer data or has no master key", ErrSignOnRefused
	case term.Status != "active": // before the limiter: it spends no sign-on of the minute
		reason, err = reasonInactive, ErrSignOnRefused
	case !term.SignsOnAt(l.cfg.Name):
		reason, err = reasonOtherLink, ErrSignOnRefused
	case !l.signOns.allow(term.ID, s.clock.Now()):
		reason, err = "sign_on_limit reached", ErrSignOnRefused
	default:
		switch l.cfg.SignOnAuth {
		case SignOnAuthMAC:
			if err = s.checkMAC(t); err != nil {
				reason = "no MAC under the terminal's current key"
			}
		case SignOnAuthSerial:
			var buf [64]byte
			got := t.View.AppendBytes(buf[:0], 62)
			if term.Serial == "" || subtle.ConstantTimeCompare(bytes.TrimRight(got, " "), []byte(term.Serial)) != 1 {
				reason, err = "no matching serial number in field 62", ErrSignOnRefused
			}
		}
	}
	if err == nil {
		return nil
	}
	terminal := string(bytes.TrimRight(id, " ")) // passed the clear-text check (codec.CheckClearText): it may be logged
	if term != nil {
		terminal = term.ID
	}
	l.signOnRefused(terminal, reason)
	return fmt.Errorf("%w: %s", err, reason)
}

// signOnRefused counts and logs (bounded) a refused sign-on with the
// terminal and the reason.
func (l *Link) signOnRefused(terminal, reason string) {
	l.metrics.signOnRefused.Inc()
	if n, ok := l.line(lineSignOnRefused); ok {
		logline.Held(l.log.Warn().Str("terminal", terminal).Str("reason", reason), "suppressed", n).Msg("sign-on refused: keys unchanged")
	}
}

// refusedTerminal reports why a network management sign-on (0800, 70 =
// 001) on link is refused, and the terminal's ID: its field 41 names a
// terminal the issuer data holds as not active, or one whose requests are
// taken only on other links. A sign-on without 41, or naming a terminal
// the data does not hold (an acquirer host signs on for its terminals), is
// not refused: the financial requests that follow are checked terminal by
// terminal.
func (s *Server) refusedTerminal(v *codec.View, link string) (id, reason string) {
	if s.keys == nil || !v.Has(codec.FieldTerminal) {
		return "", ""
	}
	data := s.keys.data()
	if data == nil {
		return "", ""
	}
	var buf [16]byte
	term, ok := data.Terminal(v.TerminalID(buf[:0]))
	switch {
	case !ok:
		return "", ""
	case term.Status != "active":
		return term.ID, reasonInactive
	case !term.TakesRequestsAt(link):
		return term.ID, reasonOtherLink
	}
	return "", ""
}
