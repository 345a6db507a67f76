package main

import (
	"encoding/hex"
	"flag"

	"github.com/cardswitch/cardswitch/codec"
)

// linkFlags name a switch link as a client sees it: its address, dialect,
// framing and, for a +tpdu framing, the TPDU to send (send and bench).
type linkFlags struct {
	addr, dialect, framing, tpdu string
}

func (l *linkFlags) register(fs *flag.FlagSet, addrHelp string) {
	fs.StringVar(&l.addr, "addr", "127.0.0.1:8583", addrHelp)
	fs.StringVar(&l.dialect, "dialect", codec.ISO87ASCII, "dialect of the link")
	fs.StringVar(&l.framing, "framing", "binary2", "framing of the link")
	fs.StringVar(&l.tpdu, "tpdu", "6000010000", "TPDU for a +tpdu framing (10 hex digits)")
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
