package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/cardswitch/cardswitch/journal"
)

// dayWalker is what a transaction lookup reads of the live journal.
type dayWalker interface {
	Days() ([]journal.Day, error)
	Walk(from journal.Point, to uint64, fn func(*journal.Record) error) (journal.Point, error)
}

// lookupMax bounds the records one lookup returns (max=N up to it).
const lookupMax = 1000

// lookup serves GET /transactions: the journal records of one business
// day that match an RRN, a terminal and STAN, or a masked PAN, masked as
// journal dump shows them. It reads the day from the live journal (its
// chain verified on the way), so a lookup costs a scan of the day: one
// runs at a time, a second is answered 429.
type lookup struct {
	j     dayWalker
	today func() uint32 // the current business date: the default day
	busy  sync.Mutex
}

func newLookup(j dayWalker, today func() uint32) *lookup { return &lookup{j: j, today: today} }

// lookupQuery is one lookup's criteria.
type lookupQuery struct {
	date                uint32
	rrn, terminal       string
	stan                int64 // -1: any
	panFirst6, panLast4 string
	max                 int
}

// maskedPANRE is a masked PAN as the switch shows one: the first 6 and
// the last 4 digits around the masked ones (any number of * or x).
var maskedPANRE = regexp.MustCompile(`^([0-9]{6})[*xX]+([0-9]{4})$`)

func parseLookup(q map[string][]string, today uint32) (lookupQuery, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	l := lookupQuery{date: today, rrn: get("rrn"), terminal: get("terminal"), stan: -1, max: 100}
	if v := get("date"); v != "" {
		d, err := strconv.ParseUint(v, 10, 32)
		if err != nil || len(v) != 8 {
			return l, fmt.Errorf("date %q: YYYYMMDD", v)
		}
		l.date = uint32(d)
	}
	if v := get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > lookupMax {
			return l, fmt.Errorf("max must be 1 to %d", lookupMax)
		}
		l.max = n
	}
	if v := get("stan"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 || n > 999999 || len(v) > 6 {
			return l, fmt.Errorf("stan %q: up to 6 digits", v)
		}
		l.stan = n
	}
	if v := get("pan"); v != "" {
		m := maskedPANRE.FindStringSubmatch(v)
		if m == nil {
			// never echoed: it may be a card number in clear
			return l, errors.New("pan: the masked PAN, first 6 and last 4 digits with * between (476173******0010); a card number in clear is refused")
		}
		l.panFirst6, l.panLast4 = m[1], m[2]
	}
	byPAN, byRRN, byTerminal := l.panFirst6 != "", l.rrn != "", l.terminal != "" || l.stan >= 0
	switch n := btoi(byPAN) + btoi(byRRN) + btoi(byTerminal); {
	case n != 1:
		return l, errors.New("say one of rrn=RRN, terminal=ID&stan=N, pan=MASKED (with date=YYYYMMDD, default the current business date)")
	case byTerminal && (l.terminal == "" || l.stan < 0):
		return l, errors.New("terminal and stan go together")
	}
	return l, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (l lookupQuery) matches(r *journal.Record) bool {
	switch {
	case l.rrn != "":
		return strings.TrimSpace(r.RRN) == l.rrn
	case l.terminal != "":
		return int64(r.STAN) == l.stan && strings.TrimSpace(r.Terminal) == l.terminal
	}
	m := maskedPANRE.FindStringSubmatch(r.PANMasked)
	return m != nil && m[1] == l.panFirst6 && m[2] == l.panLast4
}

type lookupReply struct {
	Date         uint32            `json:"date"`
	Scanned      uint64            `json:"scanned"`      // records of the day read
	Truncated    bool              `json:"truncated"`    // more matched than max
	Transactions []json.RawMessage `json:"transactions"` // dumpLine's JSON
}

// errLookupFull ends a walk once max+1 records matched.
var errLookupFull = errors.New("lookup: enough")

func (lk *lookup) handler() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, err := parseLookup(r.URL.Query(), lk.today())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !lk.busy.TryLock() {
			http.Error(w, "another lookup is scanning the journal: try again when it is done", http.StatusTooManyRequests)
			return
		}
		defer lk.busy.Unlock()
		out, err := lk.find(q, r.Context().Err)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, out)
	}
}

// find walks q's day from the point before it; canceled stops the walk
// (the caller went away).
func (lk *lookup) find(q lookupQuery, canceled func() error) (lookupReply, error) {
	out := lookupReply{Date: q.date, Transactions: []json.RawMessage{}}
	days, err := lk.j.Days()
	if err != nil {
		return out, err
	}
	var from journal.Point // zero: the anchor, before the first kept day
	for _, d := range days {
		if d.Date == q.date {
			_, err := lk.j.Walk(from, d.LastSeq, func(r *journal.Record) error {
				out.Scanned++
				if err := canceled(); err != nil {
					return err
				}
				if !q.matches(r) {
					return nil
				}
				if len(out.Transactions) == q.max {
					out.Truncated = true
					return errLookupFull
				}
				// encoded now: the record's strings are valid only during the call
				line, err := json.Marshal(newDumpLine(r))
				out.Transactions = append(out.Transactions, line)
				return err
			})
			if errors.Is(err, errLookupFull) {
				err = nil
			}
			return out, err
		}
		from = journal.Point{Seq: d.LastSeq, Hash: d.LastHash, Date: d.Date}
	}
	return out, nil // no such day kept: nothing matches
}
