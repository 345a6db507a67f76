package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/engine"
)

// destControlTimeout bounds an operator's action on a destination: each
// connection's 0800 waits for its answer within the destination's own
// timeout, and the call for all of them within this.
const destControlTimeout = 30 * time.Second

// destController is what the destination actions need of the engine.
type destController interface {
	ControlDestination(ctx context.Context, name string, op engine.DestOp, conn int) ([]engine.DestConnResult, error)
}

// destControlHandler serves POST /destinations/{name}/{action}
// (signon, signoff, echo, close; ?conn=N for one connection): the
// result per connection as JSON, 200 when every connection did it, 502
// when one did not (its error says why), 404 for an unknown destination.
func destControlHandler(s destController, log zerolog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, op := r.PathValue("name"), engine.DestOp(r.PathValue("action"))
		conn := -1
		if v := r.URL.Query().Get("conn"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				http.Error(w, "conn must be a connection number", http.StatusBadRequest)
				return
			}
			conn = n
		}
		ctx, cancel := context.WithTimeout(r.Context(), destControlTimeout)
		defer cancel()
		res, err := s.ControlDestination(ctx, name, op, conn)
		switch {
		case errors.Is(err, engine.ErrNoDestination):
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		status := http.StatusOK
		for _, c := range res {
			if c.Error != "" {
				status = http.StatusBadGateway
			}
		}
		log.Info().Str("destination", name).Str("action", string(op)).Int("conn", conn).Int("status", status).Msg("destination action (admin API)")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"destination": name, "action": op, "connections": res})
	}
}

// linkConnsMax bounds the connections GET /links/NAME/connections lists
// (a link may hold tens of thousands).
const linkConnsMax = 1000

// linkConns is what the link connection calls need of the engine.
type linkConns interface {
	LinkConnections(name string, max int) ([]engine.LinkConn, int, error)
	CloseLinkConnection(name string, id uint64) error
}

// linkConnHandlers serves GET /links/{name}/connections[?max=N] (at most
// linkConnsMax, by connection number, and how many the link holds) and
// POST /links/{name}/connections/{id}/close.
func linkConnHandlers(mux *http.ServeMux, s linkConns) {
	mux.HandleFunc("GET /links/{name}/connections", func(w http.ResponseWriter, r *http.Request) {
		max := linkConnsMax
		if v := r.URL.Query().Get("max"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				http.Error(w, "max must be a positive number", http.StatusBadRequest)
				return
			}
			max = min(n, linkConnsMax)
		}
		cs, n, err := s.LinkConnections(r.PathValue("name"), max)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		writeJSON(w, map[string]any{"link": r.PathValue("name"), "total": n, "connections": cs})
	})
	mux.HandleFunc("POST /links/{name}/connections/{id}/close", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "id must be a connection number", http.StatusBadRequest)
			return
		}
		switch err := s.CloseLinkConnection(r.PathValue("name"), id); {
		case errors.Is(err, engine.ErrNoLink), errors.Is(err, engine.ErrNoConn):
			http.Error(w, err.Error(), http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			writeJSON(w, map[string]any{"link": r.PathValue("name"), "closed": id})
		}
	})
}
