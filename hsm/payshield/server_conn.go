package payshield

import (
	"bufio"
	"net"
	"sync"
)

// handler executes one command: it reads the request fields from r and
// appends the reply fields (after the error code) to out. On error the
// appended bytes are dropped and the error's code is sent alone.
type handler func(s *Server, r *fieldReader, out []byte) ([]byte, error)

// serveConn reads frames and executes each on its own goroutine (up to
// InFlightMax at once), so replies may leave in a different order than
// the requests came: clients match them by header.
func (s *Server) serveConn(c net.Conn) {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		s.untrack(nil, c)
		<-s.sem
		s.wg.Done()
	}()
	var wmu sync.Mutex // guards writes to c
	slots := make(chan struct{}, s.cfg.InFlightMax)
	r := bufio.NewReaderSize(c, 4096)
	var buf []byte
	for {
		var err error
		buf, err = readFrame(r, buf, s.cfg.FrameBytesMax)
		if err != nil || len(buf) < s.cfg.HeaderLen+2 {
			return // EOF, a broken stream, or a frame too short to answer
		}
		msg := append([]byte(nil), buf...)
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			out := s.respond(msg)
			wmu.Lock()
			_, err := c.Write(out)
			wmu.Unlock()
			if err != nil {
				_ = c.Close()
			}
		}()
	}
}

// respond builds the whole framed reply to one framed request (without its
// length prefix): header echoed, response code, error code, fields.
func (s *Server) respond(msg []byte) []byte {
	hl := s.cfg.HeaderLen
	out := make([]byte, lengthPrefixBytes, 64)
	out = append(out, msg[:hl]...)
	out = s.execute(out, msg[hl:hl+2], msg[hl+2:])
	if !putLength(out, frameBytesLimit) {
		// Cannot happen: no reply is longer than its request plus 64 bytes
		// and requests are bounded by FrameBytesMax.
		out = out[:lengthPrefixBytes+hl+2]
		out = append(out, "15"...)
		putLength(out, frameBytesLimit)
	}
	return out
}

// execute appends the response code, error code and reply fields for one
// command. It recovers from a panic in a handler (a bug) by answering 15,
// so no input can take the simulator down.
func (s *Server) execute(out, cmd, body []byte) (res []byte) {
	rc := responseCode(cmd)
	out = append(out, rc[:]...)
	mark := len(out)
	defer func() {
		if recover() != nil {
			res = append(out[:mark], "15"...)
		}
	}()
	h, ok := s.handlers[string(cmd)]
	if !ok {
		return append(out, "68"...)
	}
	out = append(out, "00"...)
	r := fieldReader{b: body}
	res, err := h(s, &r, out)
	if err == nil {
		err = r.err()
	}
	if err != nil {
		return append(out[:mark], codeFor(err)...)
	}
	return res
}
