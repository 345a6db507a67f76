package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

func quickRun(t *testing.T, srv *recorder, mix Mix, warmup time.Duration) *Report {
	t.Helper()
	opts := Options{Addr: srv.listen(t), Framing: srv.framing, Conns: 2, InFlight: 2, Duration: 1200 * time.Millisecond,
		Warmup: warmup, Traffic: testTraffic(t, mix)}
	rep, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// A server that answers every request 94 has no throughput: the answers
// are counted as duplicates, and the run does not pass Check.
func TestDuplicatesAreNotThroughput(t *testing.T) {
	srv := newRecorder(t)
	srv.code = "94"
	rep := quickRun(t, srv, PurchaseOnly, 0)
	if rep.Answered == 0 || rep.AsPlanned != 0 || rep.Throughput != 0 || rep.Duplicates != rep.Answered {
		t.Errorf("answered %d, as planned %d, %.0f msg/s, duplicates %d", rep.Answered, rep.AsPlanned, rep.Throughput, rep.Duplicates)
	}
	for _, p := range rep.PerSecond {
		if p != 0 {
			t.Errorf("per second %v", rep.PerSecond)
			break
		}
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "throughput  0 msg/s") || !strings.Contains(text.String(), "duplicates (94)") {
		t.Errorf("text:\n%s", text.String())
	}
	if err := rep.Check(DefaultMaxFailed); err == nil || !strings.Contains(err.Error(), "duplicates (94)") {
		t.Errorf("check: %v", err)
	}
	srv = newRecorder(t)
	srv.code = "30"
	if rep := quickRun(t, srv, PurchaseOnly, 0); rep.FormatErrors != rep.Answered || rep.Throughput != 0 || rep.Check(0.5) == nil {
		t.Errorf("format errors %d of %d, %.0f msg/s", rep.FormatErrors, rep.Answered, rep.Throughput)
	}
}

// The plan says what each kind expects: an approval where a wrong PIN,
// an expired card or an over-limit amount was planned is not as planned
// (and not a failure), a purchase's approval is; warm-up counts in
// neither sent nor answered, and the drain is not in the seconds.
func TestAnswersAsPlanned(t *testing.T) {
	srv := newRecorder(t)
	rep := quickRun(t, srv, Mix{Purchase: 1, Expired: 1, OverLimit: 1}, 300*time.Millisecond)
	t.Logf("sent %d answered %d planned %d other %d", rep.Sent, rep.Answered, rep.AsPlanned, rep.OtherUnplanned)
	if rep.AsPlanned == 0 || rep.OtherUnplanned == 0 || rep.AsPlanned+rep.OtherUnplanned != rep.Answered {
		t.Errorf("as planned %d, other %d, answered %d", rep.AsPlanned, rep.OtherUnplanned, rep.Answered)
	}
	if rep.Check(DefaultMaxFailed) != nil {
		t.Errorf("declines planned but approved are not failures: %v", rep.Check(DefaultMaxFailed))
	}
	for _, r := range []*Report{rep, quickRun(t, newRecorder(t), PurchaseOnly, 300*time.Millisecond)} { // the template's path too
		if r.Sent != r.Answered+r.Timeouts || r.Errors != 0 {
			t.Errorf("sent %d = answered %d + timeouts %d? errors %d", r.Sent, r.Answered, r.Timeouts, r.Errors)
		}
		if len(r.PerSecond) != 1 || len(r.AnsweredPerSecond) != 1 { // 1.5 s of run: one whole second
			t.Errorf("seconds %v %v", r.PerSecond, r.AnsweredPerSecond)
		}
	}
	srv.mu.Lock()
	seen := 0
	for _, n := range srv.seen {
		seen += n
	}
	srv.mu.Unlock()
	if int64(seen) <= rep.Sent {
		t.Errorf("the server saw %d, warm-up included, the report says %d sent", seen, rep.Sent)
	}
}

// A server that closes at once fails Check with the framing hint.
func TestCheckHintsAtFraming(t *testing.T) {
	srv := newRecorder(t)
	srv.close = true
	rep := quickRun(t, srv, PurchaseOnly, 0)
	err := rep.Check(DefaultMaxFailed)
	if err == nil || !strings.Contains(err.Error(), "none of") || !strings.Contains(err.Error(), "framing") {
		t.Errorf("check: %v (report %+v)", err, rep)
	}
}

// Run refuses a negative rate and a mix with nothing to send.
func TestRunRefusesBadOptions(t *testing.T) {
	opts := Options{Addr: "127.0.0.1:1", Conns: 1, InFlight: 1, Duration: time.Second, Traffic: testTraffic(t, PurchaseOnly)}
	bad := opts
	bad.Rate = -1
	if _, err := Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("rate -1: %v", err)
	}
	for _, m := range []Mix{{}, {Purchase: 3, Refund: -1}} {
		bad = opts
		bad.Traffic.Mix = m
		if _, err := Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "mix") {
			t.Errorf("%+v: %v", m, err)
		}
	}
}

// The HTML report is one document that parses, fetches nothing, carries
// the run's parameters, every target and the ratios, and holds the four
// charts as SVG; the comparison's JSON is one document.
func TestHTMLReport(t *testing.T) {
	a := quickRun(t, newRecorder(t), PurchaseOnly, 300*time.Millisecond)
	a.Target = "alpha"
	b := quickRun(t, newRecorder(t), PurchaseOnly, 300*time.Millisecond)
	b.Target = "beta<&>"
	reps := []*Report{a, b}
	ratios := Ratios(reps, []string{"alpha"}, []string{"beta<&>"})
	if len(ratios) != 1 {
		t.Fatalf("ratios %v", ratios)
	}
	var out bytes.Buffer
	if err := WriteHTML(&out, reps, ratios); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	dec := xml.NewDecoder(strings.NewReader(page))
	dec.Strict, dec.AutoClose, dec.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var svgs, scripts int
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the page does not parse: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "svg":
				svgs++
			case "script", "link", "img", "iframe":
				scripts++
			}
			for _, at := range el.Attr {
				if at.Name.Local == "src" || at.Name.Local == "href" {
					t.Errorf("%s fetches %s", el.Name.Local, at.Value)
				}
			}
		case xml.CharData:
			text.Write(el)
			text.WriteByte(' ')
		}
	}
	if svgs != 4 || scripts != 0 {
		t.Errorf("%d charts, %d scripts or assets", svgs, scripts)
	}
	body := text.String()
	for _, want := range []string{"date", "duration", "1.2s measured", "warm-up", "300ms", "rate", "closed loop", "mix", "purchase 1",
		"commit", "CPUs", "iso87ascii", "alpha", "beta<&>", "beta<&> / alpha", "msg/s", "latency (ms, log scale)",
		"time since the start of the run (s)", "answers as planned (msg/s)", "end of warm-up", "00 approved", "share of answers (%)"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	var js bytes.Buffer
	if err := json.NewEncoder(&js).Encode(Comparison{Reports: reps, Ratios: ratios}); err != nil {
		t.Fatal(err)
	}
	var back Comparison
	dec2 := json.NewDecoder(&js)
	if err := dec2.Decode(&back); err != nil || len(back.Reports) != 2 || back.Reports[1].Target != "beta<&>" || dec2.More() {
		t.Errorf("comparison JSON: %v, %d reports", err, len(back.Reports))
	}
}
