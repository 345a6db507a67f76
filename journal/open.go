package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// start brings an opened Badger to a verified journal: it reads the meta
// and checks the key, finishes an interrupted day drop, verifies from the
// anchor (or Options.After) against the high-water mark, settles a loss
// or a missing mark as the options allow, and sets the committer's state.
func (j *Journal) start() error {
	m, err := loadMeta(j.db)
	if err != nil {
		return err
	}
	if err := m.checkKey(j.opts); err != nil {
		return err
	}
	if err := dropRange(j.db, m.anchor); err != nil { // a drop interrupted after its anchor moved
		return err
	}
	if j.opts.Replay != nil && j.opts.After.Seq < m.anchor.Seq {
		// the records up to the anchor were dropped: replaying what is left
		// would build a state without them
		return fmt.Errorf("%w: the journal starts after sequence %d (the days before were closed) and the replay starts at %d",
			ErrNotCovered, m.anchor.Seq, j.opts.After.Seq)
	}
	path := filepath.Join(j.opts.Dir, hwmName)
	mark, unreadable, err := openMark(path)
	if err != nil {
		return err
	}
	j.mark = mark
	var check *markCheck
	if mark != nil {
		check = &markCheck{seq: mark.seq, hash: mark.hash}
	}
	res, err := verifyAt(j.db, m.anchor, j.opts.After, check, j.opts.Replay)
	if err != nil {
		return err
	}
	if mark == nil && (m.present || res.LastSeq > m.anchor.Seq) && !j.opts.RebuildMark {
		return &MissingError{Path: path, Records: res.LastSeq - m.anchor.Seq, Unreadable: unreadable}
	}
	if res.Problem != nil && !j.opts.AcceptLoss {
		return res.Problem
	}
	if res.Problem != nil || len(j.struck) > 0 {
		j.loss = &Loss{Problem: res.Problem, Tables: j.struck, LastSeq: res.LastSeq}
	}
	if res.Problem != nil {
		if j.loss.Quarantined, err = quarantine(j.db, res.LastSeq); err != nil {
			return err
		}
	}
	if err := j.settleMark(path, res); err != nil {
		return err
	}
	if err := j.settleMeta(m); err != nil {
		return err
	}
	j.seq, j.last, j.keyDate = res.LastSeq, res.LastHash, res.LastKeyDate
	j.lastPt, j.anchor, j.stats.LastSeq = res.LastPoint(), m.anchor, res.LastSeq
	return nil
}

// openMark opens the mark file read-write: nil (and whether the file was
// there, unreadable) when there is no readable mark.
func openMark(path string) (*hwm, bool, error) {
	mark, err := openHWM(path, os.O_RDWR)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !mark.valid {
		mark.close()
		return nil, true, nil
	}
	return mark, false, nil
}

// settleMark makes the mark hold the last intact record: created (a new
// journal, or rebuilt), lowered (a loss accepted) or moved forward (records
// made durable by a commit whose mark store did not happen).
func (j *Journal) settleMark(path string, res Result) error {
	var err error
	switch {
	case j.mark == nil:
		j.mark, err = createHWM(path, res.LastPoint())
	case res.Problem != nil || j.mark.seq > res.LastSeq:
		err = j.mark.lower(res.LastSeq, res.LastHash)
	case j.mark.seq != res.LastSeq:
		err = j.mark.store(res.LastSeq, res.LastHash)
	}
	return err
}

// settleMeta writes the meta of a new (or older) journal, and the new key
// fingerprint when one is given where none was, or replaces the old.
func (j *Journal) settleMeta(m meta) error {
	var zero [16]byte
	fp := j.opts.KeyFingerprint
	if m.present && (fp == zero || fp == m.fingerprint) {
		return nil
	}
	if fp != zero {
		m.fingerprint = fp
	}
	m.present = true
	return storeMeta(j.db, m)
}
