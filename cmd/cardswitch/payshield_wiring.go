package main

import (
	"context"
	"fmt"
	"time"

	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/hsm/payshield"
)

// newPayShield connects to a payShield-compatible HSM. An HSM that does not
// answer at start is reported by the caller's health check; the switch
// starts anyway and answers 96 while it is away.
func newPayShield(c *config) (engine.HSM, func(), error) {
	cl, err := payshield.NewClient(payShieldConfig(c))
	if err != nil {
		return nil, nil, err
	}
	return cl, func() { _ = cl.Close() }, nil
}

func payShieldConfig(c *config) payshield.Config {
	return payshield.Config{Addr: c.file.HSM.Addr, Conns: c.file.HSM.Connections, HeaderLen: c.file.HSM.HeaderLength}
}

// checkPayShield checks the payshield settings as the client will take
// them (building one dials nothing), naming the keys.
func checkPayShield(kind string, pc payshield.Config) error {
	if kind != "payshield" {
		return nil
	}
	if err := checkListen("hsm.addr", pc.Addr); err != nil {
		return err
	}
	switch {
	case pc.Conns < 0 || pc.Conns > 64:
		return fmt.Errorf("hsm.connections: %d must be 1 to 64 (0: 2)", pc.Conns)
	case pc.HeaderLen != 0 && (pc.HeaderLen < 3 || pc.HeaderLen > 9):
		return fmt.Errorf("hsm.header_length: %d must be 3 to 9 (the client numbers its pipelined commands in the header)", pc.HeaderLen)
	}
	cl, err := payshield.NewClient(pc)
	if err != nil {
		return fmt.Errorf("hsm: %v", err)
	}
	return cl.Close()
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
