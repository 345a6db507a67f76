package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/internal/durable"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/journal/snapshot"
)

// snapshotter keeps restart time flat and the journal bounded, in the
// background: every time snapshot.every records have been journaled since
// the last snapshot, it builds the next one, and then closes the business
// days that are past journal.keep_days and covered by it.
//
// The live state cannot be written while requests are decided, so the
// snapshots are written from a follower: a second state that holds what
// the last snapshot holds and applies the journal records since its point,
// read from the live journal with the chain verified, exactly as a start
// would. It costs one replay of each record (about a microsecond) and a
// second copy of the state in memory; it never touches the live state.
type snapshotter struct {
	c    *config
	log  zerolog.Logger
	st   *state // the live state: its journal, key and issuer data
	last journal.Point
	next *state // the follower: the state as of last (nil: load it from last's file)
}

func newSnapshotter(c *config, log zerolog.Logger, st *state) *snapshotter {
	return &snapshotter{c: c, log: log, st: st, last: st.snap}
}

// run checks every snapshot.check until ctx ends.
func (sn *snapshotter) run(ctx context.Context) {
	tick := time.NewTicker(sn.c.file.Snapshot.Check)
	defer tick.Stop()
	for {
		if err := sn.step(); err != nil {
			sn.log.Error().Err(err).Msg("snapshot or day close failed: will try again")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// step takes a snapshot when enough records followed the last one, then
// closes what it allows.
func (sn *snapshotter) step() error {
	j := sn.st.j
	if j.Err() != nil {
		return nil // a failed journal: nothing more is trusted until a restart
	}
	if last := j.Last(); last.Seq-sn.last.Seq >= uint64(sn.c.file.Snapshot.Every) {
		if err := sn.take(last.Seq); err != nil {
			return err
		}
	}
	return sn.closeDays()
}

// take builds and writes the snapshot at sequence to, from the follower:
// the state the last snapshot holds, kept in memory between snapshots
// (loaded from the file the first time), which only this goroutine touches.
// A failure drops the follower, so the next try starts again from the file.
func (sn *snapshotter) take(to uint64) error {
	start := time.Now()
	next, err := sn.follower()
	if err != nil {
		return err
	}
	sn.next = nil
	rp := newReplayer(next)
	p, err := sn.st.j.Walk(sn.last, to, rp.add)
	if werr := rp.wait(); err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	m, err := snapshot.Write(sn.c.snapshotDir(), snapshot.Point(p), sn.st.prot.Fingerprint(), next.parts())
	if err != nil {
		return err
	}
	if err := snapshot.Prune(sn.c.snapshotDir(), sn.c.file.Snapshot.Keep); err != nil {
		return err
	}
	sn.log.Info().Uint64("seq", p.Seq).Uint64("records", p.Seq-sn.last.Seq).Int64("transactions", next.authz.Stats().Transactions).
		Dur("took", time.Since(start)).Str("file", m.Path).Msg("snapshot written")
	sn.last, sn.next = p, next
	return nil
}

// follower is the state as of sn.last: the one kept from the last
// snapshot, or a fresh one loaded from the last snapshot's file.
func (sn *snapshotter) follower() (*state, error) {
	if sn.next != nil {
		return sn.next, nil
	}
	next, err := newState(sn.c, sn.st.prot)
	if err != nil || sn.last.Seq == 0 {
		return next, err
	}
	metas, err := snapshot.List(sn.c.snapshotDir())
	if err != nil {
		return nil, err
	}
	for _, m := range metas {
		if journal.Point(m.Point) == sn.last {
			return next, snapshot.Load(m, next.parts())
		}
	}
	return nil, fmt.Errorf("snapshots: the snapshot at %d is gone from %s", sn.last.Seq, sn.c.snapshotDir())
}

// closeDays exports, verifies and drops the oldest business days beyond
// journal.keep_days, one at a time, as long as every kept snapshot covers
// them: a restart after the drop can start from any of them, so one
// damaged file does not leave the switch unable to start.
func (sn *snapshotter) closeDays() error {
	keep := sn.c.file.Journal.KeepDays
	if keep <= 0 {
		return nil
	}
	metas, err := snapshot.List(sn.c.snapshotDir())
	if err != nil || len(metas) == 0 {
		return err
	}
	covered := metas[len(metas)-1].Point.Seq // the oldest kept snapshot
	for {
		days, err := sn.st.j.Days()
		if err != nil {
			return err
		}
		if len(days) <= keep || days[0].LastSeq > covered {
			return nil
		}
		if err := sn.closeDay(days[0]); err != nil {
			return err
		}
	}
}

// closeDay writes a day's export to the archive, reads it back to verify
// it against the chain, and only then drops the day from the journal.
func (sn *snapshotter) closeDay(d journal.Day) error {
	dir := sn.c.archiveDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, fmt.Sprintf("journal-%d.csj", d.Date))
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	e, err := sn.st.j.ExportDay(d.Date, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = verifyFile(tmp, e)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = durable.SyncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("closing business day %d: %w", d.Date, err)
	}
	dropStart := time.Now()
	if err := sn.st.j.DropDay(d.Date, e); err != nil {
		return fmt.Errorf("closing business day %d: %w", d.Date, err)
	}
	sn.log.Info().Uint32("date", d.Date).Uint64("records", e.Records).Uint64("last_seq", e.LastSeq).Str("archive", path).
		Dur("drop", time.Since(dropStart)).Msg("business day closed: exported, verified, dropped from the journal")
	return nil
}

// verifyFile reads an export back from disk and checks it is the one made.
func verifyFile(path string, want journal.Export) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	got, err := journal.VerifyExport(f)
	if err != nil {
		return err
	}
	if got != want {
		return errors.New("the export read back differs from the one written")
	}
	return nil
}
