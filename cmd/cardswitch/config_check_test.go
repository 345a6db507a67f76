package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/internal/testdisk"
)

// TestConfigCheckCatchesWhatServeRejects feeds both `config check` and
// serve the same wrong files: check must fail with one line naming the key
// and serve must refuse to start, before it listens on anything.
func TestConfigCheckCatchesWhatServeRejects(t *testing.T) {
	for _, c := range []struct{ name, from, to, want string }{
		{"link port", "listen: 127.0.0.1:8583", "listen: 127.0.0.1:99999", `links[0].listen: "127.0.0.1:99999": the port must be a number from 1 to 65535`},
		{"admin port", "listen: 127.0.0.1:8580", "listen: 127.0.0.1:70000", `admin.listen: "127.0.0.1:70000": the port`},
		{"port zero", "listen: 127.0.0.1:8584", "listen: 127.0.0.1:0", `links[1].listen: "127.0.0.1:0": the port`},
		{"duplicate rule", "name: on-us-unionpay", "name: on-us-visa", `routes.rules[2].name: "on-us-visa" is used twice (routes.rules[1] has it too)`},
		{"nameless rule", "- name: on-us-unionpay", "- name: \"\"", `routes.rules[2].name: must be set`},
		{"rule for no link", "mti_classes: [\"8\"]", "mti_classes: [\"8\"]\n      links: [pso]", `routes.rules[0].links: "pso" is not a link`},
		{"duration without unit", "drain_timeout: 5s", "drain_timeout: 5", "engine.drain_timeout (line ?): 5 needs a unit, e.g. 5s"},
		{"link duration", "idle_timeout: 5m", "idle_timeout: 300", "links[0].idle_timeout (line ?): 300 needs a unit"},
		{"not a duration", "check: 10s", "check: soon", `snapshot.check (line ?): "soon" is not a duration`},
		{"unknown key", "workers: 0", "wrokers: 0", "engine.wrokers (line ?): unknown key; engine takes workers, queue_depth, event_loops, drain_timeout"},
		{"unknown link key", "    framing: binary2+tpdu", "    framing: binary2+tpdu\n    dialekt: x", "links[2].dialekt (line ?): unknown key"},
		{"unknown top key", "data_dir: ./data", "data_dir: ./data\nbogus: 1", "bogus (line ?): unknown key; the file takes data_dir, log"},
		{"payshield address", "addr: 127.0.0.1:1500", "addr: nowhere", `hsm.addr: "nowhere" is not host:port`},
		{"payshield pool", "connections: 2 ", "connections: 100", "hsm.connections: 100 must be 1 to 64"},
		{"payshield header", "header_length: 4", "header_length: 2", "hsm.header_length: 2 must be 3 to 9"},
		{"negative min free", "min_free_mb: 48", "min_free_mb: -1", "journal.min_free_mb: -1 must be 0 (the default, 48) or 24 to 1048576 (MiB of free disk"},
		{"min free below a flush", "min_free_mb: 48", "min_free_mb: 20", "journal.min_free_mb: 20 must be 0 (the default, 48) or 24 to 1048576: below 24 MiB free"},
		{"min free past the bound", "min_free_mb: 48", "min_free_mb: 2000000", "journal.min_free_mb: 2000000 must be 0"},
		{"min free not a number", "min_free_mb: 48", "min_free_mb: lots", `journal.min_free_mb (line ?): "lots" is not a whole number`},
		{"reserve not whole", "reserve_mb: 64", "reserve_mb: 0.5", `journal.reserve_mb (line ?): "0.5" is not a whole number`},
		{"negative reserve", "reserve_mb: 64", "reserve_mb: -64", "journal.reserve_mb: -64 must be 0 (the default, 64) to 4096 (MiB of disk held back"},
		{"reserve past the bound", "reserve_mb: 64", "reserve_mb: 65536", "journal.reserve_mb: 65536 must be 0 (the default, 64) to 4096"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(string(defaultConfig), c.from, c.to, 1)
			if bad == string(defaultConfig) {
				t.Fatalf("%q not in the configuration", c.from)
			}
			bad = onFreePorts(t, bad)
			if strings.Contains(c.want, "(line ?)") { // the line of the key that was changed
				last := c.to[strings.LastIndex(c.to, "\n")+1:]
				n := strings.Count(bad[:strings.Index(bad, last)], "\n") + 1
				c.want = strings.Replace(c.want, "(line ?)", fmt.Sprintf("(line %d)", n), 1)
			}
			if strings.HasPrefix(c.name, "payshield") {
				bad = strings.Replace(bad, "kind: soft ", "kind: payshield", 1)
			}
			path := writeFile(t, bad)
			code, out, errOut := cli(t, "", "config", "check", "--config", path)
			if code != 1 || out != "" || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("config check: %d %q, want one line with %q", code, out+errOut, c.want)
			}
			if strings.Contains(errOut, "struct") || strings.Contains(errOut, "time.Duration") || strings.Contains(errOut, " into int") {
				t.Errorf("config check shows Go types: %s", errOut)
			}
			if err := serveOnce(t, path); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("serve: %v, want %q", err, c.want)
			}
		})
	}
}

// serveOnce loads path and runs serve as the serve command does, and
// returns its error; a serve that starts is stopped after a moment (the
// test then fails: the file should have been refused).
func serveOnce(t *testing.T, path string) error {
	c, err := loadConfig(path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := serve(ctx, c, zerolog.New(io.Discard), nil); err != nil {
		return err
	}
	return errors.New("serve started")
}

// onFreePorts moves body's data directory and default ports to a
// temporary directory and free ports.
func onFreePorts(t *testing.T, body string) string {
	body = strings.Replace(body, "data_dir: ./data", "data_dir: "+t.TempDir(), 1)
	for _, port := range []string{"8580", "8583", "8584", "8585"} {
		body = strings.Replace(body, "127.0.0.1:"+port, freePort(t), 1)
	}
	return body
}

// TestConfigCheckPassesWhatServeRuns: the default configuration (on free
// ports) and one with every payshield key set pass the check and serve.
func TestConfigCheckPassesWhatServeRuns(t *testing.T) {
	body, _ := testConfig(t)
	for _, b := range []string{body, strings.Replace(body, "drain_timeout: 5s", "drain_timeout: 1m30s", 1)} {
		path := writeFile(t, b)
		if code, out, errOut := cli(t, "", "config", "check", "--config", path); code != 0 || out != "configuration ok\n" {
			t.Fatalf("config check: %d %s %s", code, out, errOut)
		}
		c, err := loadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := startServe(t, c)(); err != nil { // started (listening), then stopped
			t.Fatal(err)
		}
	}
}

// journal.min_free_mb and journal.reserve_mb reach the journal serve opens,
// on a 256 MiB tmpfs: with 100 and 8 the reserve file is 8 MiB (the
// default is 64) and a purchase is approved; with 400, more than the disk
// holds (the default, 48, is less), the journal is paused from the start:
// a purchase is answered 96 and /readyz says commits resume at 408 MiB,
// min_free_mb plus reserve_mb.
func TestJournalDiskKeysReachTheJournal(t *testing.T) {
	for _, c := range []struct {
		minFree, reserve, code string
		status                 int
		ready                  string // what /readyz says
	}{
		{"100", "8", "00", http.StatusOK, "ready"},
		{"400", "8", "96", http.StatusServiceUnavailable, "not ready: journal: paused: disk full: "},
	} {
		t.Run(c.minFree, func(t *testing.T) {
			dir := testdisk.Tmpfs(t, 256)
			addrs := map[string]string{"8580": freePort(t), "8583": freePort(t), "8584": freePort(t), "8585": freePort(t)}
			body := strings.NewReplacer("data_dir: ./data", "data_dir: "+dir,
				"min_free_mb: 48 ", "min_free_mb: "+c.minFree+" ", "reserve_mb: 64 ", "reserve_mb: "+c.reserve+" ").Replace(string(defaultConfig))
			for port, addr := range addrs {
				body = strings.Replace(body, "127.0.0.1:"+port, addr, 1)
			}
			if !strings.Contains(body, "min_free_mb: "+c.minFree+" ") || !strings.Contains(body, "reserve_mb: "+c.reserve+" ") {
				t.Fatal("the default configuration's journal keys are not where the test expects them")
			}
			path := writeFile(t, body)
			if code, out, errOut := cli(t, "", "config", "check", "--config", path); code != 0 {
				t.Fatalf("config check: %d %s %s", code, out, errOut)
			}
			cfg, err := loadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			stop := startServe(t, cfg)
			defer func() {
				if err := stop(); err != nil {
					t.Errorf("shutdown: %v", err)
				}
			}()
			purchaseOn(t, addrs["8583"], "000001", c.code)
			res, err := http.Get("http://" + addrs["8580"] + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			ready, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != c.status || !strings.Contains(string(ready), c.ready) {
				t.Fatalf("/readyz: %d %q, want %q", res.StatusCode, ready, c.ready)
			}
			if c.code == "96" && !strings.Contains(string(ready), "commits resume at 408 MiB") {
				t.Fatalf("/readyz: %q: the journal does not resume at min_free_mb + reserve_mb", ready)
			}
			if c.code == "00" {
				if st, err := os.Stat(filepath.Join(dir, "journal", "reserve")); err != nil || st.Size() != 8<<20 {
					t.Fatalf("reserve file: %v, want 8 MiB", err)
				}
			}
		})
	}
}
