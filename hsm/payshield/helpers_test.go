package payshield

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// startServer runs a simulator on 127.0.0.1 and returns its address.
func startServer(t testing.TB, cfg ServerConfig) (*Server, string) {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = s.Serve(ln); close(done) }()
	t.Cleanup(func() { _ = s.Close(); <-done })
	return s, ln.Addr().String()
}

// rawConn is a bare framed connection for sending exact request bodies.
type rawConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

// send writes one message (header + command + body) and returns the reply
// after the header.
func (rc *rawConn) send(header, msg string) string {
	rc.t.Helper()
	rc.write(header + msg)
	return rc.read(header)
}

func (rc *rawConn) write(msg string) {
	rc.t.Helper()
	b := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if _, err := rc.c.Write(append(b, msg...)); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *rawConn) read(header string) string {
	rc.t.Helper()
	_ = rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var lp [2]byte
	if _, err := io.ReadFull(rc.r, lp[:]); err != nil {
		rc.t.Fatal(err)
	}
	b := make([]byte, binary.BigEndian.Uint16(lp[:]))
	if _, err := io.ReadFull(rc.r, b); err != nil {
		rc.t.Fatal(err)
	}
	if header != "" && !strings.HasPrefix(string(b), header) {
		rc.t.Fatalf("reply header %q, want %q", b[:min(len(b), len(header))], header)
	}
	return string(b[len(header):])
}
