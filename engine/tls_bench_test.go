package engine

import (
	"crypto/tls"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/proc"
	"github.com/cardswitch/cardswitch/internal/tlsfiles"
)

// transport is one way to serve a link: gnet, streamConn on plain TCP
// (Config.testStream), TLS with mutual TLS.
type transport struct {
	name   string
	stream bool
	tls    *TLSConfig
}

// transports are the three, with the TLS one's certificates and the
// client configuration that dials it.
func transports(b *testing.B) ([]transport, *tls.Config) {
	p := newPKI(b)
	cert, key, _ := p.valid("switch")
	ccert, ckey, _ := p.valid("bench")
	ccfg, err := tlsfiles.Client(ccert, ckey, p.caFile, "")
	if err != nil {
		b.Fatal(err)
	}
	return []transport{{"gnet", false, nil}, {"stream", true, nil}, {"tls", false, &TLSConfig{Cert: cert, Key: key, CA: p.caFile}}}, ccfg
}

// BenchmarkLinkTransport sends 0200s through one link (demo authorizer, no
// journal: the transport is what differs) at 64 x 16 closed loop over
// loopback, served three ways: gnet (a plain link), streamConn on plain
// TCP (the TLS links' goroutines, without TLS: Config.testStream) and
// TLS 1.3 with mutual TLS (ECDSA P-256, AES-GCM). It reports messages per
// second and the process's CPU per message, generator included (the same
// generator for the three: the differences are the server's).
func BenchmarkLinkTransport(b *testing.B) {
	trs, ccfg := transports(b)
	for _, tr := range trs {
		b.Run(tr.name, func(b *testing.B) {
			ts := startServer(b, nil, func(c *Config) { c.testStream, c.Links[0].TLS = tr.stream, tr.tls })
			dial := func() (net.Conn, error) { return net.Dial("tcp", ts.addr) }
			if tr.tls != nil {
				dial = func() (net.Conn, error) { return tls.Dial("tcp", ts.addr, ccfg) }
			}
			f, _ := codec.ParseFraming("binary2")
			frame, _ := f.Append(nil, nil, purchase(b, 1, 100))
			loadVia(b, dial, frame, 64, 16, 2000) // warm up
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, _ := proc.CPU()
			start := time.Now()
			loadVia(b, dial, frame, 64, 16, b.N)
			cpu1, _ := proc.CPU()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
		})
	}
}

// BenchmarkLinkConnMemory opens 1000 connections to one link, each with
// one purchase answered, and reports the heap and stacks they hold (after
// a collection), per connection: server and client sides together, both
// in this process. The three transports as in BenchmarkLinkTransport.
func BenchmarkLinkConnMemory(b *testing.B) {
	const n = 1000
	trs, ccfg := transports(b)
	for _, tr := range trs {
		b.Run(tr.name, func(b *testing.B) {
			ts := startServer(b, nil, func(c *Config) {
				c.testStream, c.Links[0].TLS = tr.stream, tr.tls
				c.Links[0].MaxConnsPerIP, c.Links[0].MaxConns = 2*n, 2*n
			})
			f, _ := codec.ParseFraming("binary2")
			before := heapAndStacks()
			var conns []net.Conn
			for i := range n {
				var c net.Conn
				var err error
				if tr.tls != nil {
					c, err = tls.Dial("tcp", ts.addr, ccfg)
				} else {
					c, err = net.Dial("tcp", ts.addr)
				}
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
				frame, _ := f.Append(nil, nil, purchase(b, i+1, 100))
				if _, err := c.Write(frame); err != nil {
					b.Fatal(err)
				}
				if _, err := codec.NewReader(c, f).Next(); err != nil {
					b.Fatal(err)
				}
			}
			ts.conns(b, n)
			after := heapAndStacks()
			b.ReportMetric(float64(after-before)/n, "bytes/conn")
			for _, c := range conns {
				c.Close()
			}
		})
	}
}

func heapAndStacks() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}
