package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/cmd/cardswitch/dashboard"
	"github.com/cardswitch/cardswitch/internal/testlog"
)

// dashboardDests are two destinations for the dashboard's tests: mc-host
// (an issuer simulator, up) takes the demo Mastercard; spare-host points
// at a closed port (down).
const dashboardDests = `destinations:
  - name: mc-host
    dialect: iso87ascii
    framing: binary2
    endpoints: [{address: SIM}]
  - name: spare-host
    dialect: iso87ascii
    framing: binary2
    endpoints: [{address: DEAD}]
`

const dashboardRules = `    - name: mastercard-upstream
      pan_prefixes: ["5413330089"]
      action: upstream
      destination: mc-host
`

// serveForDashboard runs the switch with dashboardDests and an issuer
// simulator until the test ends, and returns the switch's addresses.
func serveForDashboard(t *testing.T) map[string]string {
	t.Helper()
	f := &simFlags{listen: "127.0.0.1:0", dialect: "iso87ascii", framing: "binary2", latency: "0", latencySet: true}
	cfg, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runSimIssuer(ctx, &env{stdout: &testlog.Buffer{}, stderr: pw}, f.listen, cfg)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() { cancel(); <-done })
	sim := strings.TrimSpace(line[strings.LastIndex(line, " ")+1:])

	base, addrs := testConfig(t)
	dests := strings.NewReplacer("SIM", sim, "DEAD", freePort(t)).Replace(dashboardDests)
	serveBody(t, withDestinationsIn(t, base, dests, dashboardRules))
	return addrs
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v %s", url, res.Status, err, b)
	}
	return string(b)
}

func dashboardData(t *testing.T, admin string) dashboard.Data {
	t.Helper()
	var d dashboard.Data
	if err := json.Unmarshal([]byte(getBody(t, "http://"+admin+"/dashboard/data")), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// sumSeries adds the series of one metric in a scrape.
func sumSeries(m map[string]float64, name string) float64 {
	t := 0.0
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			t += v
		}
	}
	return t
}

// TestDashboardOnTheAdminListener: the page and its files come from the
// binary through the admin guard without a token, and the data agrees
// with /metrics: the requests answered, the destinations up and down.
func TestDashboardOnTheAdminListener(t *testing.T) {
	addrs := serveForDashboard(t)
	admin := addrs["8580"]
	page := getBody(t, "http://"+admin+"/dashboard/")
	if !strings.Contains(page, "<title>cardswitch: live</title>") {
		t.Fatalf("the page: %.300s", page)
	}
	for _, f := range []string{"app.js", "style.css"} {
		getBody(t, "http://"+admin+"/dashboard/"+f)
	}
	for i, pan := range []string{"4761739001010010", "5413330089010012"} { // on us; mc-host's
		code, out, errOut := cli(t, "", "send", "--addr", addrs["8583"], "--pan", pan, "--stan", strconv.Itoa(700001+i), "--json")
		if code != 0 || !strings.Contains(out, `"39":"00"`) {
			t.Fatalf("purchase %s: %d %s %s", pan, code, out, errOut)
		}
	}
	// a request is counted just after its reply is written: wait for both
	for deadline := time.Now().Add(20 * time.Second); sumSeries(scrape(t, admin), "cardswitch_messages_total") < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) { // a hang guard, not a bound
			t.Fatal("the two purchases are not counted in /metrics")
		}
	}
	d := dashboardData(t, admin) // the first request for data: a fresh sample
	m := scrape(t, admin)        // after: no request is in between
	if want := sumSeries(m, "cardswitch_messages_total"); d.Messages != want || d.Messages < 2 {
		t.Errorf("dashboard shows %v answered, /metrics %v", d.Messages, want)
	}
	if d.Approved < 2 || d.Financial < d.Approved {
		t.Errorf("approved %v of %v", d.Approved, d.Financial)
	}
	var states []string
	for _, x := range d.Dests {
		states = append(states, x.Name+"="+strconv.FormatBool(x.Up))
	}
	sort.Strings(states)
	if strings.Join(states, " ") != "mc-host=true spare-host=false" {
		t.Errorf("destinations %v", states)
	}
	if d.Dests[0].Sent < 1 {
		t.Errorf("mc-host sent %v", d.Dests[0].Sent)
	}
	if len(d.Links) != 3 || d.Links[0].Name != "pos" || d.Links[0].Up == nil || !*d.Links[0].Up || d.Links[0].Messages < 2 {
		t.Errorf("links %+v", d.Links)
	}
	if d.Workers.Workers < 1 || d.Workers.QueueCapacity != 65536 {
		t.Errorf("workers %+v", d.Workers)
	}
}

// grafanaMetric finds the series a Grafana expression names.
var grafanaMetric = regexp.MustCompile(`\b(cardswitch_[a-z_]+|go_[a-z_]+|process_[a-z_]+)\b`)

// TestGrafanaDashboardNamesRealSeries: deploy/grafana/cardswitch.json
// parses, has its panels, and every series its queries name is one the
// switch exports (scraped from a running switch with destinations, after
// traffic, so every family has a series).
func TestGrafanaDashboardNamesRealSeries(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/cardswitch.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if g.Title == "" || g.UID == "" || len(g.Panels) < 10 {
		t.Fatalf("title %q uid %q, %d panels", g.Title, g.UID, len(g.Panels))
	}
	addrs := serveForDashboard(t)
	code, out, errOut := cli(t, "", "send", "--addr", addrs["8583"], "--pan", "5413330089010012", "--stan", "700101", "--json")
	if code != 0 || !strings.Contains(out, `"39":"00"`) {
		t.Fatalf("purchase: %d %s %s", code, out, errOut)
	}
	families := map[string]bool{}
	for series := range scrape(t, addrs["8580"]) {
		name, _, _ := strings.Cut(series, "{")
		families[name] = true
	}
	named := 0
	for _, p := range g.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, n := range grafanaMetric.FindAllString(tg.Expr, -1) {
				named++
				if !families[n] {
					t.Errorf("panel %q names %s: the switch has no such series", p.Title, n)
				}
			}
		}
	}
	if named == 0 {
		t.Fatal("no series named")
	}
}
