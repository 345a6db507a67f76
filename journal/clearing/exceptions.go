package clearing

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cardswitch/cardswitch/internal/durable"
	"github.com/cardswitch/cardswitch/internal/pan"
)

// ResolutionState is an exception's state.
type ResolutionState uint8

const (
	Open       ResolutionState = iota // not resolved
	Adjusted                          // resolved by an adjustment (a manual debit or credit)
	ByReversal                        // resolved by a reversal
	WrittenOff                        // written off
)

var resolutionNames = [...]string{"open", "adjusted", "reversed", "written-off"}

func (s ResolutionState) String() string { return resolutionNames[s] }

// ParseResolution reads a resolved state: adjusted, reversed or written-off.
func ParseResolution(s string) (ResolutionState, error) {
	for i, n := range resolutionNames[1:] {
		if s == n {
			return ResolutionState(i + 1), nil
		}
	}
	return 0, fmt.Errorf("clearing: resolution %q: want adjusted, reversed or written-off", s)
}

// Resolution is how one exception was resolved.
type Resolution struct {
	Date  uint32 // the business day reconciled
	ID    string // ExceptionID
	State ResolutionState
	At    int64  // unix seconds
	Note  string // who and why, plain text
}

// ResolutionsFile is the resolutions store's name in the clearing
// directory (data_dir/clearing).
const ResolutionsFile = "resolutions.log"

// noteMax bounds a resolution's note; resolutionsMax the resolutions of
// one day held in memory (people resolve exceptions one by one: a million
// is far past any day's work).
const (
	noteMax        = 200
	resolutionsMax = 1 << 20
	resolutionLine = 512 // longer than any line Resolve writes
)

// ErrResolutions is a resolutions file that fails its check.
var ErrResolutions = errors.New("clearing: resolutions file")

// The store is append-only text, one resolution a line, tab separated:
//
//	r1 <date> <id> <state> <unix seconds> <note> <checksum>
//
// the checksum being the first 16 hex digits of the SHA-256 of the line
// before its last tab. A line is written whole and synced before Resolve
// returns; a last line without its newline (a crash while appending) is
// not a resolution and is ignored; any other line that fails its checksum
// is an error: the file was changed.
func formatResolution(r Resolution) []byte {
	b := []byte("r1\t")
	b = strconv.AppendUint(b, uint64(r.Date), 10)
	b = append(append(b, '\t'), r.ID...)
	b = append(append(b, '\t'), r.State.String()...)
	b = strconv.AppendInt(append(b, '\t'), r.At, 10)
	b = append(append(b, '\t'), r.Note...)
	sum := sha256.Sum256(b)
	b = append(b, '\t')
	b = hex.AppendEncode(b, sum[:8])
	return append(b, '\n')
}

func parseResolution(line []byte) (Resolution, error) {
	var r Resolution
	cut := bytes.LastIndexByte(line, '\t')
	if cut < 0 {
		return r, errors.New("no checksum")
	}
	sum := sha256.Sum256(line[:cut])
	if hex.EncodeToString(sum[:8]) != string(line[cut+1:]) {
		return r, errors.New("checksum differs")
	}
	f := bytes.Split(line[:cut], []byte{'\t'})
	if len(f) != 6 || string(f[0]) != "r1" {
		return r, errors.New("not a resolution line")
	}
	d, err1 := strconv.ParseUint(string(f[1]), 10, 32)
	at, err2 := strconv.ParseInt(string(f[4]), 10, 64)
	st, err3 := ParseResolution(string(f[3]))
	if err := errors.Join(err1, err2, err3); err != nil {
		return r, err
	}
	return Resolution{Date: uint32(d), ID: string(f[2]), State: st, At: at, Note: string(f[5])}, nil
}

// Resolutions reads the resolutions of one day from the clearing
// directory dir (none when the file does not exist yet).
func Resolutions(dir string, date uint32) (map[string]Resolution, error) {
	out := map[string]Resolution{}
	f, err := os.Open(filepath.Join(dir, ResolutionsFile))
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, resolutionLine)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if err == io.EOF {
			return out, nil // a torn last line (no newline) is not a resolution
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrResolutions, n, err)
		}
		r, perr := parseResolution(line[:len(line)-1])
		if perr != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrResolutions, n, perr)
		}
		if r.Date == date {
			out[r.ID] = r
			if len(out) > resolutionsMax {
				return nil, fmt.Errorf("%w: more than %d resolutions of day %d", ErrResolutions, resolutionsMax, date)
			}
		}
	}
}

// Resolve appends a resolution to the store in dir and syncs it. It
// refuses an exception already resolved, a note that is not plain text
// (tabs, control bytes, card data) or too long.
func Resolve(dir string, r Resolution) error {
	if r.State == Open {
		return fmt.Errorf("clearing: a resolution must resolve (adjusted, reversed or written-off)")
	}
	if len(r.Note) > noteMax || pan.Inspect([]byte(r.Note)) != 0 || bytes.ContainsAny([]byte(r.Note), "\t\n") {
		return fmt.Errorf("clearing: the note must be plain text of at most %d characters, without card data", noteMax)
	}
	if len(r.ID) != 12 {
		return fmt.Errorf("clearing: exception ID %q: want 12 hex digits", r.ID)
	}
	if _, err := hex.DecodeString(r.ID); err != nil {
		return fmt.Errorf("clearing: exception ID %q: want 12 hex digits", r.ID)
	}
	done, err := Resolutions(dir, r.Date)
	if err != nil {
		return err
	}
	if prev, ok := done[r.ID]; ok {
		return fmt.Errorf("clearing: exception %s of day %d is already resolved (%s)", r.ID, r.Date, prev.State)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, ResolutionsFile)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600) // read: the torn tail check
	if err != nil {
		return err
	}
	line := formatResolution(r)
	if end, size, err := lastLineEnd(f); err != nil {
		f.Close()
		return err
	} else if end != size {
		err = f.Truncate(end) // a torn line (a crash while appending) was never a resolution
		if err != nil {
			f.Close()
			return err
		}
	}
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && errors.Is(statErr, os.ErrNotExist) {
		err = durable.SyncDir(dir)
	}
	return err
}

// lastLineEnd returns where the file's last complete line ends, and its
// size. It reads backwards a block at a time: at most the last line is
// torn, and a line is at most resolutionLine bytes.
func lastLineEnd(f *os.File) (end, size int64, err error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size = st.Size()
	from := max(size-2*resolutionLine, 0)
	b := make([]byte, size-from)
	if _, err := f.ReadAt(b, from); err != nil && err != io.EOF {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 {
		if from > 0 {
			return 0, 0, fmt.Errorf("%w: no line end in its last %d bytes", ErrResolutions, len(b))
		}
		return 0, size, nil
	}
	return from + int64(i) + 1, size, nil
}
