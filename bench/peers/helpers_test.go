package peers

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/bench"
	"github.com/cardswitch/cardswitch/codec"
)

// ioTimeout bounds every read and write in the tests, so a hang fails
// instead of stalling the run.
const ioTimeout = 20 * time.Second

// start brings a target up and stops it when the test ends.
func start(t *testing.T, target bench.Target) string {
	t.Helper()
	addr, stop, err := target.Start(context.Background())
	if err != nil {
		t.Fatalf("%s: start: %v", target.Name, err)
	}
	t.Cleanup(stop)
	return addr
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	return c
}

func mustDialect(t *testing.T, name string) *codec.Dialect {
	t.Helper()
	d, err := codec.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustFraming(t *testing.T, name string) codec.Framing {
	t.Helper()
	f, err := codec.ParseFraming(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// request0200 is a purchase with STAN stan; 18 and 22 are not echoed.
func request0200(stan int) codec.Message {
	return codec.Message{MTI: "0200", Fields: map[string]string{
		"2":  "4761739001010010",
		"3":  "000000",
		"4":  fmt.Sprintf("%012d", 100+stan),
		"7":  "0102030405",
		"11": fmt.Sprintf("%06d", stan),
		"12": "123456",
		"13": "0102",
		"18": "5999",
		"22": "051",
		"37": fmt.Sprintf("RRN%09d", stan),
		"41": "TERM0001",
		"42": "MERCHANT0000001",
		"49": "840",
	}}
}

var testTPDU = []byte{0x60, 0x00, 0x01, 0x00, 0x02}

// frame encodes m with the switch's codec and frames it.
func frame(t *testing.T, d *codec.Dialect, f codec.Framing, m codec.Message) []byte {
	t.Helper()
	msg, err := d.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	var tpdu []byte
	if f.TPDU {
		tpdu = testTPDU
	}
	out, err := f.Append(nil, tpdu, msg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pipeline writes frames on c from a second goroutine, keeping at most
// window unanswered, and calls read once per frame for its reply.
func pipeline(t *testing.T, c net.Conn, frames [][]byte, window int, read func(i int) error) error {
	slots := make(chan struct{}, window)
	werr := make(chan error, 1)
	stopWriting := make(chan struct{})
	defer close(stopWriting)
	go func() {
		for _, fr := range frames {
			select {
			case slots <- struct{}{}:
			case <-stopWriting:
				werr <- nil
				return
			}
			if _, err := c.Write(fr); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for i := range frames {
		if err := read(i); err != nil {
			return fmt.Errorf("reply %d: %w", i, err)
		}
		<-slots
	}
	return <-werr
}

// expectClosed waits for the server to close c: a read ends in EOF or a
// reset, not a timeout, and returns no bytes.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	n, err := c.Read(buf)
	if n != 0 {
		t.Fatalf("read %d bytes, want the connection closed", n)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open after 5s")
	}
	if err == nil { // EOF or a reset: either is a close
		t.Fatal("read returned no error")
	}
}
