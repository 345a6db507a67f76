package crashtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/client"
)

// A SIGKILL keeps the page cache, so TestCrashRecovery passes with the
// syncs taken out. TestSyncBeforeReply sees them: it runs the real switch
// under strace and checks, for every reply written to the client's socket,
// that between the read of its request and the write of the reply the
// switch synced Badger's log and then the high-water mark.
//
// Badger v4.9.6 with SyncWrites on ends every write in db.writeToLSM with
// memTable.SyncWAL: logFile.Sync, z.MmapFile.Sync, unix.Msync(Data,
// MS_SYNC) over the whole mapping of the memtable's log file NNNNN.mem (the
// write-ahead log of an LSM write). An msync names an address, not an fd, so
// the test also traces mmap, mremap and munmap to know which file each
// mapping is. Badger also msyncs its value log (*.vlog) with SyncWrites on,
// but records stay below the value threshold and never go there, so only a
// *.mem sync counts. The high-water mark is journal/hwm, synced with fsync
// (os.File.Sync).
const (
	syncSerial = 20 // purchases one at a time
	syncBurst  = 64 // purchases written at once, before any reply is read; below max_in_flight (256)

	// tracedCalls are the calls the check reads: the connection's reads
	// and writes (gnet uses read, write and writev), the mappings that tell
	// which file an msync syncs, and the syncs.
	tracedCalls = "read,readv,write,writev,mmap,mremap,munmap,msync,fsync,fdatasync"
)

func TestSyncBeforeReply(t *testing.T) {
	began := time.Now()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatalf("strace not found (%v): this test runs the switch under it. Install it: "+
			"apt-get install strace (make test installs it when it is missing)", err)
	}
	h := setup(t)
	log := filepath.Join(filepath.Dir(h.cfg), "strace.log")
	// -f all threads, -ttt timestamps, -yy the path or TCP endpoints of each
	// fd, -xx strings in hex (nothing in them can look like syntax), -s the
	// whole of each buffer, --seccomp-bpf stops only at the traced calls.
	h.wrap = []string{strace, "-f", "-ttt", "-yy", "-xx", "-s", "65536", "--seccomp-bpf",
		"-e", "trace=" + tracedCalls, "-o", log}
	h.start()
	local := exchange(t, h.pos)
	h.stop(syscall.SIGTERM)

	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls, lines, err := parseStrace(f)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := classify(calls, "TCP:["+h.pos+"->"+local+"]")
	if err != nil {
		t.Fatal(err)
	}
	reqs, replies, err := tr.frames()
	if err != nil {
		t.Fatal(err)
	}
	if n := syncSerial + syncBurst; len(reqs) != n || len(replies) != n {
		t.Fatalf("the trace shows %d requests read and %d replies written on the client's connection, the client "+
			"had %d of each: the switch uses calls this test does not trace (%s)", len(reqs), len(replies), n, tracedCalls)
	}
	problems := tr.check(reqs, replies)
	for i, p := range problems {
		if i == 5 {
			break
		}
		t.Errorf("%s", p.msg)
		if i == 0 {
			t.Logf("the trace from the request to the reply:\n%s", excerpt(lines, p.from, p.to))
		}
	}
	if len(problems) > 0 {
		t.Fatalf("%d of %d replies left before the journal was durable", len(problems), len(replies))
	}
	t.Logf("%d replies (%d one at a time, %d pipelined), each after a Badger log msync and then an hwm fsync; "+
		"the trace: %d Badger log syncs, %d hwm syncs, %d lines; %v",
		len(replies), syncSerial, syncBurst, len(tr.memSyncs), len(tr.markSyncs), len(lines), time.Since(began).Round(time.Millisecond))
}

// exchange sends syncSerial purchases one at a time, then syncBurst in one
// write, on one connection; every one must be approved. It returns the
// connection's local address.
func exchange(t *testing.T, addr string) string {
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	c, err := client.Dial(addr, d, f, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stan := uint32(0)
	for range syncSerial {
		stan++
		r, err := c.RoundTrip(purchase(d, stan), 5*time.Second)
		if err != nil {
			t.Fatalf("STAN %06d: %v", stan, err)
		}
		if got := approved(t, r); got != stan {
			t.Fatalf("sent STAN %06d, reply has %06d", stan, got)
		}
	}
	var burst []byte
	want := map[uint32]bool{}
	for range syncBurst {
		stan++
		if burst, err = f.Append(burst, nil, purchase(d, stan)); err != nil {
			t.Fatal(err)
		}
		want[stan] = true
	}
	if _, err := c.Raw().Write(burst); err != nil {
		t.Fatal(err)
	}
	for range syncBurst {
		r, err := c.Read(time.Now().Add(5 * time.Second))
		if err != nil {
			t.Fatalf("burst: %d replies missing: %v", len(want), err)
		}
		s := approved(t, r)
		if !want[s] {
			t.Fatalf("burst: a reply with STAN %06d, not sent or answered twice", s)
		}
		delete(want, s)
	}
	return c.Raw().LocalAddr().String()
}

// approved fails the test unless r is an approved 0210; it returns the STAN.
func approved(t *testing.T, r *client.Reply) uint32 {
	stan, _ := r.View.STAN()
	mti, rc := r.View.MTI().String(), string(r.View.AppendText(nil, 39))
	if mti != "0210" || rc != "00" {
		t.Fatalf("STAN %06d: %s with response code %q, want an approved 0210", stan, mti, rc)
	}
	return stan
}

// chunk is the data of one read or write on the client's connection.
type chunk struct {
	call sysCall
	data []byte
}

// syncTrace is what the check reads from the log.
type syncTrace struct {
	memSyncs  []sysCall // msync(MS_SYNC) of a mapping of Badger's memtable log (*.mem), by entry
	markSyncs []sysCall // fsync or fdatasync of journal/hwm, by entry
	reads     []chunk   // what the switch read from the client's connection, by exit
	writes    []chunk   // what it wrote there, by entry
}

// mapping is a file mapped in the switch's memory.
type mapping struct {
	start, end uint64
	path       string
}

// classify picks from the calls the syncs and the traffic of the socket
// sock (as -yy prints it from the switch's side). It goes through them in
// the order of their exits: a mapping is known once mmap has returned.
func classify(calls []sysCall, sock string) (*syncTrace, error) {
	byExit := slices.Clone(calls)
	slices.SortFunc(byExit, func(a, b sysCall) int { return a.done - b.done })
	var maps []mapping
	tr := &syncTrace{}
	for _, c := range byExit {
		ret, ok := c.retInt()
		if !ok || ret < 0 {
			continue
		}
		a := splitArgs(c.args)
		switch c.name {
		case "mmap", "mremap", "munmap":
			maps = remap(maps, c.name, a, uint64(ret))
		case "msync":
			if len(a) == 3 && strings.Contains(a[2], "MS_SYNC") && strings.HasSuffix(pathAt(maps, number(a[0])), ".mem") {
				tr.memSyncs = append(tr.memSyncs, c)
			}
		case "fsync", "fdatasync":
			if _, path, ok := fdArg(a[0]); ok && strings.HasSuffix(path, "/journal/hwm") {
				tr.markSyncs = append(tr.markSyncs, c)
			}
		case "read", "readv", "write", "writev":
			if _, what, ok := fdArg(a[0]); !ok || what != sock || ret == 0 {
				continue
			}
			q, err := quoted(c.args)
			if err != nil {
				return nil, fmt.Errorf("log line %d: %w", c.at+1, err)
			}
			data := slices.Concat(q...)
			if int64(len(data)) < ret {
				return nil, fmt.Errorf("log line %d: %d bytes shown of %d", c.at+1, len(data), ret)
			}
			if ch := (chunk{c, data[:ret]}); strings.HasPrefix(c.name, "read") {
				tr.reads = append(tr.reads, ch)
			} else {
				tr.writes = append(tr.writes, ch)
			}
		}
	}
	byEntry := func(a, b sysCall) int { return a.at - b.at }
	slices.SortFunc(tr.memSyncs, byEntry)
	slices.SortFunc(tr.markSyncs, byEntry)
	slices.SortFunc(tr.writes, func(a, b chunk) int { return byEntry(a.call, b.call) })
	return tr, nil
}

// remap applies an mmap, mremap or munmap (its arguments a, its result
// ret) to the file mappings.
func remap(maps []mapping, name string, a []string, ret uint64) []mapping {
	switch {
	case name == "mmap" && len(a) == 6:
		end := ret + number(a[1])
		maps = slices.DeleteFunc(maps, func(m mapping) bool { return m.start < end && ret < m.end }) // MAP_FIXED over it
		if _, path, ok := fdArg(a[4]); ok {
			maps = append(maps, mapping{ret, end, path})
		}
	case name == "mremap" && len(a) >= 3:
		for i := range maps {
			if maps[i].start == number(a[0]) {
				maps[i].start, maps[i].end = ret, ret+number(a[2])
			}
		}
	case name == "munmap" && len(a) == 2:
		start := number(a[0])
		end := start + number(a[1])
		maps = slices.DeleteFunc(maps, func(m mapping) bool { return m.start >= start && m.start < end })
	}
	return maps
}

func pathAt(maps []mapping, addr uint64) string {
	for _, m := range maps {
		if m.start <= addr && addr < m.end {
			return m.path
		}
	}
	return ""
}

// number reads a printed number (decimal or 0x hex); 0 when it is not one.
func number(s string) uint64 {
	v, _ := strconv.ParseUint(s, 0, 64)
	return v
}

// frameAt is one message on the connection: its STAN, and the log line
// where the switch had read all of it (a request) or began to write it (a
// reply).
type frameAt struct {
	stan uint32
	line int
}

// frames cuts the connection's two directions into messages.
func (tr *syncTrace) frames() (reqs, replies []frameAt, err error) {
	if reqs, err = cutFrames(tr.reads, "0200", func(c sysCall) int { return c.done }, false); err != nil {
		return nil, nil, err
	}
	replies, err = cutFrames(tr.writes, "0210", func(c sysCall) int { return c.at }, true)
	return reqs, replies, err
}

// cutFrames frames the stream of chunks and decodes each message, which
// must have the MTI mti. A message's line is line() of the chunk holding its
// first byte (first) or its last.
func cutFrames(chunks []chunk, mti string, line func(sysCall) int, first bool) ([]frameAt, error) {
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	var buf []byte
	var owner []int // the chunk of each byte in buf
	var out []frameAt
	for i, ch := range chunks {
		buf = append(buf, ch.data...)
		for range ch.data {
			owner = append(owner, i)
		}
		for {
			fr, n, err := f.Next(buf)
			if errors.Is(err, codec.ErrNeedMore) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s stream: %w", mti, err)
			}
			var v codec.View
			if err := d.Decode(&v, fr.Msg); err != nil {
				return nil, fmt.Errorf("%s stream: %s", mti, codec.DescribeError(d, err))
			}
			if v.MTI().String() != mti {
				return nil, fmt.Errorf("%s stream: a %s", mti, v.MTI())
			}
			stan, _ := v.STAN()
			at := owner[n-1]
			if first {
				at = owner[0]
			}
			out = append(out, frameAt{stan, line(chunks[at].call)})
			buf, owner = buf[n:], owner[n:]
		}
	}
	return out, nil
}

// problem is a reply that left too early: the message, and the log lines
// of its request and of the reply.
type problem struct {
	msg      string
	from, to int
}

// check finds each reply's request (by STAN) and requires, after the
// request's read returned and before the reply's write began, a whole
// Badger log msync and after it a whole hwm fsync.
func (tr *syncTrace) check(reqs, replies []frameAt) []problem {
	read := map[uint32]int{}
	for _, r := range reqs {
		read[r.stan] = r.line
	}
	var out []problem
	for _, r := range replies {
		from, ok := read[r.stan]
		if !ok {
			out = append(out, problem{fmt.Sprintf("STAN %06d: a reply without a request in the trace", r.stan), r.line, r.line})
			continue
		}
		bad := func(format string, a ...any) {
			msg := fmt.Sprintf("STAN %06d (request read at log line %d, reply written at line %d): ", r.stan, from+1, r.line+1)
			out = append(out, problem{msg + fmt.Sprintf(format, a...), from, r.line})
		}
		m, ok := firstAfter(tr.memSyncs, from)
		if !ok || m.done >= r.line {
			bad("no msync(MS_SYNC) of Badger's memtable log (*.mem) in between: " +
				"the reply left before the Badger write was synced (SyncWrites off?)")
			continue
		}
		if s, ok := firstAfter(tr.markSyncs, m.done); !ok || s.done >= r.line {
			bad("no fsync of journal/hwm after Badger's sync (line %d) and before the reply: "+
				"the reply left before the high-water mark was synced", m.done+1)
		}
	}
	return out
}

// firstAfter is the first call (calls by entry) that began after line.
func firstAfter(calls []sysCall, line int) (sysCall, bool) {
	i := sort.Search(len(calls), func(i int) bool { return calls[i].at > line })
	if i == len(calls) {
		return sysCall{}, false
	}
	return calls[i], true
}

// excerpt is the log from line from to line to, bounded for a test's
// output, with paths decoded and buffers shown by their size.
func excerpt(lines []string, from, to int) string {
	const linesMax = 60
	to = min(to, from+linesMax-1, len(lines)-1)
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%6d %s\n", i+1, readable(lines[i]))
	}
	return b.String()
}

var (
	hexPath   = regexp.MustCompile(`<((?:\\x[0-9a-f]{2})+)>`)
	hexString = regexp.MustCompile(`"(?:\\x[0-9a-f]{2})*"`)
)

// readable decodes the -xx paths of a log line and replaces its strings by
// their length.
func readable(line string) string {
	line = hexPath.ReplaceAllStringFunc(line, func(m string) string {
		b, _, _ := unescape(m[1:len(m)-1], 0)
		return "<" + string(b) + ">"
	})
	return hexString.ReplaceAllStringFunc(line, func(m string) string {
		return fmt.Sprintf("<%d bytes>", (len(m)-2)/4)
	})
}
