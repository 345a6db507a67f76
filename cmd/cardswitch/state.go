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
	"github.com/cardswitch/cardswitch/journal"
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
	j     *journal.Journal
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

// openState builds the state and opens the journal, verifying it and
// replaying it into the state.
func openState(c *config, log zerolog.Logger, onFail func(error)) (*state, error) {
	prot, replaced, err := dataKeys(c, log)
	if err != nil {
		return nil, err
	}
	authz, err := auth.New(c.issuer, prot.HashPAN, c.limits)
	if err != nil {
		return nil, err
	}
	st := &state{prot: prot, authz: authz, ids: &engine.IDs{}, keys: &engine.Keys{Current: authz.Data}}
	start := time.Now()
	replayed := 0
	j, err := journal.Open(journal.Options{
		Dir:            filepath.Join(c.file.DataDir, "journal"),
		Window:         c.file.Journal.Window,
		MaxBatch:       c.file.Journal.MaxBatch,
		AcceptLoss:     c.acceptLoss,
		KeyFingerprint: prot.Fingerprint(),
		ReplaceKey:     replaced,
		RebuildMark:    c.rebuildMark,
		OnFail:         onFail,
		Replay: func(r *journal.Record) error {
			replayed++
			return st.replay(r)
		},
	})
	var ie *journal.IntegrityError
	if errors.As(err, &ie) {
		return nil, fmt.Errorf("%v; the switch will not start on it: run 'cardswitch journal verify' to see it, and start with --accept-journal-loss only if the loss is accepted", err)
	}
	if err != nil {
		return nil, err
	}
	st.j = j
	log.Info().Uint64("last_seq", j.LastSeq()).Int("replayed", replayed).Dur("took", time.Since(start)).
		Msg("journal verified and replayed into the authorization state")
	return st, nil
}

// replay applies one journaled record to the state, as it was applied when
// it was made: the decision's outcome, the identifiers it gave out, the
// keys a sign-on installed.
func (st *state) replay(r *journal.Record) error {
	st.ids.Observe(r.RRNSeq, r.ApprovalSeq)
	if len(r.SessionKeys) > 0 {
		if err := st.keys.Restore(r.SessionKeys); err != nil {
			return fmt.Errorf("journal record %d: %w", r.Seq, err)
		}
	}
	return st.authz.Replay(r.Outcome, r.RespCode)
}
