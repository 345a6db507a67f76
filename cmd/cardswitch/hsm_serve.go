package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cardswitch/cardswitch/hsm/payshield"
)

// serveHSM runs the payShield-compatible simulator over the software HSM
// with the Thales test LMK until SIGINT or SIGTERM.
func serveHSM(e *env, addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(e.stderr, "payShield simulator (test LMK) listening on %s\n", addr)
	if err := payshield.ListenAndServe(ctx, addr, payshield.ServerConfig{}); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
