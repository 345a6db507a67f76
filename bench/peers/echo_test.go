package peers

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
)

func TestEchoReturnsEveryFrame(t *testing.T) {
	const conns, perConn, window = 4, 1000, 100
	d := mustDialect(t, "iso87ascii")
	for _, name := range []string{"binary2", "ascii4", "bcd2", "binary2+tpdu"} {
		t.Run(name, func(t *testing.T) {
			f := mustFraming(t, name)
			addr := start(t, Echo(name))
			var wg sync.WaitGroup
			for c := 0; c < conns; c++ {
				conn := dial(t, addr)
				frames := make([][]byte, perConn)
				for i := range frames {
					frames[i] = frame(t, d, f, request0200(c*perConn+i))
				}
				frames[perConn/2] = []byte{0, 0, 0, 0}[:f.HeaderLen()] // a keep-alive is a frame too
				if name == "ascii4" {
					frames[perConn/2] = []byte("0000")
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					got := make([]byte, 0, 512)
					err := pipeline(t, conn, frames, window, func(i int) error {
						got = got[:len(frames[i])]
						if _, err := io.ReadFull(conn, got); err != nil {
							return err
						}
						if !bytes.Equal(got, frames[i]) {
							return fmt.Errorf("got % x, want % x", got, frames[i])
						}
						return nil
					})
					if err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		})
	}
}

func TestEchoRefusesUnknownFraming(t *testing.T) {
	if _, _, err := Echo("binary3").Start(t.Context()); err == nil {
		t.Fatal("Start accepted framing binary3")
	}
}
