package upstream

import (
	"testing"
	"time"
)

func TestBreakerOpensOnTimeoutsWithinTheWindow(t *testing.T) {
	b := NewBreaker(BreakerConfig{Failures: 3, Window: time.Second, Cooldown: 5 * time.Second})
	now := epoch
	b.Timeout(now)
	b.Timeout(now.Add(600 * time.Millisecond))
	b.Timeout(now.Add(1200 * time.Millisecond)) // the first is 1.2 s old: not 3 within 1 s
	if !b.Allow(now.Add(1200 * time.Millisecond)) {
		t.Fatal("opened on 3 timeouts over 1.2 s with a 1 s window")
	}
	b.Timeout(now.Add(1500 * time.Millisecond)) // 0.6, 1.2, 1.5: within 1 s
	if b.Allow(now.Add(1500*time.Millisecond)) || b.State(now.Add(1500*time.Millisecond)) != Open || b.Opened() != 1 {
		t.Fatal("3 timeouts within the window must open the circuit")
	}
}

func TestBreakerAnswerResetsTheCount(t *testing.T) {
	b := NewBreaker(BreakerConfig{Failures: 2, Window: time.Second})
	b.Timeout(epoch)
	b.Answered(epoch.Add(time.Millisecond))
	b.Timeout(epoch.Add(2 * time.Millisecond))
	if !b.Allow(epoch.Add(2 * time.Millisecond)) {
		t.Fatal("an answer between two timeouts: the circuit must stay closed")
	}
}

func TestBreakerHalfOpensAndProbesOnce(t *testing.T) {
	b := NewBreaker(BreakerConfig{Failures: 1, Cooldown: 5 * time.Second})
	b.Timeout(epoch)
	if b.Probe(epoch.Add(4 * time.Second)) {
		t.Fatal("probed during the cooldown")
	}
	at := epoch.Add(5 * time.Second)
	if b.State(at) != HalfOpen || b.Allow(at) {
		t.Fatal("after the cooldown: half-open, and still no live traffic")
	}
	if !b.Probe(at) || b.Probe(at) {
		t.Fatal("one probe per half-open period")
	}
	b.ProbeResult(false, at.Add(time.Second))
	if b.State(at.Add(time.Second)) != Open || b.Opened() != 2 {
		t.Fatal("a failed probe opens the circuit again")
	}
	at = at.Add(6 * time.Second)
	if !b.Probe(at) {
		t.Fatal("no probe after the second cooldown")
	}
	b.ProbeResult(true, at)
	if !b.Allow(at) {
		t.Fatal("an answered probe closes the circuit")
	}
	b.Timeout(at) // a fresh count: Failures 1 opens again at once
	if b.Allow(at) {
		t.Fatal("closed again, a timeout counts")
	}
}

func TestBreakerIgnoresEventsOutOfState(t *testing.T) {
	b := NewBreaker(BreakerConfig{Failures: 1, Cooldown: time.Second})
	b.ProbeResult(true, epoch) // no probe out: nothing
	b.Timeout(epoch)
	b.ProbeResult(true, epoch) // open, not probing: nothing
	if b.Allow(epoch) {
		t.Fatal("a probe result without a probe closed the circuit")
	}
	b.Timeout(epoch.Add(time.Millisecond)) // timeouts while open do not reopen
	if b.Opened() != 1 {
		t.Fatalf("opened %d times, want 1", b.Opened())
	}
	if err := (BreakerConfig{Failures: -1}).Validate(); err == nil {
		t.Fatal("negative failures validated")
	}
}
