package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/engine/bizday"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/journal/snapshot"
)

// NewKeyFlag is the serve flag that accepts a missing data key.
const newKeyFlag = "--new-journal-key"

// state is what the switch decides with, rebuilt before any traffic: the
// data key, the authorization state, the identifier counters and the
// sign-on keys, from the journal (and the newest snapshot that matches it).
type state struct {
	prot  *journal.Protector
	authz *auth.Authorizer
	ids   *engine.IDs
	keys  *engine.Keys
	open  *openSet // forwarded requests without their final record (openup.go)
	owed  *openSet // records that owe a store-and-forward entry without its final record
	stood *openSet // the stand-in approvals of the newest business day
	j     *journal.Journal
	snap  journal.Point // the snapshot the state was loaded from (zero: none)
	// day dates the records the start writes and, handed to the engine,
	// every request (cutover.go): its floor is the journal's newest date
	day *bizday.Day
}

// dataKeys loads the journal's data key. A missing key file with a journal
// in place stops the start: new keys would open nothing (every card's
// state is keyed by the PAN's keyed hash), so a card at its daily limit
// would be approved again. --new-journal-key accepts that loss.
func dataKeys(c *config, log zerolog.Logger) (*journal.Protector, bool, error) {
	if err := os.MkdirAll(c.file.DataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("data_dir: %v", err)
	}
	path := filepath.Join(c.file.DataDir, "journal.key")
	prot, err := journal.LoadKeys(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return prot, false, err
	}
	jdir := filepath.Join(c.file.DataDir, "journal")
	exists, err := journal.Exists(jdir)
	if err != nil {
		return nil, false, err
	}
	if exists && !c.newKey {
		return nil, false, fmt.Errorf("%s is missing but %s holds a journal: restore the key file from its backup, "+
			"or start with %s to continue with new keys (every card's usage, PIN tries and holds by card are then forgotten)",
			path, jdir, newKeyFlag)
	}
	if prot, err = journal.CreateKeys(path); err != nil {
		return nil, false, err
	}
	if exists {
		log.Warn().Str("file", path).Msg("new journal data key created on an existing journal (" + newKeyFlag + "): card state of the old key is forgotten")
	}
	return prot, exists, nil
}

// openState builds the state and opens the journal: the newest snapshot
// whose key and point match the journal is loaded, and the journal is
// verified and replayed after that point only (from its anchor when no
// snapshot matches). A snapshot that does not verify, or that the journal
// does not hold, is passed over for the one before it.
func openState(c *config, log zerolog.Logger, onFail func(error)) (*state, error) {
	prot, replaced, err := dataKeys(c, log)
	if err != nil {
		return nil, err
	}
	metas, err := snapshot.List(c.snapshotDir())
	if err != nil {
		return nil, fmt.Errorf("snapshots: %v", err)
	}
	jdir := filepath.Join(c.file.DataDir, "journal")
	if exists, err := journal.Exists(jdir); err != nil {
		return nil, err
	} else if !exists && len(metas) > 0 {
		// a start from nothing would reset every balance and counter, and
		// give identifiers again
		return nil, fmt.Errorf("%s is missing but %s holds snapshots up to sequence %d: restore the journal; "+
			"to start from nothing, remove the snapshots", jdir, c.snapshotDir(), metas[0].Point.Seq)
	}
	for _, m := range metas {
		if m.Fingerprint != prot.Fingerprint() {
			log.Warn().Str("snapshot", m.Path).Msg("snapshot made under another data key: passed over")
			continue
		}
		st, err := openFrom(c, log, onFail, prot, replaced, &m)
		if err == nil {
			return st, nil
		}
		if !errors.Is(err, snapshot.ErrCorrupt) && !errors.Is(err, journal.ErrPointMismatch) {
			return nil, err
		}
		log.Warn().Err(err).Str("snapshot", m.Path).Msg("snapshot passed over")
	}
	return openFrom(c, log, onFail, prot, replaced, nil)
}

// newState is an empty state over the configuration's issuer data.
func newState(c *config, prot *journal.Protector) (*state, error) {
	authz, err := auth.New(c.issuer, prot.HashPAN, c.limits)
	if err != nil {
		return nil, err
	}
	return &state{prot: prot, authz: authz, ids: &engine.IDs{}, keys: &engine.Keys{Current: authz.Data}, open: newOpenSet(), owed: newSAFSet(), stood: newStandInSet()}, nil
}

// parts are the state's pieces a snapshot holds.
func (st *state) parts() snapshot.Parts {
	return snapshot.Parts{State: st.authz, Counters: st.ids, Sessions: st.keys, Open: pendingParts{st.open, st.owed}, StandIn: st.stood}
}

// openFrom loads snapshot m (nil: none) and opens the journal after it.
func openFrom(c *config, log zerolog.Logger, onFail func(error), prot *journal.Protector, replaced bool, m *snapshot.Meta) (*state, error) {
	st, err := newState(c, prot)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var after journal.Point
	if m != nil {
		if err := snapshot.Load(*m, st.parts()); err != nil {
			return nil, err
		}
		after = journal.Point(m.Point)
	}
	loaded := time.Since(start)
	replayed := 0
	rp := newReplayer(st)
	j, err := journal.Open(journal.Options{
		Dir:            filepath.Join(c.file.DataDir, "journal"),
		Window:         c.file.Journal.Window,
		MaxBatch:       c.file.Journal.MaxBatch,
		MinFreeMB:      c.file.Journal.MinFreeMB,
		ReserveMB:      c.file.Journal.ReserveMB,
		AcceptLoss:     c.acceptLoss,
		KeyFingerprint: prot.Fingerprint(),
		ReplaceKey:     replaced,
		RebuildMark:    c.rebuildMark,
		OnFail:         onFail,
		OnCommit:       c.onCommit,
		After:          after,
		Replay: func(r *journal.Record) error {
			replayed++
			return rp.add(r)
		},
	})
	if werr := rp.wait(); err == nil && werr != nil {
		j.Close()
		return nil, werr
	}
	var ie *journal.IntegrityError
	if errors.As(err, &ie) {
		return nil, fmt.Errorf("%v; the switch will not start on it: run 'cardswitch journal verify' to see it, and start with --accept-journal-loss only if the loss is accepted", err)
	}
	if errors.Is(err, journal.ErrNotCovered) {
		return nil, fmt.Errorf("%v: restore the snapshot files of %s", err, c.snapshotDir())
	}
	if err != nil {
		return nil, err
	}
	st.j, st.snap = j, after
	if l := j.Loss(); l != nil {
		// the person who passed --accept-journal-loss is told what it cost,
		// at warn: the default level of a service may hide info
		log.Warn().Strs("tables_struck", l.Tables).Int("records_quarantined", l.Quarantined).Uint64("continues_after", l.LastSeq).
			Str("loss", l.String()).Msg("journal loss accepted (--accept-journal-loss): records after the last intact one quarantined")
	}
	ev := log.Info().Uint64("last_seq", j.LastSeq()).Uint64("snapshot_seq", after.Seq).Int("replayed", replayed).
		Dur("snapshot_load", loaded).Int("open_upstream", len(st.open.at)).Int("saf_pending", len(st.owed.at)).Dur("took", time.Since(start))
	ev.Msg("state loaded: snapshot, then the journal after it verified and replayed")
	return st, nil
}

// apply replays one journaled record on the state, as it was applied when
// it was made: the identifiers it gave out, the keys a sign-on installed,
// the decision's outcome.
func (st *state) apply(rrnSeq, apprSeq uint64, rc [2]byte, outcome, sessions []byte) error {
	st.ids.Observe(rrnSeq, apprSeq)
	if len(sessions) > 0 {
		if err := st.keys.Restore(sessions); err != nil {
			return err
		}
	}
	return st.authz.Replay(outcome, rc)
}
