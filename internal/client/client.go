// Package client is a small ISO 8583 TCP client over the codec's framing,
// for the send tool, tests and the load generator: write framed messages,
// read framed replies, match replies to requests by STAN.
package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// Conn is one client connection. It is not safe for concurrent use; pipeline
// by calling Write several times, then Read.
type Conn struct {
	nc      net.Conn
	dialect *codec.Dialect
	framing codec.Framing
	tpdu    []byte
	r       *codec.Reader
	out     []byte
}

// Dial connects to addr. tpdu is required for a +tpdu framing.
func Dial(addr string, d *codec.Dialect, f codec.Framing, tpdu []byte, timeout time.Duration) (*Conn, error) {
	if f.TPDU && len(tpdu) != codec.TPDULen {
		return nil, errors.New("client: the framing needs a 5-byte TPDU")
	}
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return New(nc, d, f, tpdu), nil
}

// DialTLS is Dial over TLS with cfg (internal/tlsfiles builds one from
// files): the handshake is done, within timeout, when it returns.
func DialTLS(addr string, d *codec.Dialect, f codec.Framing, tpdu []byte, timeout time.Duration, cfg *tls.Config) (*Conn, error) {
	if f.TPDU && len(tpdu) != codec.TPDULen {
		return nil, errors.New("client: the framing needs a 5-byte TPDU")
	}
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return New(nc, d, f, tpdu), nil
}

// New wraps a connection already made (from a chosen local address, say).
func New(nc net.Conn, d *codec.Dialect, f codec.Framing, tpdu []byte) *Conn {
	if f.MaxFrame == 0 {
		f.MaxFrame = 65535
	}
	return &Conn{nc: nc, dialect: d, framing: f, tpdu: tpdu, r: codec.NewReader(nc, f)}
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Raw returns the network connection (for tests that misbehave on purpose).
func (c *Conn) Raw() net.Conn { return c.nc }

// Write frames and sends one message (header, MTI, bitmap, fields).
func (c *Conn) Write(msg []byte) error {
	var err error
	if c.out, err = c.framing.Append(c.out[:0], c.tpdu, msg); err != nil {
		return err
	}
	_, err = c.nc.Write(c.out)
	return err
}

// Reply is one decoded reply; View points into Raw.
type Reply struct {
	TPDU []byte
	Raw  []byte
	View codec.View
}

// Read reads and decodes the next reply, waiting until the deadline.
func (c *Conn) Read(deadline time.Time) (*Reply, error) {
	if err := c.nc.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	fr, err := c.r.Next()
	if err != nil {
		return nil, err
	}
	r := &Reply{Raw: append([]byte(nil), fr.Msg...), TPDU: append([]byte(nil), fr.TPDU...)}
	if err := c.dialect.Decode(&r.View, r.Raw); err != nil {
		return r, fmt.Errorf("client: reply: %s", codec.DescribeError(c.dialect, err))
	}
	return r, nil
}

// RoundTrip sends msg and reads one reply.
func (c *Conn) RoundTrip(msg []byte, timeout time.Duration) (*Reply, error) {
	if err := c.nc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if err := c.Write(msg); err != nil {
		return nil, err
	}
	return c.Read(time.Now().Add(timeout))
}
