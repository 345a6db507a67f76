package auth

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"slices"
	"sync"
)

// The state snapshot (WriteState, ReadState) is a stream of chunks, each a
// uvarint length and a payload of whole records, at most chunkMax bytes:
//
//	header    'H' magic version day now
//	accounts  'A' {id delta held}...          sorted by id
//	cards     'C' {hash usage pinFails atc}... sorted by hash (version 1: no atc)
//	merchants 'M' {id usage}...               sorted by id
//	terminals 'T' {id usage batch}...         sorted by id (before version 3: no batch)
//	shard     'S' shard count                 then its entries, sorted by key:
//	entries   'X' shard {entry}...
//	end       'E' accounts cards merchants terminals entries crc32c
//
// An entry's effect names its state by index into the tables above. The
// reader reads exactly the stream (the chunk lengths say how much), so it
// can sit inside a larger file; every length and count is checked against
// a bound before anything is allocated for it.
const (
	stateMagic   = "cardswitch-auth-state"
	stateVersion = 3       // 2: a card's transaction counter; 3: terminal settlement batches, an entry's batch (versions 1 and 2 are still read)
	chunkMax     = 1 << 20 // bytes: a chunk is read whole before it is decoded
	idMax        = 255     // bytes of an account, merchant or terminal ID
	tableMax     = 1 << 26 // accounts, cards, merchants or terminals: 64 million
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrState is wrapped by ReadState's errors.
var ErrState = errors.New("auth: state snapshot")

func stateErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrState, fmt.Sprintf(format, args...))
}

// stateWriter frames records into chunks.
type stateWriter struct {
	w   io.Writer
	buf []byte // the chunk being filled
	crc uint32
	err error
}

// begin starts a record: a new chunk of kind when the current one is of
// another kind (or full), with head as its chunk header.
func (sw *stateWriter) begin(kind byte, head []byte, room int) {
	if len(sw.buf) > 0 && (sw.buf[0] != kind || len(sw.buf)+room > chunkMax || kind == 'S') {
		sw.flush()
	}
	if len(sw.buf) == 0 {
		sw.buf = append(append(sw.buf, kind), head...)
	}
}

func (sw *stateWriter) flush() {
	if sw.err != nil || len(sw.buf) == 0 {
		sw.buf = sw.buf[:0]
		return
	}
	sw.crc = crc32.Update(sw.crc, crcTable, sw.buf)
	var n [binary.MaxVarintLen64]byte
	if _, sw.err = sw.w.Write(binary.AppendUvarint(n[:0], uint64(len(sw.buf)))); sw.err == nil {
		_, sw.err = sw.w.Write(sw.buf)
	}
	sw.buf = sw.buf[:0]
}

func appendCounter(b []byte, c counter) []byte {
	b = binary.AppendUvarint(b, uint64(c.date))
	b = binary.AppendVarint(b, int64(c.count))
	return binary.AppendVarint(b, c.amount)
}

// stateTables is the state to write: each table's refs in the order
// written, and per ref its index there plus one (0: not written).
type stateTables struct {
	accounts, cards, merchants, terminals []uint32
	accIdx, cardIdx, merchIdx, termIdx    []uint32
	shards                                [shardCount][]keyed
	entries                               int
}

type keyed struct {
	h uint64 // keyHash(k): entries are written in hash order (see keyTable)
	k txnKey
	t *txn
}

// WriteState writes the authorization state (accounts, cards, merchants,
// terminals, and the index entries still live at the newest request time)
// as a snapshot ReadState reads back. The same state gives the same bytes.
// It must not run concurrently with Decide or Replay: it is written at
// start after the replay, at shutdown, and by a replaying copy.
func (a *Authorizer) WriteState(w io.Writer) error {
	st := a.collect()
	sw := &stateWriter{w: w, buf: make([]byte, 0, chunkMax)}
	head := append([]byte(stateMagic), stateVersion)
	head = binary.AppendUvarint(head, uint64(a.day.Load()))
	head = binary.AppendVarint(head, a.now.Load())
	sw.begin('H', head, 0)
	for _, ref := range st.accounts {
		x := a.accounts.at(ref)
		sw.begin('A', nil, idMax+30)
		sw.buf = binary.AppendVarint(binary.AppendVarint(appendID(sw.buf, x.id), x.delta), x.held)
	}
	for _, ref := range st.cards {
		x := a.cards.at(ref)
		sw.begin('C', nil, 32+60+5)
		sw.buf = appendCounter(appendCounter(append(sw.buf, x.hash[:]...), x.usage), x.pinFails)
		sw.buf = binary.AppendUvarint(sw.buf, uint64(x.atc))
	}
	for i, s := range [2]*store[string, acceptor]{a.merchants, a.terminals} {
		for _, ref := range [2][]uint32{st.merchants, st.terminals}[i] {
			x := s.at(ref)
			sw.begin("MT"[i], nil, idMax+30+batchMax)
			sw.buf = appendCounter(appendID(sw.buf, x.id), x.usage)
			if i == 1 {
				sw.buf = appendBatch(sw.buf, &x.batch)
			}
		}
	}
	for i, list := range st.shards {
		sw.begin('S', binary.AppendUvarint([]byte{byte(i)}, uint64(len(list))), 0)
	}
	st.writeEntries(sw)
	end := binary.AppendUvarint(nil, uint64(len(st.accounts)))
	for _, n := range []int{len(st.cards), len(st.merchants), len(st.terminals), st.entries} {
		end = binary.AppendUvarint(end, uint64(n))
	}
	sw.begin('E', end, 0)
	sw.crc = crc32.Update(sw.crc, crcTable, sw.buf)
	sw.buf = binary.LittleEndian.AppendUint32(sw.buf, sw.crc)
	sw.crc = 0 // flush adds the end chunk to a CRC that is no longer read
	sw.flush()
	return sw.err
}

// writeEntries writes the entries a chunk of each shard in turn, so the
// reader's workers, which take the chunks in order, seldom wait for one
// another's shard lock.
func (st *stateTables) writeEntries(sw *stateWriter) {
	var pos [shardCount]int
	for left := st.entries; left > 0; {
		for i, list := range st.shards {
			if pos[i] == len(list) {
				continue
			}
			sw.flush()
			sw.buf = append(sw.buf, 'X', byte(i))
			for ; pos[i] < len(list) && len(sw.buf)+entryMax <= chunkMax; pos[i]++ {
				sw.buf = st.appendEntry(sw.buf, list[pos[i]].k, list[pos[i]].t)
				left--
			}
		}
	}
	sw.flush()
}

// An entry: entryFixed bytes (the key, kind, flags, code, approval, time,
// date, the batch generation (version 3), and whether an effect follows),
// then the effect in varints.
const (
	entryFixedV2 = 8 + 4 + 2 + 1 + 1 + 1 + 2 + 6 + 4 + 4 + 1
	entryFixed   = entryFixedV2 + 2
	entryMax     = entryFixed + 4*5 + 4*10
)

// batchMax bounds a terminal's batch state as written: the generation,
// flags, the closed number, and ten counts twice.
const batchMax = 5 + 1 + 5 + 20*10

func appendBatch(b []byte, x *batchState) []byte {
	b = binary.AppendUvarint(b, uint64(x.gen))
	var flags byte
	for i, f := range [...]bool{x.open, x.closedOK, x.upload} {
		if f {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(x.closedNumber))
	for _, t := range [...]*Totals{&x.tot, &x.closed} {
		for _, c := range [...]Count{t.Debits, t.DebitReversals, t.DebitVoids, t.Credits, t.CreditReversals} {
			b = binary.AppendVarint(binary.AppendVarint(b, c.N), c.Amount)
		}
	}
	return b
}

func (st *stateTables) appendEntry(b []byte, k txnKey, t *txn) []byte {
	b = binary.LittleEndian.AppendUint64(b, k.term)
	b = binary.LittleEndian.AppendUint32(b, k.stan)
	b = binary.LittleEndian.AppendUint16(b, k.ldate)
	b = append(b, k.class, byte(t.kind), t.flags, t.code[0], t.code[1])
	b = append(b, t.approval[:]...)
	b = binary.LittleEndian.AppendUint32(b, t.at)
	b = binary.LittleEndian.AppendUint32(b, t.eff.date)
	b = binary.LittleEndian.AppendUint16(b, t.batch)
	e := &t.eff
	if e.acc == 0 {
		return append(b, 0)
	}
	b = append(b, 1)
	for _, i := range [...]uint32{st.accIdx[e.acc], st.cardIdx[e.card], st.merchIdx[e.merchant], st.termIdx[e.terminal]} {
		b = binary.AppendUvarint(b, uint64(i))
	}
	for _, v := range [...]int64{e.debit, e.hold, e.usage, int64(e.count)} {
		b = binary.AppendVarint(b, v)
	}
	return b
}

// collect gathers the state to write: the live entries, and the accounts,
// cards and acceptors that are not zero or that an entry's effect names.
func (a *Authorizer) collect() *stateTables {
	st := &stateTables{}
	workers := runtime.GOMAXPROCS(0)
	useds := make([][4][]bool, workers)
	var wg sync.WaitGroup
	for w := range workers {
		useds[w] = [4][]bool{make([]bool, a.accounts.tab.len()+1), make([]bool, a.cards.tab.len()+1),
			make([]bool, a.merchants.tab.len()+1), make([]bool, a.terminals.tab.len()+1)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < shardCount; i += workers {
				st.shards[i] = a.collectShard(&a.index.shards[i], &useds[w])
			}
		}()
	}
	wg.Wait()
	used := useds[0]
	for _, u := range useds[1:] {
		for t := range used {
			for i, b := range u[t] {
				used[t][i] = used[t][i] || b
			}
		}
	}
	for i := range st.shards {
		st.entries += len(st.shards[i])
	}
	a.accounts.each(func(ref uint32, x *account) {
		if used[0][ref] || x.delta != 0 || x.held != 0 {
			st.accounts = append(st.accounts, ref)
		}
	})
	a.cards.each(func(ref uint32, x *card) {
		if used[1][ref] || x.usage != (counter{}) || x.pinFails != (counter{}) || x.atc != 0 {
			st.cards = append(st.cards, ref)
		}
	})
	a.merchants.each(func(ref uint32, x *acceptor) {
		if used[2][ref] || x.usage != (counter{}) {
			st.merchants = append(st.merchants, ref)
		}
	})
	a.terminals.each(func(ref uint32, x *acceptor) {
		if used[3][ref] || x.usage != (counter{}) || x.batch != (batchState{}) {
			st.terminals = append(st.terminals, ref)
		}
	})
	st.sort(a)
	return st
}

// collectShard lists a shard's live entries in hash order and marks the
// state their effects name.
func (a *Authorizer) collectShard(sh *txnShard, used *[4][]bool) []keyed {
	// with the purge's slack: a record just after the snapshot's point,
	// journaled a little out of time order, finds what it found live
	now := a.now.Load() - purgeSlack
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := make([]keyed, 0, sh.m.len())
	for p := 0; p < sh.m.places(); p++ {
		k, slot, ok := sh.m.at(p)
		if !ok {
			continue
		}
		if t := sh.at(slot); a.live(t, now) {
			list = append(list, keyed{keyHash(k), k, t})
			e := &t.eff
			used[0][e.acc], used[1][e.card], used[2][e.merchant], used[3][e.terminal] = true, true, true, true
		}
	}
	slices.SortFunc(list, compareKeyed)
	return list
}

// sort orders the tables by key and numbers their items.
func (st *stateTables) sort(a *Authorizer) {
	slices.SortFunc(st.accounts, func(x, y uint32) int { return cmp.Compare(a.accounts.at(x).id, a.accounts.at(y).id) })
	slices.SortFunc(st.cards, func(x, y uint32) int { return bytes.Compare(a.cards.at(x).hash[:], a.cards.at(y).hash[:]) })
	slices.SortFunc(st.merchants, func(x, y uint32) int { return cmp.Compare(a.merchants.at(x).id, a.merchants.at(y).id) })
	slices.SortFunc(st.terminals, func(x, y uint32) int { return cmp.Compare(a.terminals.at(x).id, a.terminals.at(y).id) })
	number := func(refs []uint32, n uint32) []uint32 {
		idx := make([]uint32, n+1)
		for i, ref := range refs {
			idx[ref] = uint32(i) + 1
		}
		return idx
	}
	st.accIdx, st.cardIdx = number(st.accounts, a.accounts.tab.len()), number(st.cards, a.cards.tab.len())
	st.merchIdx, st.termIdx = number(st.merchants, a.merchants.tab.len()), number(st.terminals, a.terminals.tab.len())
}

// compareKeyed orders entries by hash (see keyTable), then terminal, STAN,
// local date and class (packed in one number).
func compareKeyed(x, y keyed) int {
	if c := cmp.Compare(x.h, y.h); c != 0 {
		return c
	}
	if c := cmp.Compare(x.k.term, y.k.term); c != 0 {
		return c
	}
	lo := func(k txnKey) uint64 { return uint64(k.stan)<<24 | uint64(k.ldate)<<8 | uint64(k.class) }
	return cmp.Compare(lo(x.k), lo(y.k))
}
