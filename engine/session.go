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

// Restore installs the keys of a journaled sign-on (replay), on the link it
// was made on.
func (k *Keys) Restore(b []byte) error {
	if len(b) > 0 && b[0] == zoneVersion { // a destination's zone key (zone.go)
		z, err := decodeZone(b)
		if err == nil && z.Active { // a proposed key was never in force
			k.setZone(z)
		}
		return err
	}
	if len(b) > 0 && b[0] == dukptVersion { // a DUKPT terminal's counter (dukpt.go)
		term, dev, c, err := decodeDUKPT(b)
		if err == nil {
			k.dukpt.restore(term, dev, c)
		}
		return err
	}
	_, err := k.restore(b)
	return err
}

// restore installs the keys of a journaled sign-on and returns it.
func (k *Keys) restore(b []byte) (Session, error) {
	s, err := decodeSession(b)
	if err != nil {
		return Session{}, err
	}
	k.SetSession(s.Link, s.Terminal, s.PIN, s.MAC)
	return s, nil
}

// Sessions lists the session keys in force, in link and terminal order,
// then the destinations' zone keys, encoded as journaled (for snapshots; Restore reads each back).
func (k *Keys) Sessions() [][]byte {
	var out []Session
	k.session.Range(func(id, v any) bool {
		sk, sid := v.(sessionKeys), id.(sessionID)
		out = append(out, Session{Link: sid.link, Terminal: sid.terminal, PIN: sk.tpk, MAC: sk.tak})
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Link != out[j].Link {
			return out[i].Link < out[j].Link
		}
		return out[i].Terminal < out[j].Terminal
	})
	enc := make([][]byte, len(out))
	for i, s := range out {
		enc[i] = encodeSession(s)
	}
	var zones []ZoneKey
	k.zone.Range(func(_, v any) bool {
		zones = append(zones, v.(ZoneKey))
		return true
	})
	sort.Slice(zones, func(i, j int) bool {
		if zones[i].Destination != zones[j].Destination {
			return zones[i].Destination < zones[j].Destination
		}
		return zones[i].Key.Type < zones[j].Key.Type
	})
	for _, z := range zones {
		enc = append(enc, encodeZone(z))
	}
	return append(enc, k.dukptRecords()...)
}

// installSession puts a journaled sign-on's keys in force and logs the key
// change with the terminal and link (never the keys). A record that does
// not parse changes nothing: it was written by this package, a bug.
func (s *Server) installSession(t *Txn) {
	if t.sessionKeys[0] == dukptVersion { // a DUKPT counter: claimed before the record (dukpt.go)
		return
	}
	ses, err := s.keys.restore(t.sessionKeys)
	if err != nil {
		s.log.Error().Err(err).Str("link", t.Link.cfg.Name).Msg("sign-on keys not installed: a bug")
		return
	}
	t.Link.log.Info().Str("terminal", ses.Terminal).Msg("session keys changed: sign-on") // the line names the link
}
