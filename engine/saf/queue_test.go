package saf

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cardswitch/cardswitch/engine/upstream"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

const timeout = 10 * time.Second

func fill(t *testing.T, q *Queue, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if err := q.Add(Entry{ID: uint64(i), Kind: Reversal, Ref: uint64(1000 + i), Enqueued: t0}); err != nil {
			t.Fatal(err)
		}
	}
}

// next takes the next entry's ID, 0 for none.
func next(q *Queue, now time.Time) uint64 {
	e, ok := q.Next(now, timeout)
	if !ok {
		return 0
	}
	return e.ID
}

func TestInOrderWithinTheWindow(t *testing.T) {
	q := NewQueue(Config{Window: 3})
	fill(t, q, 10)
	for want := uint64(1); want <= 3; want++ {
		if got := next(q, t0); got != want {
			t.Fatalf("next = %d, want %d", got, want)
		}
	}
	if got := next(q, t0); got != 0 {
		t.Fatalf("a fourth in flight with window 3: %d", got)
	}
	if o := q.Answer(2, "00", t0); o != Delivered {
		t.Fatalf("answer 00: %v", o)
	}
	if got := next(q, t0); got != 4 {
		t.Fatalf("after a delivery: %d, want 4", got)
	}
	if q.Len() != 9 || q.InFlight() != 3 {
		t.Fatalf("len %d in flight %d, want 9 and 3", q.Len(), q.InFlight())
	}
}

func TestRetryGoesFirstAfterItsBackoffAsARepeat(t *testing.T) {
	q := NewQueue(Config{Window: 1, Backoff: upstream.Backoff{Base: time.Second, Max: time.Minute}})
	fill(t, q, 3)
	if next(q, t0) != 1 {
		t.Fatal("first is not 1")
	}
	if o := q.Answer(1, "91", t0); o != Retry {
		t.Fatalf("answer 91: %v", o)
	}
	if got := next(q, t0); got != 2 { // 1 waits for its second
		t.Fatalf("during 1's backoff: %d, want 2", got)
	}
	q.Answer(2, "00", t0)
	e, ok := q.Next(t0.Add(time.Second), timeout)
	if !ok || e.ID != 1 || e.Attempts != 1 {
		t.Fatalf("after the backoff: %+v %v, want 1 as a repeat (attempts 1)", e, ok)
	}
}

func TestAnswersOutsideTheFlightAreIgnored(t *testing.T) {
	q := NewQueue(Config{})
	fill(t, q, 2)
	next(q, t0)
	next(q, t0)
	if q.Answer(1, "00", t0) != Delivered || q.Answer(1, "00", t0) != Ignored {
		t.Fatal("a second answer must be ignored")
	}
	if q.Answer(7, "00", t0) != Ignored {
		t.Fatal("an answer for no entry must be ignored")
	}
	if n := q.Due(t0.Add(timeout + time.Millisecond)); n != 1 {
		t.Fatalf("overdue: %d, want 1", n)
	}
	if q.Answer(2, "00", t0.Add(timeout+2*time.Millisecond)) != Ignored {
		t.Fatal("an answer after the entry's timeout must be ignored: its repeat carries it")
	}
	if q.Len() != 1 {
		t.Fatalf("len %d, want 1 (entry 2 still owed)", q.Len())
	}
}

func TestRejectedIsFinal(t *testing.T) {
	q := NewQueue(Config{})
	fill(t, q, 1)
	next(q, t0)
	if o := q.Answer(1, "05", t0); o != Rejected || q.Len() != 0 {
		t.Fatalf("answer 05: %v, len %d; want rejected and gone", o, q.Len())
	}
}

func TestOutOfTriesExpires(t *testing.T) {
	q := NewQueue(Config{MaxRetries: 2, Backoff: upstream.Backoff{Base: time.Second, Max: time.Second}})
	fill(t, q, 1)
	now := t0
	for try := 0; try < 3; try++ {
		e, ok := q.Next(now, timeout)
		if !ok || e.Attempts != try {
			t.Fatalf("try %d: %+v %v", try, e, ok)
		}
		now = now.Add(timeout + time.Millisecond)
		q.Due(now)
		now = now.Add(time.Second) // the backoff
	}
	if _, ok := q.Next(now.Add(time.Hour), timeout); ok {
		t.Fatal("a fourth send with max_retries 2")
	}
	ex := q.Expired(now)
	if len(ex) != 1 || ex[0].ID != 1 || ex[0].Attempts != 3 || q.Len() != 0 {
		t.Fatalf("expired %+v, len %d; want entry 1 after 3 sends", ex, q.Len())
	}
	if len(q.Expired(now)) != 0 {
		t.Fatal("handed out twice")
	}
}

func TestTooOldExpires(t *testing.T) {
	q := NewQueue(Config{ExpireAfter: time.Hour})
	fill(t, q, 2)
	q.Add(Entry{ID: 3, Kind: Advice, Enqueued: t0.Add(30 * time.Minute)})
	if len(q.Expired(t0.Add(time.Hour))) != 0 {
		t.Fatal("expired at exactly expire_after")
	}
	next(q, t0.Add(time.Hour)) // 1 in flight: it waits for its answer
	if ex := q.Expired(t0.Add(61 * time.Minute)); len(ex) != 0 {
		t.Fatalf("expired behind an entry in flight: %+v", ex)
	}
	q.Answer(1, "00", t0.Add(61*time.Minute))
	ex := q.Expired(t0.Add(61 * time.Minute))
	if len(ex) != 1 || ex[0].ID != 2 || q.Len() != 1 {
		t.Fatalf("expired %+v len %d, want 2 alone (3 is younger)", ex, q.Len())
	}
	if at, ok := q.Oldest(); !ok || !at.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("oldest %v %v", at, ok)
	}
}

func TestAddRefusals(t *testing.T) {
	q := NewQueue(Config{Cap: 2})
	fill(t, q, 2)
	if err := q.Add(Entry{ID: 3, Kind: Reversal}); !errors.Is(err, ErrFull) {
		t.Fatalf("beyond cap: %v", err)
	}
	q = NewQueue(Config{})
	fill(t, q, 2)
	if err := q.Add(Entry{ID: 2, Kind: Reversal}); !errors.Is(err, ErrOrder) {
		t.Fatalf("an old ID: %v", err)
	}
	if err := q.Add(Entry{ID: 9}); !errors.Is(err, ErrKind) {
		t.Fatalf("no kind: %v", err)
	}
}

func TestUnsentDoesNotCountATry(t *testing.T) {
	q := NewQueue(Config{})
	fill(t, q, 2)
	next(q, t0)
	q.Unsent(1, t0)
	e, ok := q.Next(t0, timeout)
	if !ok || e.ID != 1 || e.Attempts != 0 || q.InFlight() != 1 {
		t.Fatalf("after unsent: %+v %v in flight %d; want 1 again as a first send", e, ok, q.InFlight())
	}
}

func TestOperatorRetryAndRemove(t *testing.T) {
	q := NewQueue(Config{Backoff: upstream.Backoff{Base: time.Hour, Max: time.Hour}})
	fill(t, q, 2)
	next(q, t0)
	q.Answer(1, "96", t0)
	if err := q.Retry(1, t0); err != nil {
		t.Fatal(err)
	}
	if got := next(q, t0); got != 1 {
		t.Fatalf("after an operator's retry: %d, want 1 at once", got)
	}
	if err := q.Retry(1, t0); err != nil {
		t.Fatalf("retrying an entry in flight (nothing to do): %v", err)
	}
	if e, err := q.Remove(1); err != nil || e.ID != 1 || q.InFlight() != 0 {
		t.Fatalf("removing an entry in flight: %+v %v, in flight %d", e, err, q.InFlight())
	}
	if got := q.Answer(1, "00", t0); got != Ignored {
		t.Fatalf("the answer of a removed entry: %v, want ignored", got)
	}
	if e, err := q.Remove(2); err != nil || e.ID != 2 {
		t.Fatalf("remove 2: %+v %v", e, err)
	}
	if _, err := q.Remove(2); !errors.Is(err, ErrAbsent) {
		t.Fatalf("removing it again: %v", err)
	}
	if err := q.Retry(2, t0); !errors.Is(err, ErrAbsent) {
		t.Fatalf("retrying a removed entry: %v", err)
	}
	if got := next(q, t0); got != 0 || q.Len() != 0 {
		t.Fatalf("a removed entry was sent: %d (len %d)", got, q.Len())
	}
}

// TestIndexesStayBounded: one entry stuck in its backoff while a million
// others come and go must not keep their IDs.
func TestIndexesStayBounded(t *testing.T) {
	q := NewQueue(Config{Window: 8, Backoff: upstream.Backoff{Base: 24 * time.Hour, Max: 24 * time.Hour}, ExpireAfter: 1000 * time.Hour})
	fill(t, q, 1)
	next(q, t0)
	q.Answer(1, "91", t0) // waits a day
	id := uint64(2)
	for i := 0; i < 200_000; i++ {
		if err := q.Add(Entry{ID: id, Kind: Reversal, Enqueued: t0}); err != nil {
			t.Fatal(err)
		}
		e, ok := q.Next(t0, timeout)
		if !ok || e.ID != id {
			t.Fatalf("next %+v %v, want %d", e, ok, id)
		}
		q.Answer(id, "00", t0)
		id++
	}
	if q.Len() != 1 || q.order.len() > 2*q.Len()+1025 || q.fresh.len() > 2*q.Len()+1025 || q.flights.Len() > 16 {
		t.Fatalf("len %d: order %d, fresh %d, flights heap %d", q.Len(), q.order.len(), q.fresh.len(), q.flights.Len())
	}
}

// TestRandomRunsKeepTheBooks drives queues with random answers, timeouts,
// failed sends and expiries: every entry ends exactly once (delivered,
// rejected or expired) or is still held, and none is delivered twice.
func TestRandomRunsKeepTheBooks(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 0))
		q := NewQueue(Config{Window: 1 + r.IntN(8), MaxRetries: r.IntN(4), ExpireAfter: time.Duration(1+r.IntN(60)) * time.Minute,
			Backoff: upstream.Backoff{Base: time.Second, Max: 20 * time.Second, Jitter: 0.5}})
		ended := map[uint64]string{}
		end := func(id uint64, how string) {
			if ended[id] != "" {
				t.Fatalf("seed %d: entry %d ended %s and %s", seed, id, ended[id], how)
			}
			ended[id] = how
		}
		now, added := t0, 0
		var flying []uint64
		for step := 0; step < 5000; step++ {
			now = now.Add(time.Duration(r.IntN(2000)) * time.Millisecond)
			switch r.IntN(6) {
			case 0, 1:
				added++
				if err := q.Add(Entry{ID: uint64(added), Kind: Reversal, Enqueued: now}); err != nil {
					t.Fatal(err)
				}
			case 2:
				if e, ok := q.Next(now, timeout); ok {
					if e.Attempts > q.cfg.MaxRetries {
						t.Fatalf("seed %d: entry %d sent after %d tries", seed, e.ID, e.Attempts)
					}
					if r.IntN(10) == 0 {
						q.Unsent(e.ID, now)
					} else {
						flying = append(flying, e.ID)
					}
				}
			case 3:
				if len(flying) > 0 {
					i := r.IntN(len(flying))
					id := flying[i]
					flying = append(flying[:i], flying[i+1:]...)
					switch q.Answer(id, []string{"00", "00", "91", "05", "94"}[r.IntN(5)], now) {
					case Delivered:
						end(id, "delivered")
					case Rejected:
						end(id, "rejected")
					}
				}
			case 4:
				q.Due(now)
			case 5:
				for _, e := range q.Expired(now) {
					end(e.ID, "expired")
				}
			}
		}
		if held := q.Len(); added != len(ended)+held {
			t.Fatalf("seed %d: %d added, %d ended, %d held", seed, added, len(ended), held)
		}
	}
}

// TestRecentForgetsTheOldest: Recent holds the last RecentMax values,
// whatever comes after.
func TestRecentForgetsTheOldest(t *testing.T) {
	var r Recent
	for v := uint64(1); v <= RecentMax+10; v++ {
		r.Add(v)
		r.Add(v) // twice: once
	}
	if r.Has(10) || !r.Has(11) || !r.Has(RecentMax+10) || len(r.Values()) != RecentMax || len(r.set) != RecentMax {
		t.Fatalf("has 10 %v, 11 %v, last %v; %d values, %d in the set", r.Has(10), r.Has(11), r.Has(RecentMax+10), len(r.Values()), len(r.set))
	}
}
