package engine

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// expectEOF reads from c until the server closes it: the read must end in
// EOF (or a reset), never in the deadline, which is generous and asserts
// no duration.
func expectEOF(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue // a reply to an earlier message, if any
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: the connection is still open", what)
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			t.Logf("%s: closed with %v", what, err)
		}
		return
	}
}

// A message that cannot be answered (its MTI does not decode, or it is not
// a request and does not decode) is logged as "closing" and closes the
// connection, on every built-in dialect.
func TestUnanswerableMessageCloses(t *testing.T) {
	for _, name := range codec.Builtins() {
		t.Run(name, func(t *testing.T) {
			d, _ := codec.Lookup(name)
			ts := startServer(t, nil, func(c *Config) {
				c.Links[0].Dialect = name
				if name == codec.CUPPOS {
					c.Links[0].Framing = "binary2+tpdu"
				}
			})
			// a response with a bad field: nothing to answer it with
			resp, err := d.Encode(codec.Message{MTI: "0210", Fields: map[string]string{
				"3": "000000", "11": "000042", "39": "00", "41": "TERM0001"}})
			if err != nil {
				t.Fatal(err)
			}
			var v codec.View
			if err := d.Decode(&v, resp); err != nil {
				t.Fatal(err)
			}
			if w := v.Wire(11); d.Field(11).Enc == codec.EncASCII {
				w[0] = 'X'
			} else {
				w[0] = 0xA0
			}
			// an MTI that is not four digits
			badMTI := append(make([]byte, d.HeaderLen), resp[d.HeaderLen:]...)
			if d.Field(11).Enc == codec.EncASCII {
				badMTI[d.HeaderLen] = 'X'
			} else {
				badMTI[d.HeaderLen] = 0xAA
			}
			for _, m := range []struct {
				what string
				msg  []byte
			}{{"bad MTI", badMTI}, {"bad response", resp}} {
				c := ts.dial(t)
				if err := c.Write(m.msg); err != nil {
					t.Fatal(err)
				}
				expectEOF(t, c.Raw(), m.what)
			}
		})
	}
}
