package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/codec"
	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/internal/clock"
	"github.com/cardswitch/cardswitch/journal"
)

func getDays(t *testing.T, admin string) daysReply {
	t.Helper()
	res, err := http.Get("http://" + admin + "/days")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var d daysReply
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /days: %d %v", res.StatusCode, err)
	}
	return d
}

func postCutover(t *testing.T, admin, token string) (int, cutoverReply) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+admin+"/cutover", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var c cutoverReply
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&c); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode, c
}

// An early cutover, by an 0800 (code 201) on a link that accepts them and
// then by the admin call, outlives restarts: the journal holds each
// cutover record, and a start takes the newest date in the journal as the
// floor, so the business date never goes back to the calendar's.
func TestEarlyCutoverSurvivesARestart(t *testing.T) {
	body, addrs := testConfig(t)
	for from, to := range map[string]string{`cutover: "00:00"`: `cutover: "23:00"`, "zone: Local": "zone: Asia/Shanghai", "accept_cutover: false": "accept_cutover: true"} {
		if !strings.Contains(body, from) {
			t.Fatalf("%q not in the default configuration", from)
		}
		body = strings.Replace(body, from, to, 1)
	}
	c, err := loadConfig(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	if !c.engine.Links[0].AcceptCutover || c.engine.Links[1].AcceptCutover || c.engine.BusinessDay.Cutover != "23:00" {
		t.Fatalf("configuration: %+v %+v", c.engine.Links[0], c.engine.BusinessDay)
	}
	clk := clock.NewFake(time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)) // 21:00 in Shanghai
	c.clock = clk
	admin := addrs["8580"]
	stan := 0
	buy := func(want uint32) {
		t.Helper()
		stan++
		conn, d := dialPOS(t, addrs["8583"])
		defer conn.Close()
		r, err := conn.RoundTrip(purchase(t, d, fmt.Sprintf("%06d", stan), fmt.Sprintf("CUTOVER%05d", stan), 100), 5*time.Second)
		if err != nil || string(r.View.AppendText(nil, 39)) != "00" {
			t.Fatalf("purchase %d: %v", stan, err)
		}
		if got := getDays(t, admin).BusinessDate; got != want {
			t.Fatalf("business date %d, want %d", got, want)
		}
	}

	stop := startServe(t, c)
	if d := getDays(t, admin); d.BusinessDate != 20261201 || d.Cutover != "23:00" || d.Zone != "Asia/Shanghai" || len(d.Days) != 0 {
		t.Fatalf("GET /days on a new journal: %+v", d)
	}
	buy(20261201)
	conn, d := dialPOS(t, addrs["8583"])
	msg, _ := d.Encode(codec.Message{MTI: "0800", Fields: map[string]string{"7": "1201130000", "11": "000900", "70": "201"}})
	r, err := conn.RoundTrip(msg, 5*time.Second)
	if err != nil || r.View.MTI().String() != "0810" || string(r.View.AppendText(nil, 39)) != "00" {
		t.Fatalf("0800 cutover: %v", err)
	}
	conn.Close()
	buy(20261202)
	days := getDays(t, admin).Days
	if len(days) != 2 || days[0].Date != 20261201 || !days[0].Sealed || days[1].Date != 20261202 || days[1].Sealed ||
		days[0].LastSeq+1 != days[1].FirstSeq || len(days[0].LastHash) != 64 {
		t.Fatalf("days after the cutover: %+v", days)
	}
	sealed := days[0]
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	stop = startServe(t, c) // the clock still says 21:00: the calendar's date is 20261201
	buy(20261202)
	tok, err := os.ReadFile(filepath.Join(c.file.DataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	if code, _ := postCutover(t, admin, ""); code != http.StatusUnauthorized {
		t.Fatalf("POST /cutover without the token: %d", code)
	}
	if code, got := postCutover(t, admin, token); code != http.StatusOK || got.Moved || got.To != 20261202 {
		t.Fatalf("POST /cutover while ahead of the calendar: %d %+v", code, got)
	}
	clk.Advance(2*time.Hour + 30*time.Minute) // 23:30: the calendar catches up
	if code, got := postCutover(t, admin, token); code != http.StatusOK || !got.Moved || got.From != 20261202 || got.To != 20261203 || got.Seq == 0 {
		t.Fatalf("POST /cutover: %d %+v", code, got)
	}
	buy(20261203)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	stop = startServe(t, c)
	buy(20261203)
	days = getDays(t, admin).Days
	if len(days) != 3 || days[0] != sealed || !days[1].Sealed || days[2].Sealed || days[2].Date != 20261203 {
		t.Fatalf("days after the restarts: %+v", days)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// the journal: dates never go back, two cutover records, each the first of its day
	var prev uint32
	var cuts []uint32
	if _, err := journal.Replay(filepath.Join(c.file.DataDir, "journal"), func(r *journal.Record) error {
		if r.BusinessDate < prev {
			return fmt.Errorf("sequence %d dated %d after %d", r.Seq, r.BusinessDate, prev)
		}
		if r.Route == engine.CutoverRoute && r.Conn == 0 {
			if r.BusinessDate == prev {
				return fmt.Errorf("cutover record %d does not begin its day %d", r.Seq, r.BusinessDate)
			}
			cuts = append(cuts, r.BusinessDate)
		}
		prev = r.BusinessDate
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(cuts) != 2 || cuts[0] != 20261202 || cuts[1] != 20261203 {
		t.Fatalf("cutover records %v", cuts)
	}
}
