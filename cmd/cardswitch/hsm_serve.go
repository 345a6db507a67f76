package main

import (
	"context"
	"fmt"
	"net"
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
	return serveHSMContext(ctx, e, addr)
}

// serveHSMContext binds addr first and says "listening" only once it
// holds the port, with the address bound (a port of 0 shows the one taken).
func serveHSMContext(ctx context.Context, e *env, addr string) error {
	s, err := payshield.NewServer(payshield.ServerConfig{})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "payShield simulator (test LMK) listening on %s\n", ln.Addr())
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	if err := s.Serve(ln); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
