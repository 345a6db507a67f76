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
