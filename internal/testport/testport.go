// Package testport picks loopback ports for tests that must name an
// address before something listens on it (a configuration file, a
// destination not up yet).
//
// A port the kernel hands out for "127.0.0.1:0" comes from the ephemeral
// range, which is also where every outgoing connection's local port
// comes from: under parallel tests one was taken by a client socket
// between the pick and the listen ("address already in use"). So the
// ports come from below the ephemeral range (ip_local_port_range starts
// at 32768 by default), picked at random and checked free by a listen.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// low and high bound the ports picked: below Linux's default ephemeral
// range, above the well-known and most registered service ports.
const low, high = 20000, 32767

// Addr returns a free loopback address ("127.0.0.1:PORT").
func Addr(t testing.TB) string {
	t.Helper()
	return Addrs(t, 1)[0]
}

// Addrs returns n distinct free loopback addresses: each port is held
// until all are chosen, so none is picked twice.
func Addrs(t testing.TB, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("testport: no free port in %d-%d after %d tries", low, high, tries)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", low+rand.IntN(high-low+1))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // in use: another
		}
		defer ln.Close()
		out = append(out, addr)
	}
	return out
}
