package main

import (
	"context"
	"time"

	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/hsm/payshield"
)

// newPayShield connects to a payShield-compatible HSM. An HSM that does not
// answer at start is reported by the caller's health check; the switch
// starts anyway and answers 96 while it is away.
func newPayShield(c *config) (engine.HSM, func(), error) {
	cl, err := payshield.NewClient(payshield.Config{
		Addr:      c.file.HSM.Addr,
		Conns:     c.file.HSM.Connections,
		HeaderLen: c.file.HSM.HeaderLength,
	})
	if err != nil {
		return nil, nil, err
	}
	return cl, func() { _ = cl.Close() }, nil
}

// hsmHealth asks an HSM that can tell whether it answers.
func hsmHealth(h engine.HSM) error {
	hc, ok := h.(interface{ Health(context.Context) error })
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return hc.Health(ctx)
}
