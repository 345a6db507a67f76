package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/internal/clock"
	"github.com/cardswitch/cardswitch/internal/pan"
)

// BenchmarkWeeks runs the whole switch (in this process, on a fake clock)
// through SOAK_DAYS business days (default 28) of SOAK_PER_DAY purchases
// each (default 50,000), and prints, day by day: the heap in use after a
// collection, the part of it Badger holds (memtables and its pool of table
// builders' buffers), the rest (the switch's own), the transaction index's
// entries, and the disk taken by the journal, the snapshots and the
// archive. The index stops growing once the retention (7 days) is reached,
// the journal once journal.keep_days (7) is, the snapshots stay two files;
// the archive grows by design (it is the back office's input). make soak.
func BenchmarkWeeks(b *testing.B) {
	days, perDay := envOr("SOAK_DAYS", 28), envOr("SOAK_PER_DAY", 50_000)
	for i := 0; i < b.N; i++ {
		soak(b, days, perDay)
	}
}

func envOr(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func soak(b *testing.B, days, perDay int) {
	body, addrs := testConfig(b)
	body = strings.Replace(body, `data: ""`, "data: "+soakIssuer(b, 64, 640), 1)
	c, err := loadConfig(writeFile(b, body))
	if err != nil {
		b.Fatal(err)
	}
	c.file.Snapshot.Every, c.file.Snapshot.Check = 100_000, 100*time.Millisecond
	fake := clock.NewFake(time.Date(2026, 1, 5, 9, 0, 0, 0, time.Local))
	c.clock = fake
	stop := startServeLog(b, c, zerolog.New(os.Stderr).Level(zerolog.WarnLevel)) // warnings and errors only
	defer stop()
	b.Logf("%4s %10s %10s %10s %10s %12s %12s %12s", "day", "heap_MB", "badger_MB", "own_MB", "index", "journal_MB", "snapshot_MB", "archive_MB")
	for d := 0; d < days; d++ {
		drivePurchases(b, addrs["8583"], 64, perDay, fake.Now())
		fake.Advance(24 * time.Hour)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap, buffers := float64(ms.HeapInuse)/1e6, float64(badgerBuffers())/1e6
		b.Logf("%4d %10.1f %10.1f %10.1f %10.0f %12.1f %12.1f %12.1f", d+1, heap, buffers, heap-buffers, metric(b, addrs["8580"], "cardswitch_auth_index_entries"),
			dirMB(filepath.Join(c.file.DataDir, "journal")), dirMB(c.snapshotDir()), dirMB(c.archiveDir()))
	}
}

// drivePurchases sends n purchases dated day over 8 pipelined connections,
// spread over terms terminals, STANs unique per terminal and day.
func drivePurchases(b *testing.B, addr string, terms, n int, day time.Time) {
	d, _ := codec.Lookup(codec.ISO87ASCII)
	f, _ := codec.ParseFraming("binary2")
	const conns, window = 8, 64
	errs := make(chan error, conns)
	for k := 0; k < conns; k++ {
		go func(k int) {
			errs <- pipeline(addr, d, f, window, n/conns, func(i int) []byte {
				seq := i*conns + k // 0 .. n-1, unique across connections
				term, stan := seq%terms, seq/terms+1
				msg, err := d.Encode(codec.Message{MTI: "0200", Fields: map[string]string{
					"2": soakPAN(seq % 640), "3": "000000", "4": "000000000100", "7": day.Format("0102150405"),
					"11": fmt.Sprintf("%06d", stan), "12": day.Format("150405"), "13": day.Format("0102"), "14": "2812",
					"22": "051", "41": fmt.Sprintf("S%07d", term), "42": "MERCHANT0000001", "49": "840"}})
				if err != nil {
					panic(err)
				}
				return msg
			})
		}(k)
	}
	for k := 0; k < conns; k++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// pipeline sends n messages with up to window in flight and checks that
// every one is approved.
func pipeline(addr string, d *codec.Dialect, f codec.Framing, window, n int, msg func(int) []byte) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	r := codec.NewReader(nc, f)
	sent := 0
	send := func(k int) error {
		var buf []byte
		for j := 0; j < k; j++ {
			var err error
			if buf, err = f.Append(buf, nil, msg(sent)); err != nil {
				return err
			}
			sent++
		}
		_, err := nc.Write(buf)
		return err
	}
	if err := send(min(window, n)); err != nil {
		return err
	}
	var v codec.View
	for got := 0; got < n; got++ {
		_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		frame, err := r.Next()
		if err != nil {
			return fmt.Errorf("after %d of %d: %w", got, n, err)
		}
		if err := d.Decode(&v, frame.Msg); err != nil {
			return err
		}
		if rc := v.AppendText(nil, 39); string(rc) != "00" {
			return fmt.Errorf("answer %d: rc %s", got, rc)
		}
		if sent < n && sent-got-1 < window/2 {
			if err := send(min(window-(sent-got-1), n-sent)); err != nil {
				return err
			}
		}
	}
	return nil
}

// soakIssuer writes issuer data of terms terminals and cards cards on deep
// accounts without limits, and returns its path.
func soakIssuer(b testing.TB, terms, cards int) string {
	var y strings.Builder
	fmt.Fprintf(&y, "counts: {profiles: 1, accounts: %d, cards: %d, merchants: 1, terminals: %d}\n", cards, cards, terms)
	y.WriteString("keys: {pvk: U1D3923B426280093FEABD1824D622FEB, pvki: 1}\nprofiles: [{name: standard}]\naccounts:\n")
	for i := 0; i < cards; i++ {
		fmt.Fprintf(&y, "  - {id: ACC-%05d, currency: \"840\", balance: 900000000000}\n", i)
	}
	y.WriteString("cards:\n")
	for i := 0; i < cards; i++ {
		fmt.Fprintf(&y, "  - {pan: \"%s\", expiry: \"2812\", status: active, account: ACC-%05d}\n", soakPAN(i), i)
	}
	y.WriteString("merchants:\n  - {id: MERCHANT0000001, name: SOAK STORE, mcc: \"5411\", status: active}\nterminals:\n")
	for i := 0; i < terms; i++ {
		fmt.Fprintf(&y, "  - {id: S%07d, merchant: MERCHANT0000001, status: active}\n", i)
	}
	return writeFile(b, y.String())
}

// soakPAN is a Luhn-valid on-us PAN for card i.
func soakPAN(i int) string { return pan.WithCheckDigit(fmt.Sprintf("476173%09d", i)) }

// metric reads one gauge from the admin endpoint.
func metric(b *testing.B, admin, name string) float64 {
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// dirMB is the disk a directory's files take (allocated blocks: Badger's
// value log is a large sparse file).
func dirMB(dir string) float64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				if st, ok := info.Sys().(*syscall.Stat_t); ok {
					n += st.Blocks * 512
				}
			}
		}
		return nil
	})
	return float64(n) / 1e6
}

// badgerBuffers is the heap Badger's own buffers hold (memtable arenas,
// and table builders' buffers, which Badger keeps in a pool of 8, each
// trimmed to 400 MB, while flushes and compactions go on): the in-use
// bytes of the memory profile's allocations made by ristretto's Calloc or
// Badger's skiplist arena. They are megabytes each, above the profile's
// sampling rate, so each is sampled and the sum is exact for them.
func badgerBuffers() int64 {
	n, _ := runtime.MemProfile(nil, false)
	recs := make([]runtime.MemProfileRecord, n+64)
	n, ok := runtime.MemProfile(recs, false)
	if !ok {
		return -1
	}
	var total int64
	for _, r := range recs[:n] {
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if strings.Contains(f.Function, "ristretto/v2/z.Calloc") || strings.Contains(f.Function, "badger/v4/skl.newArena") {
				total += r.InUseBytes()
				break
			}
			if !more {
				break
			}
		}
	}
	return total
}
