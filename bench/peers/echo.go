package peers

import (
	"bufio"
	"context"
	"errors"
	"net"

	"github.com/cardswitch/cardswitch/bench"
	"github.com/cardswitch/cardswitch/codec"
)

// echoBufferBytes sizes each connection's read and write buffers: several
// hundred typical frames per system call, and always more than the largest
// frame (header + codec.DefaultMaxFrame), so a whole frame fits in the read
// buffer.
const echoBufferBytes = 64 << 10

// Echo is the ceiling: a TCP server with the given framing that writes
// every frame back unchanged, without decoding it.
func Echo(framing string) bench.Target {
	return bench.Target{
		Name:        "echo",
		Echo:        true,
		Description: "raw TCP echo (" + framing + "): cuts each frame and writes it back unchanged, no decoding; the machine's ceiling",
		Start: func(ctx context.Context) (string, func(), error) {
			f, err := parseFraming(framing)
			if err != nil {
				return "", nil, err
			}
			return newServer(func(c net.Conn) { echoConn(c, f) }).listen(ctx)
		},
	}
}

// parseFraming reads a framing name with the switch's default link maximum.
func parseFraming(name string) (codec.Framing, error) {
	f, err := codec.ParseFraming(name)
	if err != nil {
		return f, err
	}
	f.MaxFrame = codec.DefaultMaxFrame // as the switch's links; see doc.go
	return f, nil
}

// echoConn serves one connection until it ends or sends a bad length
// header. Replies are batched: frames are copied into the writer while
// complete ones remain in the read buffer, and the writer is flushed only
// before the reader has to wait for the network.
func echoConn(c net.Conn, f codec.Framing) {
	r := bufio.NewReaderSize(c, echoBufferBytes)
	w := bufio.NewWriterSize(c, echoBufferBytes)
	for {
		buf, _ := r.Peek(r.Buffered()) // never fails: the bytes are buffered
		_, n, err := f.Next(buf)
		if err == nil {
			if _, err := w.Write(buf[:n]); err != nil {
				return
			}
			r.Discard(n) // never fails: n <= Buffered
			continue
		}
		if !errors.Is(err, codec.ErrNeedMore) {
			// Too large or malformed header: answer what came before it,
			// then close before buffering any of the frame.
			w.Flush()
			return
		}
		if w.Buffered() > 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
		// Wait for at least one more byte. A frame needs at most
		// header + maximum bytes, under the buffer size, so this never
		// asks for more than the buffer holds.
		if _, err := r.Peek(len(buf) + 1); err != nil {
			return
		}
	}
}
