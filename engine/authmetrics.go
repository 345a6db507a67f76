package engine

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/engine/auth"
)

// registerAuthMetrics exposes the transaction index's bounds: a full index
// answers 96 until entries age out, so it must be seen before it happens.
func registerAuthMetrics(reg *prometheus.Registry, a *auth.Authorizer) {
	lim := a.Limits()
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	gauge("cardswitch_auth_index_entries", "Answered transactions kept for repeats, reversals, completions and voids.",
		func() float64 { return float64(a.Stats().Transactions) })
	gauge("cardswitch_auth_index_capacity", "The index's hard cap (authorization.max_transactions).",
		func() float64 { return float64(lim.MaxTransactions) })
	gauge("cardswitch_auth_placeholders", "Reversals of originals not seen, remembered so a late original is declined.",
		func() float64 { return float64(a.Stats().Placeholders) })
	gauge("cardswitch_auth_index_full", "1 while the index or its placeholders are at their cap: new requests are answered 96.",
		func() float64 {
			if s := a.Stats(); s.Full || s.PlaceholdersFull {
				return 1
			}
			return 0
		})
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cardswitch_auth_index_refusals_total",
		Help: "Requests answered 96 because the index was full."}, func() float64 { return float64(a.Stats().Refused) }))
	gauge("cardswitch_auth_open_batches", "Terminals with an open settlement batch (cap: authorization.max_batches).",
		func() float64 { return float64(a.Stats().Batches) })
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cardswitch_auth_batch_refusals_total",
		Help: "Debits and credits answered 96 because max_batches terminals had an open batch."},
		func() float64 { return float64(a.Stats().BatchesRefused) }))
}

// IndexAlertEvery bounds the alert's log lines: one a minute while full.
const IndexAlertEvery = time.Minute

// WatchIndex logs an alert, at most once per every (IndexAlertEvery in the
// switch), while the authorizer's index refuses requests, until ctx ends.
func WatchIndex(ctx context.Context, log zerolog.Logger, a *auth.Authorizer, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var refused uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s := a.Stats()
		if s.Refused+s.BatchesRefused > refused {
			log.Error().Int64("transactions", s.Transactions).Int64("placeholders", s.Placeholders).
				Uint64("refused", s.Refused+s.BatchesRefused-refused).Bool("full", s.Full).Bool("placeholders_full", s.PlaceholdersFull).
				Bool("batches_full", s.BatchesFull).
				Msg("transaction index at its cap (or the open batches at theirs): requests answered 96 (raise authorization.max_transactions or max_batches, shorten the retention, or settle)")
			refused = s.Refused + s.BatchesRefused
		}
	}
}
