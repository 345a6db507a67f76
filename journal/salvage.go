package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/dgraph-io/ristretto/v2/z"
	"google.golang.org/protobuf/proto"
)

// quarantineDir, in the journal directory, keeps what accepting a loss
// set aside from Badger: its manifest as it was, naming the lost tables.
const quarantineDir = "quarantine"

// errTableMissing is how Badger refuses to open when its manifest names a
// table file that is not there.
const errTableMissing = "file does not exist for table"

// openBadger opens the journal's Badger. When its manifest names table
// files that are gone (deleted, a disk's lost blocks), Badger refuses to
// open at all, so no record could be verified; with AcceptLoss the missing
// tables are struck from the manifest (a copy of it as it was is kept in
// quarantine/), and Badger opens on the tables that remain: verification
// then finds the gap and the records after it are quarantined as for any
// other loss. With AcceptLoss every table is read and checked first (its
// checksums: a full read, acceptable for a start a person asked for), and
// one that does not read is moved to quarantine/ and treated as missing.
//
// It returns the table files struck from the manifest (names, sorted).
func openBadger(opts Options) (*badger.DB, []string, error) {
	bo := badgerOptions(opts.Dir, opts.MemTableMB)
	if opts.AcceptLoss {
		// a table that does not read would make Badger fail, or panic, as it
		// opens: it goes to quarantine/, and is then missing
		if err := quarantineUnreadableTables(opts.Dir, bo); err != nil {
			return nil, nil, fmt.Errorf("journal: accepting a loss: %w", err)
		}
	}
	if !opts.AcceptLoss {
		if name, err := damagedTable(bo); err != nil {
			return nil, nil, fmt.Errorf("journal: open badger: table %s is damaged (%v): the journal lost records; "+
				"start with --accept-journal-loss to continue on the records that verify", name, err)
		}
	}
	var struck []string
	db, err := badger.Open(bo)
	if err != nil && strings.Contains(err.Error(), errTableMissing) {
		if !opts.AcceptLoss {
			return nil, nil, fmt.Errorf("journal: open badger: %w: the journal lost a table file, and with it records; "+
				"start with --accept-journal-loss to continue on the records that verify", err)
		}
		if struck, err = dropMissingTables(opts.Dir, bo); err != nil {
			return nil, nil, fmt.Errorf("journal: accepting a lost table: %w", err)
		}
		db, err = badger.Open(bo)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("journal: open badger: %w", err)
	}
	return db, struck, nil
}

// dropMissingTables appends to Badger's manifest the deletion of every
// table it names whose file is missing, once a copy of the manifest is
// synced in quarantine/, and returns the missing files' names, sorted.
func dropMissingTables(dir string, bo badger.Options) ([]string, error) {
	path := filepath.Join(bo.Dir, badger.ManifestFilename)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, end, err := badger.ReplayManifestFile(f, bo.ExternalMagicVersion, bo)
	if err != nil {
		return nil, err
	}
	present := map[uint64]bool{}
	entries, err := os.ReadDir(bo.Dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if id, ok := table.ParseFileID(e.Name()); ok {
			present[id] = true
		}
	}
	var gone []*pb.ManifestChange
	var names []string
	for id := range m.Tables {
		if !present[id] {
			gone = append(gone, &pb.ManifestChange{Id: id, Op: pb.ManifestChange_DELETE})
			names = append(names, table.IDToFilename(id))
		}
	}
	if len(gone) == 0 {
		return nil, errors.New("the manifest names no missing table")
	}
	sort.Strings(names)
	if err := keepManifest(dir, f); err != nil {
		return nil, err
	}
	buf, err := proto.Marshal(&pb.ManifestChangeSet{Changes: gone})
	if err != nil {
		return nil, err
	}
	var head [8]byte // Badger's manifest entry: length, CRC-32C, the change set
	binary.BigEndian.PutUint32(head[0:4], uint32(len(buf)))
	binary.BigEndian.PutUint32(head[4:8], crc32.Checksum(buf, y.CastagnoliCrcTable))
	if err := f.Truncate(end); err != nil { // a torn last entry, as Badger would cut it
		return nil, err
	}
	if _, err := f.WriteAt(append(head[:], buf...), end); err != nil {
		return nil, err
	}
	return names, f.Sync()
}

// keepManifest copies the manifest into quarantine/, synced.
func keepManifest(dir string, f *os.File) error {
	qdir := filepath.Join(dir, quarantineDir)
	if err := os.MkdirAll(qdir, 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(filepath.Join(qdir, fmt.Sprintf("MANIFEST-%d", time.Now().Unix())), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.NewSectionReader(f, 0, 1<<40))
	if err == nil {
		err = out.Sync()
	}
	if e := out.Close(); err == nil {
		err = e
	}
	return err
}

// damagedTable names the first table file of the Badger in bo.Dir whose
// index does not read, with the error. Badger opens its tables in
// goroutines of its own, where a panic on a damaged index (a flipped bit in
// a length) cannot be recovered and would end the process: the tables are
// read here first, on this goroutine.
func damagedTable(bo badger.Options) (string, error) {
	entries, err := os.ReadDir(bo.Dir)
	if err != nil {
		return "", nil // a new journal; Badger says what else is wrong
	}
	for _, e := range entries {
		if _, ok := table.ParseFileID(e.Name()); !ok {
			continue
		}
		if err := checkTable(filepath.Join(bo.Dir, e.Name()), bo, options.NoVerification); err != nil {
			return e.Name(), err
		}
	}
	return "", nil
}

// quarantineUnreadableTables moves to quarantine/ every table file of the
// Badger in bo.Dir that does not open or whose checksums do not match.
func quarantineUnreadableTables(dir string, bo badger.Options) error {
	entries, err := os.ReadDir(bo.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new journal
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, ok := table.ParseFileID(e.Name()); !ok {
			continue
		}
		path := filepath.Join(bo.Dir, e.Name())
		if checkTable(path, bo, options.OnTableRead) == nil {
			continue
		}
		qdir := filepath.Join(dir, quarantineDir)
		if err := os.MkdirAll(qdir, 0o700); err != nil {
			return err
		}
		if err := os.Rename(path, filepath.Join(qdir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// checkTable opens one table file read-only, verifying its checksums as
// mode says (options.NoVerification: its index only, what Badger's open
// reads); Badger panics on some damage (a truncated file, a length in the
// index), which is recovered here as the table's error.
func checkTable(path string, bo badger.Options, mode options.ChecksumVerificationMode) (err error) {
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("table %s: %v", filepath.Base(path), p)
		}
		_ = mf.Close(-1)
	}()
	_, err = table.OpenTable(mf, table.Options{ReadOnly: true, ChkMode: mode, BlockSize: bo.BlockSize,
		BloomFalsePositive: bo.BloomFalsePositive, TableSize: uint64(bo.BaseTableSize), Compression: bo.Compression})
	return err
}

// Loss is what an accepting open (Options.AcceptLoss) set aside, for the
// switch to report: a person accepted the loss, and must be told what it
// was.
type Loss struct {
	// Problem is what verification found (nil when the tables struck held
	// no record the walk missed).
	Problem *IntegrityError
	// Tables are the Badger table files, missing or unreadable, struck from
	// its manifest; the manifest as it was, and an unreadable file, are in
	// quarantine/.
	Tables []string
	// Quarantined counts the records after LastSeq moved aside (key prefix
	// 'q', kept for inspection); a chunk that does not parse counts none.
	Quarantined int
	// LastSeq is the last intact record: the journal continues after it.
	LastSeq uint64
}

func (l *Loss) String() string {
	var parts []string
	if len(l.Tables) > 0 {
		parts = append(parts, fmt.Sprintf("table files %s missing or unreadable, struck from Badger's manifest (its copy is in %s/)",
			strings.Join(l.Tables, ", "), quarantineDir))
	}
	if l.Problem != nil {
		parts = append(parts, strings.TrimPrefix(l.Problem.Error(), "journal: "))
	}
	parts = append(parts, fmt.Sprintf("%d records after sequence %d quarantined; the journal continues after %d", l.Quarantined, l.LastSeq, l.LastSeq))
	return strings.Join(parts, "; ")
}

// Loss is what the open set aside when it accepted a loss
// (Options.AcceptLoss), or nil when the journal verified whole.
func (j *Journal) Loss() *Loss { return j.loss }
