package engine

import (
	"errors"
	"fmt"
)

// The kinds of failure the engine answers itself. Each maps to a response
// code (field 39) once, at the edge, through the link's CodeTable.
var (
	ErrFormat            = errors.New("engine: format error")              // decode or validation failed
	ErrInvalidTxn        = errors.New("engine: transaction not supported") // an MTI or class the switch does not serve
	ErrOverload          = errors.New("engine: overloaded")                // a queue or per-connection cap is full
	ErrNotSignedOn       = errors.New("engine: link not signed on")        // financial traffic before an 0800 sign-on
	ErrIssuerUnavailable = errors.New("engine: issuer unavailable")        // no upstream could take it
	ErrSystem            = errors.New("engine: system malfunction")        // a broken invariant or a panic
	ErrMAC               = errors.New("engine: MAC verification failed")   // a link's MAC did not verify
)

// ErrorKinds lists every kind a CodeTable must map.
var ErrorKinds = []error{ErrFormat, ErrInvalidTxn, ErrOverload, ErrNotSignedOn, ErrIssuerUnavailable, ErrSystem, ErrMAC, ErrWrongPIN, ErrSignOnRefused, ErrKSN}

// CodeTable maps the engine's failure kinds to a link's response codes.
type CodeTable map[error]string

// Code returns the response code for err (a kind, or an error wrapping one);
// anything unknown is a system malfunction.
func (t CodeTable) Code(err error) string {
	for _, k := range ErrorKinds {
		if errors.Is(err, k) {
			return t[k]
		}
	}
	return t[ErrSystem]
}

// Validate checks that every kind maps to a 2-character code.
func (t CodeTable) Validate() error {
	for _, k := range ErrorKinds {
		if c, ok := t[k]; !ok || len(c) != 2 {
			return fmt.Errorf("response code table: %v maps to %q", k, c)
		}
	}
	return nil
}

// CodesFor returns the table of a dialect: ISO 8583:1987 usage; a MAC
// failure answers A0 as UnionPay does (a link may set another, such as 63).
func CodesFor(dialect string) CodeTable {
	t := CodeTable{
		ErrFormat:            "30",
		ErrInvalidTxn:        "12",
		ErrOverload:          "96",
		ErrNotSignedOn:       "91",
		ErrIssuerUnavailable: "91",
		ErrSystem:            "96",
		ErrMAC:               "A0",
		ErrWrongPIN:          "55",
		ErrSignOnRefused:     "58", // not permitted to terminal (UnionPay: the same)
		ErrKSN:               "63", // security violation: a DUKPT KSN replayed or exhausted
	}
	return t
}
