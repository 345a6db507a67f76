package auth

import (
	"errors"
	"fmt"
	"time"
)

// Limits bound the transaction index, the one part of the state that grows
// with traffic. The zero value of a field means its default (WithDefaults).
type Limits struct {
	// Retention is how long approved transactions, reversals and
	// placeholders stay in the index, so late reversals, repeats,
	// completions and voids find them. Open pre-authorizations stay until
	// completed or reversed: releasing a hold is an effect, which only a
	// message makes. Default 7 days.
	Retention time.Duration
	// DeclineWindow is how long declined requests and balance inquiries
	// stay: they have no effect to undo and need only a window in which a
	// repeat gets the same answer and a duplicate 94. Default 15 minutes.
	DeclineWindow time.Duration
	// MaxTransactions caps the index entries (placeholders included). At
	// the cap a request that would add one is answered 96, with no effect
	// and no entry, and Stats says Full. Default 10 million: about 1.1 GB
	// at the measured 109 bytes per entry (ARCHITECTURE.md), twice that
	// with the snapshotter's follower. At a high rate of traffic the cap,
	// not the retention, is the bound: 10 million entries are 14 hours at
	// 200 a second, and 50 seconds at 200,000 a second.
	MaxTransactions int
	// MaxPlaceholders caps the reversals of originals not seen (a timeout
	// before the original reached the switch), remembered so the late
	// original is declined. At the cap such a reversal is answered 96, so
	// the acquirer sends it again later. Default 100 000.
	MaxPlaceholders int
	// MaxBatches caps the terminals with an open settlement batch (one
	// open batch per terminal: batch.go). At the cap a debit or credit of
	// a terminal with no open batch is answered 96, with no effect and no
	// entry, and Stats says BatchesFull, until a settlement closes one.
	// Default 1 million: about 200 bytes each, bounded by the issuer data's
	// terminals in any case.
	MaxBatches int
}

// Defaults, in one place.
const (
	defaultRetention       = 7 * 24 * time.Hour
	defaultDeclineWindow   = 15 * time.Minute
	defaultMaxTransactions = 10_000_000
	defaultMaxPlaceholders = 100_000
	defaultMaxBatches      = 1_000_000
	// maxTransactionsLimit bounds the cap itself: 2^31 entries would be
	// 270 GB, far beyond any machine this runs on.
	maxTransactionsLimit = 1 << 31
)

// WithDefaults fills the zero fields with their defaults.
func (l Limits) WithDefaults() Limits {
	if l.Retention == 0 {
		l.Retention = defaultRetention
	}
	if l.DeclineWindow == 0 {
		l.DeclineWindow = defaultDeclineWindow
	}
	if l.MaxTransactions == 0 {
		l.MaxTransactions = defaultMaxTransactions
	}
	if l.MaxPlaceholders == 0 {
		l.MaxPlaceholders = defaultMaxPlaceholders
	}
	if l.MaxBatches == 0 {
		l.MaxBatches = defaultMaxBatches
	}
	return l
}

// ErrLimits is wrapped by the errors of Limits.Validate.
var ErrLimits = errors.New("auth: limits")

// Validate checks limits filled by WithDefaults.
func (l Limits) Validate() error {
	switch {
	case l.DeclineWindow < time.Second:
		return fmt.Errorf("%w: decline window %v is under a second", ErrLimits, l.DeclineWindow)
	case l.Retention < l.DeclineWindow:
		return fmt.Errorf("%w: retention %v is shorter than the decline window %v", ErrLimits, l.Retention, l.DeclineWindow)
	case l.Retention > 400*24*time.Hour:
		return fmt.Errorf("%w: retention %v is over 400 days", ErrLimits, l.Retention)
	case l.MaxTransactions < 1 || l.MaxTransactions > maxTransactionsLimit:
		return fmt.Errorf("%w: max transactions %d is not 1 to %d", ErrLimits, l.MaxTransactions, maxTransactionsLimit)
	case l.MaxPlaceholders < 1 || l.MaxPlaceholders > l.MaxTransactions:
		return fmt.Errorf("%w: max placeholders %d is not 1 to max transactions (%d)", ErrLimits, l.MaxPlaceholders, l.MaxTransactions)
	case l.MaxBatches < 1 || l.MaxBatches > tableMax:
		return fmt.Errorf("%w: max batches %d is not 1 to %d", ErrLimits, l.MaxBatches, tableMax)
	}
	return nil
}

// Stats are the index's counts, for the engine's metrics and alert.
type Stats struct {
	Transactions     int64  // index entries, placeholders included
	Placeholders     int64  // reversals of originals not seen
	Refused          uint64 // requests answered 96 because the index was full
	Full             bool   // Transactions reached MaxTransactions
	PlaceholdersFull bool   // Placeholders reached MaxPlaceholders
	Batches          int64  // terminals with an open settlement batch
	BatchesRefused   uint64 // requests answered 96 because MaxBatches were open
	BatchesFull      bool   // Batches reached MaxBatches
}

// Stats reads the index's counts.
func (a *Authorizer) Stats() Stats {
	n, p := a.index.count.Load(), a.index.placeholders.Load()
	return Stats{Transactions: n, Placeholders: p, Refused: a.index.refused.Load(),
		Full: n >= int64(a.lim.MaxTransactions), PlaceholdersFull: p >= int64(a.lim.MaxPlaceholders),
		Batches: a.batches.Load(), BatchesRefused: a.batchesRefused.Load(), BatchesFull: a.batches.Load() >= int64(a.lim.MaxBatches)}
}
