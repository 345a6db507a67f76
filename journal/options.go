package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Options configure a journal. Zero values take the defaults (setDefaults);
// Validate refuses values out of range.
type Options struct {
	Dir string
	// Window is how long a commit may wait for more records once it has
	// some; 0 commits at once (records that arrive during a commit form the
	// next batch anyway). 0 to 10ms.
	Window time.Duration
	// MaxBatch bounds the records of one commit; default 4096, at most
	// MaxBatchLimit. A commit that Badger finds too big for one transaction
	// is split into several, so no batch fails for its size.
	MaxBatch int
	// QueueDepth bounds records waiting for a commit; Append blocks beyond
	// it (back-pressure on the workers); default 65536, at most 1<<20.
	QueueDepth int
	// AcceptLoss opens a journal that fails verification, continuing after
	// its last intact record. Use only when told to by a person.
	AcceptLoss bool
	// MemTableMB sizes Badger's memtable; default 16, 8 to 1024 (Badger
	// needs 15% of it to hold its 1 MB value threshold in one transaction).
	// Badger's memory grows with it: its memtables, and the pool of up to
	// eight table builders whose buffers reach several times a table.
	MemTableMB int
	// MinFreeMB is the free disk space below which commits pause (records
	// are refused with ErrDiskFull, nothing is written) until space is
	// back: Badger would die of SIGBUS writing into a full disk. Default
	// 2*MemTableMB + 16 (the rest of a memtable log, the table its flush
	// writes, a batch); at least MemTableMB + 8, at most 1<<20.
	MinFreeMB int
	// ReserveMB is the size of the reserve file kept, allocated, in Dir and
	// deleted when commits pause or when Open or Verify find the disk full,
	// so that flushes, a stop, a restart and verify have room; default 64,
	// at most 4096.
	ReserveMB int
	// Replay, if set, sees every intact record after After in order while
	// Open verifies the journal: one pass rebuilds the switch's state. The
	// record is valid only during the call.
	Replay func(*Record) error

	// KeyFingerprint is the data key's fingerprint ((*Protector).Fingerprint).
	// It is stored in a new journal; at open a different one is refused with
	// ErrKeyMismatch unless ReplaceKey. Zero: not checked, not stored.
	KeyFingerprint [16]byte
	// ReplaceKey records KeyFingerprint in place of the journal's.
	ReplaceKey bool
	// RebuildMark lets Open recreate a missing high-water mark at the last
	// intact record (else it refuses with a *MissingError).
	RebuildMark bool
	// After is a snapshot's point: Open checks that the journal holds that
	// record with that hash (else an error wrapping ErrPointMismatch), then
	// verifies and replays only the records after it. Zero: from the
	// journal's anchor.
	After Point
	// OnFail, if set, is called once, on the committer, when the journal
	// becomes failed (see ErrInDoubt and ErrFailed). It must not block.
	OnFail func(error)
	// OnCommit, if set, is called on the committer once per commit that
	// became durable, after its waiters were told (metrics: one
	// observation per commit, none per record). It must not block.
	OnCommit func(Commit)
}

// Commit describes one durable commit, for OnCommit.
type Commit struct {
	Records      int           // records in the batch
	Transactions int           // Badger transactions it took (more than 1 when split)
	Took         time.Duration // from the first write to the synced high-water mark
}

const (
	// MaxBatchLimit caps Options.MaxBatch: 16384 records of about 300
	// bytes are 5 MB, more than one Badger transaction holds at the default
	// memtable (15% of 16 MB; write splits it), and a larger batch would not
	// commit faster: the fsync, not the batch size, is the cost.
	MaxBatchLimit = 16384
	// queueDepthMax bounds the queue: each waiting record holds a worker's
	// transaction, and a million is far beyond any in-flight cap.
	queueDepthMax     = 1 << 20
	windowMax         = 10 * time.Millisecond
	defaultMemTableMB = 16
	memTableMBMin     = 8 // 15% of 8 MB holds Badger's 1 MB value threshold and a chunk
	memTableMBMax     = 1024
	defaultMaxBatch   = 4096
	defaultQueueDepth = 65536
	// toolMemTableMB: the tools replay the memtable log the switch left,
	// into an arena that must be as large as the switch's memtable.
	toolMemTableMB = defaultMemTableMB
)

// The disk-full thresholds at the default memtable (MemTableMB 0), for a
// configuration that sets MinFreeMB and ReserveMB and names its own keys
// in its errors; Validate applies the same bounds.
const (
	// DefaultMinFreeMB is MinFreeMB's default: 2*memtable+16.
	DefaultMinFreeMB = 2*defaultMemTableMB + 16
	// MinFreeMBLeast is the least MinFreeMB: a memtable's flush and a
	// margin (memtable+8); below it Badger may fault on a full disk.
	MinFreeMBLeast = defaultMemTableMB + 8
	// MinFreeMBMax bounds MinFreeMB (1 TiB): more is a typo, not a policy.
	MinFreeMBMax = 1 << 20
	// DefaultReserveMB is ReserveMB's default: room for a memtable's flush.
	DefaultReserveMB = 64
	// ReserveMBMax bounds ReserveMB: the reserve is allocated at start, so
	// a typo would take gigabytes of disk from the journal itself.
	ReserveMBMax = 4096
)

// Validate checks the options; zero values are valid (defaults).
func (o Options) Validate() error {
	memTable := o.MemTableMB
	if memTable == 0 {
		memTable = defaultMemTableMB // the floor of MinFreeMB follows the memtable in force
	}
	switch {
	case o.Dir == "":
		return errors.New("journal: no directory")
	case o.Window < 0 || o.Window > windowMax:
		return fmt.Errorf("journal: window %v must be 0 to %v", o.Window, windowMax)
	case o.MaxBatch < 0 || o.MaxBatch > MaxBatchLimit:
		return fmt.Errorf("journal: max batch %d must be 0 (default %d) to %d", o.MaxBatch, defaultMaxBatch, MaxBatchLimit)
	case o.QueueDepth < 0 || o.QueueDepth > queueDepthMax:
		return fmt.Errorf("journal: queue depth %d must be 0 (default %d) to %d", o.QueueDepth, defaultQueueDepth, queueDepthMax)
	case o.MinFreeMB < 0 || o.MinFreeMB > MinFreeMBMax || (o.MinFreeMB != 0 && o.MinFreeMB < max(memTable, memTableMBMin)+8):
		return fmt.Errorf("journal: min free %d MB must be 0 (default 2*memtable+16) or memtable+8 to %d", o.MinFreeMB, MinFreeMBMax)
	case o.ReserveMB < 0 || o.ReserveMB > ReserveMBMax:
		return fmt.Errorf("journal: reserve %d MB must be 0 (default %d) to %d", o.ReserveMB, DefaultReserveMB, ReserveMBMax)
	case o.MemTableMB != 0 && (o.MemTableMB < memTableMBMin || o.MemTableMB > memTableMBMax):
		return fmt.Errorf("journal: memtable %d MB must be 0 (default %d) or %d to %d", o.MemTableMB, defaultMemTableMB, memTableMBMin, memTableMBMax)
	}
	return nil
}

func (o *Options) setDefaults() {
	if o.MaxBatch == 0 {
		o.MaxBatch = defaultMaxBatch
	}
	if o.QueueDepth == 0 {
		o.QueueDepth = defaultQueueDepth
	}
	if o.MemTableMB == 0 {
		o.MemTableMB = defaultMemTableMB
	}
	if o.MinFreeMB == 0 {
		o.MinFreeMB = 2*o.MemTableMB + 16
	}
	if o.ReserveMB == 0 {
		o.ReserveMB = DefaultReserveMB
	}
}

// badgerOptions tune Badger for an append-only log fsynced per commit:
// records stay in the LSM tree (a high value threshold), and no value-log
// GC is needed because nothing is ever overwritten.
//
// Memory decides the rest. Keys only grow, so an L0 -> base compaction
// takes one level-0 table at a time; when level 0 falls behind, Badger
// merges four or more of its tables into one unbounded table built in
// memory (L0 -> L0): a flood made a 337 MB table and 1.8 GB of builder
// buffers with 64 MB memtables and 8/32 level-0 limits. Small memtables
// and a level-0 stall at 8 tables bound that table to 8 memtables, and
// the stall (writes wait, requests queue, the overload code answers)
// is the back-pressure; appends measured no slower (BenchmarkAppend).
func badgerOptions(dir string, memTableMB int) badger.Options {
	return badger.DefaultOptions(filepath.Join(dir, "badger")).
		WithSyncWrites(true).
		WithLogger(nil).
		WithDetectConflicts(false).
		WithNumVersionsToKeep(1).
		WithValueThreshold(1 << 20).
		WithMemTableSize(int64(memTableMB) << 20).
		WithNumMemtables(4).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(8 << 20).
		WithNumCompactors(2).
		WithBlockCacheSize(32 << 20).
		WithCompactL0OnClose(false).
		WithChecksumVerificationMode(options.OnBlockRead). // a damaged block is an error, not lengths trusted
		WithCompression(options.None)                      // records are small and unique: compression costs CPU for nothing
}
