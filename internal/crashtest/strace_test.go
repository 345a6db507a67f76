package crashtest

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
)

// sysCall is one system call in a log of `strace -f -ttt -yy -xx`: its
// arguments as printed (an entry that another thread's line cut off, with
// " <unfinished ...>", joined to its "<... name resumed>" rest), its result,
// and the log lines of its entry and exit. strace handles one stop at a
// time and a traced thread stays stopped until strace has logged the stop,
// so the order of the lines is an order of the events: whatever a thread
// does because a call returned comes after that call's exit line.
type sysCall struct {
	pid      int
	name     string
	args     string
	ret      string // as printed after "= ": "119", "0x7f94c0000000", "-1 EAGAIN (...)", "?"
	at, done int    // lines (from 0) of the entry and the exit
}

// straceLineMax bounds one log line: -s 65536 with -xx prints 4 characters
// a byte, and a writev of a few iovs stays far below this.
const straceLineMax = 16 << 20

// parseStrace reads a log. The calls come in the order of their entries;
// calls that had not returned when the log ended are left out.
func parseStrace(r io.Reader) (calls []sysCall, lines []string, err error) {
	pending := map[int]int{} // pid -> index in calls of its unfinished call
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), straceLineMax)
	for n := 0; sc.Scan(); n++ {
		line := sc.Text()
		lines = append(lines, line)
		if err := parseStraceLine(line, n, &calls, pending); err != nil {
			return nil, nil, fmt.Errorf("strace log line %d: %w: %.200s", n+1, err, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	kept := calls[:0]
	for _, c := range calls {
		if c.done >= 0 {
			kept = append(kept, c)
		}
	}
	return kept, lines, nil
}

func parseStraceLine(line string, n int, calls *[]sysCall, pending map[int]int) error {
	// strace pads the pid to the width of the widest one seen: "1283  1796..."
	pidText, rest, ok1 := strings.Cut(line, " ")
	timeText, rest, ok2 := strings.Cut(strings.TrimLeft(rest, " "), " ")
	pid, err1 := strconv.Atoi(pidText)
	_, err2 := strconv.ParseFloat(timeText, 64) // -ttt: for people reading the log; the order is the lines'
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return fmt.Errorf("no pid and timestamp (strace -f -ttt)")
	}
	switch {
	case strings.HasPrefix(rest, "--- "): // a signal
		return nil
	case strings.HasPrefix(rest, "+++ "): // the thread exited or was killed
		delete(pending, pid)
		return nil
	case strings.HasPrefix(rest, "<... "):
		name, tail, ok := strings.Cut(rest[len("<... "):], " resumed>")
		i, had := pending[pid]
		if !ok || !had || (*calls)[i].name != name {
			return fmt.Errorf("a resumed %q without its entry", name)
		}
		delete(pending, pid)
		finishCall(&(*calls)[i], strings.TrimPrefix(tail, " <unfinished ...>"), n)
		return nil
	}
	name, body, ok := strings.Cut(rest, "(")
	if !ok {
		return fmt.Errorf("not a call")
	}
	c := sysCall{pid: pid, name: name, at: n, done: -1}
	if args, cut := strings.CutSuffix(body, " <unfinished ...>"); cut {
		c.args = args
		pending[pid] = len(*calls)
	} else {
		finishCall(&c, body, n)
	}
	*calls = append(*calls, c)
	return nil
}

// finishCall adds the rest of a call's line, "args) = result".
func finishCall(c *sysCall, tail string, n int) {
	i := strings.LastIndex(tail, ") = ")
	if i < 0 {
		return // no result: the thread went away in the call
	}
	c.args += tail[:i]
	c.ret = tail[i+len(") = "):]
	c.done = n
}

// retInt is the call's result as a number (decimal or 0x hex); false for
// "?".
func (c *sysCall) retInt() (int64, bool) {
	f, _, _ := strings.Cut(c.ret, " ")
	if v, err := strconv.ParseInt(f, 0, 64); err == nil {
		return v, true
	}
	v, err := strconv.ParseUint(f, 0, 64) // addresses above 1<<63
	return int64(v), err == nil
}

// splitArgs splits printed arguments at the commas outside quotes,
// brackets, braces and fd annotations.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '[', '{', '(', '<':
			depth++
		case ']', '}', ')', '>':
			if s[i] == '>' && i > 0 && s[i-1] == '-' && depth > 1 {
				continue // the "->" inside TCP:[a->b], within its <...>
			}
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// fdArg splits an fd argument printed with -yy, `7</a/path>` or
// `37<TCP:[127.0.0.1:8583->127.0.0.1:55486]>`, into the number and the
// annotation (unescaped: -xx prints paths as \x escapes).
func fdArg(s string) (fd int, what string, ok bool) {
	num, rest, found := strings.Cut(s, "<")
	if !found || !strings.HasSuffix(rest, ">") {
		return 0, "", false
	}
	fd, err := strconv.Atoi(num)
	if err != nil {
		return 0, "", false
	}
	b, _, err := unescape(rest[:len(rest)-1], 0)
	return fd, string(b), err == nil
}

// quoted returns the bytes of every quoted string in s, in order (the one
// buffer of a read or write, the iov_base of each iovec of a writev). A
// string strace cut short (`"..."...`) is an error: the data would be
// incomplete.
func quoted(s string) ([][]byte, error) {
	var out [][]byte
	for i := 0; i < len(s); i++ {
		if s[i] != '"' {
			continue
		}
		b, end, err := unescape(s[i+1:], '"')
		if err != nil {
			return nil, err
		}
		i += 1 + end
		if strings.HasPrefix(s[i+1:], "...") {
			return nil, fmt.Errorf("strace cut a string short: raise -s")
		}
		out = append(out, b)
	}
	return out, nil
}

// unescape decodes strace's C escapes up to the byte stop (0: to the end)
// and returns the bytes and the index of stop in s.
func unescape(s string, stop byte) ([]byte, int, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if stop != 0 && ch == stop {
			return b, i, nil
		}
		if ch != '\\' {
			b = append(b, ch)
			continue
		}
		if i++; i >= len(s) {
			break
		}
		switch e := s[i]; {
		case e == 'x' && i+2 < len(s):
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, 0, fmt.Errorf("bad escape \\x%s", s[i+1:i+3])
			}
			b, i = append(b, byte(v)), i+2
		case e >= '0' && e <= '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 8)
			b, i = append(b, byte(v)), j-1
		default:
			b = append(b, cEscape(e))
		}
	}
	if stop != 0 {
		return nil, 0, fmt.Errorf("unterminated string")
	}
	return b, len(s), nil
}

// cEscape is the byte a one-letter C escape stands for; \" and \\ stand
// for themselves.
func cEscape(e byte) byte {
	switch e {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	case 'v':
		return '\v'
	case 'f':
		return '\f'
	case 'a':
		return '\a'
	case 'b':
		return '\b'
	}
	return e
}

func TestParseStrace(t *testing.T) {
	log := `100 1.000001 mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, 12<\x2f\x64\x2f\x30\x31\x2e\x6d\x65\x6d>, 0) = 0x7f0000000000
101 1.000002 read(37<TCP:[127.0.0.1:8583->127.0.0.1:5000]>,  <unfinished ...>
100 1.000003 --- SIGURG {si_signo=SIGURG, si_code=SI_TKILL, si_pid=100, si_uid=0} ---
100 1.000004 msync(0x7f0000000000, 4096, MS_SYNC <unfinished ...>
101 1.000005 <... read resumed>"\x00\x02\x41\x22", 65536) = 4
100 1.000006 <... msync resumed>) = 0
102 1.000007 writev(37<TCP:[127.0.0.1:8583->127.0.0.1:5000]>, [{iov_base="\x00\x01", iov_len=2}, {iov_base="\x5a", iov_len=1}], 2) = 3
103  1.000008 read(9<\x2f\x65>, "", 10) = -1 EAGAIN (Resource temporarily unavailable)
104 1.000009 read(9<\x2f\x65>,  <unfinished ...>
104 1.000010 +++ killed by SIGKILL +++
`
	calls, lines, err := parseStrace(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 10 || len(calls) != 5 {
		t.Fatalf("%d lines, %d calls: %+v", len(lines), len(calls), calls)
	}
	if c := calls[1]; c.name != "read" || c.at != 1 || c.done != 4 || c.ret != "4" {
		t.Fatalf("read: %+v", c)
	}
	if c := calls[2]; c.name != "msync" || c.at != 3 || c.done != 5 || c.args != "0x7f0000000000, 4096, MS_SYNC" {
		t.Fatalf("msync: %+v", c)
	}
	a := splitArgs(calls[0].args)
	if fd, path, ok := fdArg(a[4]); len(a) != 6 || !ok || fd != 12 || path != "/d/01.mem" {
		t.Fatalf("mmap args %q", a)
	}
	if v, ok := calls[0].retInt(); !ok || v != 0x7f0000000000 {
		t.Fatalf("mmap result %x", v)
	}
	a = splitArgs(calls[1].args)
	if _, what, ok := fdArg(a[0]); !ok || what != "TCP:[127.0.0.1:8583->127.0.0.1:5000]" || len(a) != 3 {
		t.Fatalf("read args %q", a)
	}
	if q, err := quoted(calls[1].args); err != nil || len(q) != 1 || string(q[0]) != "\x00\x02A\"" {
		t.Fatalf("read data %q %v", q, err)
	}
	if q, err := quoted(calls[3].args); err != nil || len(q) != 2 || string(q[0])+string(q[1]) != "\x00\x01Z" {
		t.Fatalf("writev data %q %v", q, err)
	}
	if v, ok := calls[4].retInt(); !ok || v != -1 {
		t.Fatalf("EAGAIN result %d", v)
	}
	if _, err := quoted(`"\x41\x42"..., 10`); err == nil {
		t.Fatal("a cut string was taken whole")
	}
	if b, _, _ := unescape(`a\"b\\c\n\101`, 0); string(b) != "a\"b\\c\nA" {
		t.Fatalf("unescape %q", b)
	}
}
