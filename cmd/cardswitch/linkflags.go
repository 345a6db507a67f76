package main

import (
	"crypto/tls"
	"encoding/hex"
	"flag"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/tlsfiles"
)

// linkFlags name a switch link as a client sees it: its address, dialect,
// framing and, for a +tpdu framing, the TPDU to send (send and bench), and
// its TLS.
type linkFlags struct {
	addr, dialect, framing, tpdu string
	tlsFlags
}

// tlsFlags are a tool's TLS: --tls, and the PEM files (send, bench, the
// simulators).
type tlsFlags struct {
	on                        bool
	cert, key, ca, serverName string
}

func (t *tlsFlags) register(fs *flag.FlagSet, certHelp, caHelp string) {
	fs.BoolVar(&t.on, "tls", false, "speak TLS")
	fs.StringVar(&t.cert, "cert", "", certHelp)
	fs.StringVar(&t.key, "key", "", "PEM private key of --cert")
	fs.StringVar(&t.ca, "ca", "", caHelp)
	fs.StringVar(&t.serverName, "server-name", "", "with --tls, the name the server's certificate must carry (default: the host dialled)")
}

// check refuses TLS files without --tls: they would be ignored.
func (t *tlsFlags) check() error {
	if !t.on && (t.cert != "" || t.key != "" || t.ca != "" || t.serverName != "") {
		return usagef("--cert, --key, --ca and --server-name need --tls")
	}
	return nil
}

// client is the TLS configuration of a tool that dials (nil without --tls).
func (t *tlsFlags) client() (*tls.Config, error) {
	if err := t.check(); err != nil || !t.on {
		return nil, err
	}
	return tlsfiles.Client(t.cert, t.key, t.ca, t.serverName)
}

// server is the TLS configuration of a tool that listens (nil without --tls).
func (t *tlsFlags) server() (*tls.Config, error) {
	if err := t.check(); err != nil || !t.on {
		return nil, err
	}
	return tlsfiles.Server(t.cert, t.key, t.ca)
}

func (l *linkFlags) register(fs *flag.FlagSet, addrHelp string) {
	fs.StringVar(&l.addr, "addr", "127.0.0.1:8583", addrHelp)
	fs.StringVar(&l.dialect, "dialect", codec.ISO87ASCII, "dialect of the link")
	fs.StringVar(&l.framing, "framing", "binary2", "framing of the link")
	fs.StringVar(&l.tpdu, "tpdu", "6000010000", "TPDU for a +tpdu framing (10 hex digits)")
	l.tlsFlags.register(fs, "with --tls, PEM client certificate to present (mutual TLS)", "with --tls, PEM CA bundle the switch's certificate must chain to (default: the system's roots)")
}

// resolve looks up the dialect and the framing, and decodes the TPDU when
// the framing has one (nil otherwise). Its errors are usage errors.
func (l *linkFlags) resolve() (*codec.Dialect, codec.Framing, []byte, error) {
	d, err := codec.Lookup(l.dialect)
	if err != nil {
		return nil, codec.Framing{}, nil, usagef("--dialect: %v", err)
	}
	fr, err := codec.ParseFraming(l.framing)
	if err != nil {
		return nil, codec.Framing{}, nil, usagef("--framing: %v", err)
	}
	var tpdu []byte
	if fr.TPDU {
		if tpdu, err = hex.DecodeString(l.tpdu); err != nil || len(tpdu) != codec.TPDULen {
			return nil, codec.Framing{}, nil, usagef("--tpdu must be 10 hex digits")
		}
	}
	return d, fr, tpdu, nil
}
