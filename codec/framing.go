package codec

import (
	"fmt"
	"io"
	"strings"
)

// LengthHeader is how a link announces the size of each message.
type LengthHeader uint8

const (
	LenBinary2 LengthHeader = iota // 2 bytes, big-endian binary (up to 65535)
	LenASCII4                      // 4 ASCII decimal digits (up to 9999)
	LenBCD2                        // 2 bytes of packed BCD (up to 9999)
)

// TPDULen is the size of a TPDU: an ID byte, a 2-byte destination and a
// 2-byte source address.
const TPDULen = 5

// Framing is the per-link framing: a length header, then (optionally) a
// TPDU, then the message. The length counts everything after the header.
type Framing struct {
	Header LengthHeader
	TPDU   bool
	// MaxFrame is the largest length a header may announce; a larger one is
	// refused before any of the frame is buffered.
	MaxFrame int
}

// DefaultMaxFrame bounds a frame when a link sets none: far above any real
// ISO 8583 message (jPOS's default is 100 KB for a whole channel; 8 KB holds
// every field of these dialects at its maximum but a few LLLVARs).
const DefaultMaxFrame = 8192

// ParseFraming reads a framing name: "binary2", "ascii4" or "bcd2", with
// "+tpdu" for a TPDU after the length ("binary2+tpdu").
func ParseFraming(s string) (Framing, error) {
	f := Framing{MaxFrame: DefaultMaxFrame}
	base, tpdu := strings.CutSuffix(s, "+tpdu")
	f.TPDU = tpdu
	switch base {
	case "binary2":
		f.Header = LenBinary2
	case "ascii4":
		f.Header = LenASCII4
	case "bcd2":
		f.Header = LenBCD2
	default:
		return f, fmt.Errorf("codec: unknown framing %q (binary2, ascii4 or bcd2, optionally +tpdu)", s)
	}
	return f, nil
}

func (f Framing) String() string {
	s := [...]string{"binary2", "ascii4", "bcd2"}[f.Header]
	if f.TPDU {
		s += "+tpdu"
	}
	return s
}

// HeaderLen is the size of the length header.
func (f Framing) HeaderLen() int {
	if f.Header == LenASCII4 {
		return 4
	}
	return 2
}

func (f Framing) maxFrame() int {
	m := f.MaxFrame
	if m <= 0 {
		m = DefaultMaxFrame
	}
	limit := 65535
	if f.Header != LenBinary2 {
		limit = 9999
	}
	return min(m, limit)
}

// Frame is one framed message: slices into the buffer it was cut from.
type Frame struct {
	TPDU []byte // nil without a TPDU
	Msg  []byte // the message: header (if the dialect has one), MTI, bitmap, fields
}

// Next cuts one frame from the front of buf. It returns the frame and the
// number of bytes it used, or ErrNeedMore when buf holds only part of it,
// or an error for a header that can never be valid. A zero length is a
// keep-alive: an empty frame with n > 0.
func (f Framing) Next(buf []byte) (fr Frame, n int, err error) {
	h := f.HeaderLen()
	if len(buf) < h {
		return fr, 0, ErrNeedMore
	}
	l, err := f.ReadLength(buf[:h])
	if err != nil {
		return fr, 0, err
	}
	if l == 0 {
		return fr, h, nil
	}
	if f.TPDU && l < TPDULen {
		return fr, 0, ErrShortFrame
	}
	if len(buf) < h+l {
		return fr, 0, ErrNeedMore
	}
	body := buf[h : h+l : h+l]
	if f.TPDU {
		fr.TPDU, body = body[:TPDULen], body[TPDULen:]
	}
	fr.Msg = body
	return fr, h + l, nil
}

// ReadLength decodes a length header (HeaderLen bytes): the length of the
// frame after it, at most the framing's maximum (ErrFrameTooLarge).
func (f Framing) ReadLength(b []byte) (int, error) {
	l, err := f.readLength(b)
	if err == nil && l > f.maxFrame() {
		return 0, fmt.Errorf("%w: %d bytes announced, %d allowed", ErrFrameTooLarge, l, f.maxFrame())
	}
	return l, err
}

func (f Framing) readLength(b []byte) (int, error) {
	switch f.Header {
	case LenBinary2:
		return int(b[0])<<8 | int(b[1]), nil
	case LenASCII4:
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, ErrBadLengthHeader
			}
			n = n*10 + int(c-'0')
		}
		return n, nil
	default:
		n := 0
		for _, c := range b {
			if c>>4 > 9 || c&0xf > 9 {
				return 0, ErrBadLengthHeader
			}
			n = n*100 + int(c>>4)*10 + int(c&0xf)
		}
		return n, nil
	}
}

// Append frames msg into dst: the length header, the TPDU (when the framing
// has one; tpdu must then be 5 bytes) and the message.
func (f Framing) Append(dst, tpdu, msg []byte) ([]byte, error) {
	if f.TPDU && len(tpdu) != TPDULen {
		return dst, ErrShortFrame
	}
	start := len(dst)
	out, err := f.Seal(append(f.Reserve(dst, tpdu), msg...), start)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// ReplyTPDU writes into dst the TPDU of a reply: the same ID with the
// destination and source addresses swapped.
func ReplyTPDU(dst *[TPDULen]byte, req []byte) {
	dst[0] = req[0]
	dst[1], dst[2] = req[3], req[4]
	dst[3], dst[4] = req[1], req[2]
}

// Reader reads frames from a stream, for clients and tools. It keeps one
// frame's worth of buffer and gives the same frames whatever the chunking
// of the stream.
type Reader struct {
	r   io.Reader
	f   Framing
	buf []byte
	off int // start of unread bytes
}

// NewReader reads frames of framing f from r.
func NewReader(r io.Reader, f Framing) *Reader {
	return &Reader{r: r, f: f, buf: make([]byte, 0, 4096)}
}

// Next returns the next frame, valid until the following call. Keep-alive
// (zero-length) frames are skipped.
func (r *Reader) Next() (Frame, error) {
	for {
		fr, n, err := r.f.Next(r.buf[r.off:])
		if err == nil {
			r.off += n
			if fr.Msg == nil {
				continue
			}
			return fr, nil
		}
		if err != ErrNeedMore {
			return fr, err
		}
		if err := r.fill(); err != nil {
			return fr, err
		}
	}
}

func (r *Reader) fill() error {
	if r.off > 0 {
		r.buf = r.buf[:copy(r.buf, r.buf[r.off:])]
		r.off = 0
	}
	if len(r.buf) == cap(r.buf) {
		r.buf = append(r.buf, make([]byte, cap(r.buf))...)[:len(r.buf)]
	}
	for tries := 0; tries < 100; tries++ { // as bufio: a reader may return (0, nil) a few times
		n, err := r.r.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		if n > 0 {
			return nil
		}
		if err == io.EOF && len(r.buf) > 0 {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// Reserve appends a placeholder length header and, for a framing with a
// TPDU, the TPDU, so a message can be built right after them in the same
// buffer; Seal then writes the length. start is where the frame begins.
//
//	frame := f.Reserve(buf[:0], tpdu)
//	b.Begin(d, frame, mti, header) ... frame, _ = b.Finish()
//	frame, err = f.Seal(frame, 0)
func (f Framing) Reserve(dst, tpdu []byte) []byte {
	dst = append(dst, make([]byte, f.HeaderLen())...)
	if f.TPDU {
		dst = append(dst, tpdu...)
		for i := len(tpdu); i < TPDULen; i++ {
			dst = append(dst, 0)
		}
	}
	return dst
}

// Seal writes the length header of the frame that starts at frame[start].
func (f Framing) Seal(frame []byte, start int) ([]byte, error) {
	return frame, f.PutLength(frame[start:], len(frame)-start-f.HeaderLen())
}

// PutLength writes the length header for a frame of l bytes into h
// (HeaderLen bytes); l at most the framing's maximum (ErrFrameTooLarge).
func (f Framing) PutLength(h []byte, l int) error {
	if l > f.maxFrame() {
		return fmt.Errorf("%w: %d bytes, %d allowed", ErrFrameTooLarge, l, f.maxFrame())
	}
	switch f.Header {
	case LenBinary2:
		h[0], h[1] = byte(l>>8), byte(l)
	case LenASCII4:
		appendDecimal(h[:0], l, 4)
	default:
		h[0], h[1] = byte(l/1000)<<4|byte(l/100%10), byte(l/10%10)<<4|byte(l%10)
	}
	return nil
}
