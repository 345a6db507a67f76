package peers

import (
	"fmt"
	"sync"
	"testing"

	"github.com/cardswitch/cardswitch/codec"
)

func TestMoovApproves(t *testing.T) {
	const conns, perConn, window = 3, 500, 100
	for _, dialect := range []string{"iso87ascii", "iso87binary"} {
		for _, framing := range []string{"binary2", "ascii4", "bcd2"} {
			t.Run(dialect+"/"+framing, func(t *testing.T) {
				d := mustDialect(t, dialect)
				f := mustFraming(t, framing)
				f.MaxFrame = 9999
				addr := start(t, Moov(dialect, framing))
				var wg sync.WaitGroup
				for c := 0; c < conns; c++ {
					conn := dial(t, addr)
					frames := make([][]byte, perConn)
					want := make(map[string]codec.Message, perConn)
					for i := range frames {
						m := request0200(c*perConn + i)
						frames[i] = frame(t, d, f, m)
						want[m.Fields["11"]] = m
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := codec.NewReader(conn, f)
						var v codec.View
						// Replies come in any order (a goroutine per
						// message): match them by STAN, each once.
						err := pipeline(t, conn, frames, window, func(int) error {
							fr, err := r.Next()
							if err != nil {
								return err
							}
							if err := d.Decode(&v, fr.Msg); err != nil {
								return fmt.Errorf("decode: %s", codec.DescribeError(d, err))
							}
							got := v.ToMessage(false)
							req, ok := want[got.Fields["11"]]
							if !ok {
								return fmt.Errorf("reply with unknown or repeated STAN %q", got.Fields["11"])
							}
							delete(want, got.Fields["11"])
							return checkApproval(req, got)
						})
						if err != nil {
							t.Error(err)
						}
						if len(want) > 0 && err == nil {
							t.Errorf("%d requests unanswered", len(want))
						}
					}()
				}
				wg.Wait()
			})
		}
	}
}

// checkApproval checks a reply against its request: 0210, 38 and 39 set,
// the echoed fields equal, nothing else.
func checkApproval(req, got codec.Message) error {
	if got.MTI != "0210" {
		return fmt.Errorf("MTI %s, want 0210", got.MTI)
	}
	want := map[string]string{"38": "123456", "39": "00"}
	for _, id := range echoedFields {
		k := fmt.Sprint(id)
		if v, ok := req.Fields[k]; ok {
			want[k] = v
		}
	}
	if len(got.Fields) != len(want) {
		return fmt.Errorf("fields %v, want %v", got.Fields, want)
	}
	for k, v := range want {
		if got.Fields[k] != v {
			return fmt.Errorf("field %s = %q, want %q", k, got.Fields[k], v)
		}
	}
	return nil
}

// A response (nothing the peer sent) and a keep-alive get no reply and
// do not hold an in-flight slot: the requests after them are answered.
func TestMoovIgnoresResponsesAndKeepAlives(t *testing.T) {
	d := mustDialect(t, "iso87ascii")
	f := mustFraming(t, "binary2")
	conn := dial(t, start(t, Moov("iso87ascii", "binary2")))
	resp := request0200(1)
	resp.MTI = "0210"
	var out []byte
	for i := 0; i < inFlightMax+10; i++ {
		out = append(out, frame(t, d, f, resp)...)
		out = append(out, 0, 0)
	}
	out = append(out, frame(t, d, f, request0200(2))...)
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	fr, err := codec.NewReader(conn, f).Next()
	if err != nil {
		t.Fatal(err)
	}
	var v codec.View
	if err := d.Decode(&v, fr.Msg); err != nil {
		t.Fatal(err)
	}
	if m := v.ToMessage(false); m.MTI != "0210" || m.Fields["11"] != "000002" {
		t.Fatalf("reply %s STAN %s, want 0210 STAN 000002", m.MTI, m.Fields["11"])
	}
}

func TestMoovRefuses(t *testing.T) {
	for _, tc := range []struct{ dialect, framing string }{
		{"iso87ascii", "binary2+tpdu"},
		{"iso87ascii", "binary3"},
		{"cup-pos", "binary2"},
		{"nosuch", "binary2"},
	} {
		if _, _, err := Moov(tc.dialect, tc.framing).Start(t.Context()); err == nil {
			t.Errorf("Start accepted %s over %s", tc.dialect, tc.framing)
		}
	}
}
