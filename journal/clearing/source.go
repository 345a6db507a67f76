package clearing

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/cardswitch/cardswitch/journal"
)

var errPastDay = errors.New("clearing: past the day")

// ReadDay streams the records of one closed business day of the stopped
// journal in dir to fn (each valid during the call only), verified as
// journal.Replay verifies them. Records are dated in sequence order, so
// the day is one run: the walk stops at the first record of a later day,
// which is also what proves the day closed (nothing can be added to it
// once a later day has begun). It reads the kept days before it on the
// way (the journal has no seek by date for a stopped journal).
func ReadDay(dir string, date uint32, fn func(*journal.Record) error) (journal.Result, error) {
	seen := uint64(0)
	res, err := ReadDays(dir, date, date, func(r *journal.Record) error {
		seen++
		return fn(r)
	})
	if err == nil && seen == 0 {
		err = fmt.Errorf("clearing: no records of business day %d in the journal (not reached yet, or dropped)", date)
	}
	return res, err
}

// ReadDays streams the records of the business days from..to (closed:
// a later day has begun) of the stopped journal in dir to fn, in journal
// order, each valid during the call only: the days a later day's
// reversals may reach back to (ExportOptions.Earlier). Days without
// records are no error.
func ReadDays(dir string, from, to uint32, fn func(*journal.Record) error) (journal.Result, error) {
	closed := false
	res, err := journal.Replay(dir, func(r *journal.Record) error {
		switch {
		case r.BusinessDate < from:
			return nil
		case r.BusinessDate > to:
			closed = true
			return errPastDay
		}
		return fn(r)
	})
	if errors.Is(err, errPastDay) {
		err = nil
	}
	switch {
	case err != nil:
		return res, err
	case res.Problem != nil && !closed:
		return res, res.Problem
	case !closed:
		return res, fmt.Errorf("clearing: business day %d is not closed: it is the journal's newest day", to)
	}
	return res, nil
}

// exportHeadLen is a journal export's header: magic, version, date,
// first sequence, previous hash (journal/export.go).
const exportHeadLen = 4 + 1 + 4 + 8 + journal.HashLen

// ReadExport streams the records of a journal export file (journal
// export, ExportDay: one closed day, verified against its own chain and
// checksum first, by journal.VerifyExport) to fn, each valid during the
// call only. The switch need not be stopped to clear a day it exported.
// It reads the file twice: once to verify it whole, once to decode.
func ReadExport(path string, date uint32, fn func(*journal.Record) error) (journal.Export, error) {
	f, err := os.Open(path)
	if err != nil {
		return journal.Export{}, err
	}
	defer f.Close()
	x, err := journal.VerifyExport(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return x, err
	}
	if x.Date != date {
		return x, fmt.Errorf("clearing: %s exports business day %d, not %d", path, x.Date, date)
	}
	if _, err := f.Seek(exportHeadLen, io.SeekStart); err != nil {
		return x, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	var rec journal.Record
	buf := make([]byte, 0, 4096)
	for {
		var n [3]byte
		if _, err := io.ReadFull(br, n[:]); err != nil {
			return x, fmt.Errorf("clearing: %s: %w", path, err)
		}
		size := int(n[0])<<16 | int(n[1])<<8 | int(n[2])
		if size == 0 {
			return x, nil // the trailer: VerifyExport checked the count
		}
		buf = slices.Grow(buf[:0], size)[:size] // VerifyExport bounded every length
		if _, err := io.ReadFull(br, buf); err != nil {
			return x, fmt.Errorf("clearing: %s: %w", path, err)
		}
		if err := journal.Decode(buf, &rec); err != nil {
			return x, err
		}
		if err := fn(&rec); err != nil {
			return x, err
		}
	}
}
