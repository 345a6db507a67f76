package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The CPU figure is the sampler's difference over the measured window,
// divided by the answers as planned, and it is in the text and the JSON.
func TestCPUPerMessage(t *testing.T) {
	srv := newRecorder(t)
	var calls atomic.Int64
	opts := Options{Addr: srv.listen(t), Framing: srv.framing, Conns: 2, InFlight: 2, Duration: 1200 * time.Millisecond,
		Traffic: testTraffic(t, PurchaseOnly), CPUScope: "test",
		CPU: func() (time.Duration, error) { return time.Duration(calls.Add(1)) * time.Second, nil }} // 1 s, then 2 s
	rep, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || rep.CPU == nil || rep.AsPlanned == 0 {
		t.Fatalf("samples %d, cpu %+v, as planned %d", calls.Load(), rep.CPU, rep.AsPlanned)
	}
	want := 1e6 / float64(rep.AsPlanned)
	if rep.CPU.Seconds != 1 || rep.CPU.MicrosPerMsg != want || rep.CPU.Scope != "test" {
		t.Errorf("cpu %+v, want 1 s and %.3f µs per message", rep.CPU, want)
	}
	var text, js bytes.Buffer
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "µs per message as planned (test: 1.00 s") {
		t.Errorf("text:\n%s", text.String())
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		CPU CPU `json:"cpu"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.CPU != *rep.CPU {
		t.Errorf("json cpu %+v (%v), want %+v", back.CPU, err, *rep.CPU)
	}
	var cmp bytes.Buffer
	rep.Target = "x"
	WriteComparison(&cmp, []*Report{rep}, nil)
	if !strings.Contains(cmp.String(), "cpu µs/msg") || !strings.Contains(cmp.String(), "cpu: test") {
		t.Errorf("comparison:\n%s", cmp.String())
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, []*Report{rep}, nil); err != nil || !strings.Contains(page.String(), "CPU µs/msg") || !strings.Contains(page.String(), "(test)") {
		t.Errorf("html (%v) without the CPU column or its scope", err)
	}
}

// A run without a sampler has no CPU figure, and says nothing of it.
func TestNoCPUFigure(t *testing.T) {
	rep := quickRun(t, newRecorder(t), PurchaseOnly, 0)
	var text bytes.Buffer
	rep.WriteText(&text)
	if rep.CPU != nil || strings.Contains(text.String(), "cpu ") {
		t.Errorf("cpu %+v, text:\n%s", rep.CPU, text.String())
	}
}

func TestParseStatCPU(t *testing.T) {
	line := "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 0 0 20 0 9 0 100 1000 100 0\n"
	if d, err := parseStatCPU(line); err != nil || d != 1750*time.Millisecond {
		t.Errorf("got %v %v, want 1.75s (175 ticks)", d, err)
	}
	for _, bad := range []string{"", "4242 no name", "4242 (x) S 1 2", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 x 25"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if runtime.GOOS != "linux" {
		return // /proc/PID/stat is Linux's
	}
	if d, err := PIDCPU(os.Getpid())(); err != nil || d < 0 {
		t.Errorf("this process: %v %v", d, err)
	}
}

// The comparison takes the echo target's CPU per message out of the
// others' (the generator's share): full 20 - echo 8 = 12.
func TestCPUBeyondEcho(t *testing.T) {
	reps := []*Report{{Target: "echo", CPU: &CPU{Scope: ProcessScope, MicrosPerMsg: 8}},
		{Target: "full", CPU: &CPU{Scope: ProcessScope, MicrosPerMsg: 20}}, {Target: "moov"}}
	var out bytes.Buffer
	WriteComparison(&out, reps, nil)
	if !strings.Contains(out.String(), "cpu beyond echo's") || !strings.Contains(out.String(), "full 12.0 µs") {
		t.Errorf("comparison:\n%s", out.String())
	}
	if beyondEcho(reps[1:]) != "" {
		t.Error("a figure beyond echo's without an echo run")
	}
}
