package engine

import (
	"encoding/binary"
	"errors"
	"sort"

	"github.com/cardswitch/cardswitch/hsm"
	"github.com/cardswitch/cardswitch/internal/wire"
)

// A sign-on's session keys travel in its journal record (as cryptograms
// under the LMK, never in clear), so that a restart keeps them and a
// sign-on whose record did not become durable leaves the old keys in
// force: they are installed by Txn.Committed, by the replay of the record
// and from a snapshot, never before.

const sessionVersion = 1

// Session is one terminal's session keys as a sign-on issued them.
type Session struct {
	Link, Terminal string
	PIN, MAC       hsm.KeyRef // cryptograms under the LMK
}

// encodeSession is a Session as journaled.
func encodeSession(s Session) []byte {
	b := []byte{sessionVersion}
	for _, v := range []string{s.Link, s.Terminal, s.PIN.Type, s.PIN.Cryptogram, s.MAC.Type, s.MAC.Cryptogram} {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

var errSession = errors.New("engine: session keys do not parse")

// decodeSession reads encodeSession's output.
func decodeSession(b []byte) (Session, error) {
	if len(b) < 1 || b[0] != sessionVersion {
		return Session{}, errSession
	}
	r := wire.Reader{B: b[1:]}
	str := func() string { return string(r.Raw()) }
	s := Session{Link: str(), Terminal: str()}
	s.PIN = hsm.KeyRef{Type: str(), Cryptogram: str()}
	s.MAC = hsm.KeyRef{Type: str(), Cryptogram: str()}
	if r.Bad || len(r.B) != 0 || s.Terminal == "" {
		return Session{}, errSession
	}
	return s, nil
}

// install puts a journaled sign-on's keys in force; a record that does not
// parse changes nothing (it was written by this package: a bug, logged by
// the caller through Restore).
func (k *Keys) install(b []byte) {
	if s, err := decodeSession(b); err == nil {
		k.SetSession(s.Terminal, s.PIN, s.MAC)
	}
}

// Restore installs the keys of a journaled sign-on (replay).
func (k *Keys) Restore(b []byte) error {
	s, err := decodeSession(b)
	if err != nil {
		return err
	}
	k.SetSession(s.Terminal, s.PIN, s.MAC)
	return nil
}

// Sessions lists the session keys in force, in terminal order, encoded as
// journaled (for snapshots; Restore reads each back).
func (k *Keys) Sessions() [][]byte {
	var out []Session
	k.session.Range(func(id, v any) bool {
		sk := v.(sessionKeys)
		out = append(out, Session{Terminal: id.(string), PIN: sk.tpk, MAC: sk.tak})
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Terminal < out[j].Terminal })
	enc := make([][]byte, len(out))
	for i, s := range out {
		enc[i] = encodeSession(s)
	}
	return enc
}
