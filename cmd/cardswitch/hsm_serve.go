package main

import "errors"

// serveHSM runs the payShield-compatible simulator. Until it lands the
// command says so.
func serveHSM(e *env, addr string) error {
	return errors.New("hsm serve: the payShield simulator is not built into this binary yet")
}
