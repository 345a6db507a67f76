package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/engine"
)

// zoneKeyChanger is what the admin API's key change asks of the engine.
type zoneKeyChanger interface {
	ChangeZoneKey(ctx context.Context, destination, key string) error
}

// keyChangeTimeout bounds a key change from the admin API: the HSM, the
// journal and the destination's answer (its own timeout) all fit in it.
const keyChangeTimeout = 30 * time.Second

// keyChangeHandler serves POST /destinations/{name}/keychange?key=zpk|zak:
// the switch sends the destination a new zone key and answers once it is
// in force (200), or says why not (404 no such destination, 400 a bad key
// name, 502 the change failed: the old key stays). The guard asks for the
// admin token on every POST.
func keyChangeHandler(z zoneKeyChanger, log zerolog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, key := r.PathValue("name"), r.URL.Query().Get("key")
		if key != "zpk" && key != "zak" {
			http.Error(w, "key must be zpk or zak", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), keyChangeTimeout)
		defer cancel()
		err := z.ChangeZoneKey(ctx, name, key)
		switch {
		case errors.Is(err, engine.ErrNoDestination):
			http.Error(w, err.Error(), http.StatusNotFound)
		case err != nil:
			log.Warn().Err(err).Str("destination", name).Str("key", key).Msg("zone key change (admin API) failed: old key kept")
			http.Error(w, err.Error(), http.StatusBadGateway)
		default:
			log.Info().Str("destination", name).Str("key", key).Msg("zone key changed (admin API)")
			fmt.Fprintf(w, "%s of %s changed\n", key, name)
		}
	}
}
