package main

import (
	"errors"

	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/hsm"
)

// newHSM builds the configured HSM: the software HSM over the Thales test
// LMK, or a payShield client.
func newHSM(c *config) (engine.HSM, func(), error) {
	switch c.file.HSM.Kind {
	case "soft":
		return &hsm.Soft{LMK: hsm.ThalesTestLMK()}, func() {}, nil
	case "payshield":
		return newPayShield(c)
	}
	return nil, nil, errors.New("hsm.kind: unknown")
}
