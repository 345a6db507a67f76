package main

import (
	"fmt"

	"github.com/cardswitch/cardswitch/journal"
)

// replayer applies journal records to a state on a goroutine of its own,
// so that verifying the journal (the hash chain, decoding) and applying
// the decisions run side by side on two cores: a start replays about
// twice as fast. Records are copied (only what replay reads) into batches;
// at most replayQueue batches wait, which bounds the memory to a few MB.
type replayer struct {
	st    *state
	batch *replayBatch
	queue chan *replayBatch
	free  chan *replayBatch // batches applied, to fill again (no allocation per batch)
	done  chan error
	err   error // the applier's first error, once done
}

const (
	replayBatchLen = 4096 // records per hand-off: one channel operation per batch
	replayQueue    = 4    // batches waiting for the applier
	replayArena    = 1 << 20
)

// replayBatch holds copies of records: their fixed fields and, in one
// arena, their outcome and session keys.
type replayBatch struct {
	recs  []replayRec
	arena []byte
}

type replayRec struct {
	seq               uint64
	rrnSeq, apprSeq   uint64
	rc                [2]byte
	outcome, sessions [2]int // start and end in the arena
}

func newReplayer(st *state) *replayer {
	p := &replayer{st: st, queue: make(chan *replayBatch, replayQueue), free: make(chan *replayBatch, replayQueue+2),
		done: make(chan error, 1)}
	for i := 0; i < replayQueue+1; i++ {
		p.free <- &replayBatch{recs: make([]replayRec, 0, replayBatchLen), arena: make([]byte, 0, replayArena)}
	}
	p.batch = <-p.free
	go p.apply()
	return p
}

// add copies r into the current batch (the journal's callback: r is valid
// only during the call); it fails once the applier has failed.
func (p *replayer) add(r *journal.Record) error {
	if r.UpState != journal.UpNone { // a forwarded request's leg: the open set follows it here, r still valid
		p.st.open.observe(r)
		p.st.owed.observe(r)
	}
	p.st.stood.observe(r) // every record: a newer business day empties it
	b := p.batch
	rec := replayRec{seq: r.Seq, rrnSeq: r.RRNSeq, apprSeq: r.ApprovalSeq, rc: r.RespCode}
	rec.outcome[0] = len(b.arena)
	b.arena = append(b.arena, r.Outcome...)
	rec.outcome[1], rec.sessions[0] = len(b.arena), len(b.arena)
	b.arena = append(b.arena, r.SessionKeys...)
	rec.sessions[1] = len(b.arena)
	b.recs = append(b.recs, rec)
	if len(b.recs) < replayBatchLen {
		return nil
	}
	return p.flush()
}

func (p *replayer) flush() error {
	if len(p.batch.recs) == 0 {
		return nil
	}
	select {
	case p.queue <- p.batch:
	case err := <-p.done: // the applier stopped early
		p.err = err
		return err
	}
	select {
	case p.batch = <-p.free:
	case err := <-p.done:
		p.err = err
		return err
	}
	return nil
}

// wait hands over what is left and waits until everything is applied.
func (p *replayer) wait() error {
	if p.err == nil {
		p.err = p.flush()
	}
	close(p.queue) // the applier ends (or, failed, stops draining)
	if p.err != nil {
		return p.err
	}
	return <-p.done
}

func (p *replayer) apply() {
	for b := range p.queue {
		for i := range b.recs {
			r := &b.recs[i]
			if err := p.st.apply(r.rrnSeq, r.apprSeq, r.rc, b.arena[r.outcome[0]:r.outcome[1]], b.arena[r.sessions[0]:r.sessions[1]]); err != nil {
				p.done <- fmt.Errorf("journal record %d: %w", r.seq, err)
				for range p.queue { // let the producer finish
				}
				return
			}
		}
		b.recs, b.arena = b.recs[:0], b.arena[:0]
		p.free <- b
	}
	p.done <- nil
}
