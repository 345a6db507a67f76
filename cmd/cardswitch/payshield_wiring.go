package main

import (
	"errors"

	"github.com/cardswitch/cardswitch/engine"
)

// newPayShield connects to a payShield (or the simulator). Until the client
// lands, the configuration is refused clearly.
func newPayShield(c *config) (engine.HSM, func(), error) {
	return nil, nil, errors.New("hsm.kind: payshield: the payShield client is not built into this binary yet")
}
