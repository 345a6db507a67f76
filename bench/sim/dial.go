package sim

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// Dialling mode: a network that opens the connection to the switch
// (issuer-initiated links, a destination's listen addresses) rather than
// wait for it. The connections it dials are served exactly as accepted
// ones (the same reader, writer, rules and faults); Dial only makes them,
// signs them on when Config.SignOn is set, and dials again after
// Config.Redial when one ends, until Close.

// defaultRedial is the wait before dialling again: a switch that restarts
// is back within a second or two, and a dead address is not hammered.
const defaultRedial = time.Second

// dialTimeout bounds one dial: a loopback or LAN peer answers in far less.
const dialTimeout = 5 * time.Second

// Dial makes an issuer that connects to addr (a switch's destination
// listener) instead of listening, keeping Config.DialConns connections
// there. It returns at once: the connections are dialled, and dialled
// again, in the background until Close.
func Dial(addr string, cfg Config) (*Issuer, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("sim: dial %q: %v", addr, err)
	}
	is, err := New(cfg)
	if err != nil {
		return nil, err
	}
	is.addr = addr
	for range is.cfg.DialConns {
		is.wg.Add(1)
		go is.dialLoop(addr)
	}
	return is, nil
}

// dialLoop keeps one connection to addr until Close.
func (is *Issuer) dialLoop(addr string) {
	defer is.wg.Done()
	for {
		nc, err := is.dial(addr)
		if err == nil {
			is.stats.dialled.Add(1)
			if c := is.track(nc); c != nil {
				if is.cfg.SignOn {
					c.sendNet(netSignOn)
				}
				select {
				case <-c.done:
				case <-is.stop:
					return
				}
			}
		}
		t := time.NewTimer(is.cfg.Redial)
		select {
		case <-is.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// dial makes one connection to addr, over TLS when the configuration says.
func (is *Issuer) dial(addr string) (net.Conn, error) {
	if is.cfg.TLS == nil {
		return net.DialTimeout("tcp", addr, dialTimeout)
	}
	return tls.DialWithDialer(&net.Dialer{Timeout: dialTimeout}, "tcp", addr, is.cfg.TLS)
}

// SignOn sends an 0800 sign-on (70 = 001) on every open connection and
// returns how many it was sent on; their 0810s with 00 are counted
// (Stats.NetAnswered).
func (is *Issuer) SignOn() int { return is.sendNetAll(netSignOn) }

// SignOff sends an 0800 sign-off (70 = 002) on every open connection, as
// SignOn.
func (is *Issuer) SignOff() int { return is.sendNetAll(netSignOff) }

func (is *Issuer) sendNetAll(code int) int {
	is.mu.Lock()
	conns := make([]*conn, 0, len(is.conns))
	for c := range is.conns {
		conns = append(conns, c)
	}
	is.mu.Unlock()
	n := 0
	for _, c := range conns {
		if c.sendNet(code) {
			n++
		}
	}
	return n
}

// sendNet queues an 0800 with network code code on c, remembering its STAN
// to count its answer.
func (c *conn) sendNet(code int) bool {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	stan := c.is.stan.Add(1)%999999 + 1
	var err error
	c.netMsg, err = c.is.netRequest(&c.netBuilder, c.netMsg[:0], time.Now(), stan, code, nil)
	if err != nil {
		return false // the dialect was checked for 11 and 70 (or 60): not reached
	}
	c.netSTAN.Store(stan)
	return c.send(c.netMsg, 1)
}

// answeredNet counts an 0810 with 00 that answers c's own sign-on or
// sign-off (reader only).
func (c *conn) answeredNet(v *codec.View) bool {
	want := c.netSTAN.Load()
	if want == 0 || v.MTI() != mti0810 {
		return false
	}
	if stan, ok := v.STAN(); !ok || stan != want {
		return false
	}
	if bytes.Equal(v.AppendText(c.scratch[:0], codec.FieldResponseCode), code00[:]) {
		c.is.stats.netAnswered.Add(1)
	}
	return true
}

// netRequest appends a framed 0800 of the simulator's own to dst: 7 (now,
// where the dialect has it), 11, the fields more adds (in field order,
// between 11 and 70: a key change's 48 and 53), and the network code in 70
// (UnionPay: in 60.3, as the switch sends it).
func (is *Issuer) netRequest(b *codec.Builder, dst []byte, now time.Time, stan uint32, code int, more func(*codec.Builder)) ([]byte, error) {
	var tpdu [codec.TPDULen]byte
	start := len(dst)
	frame := is.framing.Reserve(dst, tpdu[:])
	b.Begin(is.dialect, frame, codec.MTI{'0', '8', '0', '0'}, nil)
	if is.dialect.Field(codec.FieldTransmission) != nil {
		u := now.UTC()
		b.Uint(codec.FieldTransmission, uint64(u.Month())*1e8+uint64(u.Day())*1e6+uint64(u.Hour())*1e4+uint64(u.Minute())*100+uint64(u.Second()))
	}
	b.Uint(codec.FieldSTAN, uint64(stan))
	if more != nil {
		more(b)
	}
	if is.dialect.Field(codec.FieldNetworkCode) != nil {
		b.Uint(codec.FieldNetworkCode, uint64(code))
	} else {
		b.String(60, fmt.Sprintf("00000000%03d", code)) // 60.3: the code, as the switch sends it
	}
	out, err := b.Finish()
	if err != nil {
		return dst, err
	}
	return is.framing.Seal(out, start)
}

// checkDial checks the dialling keys of cfg (defaults filled) for dialect d.
func checkDial(cfg Config, d *codec.Dialect) error {
	if cfg.DialConns < 0 || cfg.DialConns > dialConnsMax {
		return fmt.Errorf("sim: DialConns %d must be 0 to %d", cfg.DialConns, dialConnsMax)
	}
	if cfg.Redial < 0 {
		return errors.New("sim: Redial must not be negative")
	}
	if cfg.SignOn && (d.Field(codec.FieldSTAN) == nil || (d.Field(codec.FieldNetworkCode) == nil && d.Field(60) == nil)) {
		return fmt.Errorf("sim: sign-on: dialect %s has no field 11, or neither 70 nor 60", d.Name)
	}
	return nil
}

// dialConnsMax bounds the connections one dialling issuer keeps: a switch
// destination holds at most 64.
const dialConnsMax = 64
