package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair (Linux /dev/ptmx): the switch's
// stderr when it runs in a terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestConsoleLogColoursOnlyOnATerminal: --log-format console writes ANSI
// colours to a terminal only; to a buffer, a file or /dev/null, none.
func TestConsoleLogColoursOnlyOnATerminal(t *testing.T) {
	logTo := func(w io.Writer) {
		log, err := newLogger(w, "console", "info")
		if err != nil {
			t.Fatal(err)
		}
		log.Info().Str("link", "pos").Err(errors.New("boom")).Msg("hello")
	}
	var buf bytes.Buffer
	logTo(&buf)
	f, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	logTo(f)
	f.Close()
	inFile, _ := os.ReadFile(f.Name())
	for name, out := range map[string]string{"buffer": buf.String(), "file": string(inFile)} {
		if strings.Contains(out, "\x1b[") || !strings.Contains(out, "hello") || !strings.Contains(out, "link=pos") {
			t.Errorf("%s: %q", name, out)
		}
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	if isTerminal(devNull) {
		t.Error("/dev/null taken for a terminal")
	}

	master, slave := openPTY(t)
	logTo(slave)
	got := make([]byte, 4096)
	n, err := master.Read(got)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got[:n]), "\x1b[") {
		t.Errorf("terminal: no colours in %q", got[:n])
	}
}

// TestLogDurationsCarryTheirUnit: a duration field reads "1.5ms", not a
// bare number of unstated unit.
func TestLogDurationsCarryTheirUnit(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		var buf bytes.Buffer
		log, err := newLogger(&buf, format, "info")
		if err != nil {
			t.Fatal(err)
		}
		log.Info().Dur("took", 1500*time.Microsecond).Dur("drop", 2*time.Second).Msg("done")
		want := map[string][]string{"json": {`"took":"1.5ms"`, `"drop":"2s"`}, "console": {"took=1.5ms", "drop=2s"}}[format]
		for _, w := range want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("%s: %q has no %s", format, buf.String(), w)
			}
		}
	}
}
