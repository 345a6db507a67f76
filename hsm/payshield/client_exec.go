package payshield

import (
	"context"
	"errors"
	"fmt"
)

// callBytesPooledMax keeps calls with huge buffers (a long MAC) out of the pool.
const callBytesPooledMax = 4 << 10

// newCall returns a pooled call with the frame started: length
// placeholder, header placeholder and command code. Fields are appended
// to req.
func (c *Client) newCall(cmd string) *call {
	cl := c.calls.Get().(*call)
	cl.cmd = [2]byte{cmd[0], cmd[1]}
	cl.req = append(cl.req[:0], 0, 0)
	for range c.cfg.HeaderLen {
		cl.req = append(cl.req, '0')
	}
	cl.req = append(cl.req, cmd...)
	cl.err = nil
	return cl
}

// putCall returns a finished call to the pool.
func (c *Client) putCall(cl *call) {
	if cap(cl.req) <= callBytesPooledMax && cap(cl.resp) <= callBytesPooledMax {
		c.calls.Put(cl)
	}
}

// exec sends cl and returns the reply fields after the error code. A
// command whose connection breaks is retried once on a fresh connection:
// every command here is a pure function of its input (A0 makes another
// random key), so a repeat is harmless.
func (c *Client) exec(ctx context.Context, cl *call) ([]byte, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if !putLength(cl.req, c.cfg.FrameBytesMax) {
		return nil, ErrFrameTooLarge
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var cn *conn
		if cn, err = c.conn(ctx); err == nil {
			err = cn.roundTrip(ctx, cl)
		}
		if !errors.Is(err, ErrConnBroken) || c.closed.Load() {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return checkReply(cl)
}

// checkReply checks the response code and turns an error code into *Error.
func checkReply(cl *call) ([]byte, error) {
	r := cl.resp
	if len(r) < 4 || r[0] != cl.cmd[0] || r[1] != cl.cmd[1]+1 {
		return nil, fmt.Errorf("%w: %s answered %q", ErrProtocol, cl.cmd[:], r[:min(len(r), 4)])
	}
	if r[2] != '0' || r[3] != '0' {
		return nil, &Error{Command: string(cl.cmd[:]), Code: string(r[2:4])}
	}
	return r[4:], nil
}

// appendKey appends a key cryptogram field.
func appendKey(b []byte, cryptogram string) []byte { return append(b, cryptogram...) }
