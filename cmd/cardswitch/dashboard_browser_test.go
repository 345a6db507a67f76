//go:build browser

// The browser test of the live dashboard: `make dashboard-test` runs it
// (it installs Chromium when missing). It is behind the browser tag so that
// make test, which has no browser, never skips it quietly.

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// chromium runs headless Chromium on url with args, giving the page 3 s
// of virtual time (about three refreshes), and returns its stdout.
func chromium(t *testing.T, url string, args ...string) string {
	t.Helper()
	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		bin = "chromium"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard, not a bound
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--user-data-dir=" + t.TempDir(), "--window-size=1440,1000", "--virtual-time-budget=3000"}, args...)
	out, err := exec.CommandContext(ctx, bin, append(all, url)...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", bin, all, err)
	}
	return string(out)
}

// shown is what a dumped page says.
type shown struct {
	messages float64
	updates  int
	tps      string
	at       time.Time // the sample's
	dom      string
}

// reading is one scrape of cardswitch_messages_total: the counter was at
// most v when the scrape ended and at least v when it began.
type reading struct {
	began, ended time.Time
	v            float64
}

// readings scrapes the counter every 100 ms until stop.
func readings(t *testing.T, admin string, stop <-chan struct{}) func() []reading {
	var mu sync.Mutex
	var out []reading
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			began := time.Now()
			v := sumSeries(scrape(t, admin), "cardswitch_messages_total")
			mu.Lock()
			out = append(out, reading{began, time.Now(), v})
			mu.Unlock()
		}
	}()
	return func() []reading { <-done; return out }
}

func readPage(t *testing.T, dom string) shown {
	t.Helper()
	var s shown
	s.dom = dom
	m := regexp.MustCompile(`id="messages" data-value="([0-9.e+]+)"`).FindStringSubmatch(dom)
	u := regexp.MustCompile(`<body [^>]*data-updates="([0-9]+)"`).FindStringSubmatch(dom)
	tps := regexp.MustCompile(`id="tps">([^<]*)<`).FindStringSubmatch(dom)
	at := regexp.MustCompile(`<body [^>]*data-time="([^"]+)"`).FindStringSubmatch(dom)
	if m == nil || u == nil || tps == nil || at == nil {
		t.Fatalf("the page has no figures: %.2000s", dom)
	}
	s.messages, _ = strconv.ParseFloat(m[1], 64)
	s.updates, _ = strconv.Atoi(u[1])
	s.tps = tps[1]
	var err error
	if s.at, err = time.Parse(time.RFC3339Nano, at[1]); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDashboardInBrowser loads the page in headless Chromium against the
// switch under load, twice: each time the total it shows lies between
// /metrics' counter read before (a sample's age earlier) and after, the
// page refreshed itself, and the second shows more than the first. The
// links and destinations shown up and down are the switch's. Then it
// saves a screenshot (DASHBOARD_SHOT, default in the temporary directory).
func TestDashboardInBrowser(t *testing.T) {
	addrs := serveForDashboard(t)
	admin := addrs["8580"]
	url := "http://" + admin + "/dashboard/"

	// load for the whole test: open loop, modest (two shared cores)
	var load sync.WaitGroup
	load.Add(1)
	go func() {
		defer load.Done()
		cli(t, "", "bench", "--addr", addrs["8583"], "--rate", "800", "--conns", "4", "--inflight", "16",
			"--duration", "40s", "--warmup", "0s", "--max-error-rate", "1")
	}()
	t.Cleanup(load.Wait)
	// and the demo Mastercard, which the switch forwards to mc-host
	// (bench's mix leaves it out), ten a second
	upstreamDone := make(chan struct{})
	stopUpstream := make(chan struct{})
	go func() {
		defer close(upstreamDone)
		for stan := 600001; ; stan++ {
			select {
			case <-stopUpstream:
				return
			case <-time.After(100 * time.Millisecond):
			}
			cli(t, "", "send", "--addr", addrs["8583"], "--pan", "5413330089010012", "--stan", strconv.Itoa(stan))
		}
	}()
	defer func() { close(stopUpstream); <-upstreamDone }()

	// a second viewer polling once a second, as an open page does: the
	// page loaded next finds a history to chart (headless Chromium's
	// virtual time runs its own refreshes faster than the wall clock)
	stop := make(chan struct{})
	var viewer sync.WaitGroup
	viewer.Add(1)
	go func() {
		defer viewer.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				dashboardData(t, admin)
			}
		}
	}()
	defer func() { close(stop); viewer.Wait() }()
	for d := dashboardData(t, admin); d.Messages == 0 || d.TPS == nil; d = dashboardData(t, admin) {
		time.Sleep(200 * time.Millisecond) // until traffic flows and a window exists
	}

	var pages []shown
	for i := range 2 {
		stopReading := make(chan struct{})
		got := readings(t, admin, stopReading)
		time.Sleep(time.Second) // readings from before the page's sample
		p := readPage(t, chromium(t, url, "--dump-dom"))
		time.Sleep(1100 * time.Millisecond) // and from a second after it
		close(stopReading)
		// the counter when the sample was gathered: at least the last
		// reading ended before it, at most the first begun a second (the
		// refresh) after it
		lower, upper := -1.0, -1.0
		for _, r := range got() {
			if !r.ended.After(p.at) {
				lower = r.v
			}
			if upper < 0 && !r.began.Before(p.at.Add(time.Second)) {
				upper = r.v
			}
		}
		t.Logf("page %d: %v answered shown at %s (/metrics %v before, %v within a second after), %s tps, %d refreshes",
			i, p.messages, p.at.Format("15:04:05.000"), lower, upper, p.tps, p.updates)
		// exactly the sample's, which the data endpoint still holds
		var sampled *float64
		for _, pt := range dashboardData(t, admin).History {
			if pt.Time.Equal(p.at) {
				sampled = &pt.Messages
			}
		}
		if sampled == nil {
			t.Errorf("page %d shows a sample at %s the data endpoint does not hold", i, p.at)
		} else if *sampled != p.messages {
			t.Errorf("page %d shows %v answered for its sample at %s: the sample says %v", i, p.messages, p.at, *sampled)
		}
		if lower < 0 || upper < 0 || p.messages < lower || p.messages > upper {
			t.Errorf("page %d shows %v answered: /metrics said %v before its sample and %v a second after", i, p.messages, lower, upper)
		}
		if p.updates < 2 {
			t.Errorf("page %d refreshed %d times in 3 s", i, p.updates)
		}
		if p.tps == "–" || p.tps == "0.00" {
			t.Errorf("page %d shows %q transactions per second under load", i, p.tps)
		}
		if mc := regexp.MustCompile(`<td>mc-host</td><td><span class="up">up</span></td><td>1 / 1</td><td>[0-9]+</td><td>([0-9.,]+)</td>`).FindStringSubmatch(p.dom); mc == nil || mc[1] == "0.00" {
			t.Errorf("page %d: mc-host not up with traffic: %v", i, mc)
		}
		for _, want := range []string{
			`<td>pos</td><td><span class="up">up</span></td>`,
			`<td>spare-host</td><td><span class="down">down</span></td>`,
			`<td>00</td>`,
		} {
			if !strings.Contains(p.dom, want) {
				t.Errorf("page %d has no %s", i, want)
			}
		}
		pages = append(pages, p)
	}
	if pages[1].messages <= pages[0].messages {
		t.Errorf("the total did not move under load: %v then %v", pages[0].messages, pages[1].messages)
	}

	shot := os.Getenv("DASHBOARD_SHOT")
	if shot == "" {
		shot = filepath.Join(os.TempDir(), "cardswitch-dashboard.png")
	}
	chromium(t, url, "--screenshot="+shot)
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
}
