package sim

import (
	"net"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/client"
)

// accept takes the next connection the dialling issuer makes on ln.
func accept(t *testing.T, ln net.Listener, d *codec.Dialect, f codec.Framing) *client.Conn {
	t.Helper()
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(ioTimeout))
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	var tpdu []byte
	if f.TPDU {
		tpdu = testTPDU
	}
	return client.New(nc, d, f, tpdu)
}

func TestDialSignsOnServesAndRedials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	is, err := Dial(ln.Addr().String(), Config{Dialect: codec.ISO87ASCII, Framing: "binary2", SignOn: true, Redial: 5 * time.Millisecond,
		Rules: Rules{Default: "05"}})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	d := is.Dialect()
	c := accept(t, ln, d, is.Framing())
	signOn, _ := read(t, c)
	if signOn.MTI != "0800" || signOn.Fields["70"] != "001" || len(signOn.Fields["11"]) != 6 || len(signOn.Fields["7"]) != 10 {
		t.Fatalf("first message %+v, want a sign-on", signOn)
	}
	write(t, c, d, codec.Message{MTI: "0810", Fields: map[string]string{"7": signOn.Fields["7"], "11": signOn.Fields["11"], "39": "00", "70": "001"}})
	waitFor(t, "the sign-on's answer counted", func() bool { return is.Stats().NetAnswered == 1 })
	if r := roundTrip(t, c, d, purchase(1, 100, demoPAN)); r.MTI != "0210" || r.Fields["39"] != "05" {
		t.Fatalf("reply %+v, want the rules' 05", r)
	}
	if n := is.SignOff(); n != 1 {
		t.Fatalf("sign-off sent on %d connections", n)
	}
	signOff, _ := read(t, c)
	if signOff.Fields["70"] != "002" || signOff.Fields["11"] == signOn.Fields["11"] {
		t.Fatalf("sign-off %+v", signOff)
	}
	// an answer with another STAN is not the answer to its sign-off
	write(t, c, d, codec.Message{MTI: "0810", Fields: map[string]string{"7": signOff.Fields["7"], "11": signOn.Fields["11"], "39": "00", "70": "002"}})
	write(t, c, d, codec.Message{MTI: "0810", Fields: map[string]string{"7": signOff.Fields["7"], "11": signOff.Fields["11"], "39": "00", "70": "002"}})
	waitFor(t, "the sign-off's answer counted", func() bool { return is.Stats().NetAnswered == 2 })
	if st := is.Stats(); st.Ignored != 1 {
		t.Fatalf("ignored %d, want the answer to no sign-on of its own", st.Ignored)
	}
	// the connection ends: it dials again and signs on again
	c.Close()
	c2 := accept(t, ln, d, is.Framing())
	if m, _ := read(t, c2); m.MTI != "0800" || m.Fields["70"] != "001" {
		t.Fatalf("after the redial %+v, want a sign-on", m)
	}
	if st := is.Stats(); st.Dialled != 2 || st.Connections != 2 {
		t.Fatalf("dialled %d, connections %d: want 2", st.Dialled, st.Connections)
	}
	is.Close() // returns: the dial loops have ended
}

func TestDialCUPSignsOnInField60(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	is, err := Dial(ln.Addr().String(), Config{Dialect: codec.CUPPOS, Framing: "binary2+tpdu", SignOn: true, DialConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer is.Close()
	for range 2 {
		c := accept(t, ln, is.Dialect(), is.Framing())
		_, r := read(t, c)
		if code, ok := codec.CUPNetworkCode(&r.View); !ok || code != 1 || r.View.MTI() != (codec.MTI{'0', '8', '0', '0'}) {
			t.Fatalf("sign-on %q: 60.3 = %d %v", r.Raw, code, ok)
		}
	}
}

func TestDialRefusesBadConfig(t *testing.T) {
	for _, c := range []struct {
		addr string
		cfg  Config
	}{
		{"nowhere", Config{Dialect: codec.ISO87ASCII, Framing: "binary2"}},
		{"127.0.0.1:1", Config{Dialect: codec.ISO87ASCII, Framing: "binary2", DialConns: dialConnsMax + 1}},
		{"127.0.0.1:1", Config{Dialect: codec.ISO87ASCII, Framing: "binary2", Redial: -time.Second}},
	} {
		if is, err := Dial(c.addr, c.cfg); err == nil {
			is.Close()
			t.Errorf("%s %+v: no error", c.addr, c.cfg)
		}
	}
}
