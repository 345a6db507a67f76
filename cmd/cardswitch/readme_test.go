package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's examples are run as pasted by TestREADMEExamples:
//
//   - every fenced block tagged sh or console is read; in a console block a
//     line starting with "$ " is a command and the lines up to the next one
//     are its output, in an sh block every line that is not a comment is a
//     command. A command continues on the next line after a trailing
//     backslash or inside an open single quote.
//   - a command starting with "make " is never run (those targets run the
//     test suite itself, or the benchmarks).
//   - a block preceded by "<!-- README examples test: flags only ... -->"
//     runs each command with --help appended: its flags and their values
//     must parse (for load runs too long for a test).
//   - each command runs under sh in a scratch directory holding bin/cardswitch
//     (built from this package) and with that bin/ on PATH, so "cardswitch" and
//     "bin/cardswitch" both run it. It must exit 0, and print what the
//     README shows: the shown lines in order, "..." standing for any lines,
//     durations ("353µs") for any duration.
//   - blocks that use send run against the switch as "make run" starts it,
//     with data_dir ./data; blocks that use journal run with it stopped. The
//     only change made to a command is the address: the switch listens on
//     free loopback ports, so 127.0.0.1:8583 etc. are replaced by them, and a
//     send without --addr gets the pos link's.
//   - ./data starts with a journal holding one closed business day,
//     20261121 (what journal export exports).

// example is one command of a README block and the output it shows.
type example struct {
	line      int // in README.md
	cmd       string
	want      []string // shown output lines; "..." matches any lines
	flagsOnly bool
}

// readmeBlock is the commands of one fenced block.
type readmeBlock struct {
	line     int
	examples []example
}

const flagsOnlyMark = "<!-- README examples test: flags only"

func parseREADME(text string) []readmeBlock {
	lines := strings.Split(text, "\n")
	var blocks []readmeBlock
	for i := 0; i < len(lines); i++ {
		lang, ok := strings.CutPrefix(lines[i], "```")
		if !ok || (lang != "sh" && lang != "console") {
			continue
		}
		flagsOnly := i > 0 && strings.HasPrefix(lines[i-1], flagsOnlyMark)
		b := readmeBlock{line: i + 1}
		var cur *example
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			l := lines[i]
			if cur != nil && continues(cur.cmd) {
				cur.cmd += "\n" + l
				continue
			}
			cmd, isCmd := l, true
			if lang == "console" {
				cmd, isCmd = strings.CutPrefix(l, "$ ")
			} else if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			if !isCmd {
				if cur != nil {
					cur.want = append(cur.want, l)
				}
				continue
			}
			b.examples = append(b.examples, example{line: i + 1, cmd: cmd, flagsOnly: flagsOnly})
			cur = &b.examples[len(b.examples)-1]
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// continues reports a command that goes on on the next line.
func continues(cmd string) bool {
	return strings.HasSuffix(cmd, "\\") || strings.Count(cmd, "'")%2 == 1
}

var durationText = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|us|ms|s|m|h)\b`)

// matchOutput checks got against the shown lines: segments between "..."
// lines match consecutive lines, in order, anchored at the start and the
// end unless a "..." stands there.
func matchOutput(want []string, got string) error {
	norm := func(s string) string { return durationText.ReplaceAllString(strings.TrimRight(s, " "), "DURATION") }
	for len(want) > 0 && strings.TrimSpace(want[len(want)-1]) == "" {
		want = want[:len(want)-1]
	}
	if len(want) == 0 {
		return nil
	}
	gotLines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	var segs [][]string
	seg := []string{}
	for _, w := range want {
		if strings.TrimSpace(w) == "..." {
			segs = append(segs, seg)
			seg = []string{}
			continue
		}
		seg = append(seg, norm(w))
	}
	segs = append(segs, seg)
	at := 0
	for k, seg := range segs {
		if len(seg) == 0 {
			continue
		}
		found := -1
		for start := at; start+len(seg) <= len(gotLines); start++ {
			if k == 0 && start > 0 {
				break // the first segment is anchored at the start
			}
			ok := true
			for j, w := range seg {
				if norm(gotLines[start+j]) != w {
					ok = false
					break
				}
			}
			if ok {
				found = start
				break
			}
		}
		if found < 0 {
			return fmt.Errorf("output does not show\n%s", strings.Join(seg, "\n"))
		}
		at = found + len(seg)
		if k == len(segs)-1 && at != len(gotLines) {
			return fmt.Errorf("output goes on after\n%s", strings.Join(seg, "\n"))
		}
	}
	return nil
}

// readmeRig is the scratch directory, the binary and the switch.
type readmeRig struct {
	t     *testing.T
	dir   string
	addrs map[string]string // default port -> free address
	serve *exec.Cmd
	done  chan error
	first bool // the first start takes the seeded journal's new data key
}

var cardswitchBin string // built once per test binary

func buildCardswitch(t *testing.T) string {
	t.Helper()
	if cardswitchBin == "" {
		out := filepath.Join(os.TempDir(), fmt.Sprintf("cardswitch-readme-%d", os.Getpid()))
		cmd := exec.Command("go", "build", "-o", out, ".")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		cardswitchBin = out
	}
	return cardswitchBin
}

func newReadmeRig(t *testing.T) *readmeRig {
	bin := buildCardswitch(t)
	t.Cleanup(func() { os.Remove(bin); cardswitchBin = "" })
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(bin, filepath.Join(dir, "bin", "cardswitch")); err != nil {
		t.Fatal(err)
	}
	r := &readmeRig{t: t, dir: dir, first: true, addrs: map[string]string{}}
	cfg := string(defaultConfig) // data_dir ./data, as make run
	for _, port := range []string{"8580", "8583", "8584", "8585"} {
		r.addrs[port] = freePort(t)
		cfg = strings.Replace(cfg, "127.0.0.1:"+port, r.addrs[port], 1)
	}
	if err := os.WriteFile(filepath.Join(dir, "cardswitch.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fillJournal(t, filepath.Join(dir, "data"), []uint32{20261121}, 3).Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

func (r *readmeRig) start() {
	if r.serve != nil {
		return
	}
	args := []string{"serve", "--config", "cardswitch.yaml"}
	if r.first {
		args = append(args, "--new-journal-key") // the seeded journal was written without one
		r.first = false
	}
	var log bytes.Buffer
	cmd := exec.Command(filepath.Join(r.dir, "bin", "cardswitch"), args...)
	cmd.Dir, cmd.Stderr = r.dir, &log
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.serve, r.done = cmd, make(chan error, 1)
	go func() { r.done <- cmd.Wait() }()
	for deadline := time.Now().Add(time.Minute); ; { // a hang guard, not a bound
		if res, err := http.Get("http://" + r.addrs["8580"] + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-r.done:
			r.t.Fatalf("serve stopped: %v\n%s", err, log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("serve not ready\n%s", log.String())
		}
	}
}

func (r *readmeRig) stop() {
	if r.serve == nil {
		return
	}
	_ = r.serve.Process.Signal(syscall.SIGINT)
	if err := <-r.done; err != nil {
		r.t.Errorf("serve: %v", err)
	}
	r.serve = nil
}

var sendWithoutAddr = regexp.MustCompile(`cardswitch (send|bench)\b`)

// command is the example as it runs: on the free ports, with --help for
// flags only.
func (r *readmeRig) command(ex example) string {
	cmd := ex.cmd
	for port, addr := range r.addrs {
		cmd = strings.ReplaceAll(cmd, "127.0.0.1:"+port, addr)
	}
	if !strings.Contains(cmd, "--addr") {
		cmd = sendWithoutAddr.ReplaceAllString(cmd, "cardswitch $1 --addr "+r.addrs["8583"])
	}
	if ex.flagsOnly {
		code, comment, _ := strings.Cut(cmd, " #")
		cmd = code + " --help"
		if comment != "" {
			cmd += " #" + comment
		}
	}
	return cmd
}

// runBlock runs a block's examples and returns what went wrong.
func (r *readmeRig) runBlock(b readmeBlock) (ran int, problems []string) {
	needsSwitch, needsStopped := false, false
	for _, ex := range b.examples {
		needsSwitch = needsSwitch || (!ex.flagsOnly && strings.Contains(ex.cmd, "cardswitch send"))
		needsStopped = needsStopped || strings.Contains(ex.cmd, "cardswitch journal")
	}
	switch {
	case needsSwitch:
		began := time.Now()
		r.start()
		r.t.Logf("switch started in %v", time.Since(began).Round(time.Millisecond))
	case needsStopped:
		began := time.Now()
		r.stop()
		r.t.Logf("switch stopped in %v", time.Since(began).Round(time.Millisecond))
	}
	for _, ex := range b.examples {
		if strings.HasPrefix(ex.cmd, "make ") {
			continue
		}
		ran++
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
		cmd := exec.CommandContext(ctx, "sh", "-c", r.command(ex))
		cmd.Dir = r.dir
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(r.dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		began := time.Now()
		err := cmd.Run()
		cancel()
		r.t.Logf("README.md:%d: exit %v after %v", ex.line, err, time.Since(began).Round(time.Millisecond))
		if err == nil && !ex.flagsOnly {
			err = matchOutput(ex.want, stdout.String())
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("README.md:%d: %s\n%v\nstdout:\n%s\nstderr:\n%s", ex.line, ex.cmd, err, stdout.String(), stderr.String()))
		}
	}
	return ran, problems
}

func TestREADMEExamples(t *testing.T) {
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	r := newReadmeRig(t)
	total := 0
	for _, b := range parseREADME(string(text)) {
		ran, problems := r.runBlock(b)
		total += ran
		for _, p := range problems {
			t.Error(p)
		}
	}
	// a guard against a parser that finds nothing: the README has this
	// many examples and more
	if total < 20 {
		t.Errorf("ran %d README examples, want at least 20", total)
	}
	t.Logf("ran %d README examples", total)
}

// TestREADMEExamplesCatchTruncation: an example cut short with "..." (as
// the decode and hsm mac examples once were) fails, and so does output the
// README shows that the command does not print.
func TestREADMEExamplesCatchTruncation(t *testing.T) {
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var decode, mac readmeBlock
	for _, b := range parseREADME(string(text)) {
		for _, ex := range b.examples {
			switch {
			case strings.HasPrefix(ex.cmd, "cardswitch decode --dialect iso87ascii"):
				decode = readmeBlock{line: b.line, examples: []example{ex}}
			case strings.Contains(ex.cmd, "hsm mac --alg x919"):
				mac = readmeBlock{line: b.line, examples: []example{ex}}
			}
		}
	}
	if decode.examples == nil || mac.examples == nil {
		t.Fatal("the decode and hsm mac examples are not in README.md")
	}
	r := newReadmeRig(t)
	for name, b := range map[string]readmeBlock{"decode": decode, "mac": mac} {
		if _, problems := r.runBlock(b); len(problems) > 0 {
			t.Fatalf("%s as in the README: %v", name, problems)
		}
		cut := b
		cut.examples = []example{b.examples[0]}
		cut.examples[0].cmd = b.examples[0].cmd[:len(b.examples[0].cmd)*2/3] + "..."
		if _, problems := r.runBlock(cut); len(problems) != 1 {
			t.Errorf("%s truncated: %d problems, want 1", name, len(problems))
		}
		wrong := b
		wrong.examples = []example{b.examples[0]}
		wrong.examples[0].want = append(append([]string(nil), b.examples[0].want...), "not printed")
		if _, problems := r.runBlock(wrong); len(problems) != 1 {
			t.Errorf("%s with output it does not print: %d problems, want 1", name, len(problems))
		}
	}
}

func TestMatchOutput(t *testing.T) {
	got := "MTI 0210\nbitmap 72\n    2  PAN  476173******0010\n   38  000001\n   39  00\nround trip 1.2ms\n"
	for _, c := range []struct {
		want []string
		ok   bool
	}{
		{[]string{"MTI 0210", "bitmap 72", "    ...", "   39  00", "round trip 353µs"}, true},
		{[]string{"MTI 0210", "    2  PAN  476173******0010"}, false}, // a line left out without "..."
		{[]string{"bitmap 72", "..."}, false},                         // the start is anchored
		{[]string{"...", "   39  00"}, false},                         // the end is anchored
		{[]string{"...", "   38  000001", "..."}, true},
		{[]string{"...", "   38  000002", "..."}, false},
		{nil, true},
	} {
		if err := matchOutput(c.want, got); (err == nil) != c.ok {
			t.Errorf("%q: %v", c.want, err)
		}
	}
}
