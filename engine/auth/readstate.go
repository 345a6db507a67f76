package auth

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
)

// ReadState loads a snapshot WriteState wrote into a, which must be new
// (no decision or replay yet). It reads exactly the snapshot's bytes. On
// an error a is left empty, as New made it; the error wraps ErrState when
// the snapshot is corrupt, incomplete, or passes a's Limits.
func (a *Authorizer) ReadState(r io.Reader) error {
	if a.index.count.Load() != 0 || a.day.Load() != 0 || a.now.Load() != 0 {
		return stateErr("ReadState needs a new authorizer")
	}
	sr := &stateReader{a: a, r: r}
	err := sr.read()
	if err != nil {
		a.reset()
	}
	return err
}

// stateReader decodes a snapshot: tables on its own goroutine, entry
// chunks on workers (one per CPU), each into its shard under the lock.
type stateReader struct {
	a                    *Authorizer
	r                    io.Reader
	crc                  uint32
	accounts, cards      []uint32 // refs, in the snapshot's order
	merchants, terminals []uint32
	entries              int64             // announced by the shard chunks
	announced            [shardCount]int64 // per shard (set before its entry chunks go to a worker)
	decoded              [shardCount]int64 // per shard, under its lock
	free                 chan []byte       // chunk buffers the workers are done with
	version              byte              // the snapshot's
}

// chunk reads the next chunk's payload, into a buffer of the free list
// when there is one.
func (sr *stateReader) chunk() ([]byte, error) {
	n, err := binary.ReadUvarint(byteReader{sr.r})
	switch {
	case err == io.EOF:
		return nil, stateErr("truncated: no end chunk")
	case err != nil:
		return nil, stateErr("chunk length: %v", err)
	case n == 0 || n > chunkMax:
		return nil, stateErr("chunk of %d bytes (1 to %d)", n, chunkMax)
	}
	var buf []byte
	select {
	case buf = <-sr.free:
	default:
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(sr.r, buf); err != nil {
		return nil, stateErr("chunk of %d bytes: %v", n, err)
	}
	return buf, nil
}

// byteReader reads one byte at a time, so a chunk length never reads past
// itself.
type byteReader struct{ r io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var c [1]byte
	_, err := io.ReadFull(b.r, c[:])
	return c[0], err
}

func (sr *stateReader) read() error {
	workers := runtime.GOMAXPROCS(0)
	work := make(chan []byte, workers)
	sr.free = make(chan []byte, 2*workers)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			for p := range work {
				if err == nil {
					err = sr.entryChunk(p)
				}
				select {
				case sr.free <- p:
				default:
				}
			}
			errs <- err
		}()
	}
	err := sr.chunks(work)
	close(work)
	wg.Wait()
	for range workers {
		if e := <-errs; err == nil {
			err = e
		}
	}
	if err == nil && sr.decoded != sr.announced {
		err = stateErr("shards hold fewer entries than announced")
	}
	return err
}

// chunks reads every chunk in order, decoding tables here and handing
// entry chunks to the workers, up to the end chunk.
func (sr *stateReader) chunks(work chan<- []byte) error {
	const order = "HACMTSXE"
	last := -1
	for {
		p, err := sr.chunk()
		if err != nil {
			return err
		}
		at := indexByte(order, p[0])
		if at < 0 || at < last || (at == 0) != (last == -1) {
			return stateErr("chunk %q out of order", p[0])
		}
		last = min(at, 5) // shard and entry chunks alternate
		if p[0] == 'E' {
			return sr.end(p)
		}
		sr.crc = crc32.Update(sr.crc, crcTable, p)
		if p[0] == 'X' {
			work <- p // the worker owns it, and puts it on the free list
			continue
		}
		if err := sr.table(p); err != nil {
			return err
		}
	}
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// table decodes a header, table or shard chunk.
func (sr *stateReader) table(p []byte) error {
	d := newDecoder(p[1:])
	var err error
	switch p[0] {
	case 'H':
		err = sr.header(d)
	case 'A':
		for d.more() && len(sr.accounts) < tableMax && err == nil {
			x, ref := sr.a.accounts.get(d.id())
			x.delta, x.held = d.Varint(), d.Varint()
			sr.accounts, err = appendRef(sr.accounts, ref)
		}
	case 'C':
		for d.more() && len(sr.cards) < tableMax && err == nil {
			var h [32]byte
			copy(h[:], d.Take(32))
			x, ref := sr.a.cards.get(h)
			x.usage, x.pinFails = d.counter(), d.counter()
			if sr.version >= 2 {
				x.atc = uint32(d.uvarint(1 << 16)) // an ATC (2 bytes) plus one
			}
			sr.cards, err = appendRef(sr.cards, ref)
		}
	case 'M', 'T':
		s, list := sr.a.merchants, &sr.merchants
		if p[0] == 'T' {
			s, list = sr.a.terminals, &sr.terminals
		}
		for d.more() && len(*list) < tableMax && err == nil {
			x, ref := s.get(d.id())
			x.usage = d.counter()
			if p[0] == 'T' && sr.version >= 3 {
				sr.batch(d, &x.batch)
			}
			*list, err = appendRef(*list, ref)
		}
	case 'S':
		err = sr.shard(d)
	}
	if err == nil && (d.Bad || d.more()) {
		err = stateErr("chunk %q does not parse", p[0])
	}
	return err
}

func (sr *stateReader) header(d *decoder) error {
	if string(d.Take(len(stateMagic))) != stateMagic {
		return stateErr("not an authorization state")
	}
	sr.version = d.byte()
	if sr.version < 1 || sr.version > stateVersion {
		return stateErr("version %d (this build reads 1 to %d)", sr.version, stateVersion)
	}
	sr.a.day.Store(uint32(d.uvarint(1<<32 - 1)))
	sr.a.now.Store(d.Varint())
	return nil
}

// shard sizes a shard for the entries its chunks will bring.
func (sr *stateReader) shard(d *decoder) error {
	i := d.byte()
	n := d.uvarint(maxTransactionsLimit)
	if d.Bad || i >= shardCount {
		return stateErr("shard chunk does not parse")
	}
	if sr.entries += int64(n); sr.entries > int64(sr.a.lim.MaxTransactions) {
		return stateErr("more than max transactions (%d) entries", sr.a.lim.MaxTransactions)
	}
	if sr.announced[i] != 0 {
		return stateErr("shard %d twice", i)
	}
	sr.announced[i] = int64(n)
	sh := &sr.a.index.shards[i]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.m.sized(int(n))
	sh.slabs = make([][]txn, 0, (n+slabLen-1)/slabLen)
	return nil
}

// appendRef appends a table item's ref, refusing one seen already (the
// snapshot names the same key twice: get found it).
func appendRef(refs []uint32, ref uint32) ([]uint32, error) {
	if int(ref) != len(refs)+1 {
		return refs, stateErr("a key twice in a table")
	}
	return append(refs, ref), nil
}

// entryChunk decodes a chunk of one shard's entries into it.
func (sr *stateReader) entryChunk(p []byte) error {
	d := newDecoder(p[1:])
	i := d.byte()
	if d.Bad || i >= shardCount {
		return stateErr("entry chunk does not parse")
	}
	sh := &sr.a.index.shards[i]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var n, placeholders int64
	defer func() {
		sr.a.index.count.Add(n)
		sr.a.index.placeholders.Add(placeholders)
	}()
	for d.more() {
		k, t := sr.entry(d)
		switch {
		case d.Bad:
			return stateErr("entry of shard %d does not parse", i)
		case sr.decoded[i] >= sr.announced[i]:
			return stateErr("shard %d holds more entries than announced", i)
		case shardOf(k) != uint64(i):
			return stateErr("entry in shard %d belongs to %d", i, shardOf(k))
		}
		slot := sh.alloc()
		*sh.at(slot) = t
		if !sh.m.set(k, slot) {
			return stateErr("entry twice in shard %d", i)
		}
		sr.decoded[i]++
		n++
		if t.has(txnPlaceholder) {
			placeholders++
		}
	}
	return nil
}

// entry decodes one index entry; d.Bad on anything out of its range.
func (sr *stateReader) entry(d *decoder) (txnKey, txn) {
	var k txnKey
	var t txn
	fixed := entryFixed
	if sr.version < 3 {
		fixed = entryFixedV2
	}
	b := d.Take(fixed)
	if b == nil {
		return k, t
	}
	le := binary.LittleEndian
	k = txnKey{term: le.Uint64(b), stan: le.Uint32(b[8:]), ldate: le.Uint16(b[12:]), class: b[14]}
	t.kind, t.flags, t.code = Kind(b[15]), b[16], [2]byte{b[17], b[18]}
	copy(t.approval[:], b[19:25])
	t.at, t.eff.date = le.Uint32(b[25:]), le.Uint32(b[29:])
	flagsMax := uint8(1 << 6) // txnInBatch is the sixth
	if sr.version < 3 {
		flagsMax = 1 << 5
	} else {
		t.batch = le.Uint16(b[33:])
	}
	if k.ldate > 9999 || t.kind > KindReversal || t.flags >= flagsMax {
		d.Bad = true
	}
	switch b[fixed-1] {
	case 0:
		return k, t
	case 1:
	default:
		d.Bad = true
		return k, t
	}
	e := &t.eff
	e.acc, e.card = item(d, sr.accounts), item(d, sr.cards)
	e.merchant, e.terminal = item(d, sr.merchants), item(d, sr.terminals)
	e.debit, e.hold, e.usage = d.Varint(), d.Varint(), d.Varint()
	e.count = int32(d.Varint())
	if e.acc == 0 || e.card == 0 {
		d.Bad = true
	}
	return k, t
}

// item reads an index into a table plus one (0: none) and returns the ref.
func item(d *decoder, refs []uint32) uint32 {
	i := d.uvarint(uint64(len(refs)))
	if i == 0 {
		return 0
	}
	return refs[i-1]
}

// end checks the counts and the CRC.
func (sr *stateReader) end(p []byte) error {
	d := newDecoder(p[1:])
	counts := [5]uint64{}
	for i := range counts {
		counts[i] = d.uvarint(1 << 40)
	}
	crc := sr.crc
	if len(d.B) == 4 {
		crc = crc32.Update(sr.crc, crcTable, p[:len(p)-4])
	}
	switch {
	case d.Bad || len(d.B) != 4:
		return stateErr("end chunk does not parse")
	case binary.LittleEndian.Uint32(d.B) != crc:
		return stateErr("checksum mismatch: the snapshot is corrupt")
	case counts != [5]uint64{uint64(len(sr.accounts)), uint64(len(sr.cards)), uint64(len(sr.merchants)), uint64(len(sr.terminals)), uint64(sr.entries)}:
		return stateErr("counts %v do not match the snapshot's contents", counts)
	}
	return nil
}

// batch reads a terminal's settlement batch (version 3), counting an open
// one toward Limits.MaxBatches (never refused: the state was decided).
func (sr *stateReader) batch(d *decoder, x *batchState) {
	x.gen = uint32(d.uvarint(1<<32 - 1))
	flags := d.byte()
	x.open, x.closedOK, x.upload = flags&1 != 0, flags&2 != 0, flags&4 != 0
	if flags >= 8 {
		d.Bad = true
	}
	x.closedNumber = uint32(d.uvarint(1<<32 - 1))
	for _, t := range [...]*Totals{&x.tot, &x.closed} {
		for _, c := range [...]*Count{&t.Debits, &t.DebitReversals, &t.DebitVoids, &t.Credits, &t.CreditReversals} {
			c.N, c.Amount = d.Varint(), d.Varint()
		}
	}
	if x.open {
		sr.a.batches.Add(1)
	}
}
