package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/engine/bizday"
	"github.com/cardswitch/cardswitch/journal"
)

// businessDay is the switch's business day: business_day's calendar, its
// floor the journal's newest date, so an early cutover (journaled before
// it took effect) outlives the restart. The journal's Last is the newest
// acknowledged record, whether the start replayed it or a snapshot
// covered it.
func businessDay(c *config, j *journal.Journal) (*bizday.Day, error) {
	cal, err := bizday.New(c.engine.BusinessDay)
	if err != nil {
		return nil, fmt.Errorf("business_day: %v", err)
	}
	return bizday.NewDay(cal, j.Last().Date), nil
}

// cutoverHandlers serve POST /cutover (the admin token: the guard asks
// for it on every POST) and GET /days.
func cutoverHandlers(mux *http.ServeMux, srv *engine.Server, j *journal.Journal) {
	mux.HandleFunc("POST /cutover", func(w http.ResponseWriter, r *http.Request) {
		c, err := srv.Cutover("admin")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, cutoverReply{From: c.From, To: c.To, Moved: c.Moved, Seq: c.Seq})
	})
	mux.HandleFunc("GET /days", func(w http.ResponseWriter, r *http.Request) {
		days, err := j.Days()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		cal := srv.BusinessDay().Calendar().Config()
		writeJSON(w, daysReply{BusinessDate: srv.BusinessDate(), Cutover: cal.Cutover, Zone: cal.Zone, Days: dayLines(days)})
	})
}

type cutoverReply struct {
	From  uint32 `json:"from"`
	To    uint32 `json:"to"`
	Moved bool   `json:"moved"` // false: already cut over early, the calendar has not caught up
	Seq   uint64 `json:"seq"`   // the cutover's journal record
}

type daysReply struct {
	BusinessDate uint32    `json:"business_date"` // of a request received now
	Cutover      string    `json:"cutover"`
	Zone         string    `json:"zone"`
	Days         []dayLine `json:"days"`
}

// dayLine is one kept business day of the journal.
type dayLine struct {
	Date     uint32 `json:"date"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	Records  uint64 `json:"records"`
	LastHash string `json:"last_hash"` // hex: the chain hash of its last record
	// Sealed: a later day has begun in the journal. The journal dates a
	// record max(its date, the newest date committed), so nothing can be
	// added to a sealed day, and its last sequence and hash are final.
	Sealed bool `json:"sealed"`
}

// dayLines are the journal's days, oldest first; every one but the newest
// is sealed.
func dayLines(days []journal.Day) []dayLine {
	out := make([]dayLine, len(days))
	for i, d := range days {
		out[i] = dayLine{Date: d.Date, FirstSeq: d.FirstSeq, LastSeq: d.LastSeq, Records: d.Records,
			LastHash: hex.EncodeToString(d.LastHash[:]), Sealed: i < len(days)-1}
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
