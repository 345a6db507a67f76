package engine

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/bench/sim"
)

// getDestinations reads GET /destinations from the admin handler, over
// loopback.
func getDestinations(t *testing.T, url string) map[string]DestinationState {
	t.Helper()
	res, err := http.Get(url + "/destinations")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Destinations []DestinationState `json:"destinations"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK ||
		res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /destinations: %d %v", res.StatusCode, err)
	}
	out := map[string]DestinationState{}
	for _, d := range body.Destinations {
		out[d.Name] = d
	}
	return out
}

// The admin API shows each destination's connections: a simulator up
// (signed on, a request in flight), one down (its last error and when),
// and a reconnect once the simulator comes back; /metrics has the same.
func TestAdminDestinations(t *testing.T) {
	up := startSim(t, "", sim.Config{Rules: sim.Rules{Default: "00", Rules: []sim.Rule{{Name: "never", AmountOver: 5000, Fault: "no_answer"}}}})
	addr := up.Addr()
	down := freeAddr(t) // nothing listens there
	a := dest("visa", Endpoint{Address: addr})
	a.SignOn, a.Timeout = true, 2*time.Second
	b := dest("mc", Endpoint{Address: down}, Endpoint{Address: down, Tier: 1})
	ts := forwarding(t, []DestinationConfig{a, b}, nil)
	hs := httptest.NewServer(ts.AdminHandler())
	defer hs.Close()
	waitUp(t, ts, "visa", 1)

	c := ts.dial(t)
	if err := c.Write(card0200(t, "4761739001010010", 1, 9000)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the request in flight", func() bool { return up.Stats().Faults["no_answer"] == 1 })
	waitUntil(t, "mc's dial failures", func() bool {
		d := getDestinations(t, hs.URL)["mc"]
		return d.Conns[0].LastError != "" && d.Conns[1].LastError != ""
	})
	got := getDestinations(t, hs.URL)
	v, m := got["visa"], got["mc"]
	if len(got) != 2 || v.InFlight != 1 || v.MaxInFlight != 4096 || v.Timeout != "2s" || len(v.Conns) != 1 || len(m.Conns) != 2 {
		t.Fatalf("destinations: %+v", got)
	}
	if vc := v.Conns[0]; !vc.Up || !vc.SignedOn || vc.Endpoint != addr || vc.Tier != 0 || vc.Reconnects != 0 || vc.LastError != "" {
		t.Fatalf("visa's connection: %+v", vc)
	}
	for i, mc := range m.Conns {
		if mc.Up || mc.SignedOn || mc.Endpoint != down || mc.Tier != i || mc.LastErrorAt == nil || !strings.Contains(mc.LastError, "refused") {
			t.Fatalf("mc's connection %d: %+v", i, mc)
		}
	}

	// the host goes and comes back: a reconnect, signed on again
	up.Close()
	waitUntil(t, "visa down", func() bool { return !getDestinations(t, hs.URL)["visa"].Conns[0].Up })
	startSim(t, addr, sim.Config{Rules: sim.Rules{Default: "00"}})
	waitUntil(t, "visa up again", func() bool {
		vc := getDestinations(t, hs.URL)["visa"].Conns[0]
		return vc.Up && vc.SignedOn
	})
	if vc := getDestinations(t, hs.URL)["visa"].Conns[0]; vc.Reconnects != 1 {
		t.Fatalf("after the host's restart: %+v", vc)
	}
	res, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`cardswitch_upstream_signed_on{address="` + addr + `",conn="0",destination="visa"} 1`,
		`cardswitch_upstream_reconnects_total{address="` + addr + `",conn="0",destination="visa"} 1`,
		`cardswitch_upstream_signed_on{address="` + down + `",conn="1",destination="mc"} 0`,
		`cardswitch_upstream_queued_bytes{address="` + down + `",conn="0",destination="mc"} 0`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// An accepted connection's slot shows as accepted, its peer's address as
// the endpoint while it is connected, signed on once the peer signs on.
func TestAdminDestinationsAccepted(t *testing.T) {
	dc := listenDest("net")
	dc.SignOn = true
	ts := forwarding(t, []DestinationConfig{dc}, nil)
	hs := httptest.NewServer(ts.AdminHandler())
	defer hs.Close()
	if c := getDestinations(t, hs.URL)["net"].Conns; len(c) == 0 || !c[0].Accepted || c[0].Up || !strings.HasPrefix(c[0].Endpoint, "listen ") {
		t.Fatalf("no peer yet: %+v", c)
	}
	is := dialSim(t, ts, "net", sim.Config{SignOn: true, Rules: sim.Rules{Default: "00"}})
	waitUntil(t, "the peer up and signed on", func() bool {
		c := getDestinations(t, hs.URL)["net"].Conns[0]
		return c.Up && c.SignedOn
	})
	if c := getDestinations(t, hs.URL)["net"].Conns[0]; !c.Accepted || !strings.HasPrefix(c.Endpoint, "127.0.0.1:") || c.Reconnects != 0 {
		t.Fatalf("the peer connected: %+v", c)
	}
	is.Close() // the slot is free again: named by its listener, not by its last peer
	waitUntil(t, "the slot free", func() bool {
		c := getDestinations(t, hs.URL)["net"].Conns[0]
		return !c.Up && strings.HasPrefix(c.Endpoint, "listen ")
	})
}
