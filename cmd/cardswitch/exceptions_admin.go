package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/cardswitch/cardswitch/journal/clearing"
)

// exceptionsListMax bounds the exceptions one GET /exceptions returns: a
// day with more is reported truncated (the CSV report has them all).
const exceptionsListMax = 100_000

// exceptionHandlers serve the reconciliation's exceptions on the admin
// port, from the same store as 'cardswitch clearing exceptions' (the
// day's reconcile.csv under data_dir/clearing/DATE and the resolutions
// log): GET /exceptions?date=YYYYMMDD[&open=1] lists them, POST
// /exceptions/{id}/resolve?date=YYYYMMDD with {"as": "adjusted" |
// "reversed" | "written-off", "note": "..."} resolves one (the guard asks
// for the admin token on every POST). Resolutions made here are
// serialized; one made at the same moment by the command in another
// process is not (the store checks, then appends).
func exceptionHandlers(mux *http.ServeMux, dataDir string) {
	var mu sync.Mutex // one resolution at a time: Resolve checks, then appends
	run := func(w http.ResponseWriter, r *http.Request) (*clearingRun, bool) {
		d, err := strconv.ParseUint(r.URL.Query().Get("date"), 10, 32)
		if err != nil || d < 19700101 || d > 99991231 {
			http.Error(w, "date=YYYYMMDD: the business day reconciled", http.StatusBadRequest)
			return nil, false
		}
		return &clearingRun{dir: dataDir, date: uint32(d)}, true
	}
	mux.HandleFunc("GET /exceptions", func(w http.ResponseWriter, r *http.Request) {
		c, ok := run(w, r)
		if !ok {
			return
		}
		reply := exceptionsReply{Date: c.date, Exceptions: []exceptionItem{}}
		err := c.exceptions(r.URL.Query().Get("open") == "1", func(x exceptionItem) error {
			if len(reply.Exceptions) == exceptionsListMax {
				reply.Truncated = true
				return errListFull
			}
			reply.Exceptions = append(reply.Exceptions, x)
			return nil
		})
		if err != nil && !errors.Is(err, errListFull) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		writeJSON(w, reply)
	})
	mux.HandleFunc("POST /exceptions/{id}/resolve", func(w http.ResponseWriter, r *http.Request) {
		c, ok := run(w, r)
		if !ok {
			return
		}
		var body struct {
			As   string `json:"as"`
			Note string `json:"note"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			http.Error(w, `the body is {"as": "adjusted|reversed|written-off", "note": "..."}`, http.StatusBadRequest)
			return
		}
		st, err := clearing.ParseResolution(body.As)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := r.PathValue("id")
		mu.Lock()
		err = c.resolveOne(id, st, body.Note)
		mu.Unlock()
		switch {
		case errors.Is(err, errNoException):
			http.Error(w, err.Error(), http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		default:
			writeJSON(w, exceptionItem{ID: id, State: st.String()})
		}
	})
}

var errListFull = errors.New("list full")

type exceptionsReply struct {
	Date       uint32          `json:"date"`
	Exceptions []exceptionItem `json:"exceptions"`
	Truncated  bool            `json:"truncated,omitempty"`
}
