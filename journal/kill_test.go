package journal

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// killDirEnv names the journal directory of the writer that kills itself.
const killDirEnv = "JOURNAL_TEST_KILL_DIR"

// TestKilledWriter is the child of TestToolsAfterKill: it commits records
// and dies by SIGKILL without closing the journal, as kill -9 would leave it.
func TestKilledWriter(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		return // run only as TestToolsAfterKill's child
	}
	j := open(t, dir, nil)
	appendN(t, j, 300, 0)
	last := j.Last()
	line := fmt.Sprintf("%d %s\n", last.Seq, hex.EncodeToString(last.Hash[:]))
	if err := writeFileSync(filepath.Join(dir, "..", "expect"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal ends the process
}

// killedJournal runs TestKilledWriter in a child process and returns the
// journal directory it left and the last record it saw committed.
func killedJournal(t *testing.T) (dir string, seq uint64, hash string) {
	t.Helper()
	root := t.TempDir()
	dir = filepath.Join(root, "journal")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), killDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(root, "expect"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(string(raw), "%d %s", &seq, &hash); err != nil {
		t.Fatal(err)
	}
	return dir, seq, hash
}

// TestToolsAfterKill: the read-only tools work right after a kill -9, say
// that they trimmed Badger's log tail, and change no record.
func TestToolsAfterKill(t *testing.T) {
	dir, seq, hash := killedJournal(t)
	res, err := Verify(dir)
	if err != nil || res.Problem != nil {
		t.Fatalf("verify after kill: %v %+v", err, res.Problem)
	}
	if res.LastSeq != seq || hex.EncodeToString(res.LastHash[:]) != hash || res.MarkSeq != seq || res.Records != seq {
		t.Fatalf("verify after kill: %+v, want seq %d hash %s", res, seq, hash)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "trimmed Badger's unfinished log tail") {
		t.Fatalf("notes: %q", res.Notes)
	}
	// the records are the same: the chain ends on the same hash, the mark agrees
	count := uint64(0)
	res, err = Replay(dir, func(r *Record) error { count++; return nil })
	if err != nil || res.Problem != nil || count != seq || hex.EncodeToString(res.LastHash[:]) != hash {
		t.Fatalf("replay: %v %+v count %d", err, res.Problem, count)
	}
	if len(res.Notes) != 0 {
		t.Fatalf("a second read needed a trim again: %q", res.Notes)
	}
	j := open(t, dir, nil) // and the switch starts on it, at the same record
	defer j.Close()
	if last := j.Last(); last.Seq != seq || hex.EncodeToString(last.Hash[:]) != hash {
		t.Fatalf("open after the tools: %v", last)
	}
}
