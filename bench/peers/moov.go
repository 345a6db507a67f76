package peers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"
	iso8583errors "github.com/moov-io/iso8583/errors"

	"github.com/cardswitch/cardswitch/bench"
	"github.com/cardswitch/cardswitch/codec"
)

// inFlightMax bounds the requests one moov connection has read but not yet
// answered. iso8583-connection starts a goroutine per inbound message and
// would keep reading while replies cannot be written; at the bound the
// reader waits instead (TCP back-pressure on the client). 1024 is far above
// what a load run pipelines per connection and costs at most a few MiB.
const inFlightMax = 1024

// echoedFields are copied from request to reply when present.
var echoedFields = [...]int{2, 3, 4, 7, 11, 12, 13, 37, 41, 42, 49}

var (
	errNotRequest = errors.New("peers: MTI is not a request")
	errClosing    = errors.New("peers: connection closing")
)

// Moov is a peer switch built on moov-io/iso8583-connection and
// moov-io/iso8583 with the dialect's moov spec: it approves every request.
func Moov(dialect, framing string) bench.Target {
	return bench.Target{
		Name: "moov",
		Description: "moov-io/iso8583-connection server (" + dialect + ", " + framing +
			"): unpacks each request into an iso8583.Message, approves it (39=00), packs and sends the reply",
		Start: func(ctx context.Context) (string, func(), error) {
			p, err := newMoovPeer(dialect, framing)
			if err != nil {
				return "", nil, err
			}
			p.srv = newServer(p.serve)
			return p.srv.listen(ctx)
		},
	}
}

type moovPeer struct {
	spec    *iso8583.MessageSpec
	framing codec.Framing
	srv     *server
}

func newMoovPeer(dialect, framing string) (*moovPeer, error) {
	d, err := codec.Lookup(dialect)
	if err != nil {
		return nil, err
	}
	if d.HeaderLen > 0 {
		return nil, fmt.Errorf("peers: moov: dialect %s has a %d-byte message header, which a moov MessageSpec does not carry", d.Name, d.HeaderLen)
	}
	f, err := parseFraming(framing)
	if err != nil {
		return nil, err
	}
	if f.TPDU {
		return nil, fmt.Errorf("peers: moov: framing %s: iso8583-connection reads a length header then the message; a TPDU is not supported", framing)
	}
	return &moovPeer{spec: d.Spec, framing: f}, nil
}

// serve runs one connection through iso8583-connection until it ends.
func (p *moovPeer) serve(nc net.Conn) {
	rd := &moovReader{p: p, tokens: make(chan struct{}, inFlightMax), done: make(chan struct{})}
	c, err := connection.NewFrom(nc, p.spec, p.readLength, p.writeLength,
		connection.SetMessageReader(rd),
		connection.InboundMessageHandler(func(c *connection.Connection, m *iso8583.Message) {
			defer func() { <-rd.tokens }()
			p.handle(c, m)
		}),
	)
	if err != nil {
		return
	}
	<-c.Done() // the peer closed, a read or write failed, or stop closed nc
	close(rd.done)
}

// handle answers one request. It runs in the goroutine iso8583-connection
// starts for each inbound message.
func (p *moovPeer) handle(c *connection.Connection, req *iso8583.Message) {
	if !p.srv.enter() {
		return // stopping
	}
	defer p.srv.leave()
	resp, err := approve(p.spec, req)
	if err != nil {
		return // a request moov could unpack but not answer: no reply, as a host that drops it
	}
	packed, err := resp.Pack()
	if err != nil {
		return
	}
	frame := make([]byte, 0, p.framing.HeaderLen()+len(packed))
	frame, err = p.framing.Append(frame, nil, packed)
	if err != nil {
		return
	}
	// Write hands the whole frame to the connection's write loop, one
	// write call. (Reply would do the same through writeLength, in two
	// calls, and would hold Close for up to SendTimeout when the write side
	// is stuck; Write returns as soon as the connection closes.)
	_, _ = c.Write(frame)
}

// approve builds the approval of req: MTI function digit plus one, the
// echoed fields, 38 and 39.
func approve(spec *iso8583.MessageSpec, req *iso8583.Message) (*iso8583.Message, error) {
	mti, err := req.GetMTI()
	if err != nil {
		return nil, err
	}
	if !isRequestMTI(mti) {
		return nil, errNotRequest
	}
	resp := iso8583.NewMessage(spec)
	resp.MTI(mti[:2] + string(mti[2]+1) + mti[3:])
	for _, id := range echoedFields {
		if req.GetField(id) == nil {
			continue
		}
		b, err := req.GetBytes(id)
		if err != nil {
			return nil, err
		}
		if err := resp.BinaryField(id, b); err != nil {
			return nil, err
		}
	}
	if err := resp.Field(38, "123456"); err != nil {
		return nil, err
	}
	if err := resp.Field(39, "00"); err != nil {
		return nil, err
	}
	return resp, nil
}

// isRequestMTI reports whether mti is four digits with an even function
// digit (0 request, 2 advice, 4 notification, 6 instruction); the reply
// has the next, odd, digit.
func isRequestMTI(mti string) bool {
	if len(mti) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		if mti[i] < '0' || mti[i] > '9' {
			return false
		}
	}
	return (mti[2]-'0')%2 == 0
}

// readLength reads and checks one length header (connection.MessageLengthReader).
func (p *moovPeer) readLength(r io.Reader) (int, error) {
	var h [4]byte
	b := h[:p.framing.HeaderLen()]
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, err
	}
	return p.framing.ReadLength(b)
}

// writeLength writes one length header (connection.MessageLengthWriter).
// The handler frames its replies itself (Append); Send and Reply would use
// this.
func (p *moovPeer) writeLength(w io.Writer, length int) (int, error) {
	var h [4]byte
	b := h[:p.framing.HeaderLen()]
	if err := p.framing.PutLength(b, length); err != nil {
		return 0, err
	}
	return w.Write(b)
}

// moovReader is the connection's MessageReader: iso8583-connection's own
// (length, then the message, then Unpack) plus the in-flight bound, and it
// drops keep-alives and responses before they reach the handler, so every
// message read is answered and gives back its token.
type moovReader struct {
	p      *moovPeer
	tokens chan struct{} // one per request read and not yet answered
	done   chan struct{} // closed when the connection has ended
}

// ReadMessage runs in the connection's read loop only.
func (r *moovReader) ReadMessage(rd io.Reader) (*iso8583.Message, error) {
	select {
	case r.tokens <- struct{}{}:
	case <-r.done:
		return nil, errClosing
	}
	m, err := r.read(rd)
	if err != nil && !isUnpackError(err) {
		// The connection is about to close (bad header, read error):
		// let the requests before it be answered first.
		r.drain()
	}
	if m == nil {
		<-r.tokens
	}
	return m, err
}

// drain waits until every other request read on the connection has been
// answered (or the connection has ended): it takes all the other tokens.
func (r *moovReader) drain() {
	for i := 1; i < cap(r.tokens); i++ {
		select {
		case r.tokens <- struct{}{}:
		case <-r.done:
			return
		}
	}
}

func isUnpackError(err error) bool {
	var u *iso8583errors.UnpackError
	return errors.As(err, &u)
}

func (r *moovReader) read(rd io.Reader) (*iso8583.Message, error) {
	n, err := r.p.readLength(rd)
	if err != nil {
		return nil, err // not an UnpackError: iso8583-connection closes the connection
	}
	if n == 0 {
		return nil, nil // keep-alive
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(rd, raw); err != nil {
		return nil, err
	}
	m := iso8583.NewMessage(r.p.spec)
	if err := m.Unpack(raw); err != nil {
		return nil, err // an UnpackError: iso8583-connection skips the message and reads on
	}
	if mti, _ := m.GetMTI(); !isRequestMTI(mti) {
		return nil, nil // a response to nothing we sent: ignore it
	}
	return m, nil
}
