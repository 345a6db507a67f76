package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
)

// The operator's actions on a destination: an echo test goes out (70 =
// 301) and is answered; a sign-off (002) takes its connection out of
// service, so a purchase is not forwarded, and a reconnect does not bring
// it back; a sign-on (001) does; a close drops the connection, which the
// keeper dials again.
func TestControlDestination(t *testing.T) {
	h := startRawHost(t, func(m codec.Message) *codec.Message { return answerWith(m, "00") })
	ts := forwarding(t, []DestinationConfig{dest("visa", Endpoint{Address: h.ln.Addr().String()})}, nil)
	d := waitUp(t, ts, "visa", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nm := func(code string) int {
		n := 0
		for _, m := range h.of("0800") {
			if m.Fields["70"] == code {
				n++
			}
		}
		return n
	}
	do := func(op DestOp) {
		t.Helper()
		res, err := ts.ControlDestination(ctx, "visa", op, -1)
		if err != nil || len(res) != 1 || res[0].Error != "" {
			t.Fatalf("%s: %v %+v", op, err, res)
		}
	}
	purchase := func(stan int) string {
		t.Helper()
		r, err := ts.dial(t).RoundTrip(card0200(t, "4761739001010010", stan, 100), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return field(r, 39)
	}
	do(DestEcho)
	if nm("301") != 1 {
		t.Fatalf("echo tests read by the host: %d, want 1", nm("301"))
	}
	do(DestSignOff)
	if nm("002") != 1 || d.pool.Up(0) || ts.Destinations()[0].Conns[0].SignedOn {
		t.Fatalf("sign-off: host read %d, up %v", nm("002"), d.pool.Up(0))
	}
	if rc := purchase(1); rc != "91" || len(h.of("0200")) != 0 {
		t.Fatalf("signed off: 39 %s, the host read %d purchases (want 91, none)", rc, len(h.of("0200")))
	}
	do(DestClose) // the keeper dials again, and stays out of service: signed off
	waitUntil(t, "the redial", func() bool { return d.conns[0].sessions.Load() == 2 && d.conns[0].session() != nil })
	time.Sleep(50 * time.Millisecond)
	if d.pool.Up(0) {
		t.Fatal("a reconnect put a signed-off destination back in service")
	}
	do(DestSignOn)
	if nm("001") != 1 || !d.pool.Up(0) {
		t.Fatalf("sign-on: host read %d, up %v", nm("001"), d.pool.Up(0))
	}
	if rc := purchase(2); rc != "00" {
		t.Fatalf("signed on again: 39 %s, want 00", rc)
	}
	if _, err := ts.ControlDestination(ctx, "nope", DestEcho, -1); !errors.Is(err, ErrNoDestination) {
		t.Fatalf("an unknown destination: %v", err)
	}
	if _, err := ts.ControlDestination(ctx, "visa", DestEcho, 3); err == nil {
		t.Fatal("a connection the destination does not have: no error")
	}
}
