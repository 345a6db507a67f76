package main

import (
	"github.com/cardswitch/cardswitch/bench"
	"github.com/cardswitch/cardswitch/bench/peers"
)

// peerTargets are the baselines of bench/peers: the machine's ceiling and
// the peer built from off-the-shelf parts.
func peerTargets(dialect, framing string) []bench.Target {
	return []bench.Target{peers.Echo(framing), peers.Moov(dialect, framing)}
}
