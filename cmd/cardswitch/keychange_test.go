package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/engine"
)

type fakeChanger struct{ calls []string }

func (f *fakeChanger) ChangeZoneKey(_ context.Context, dest, key string) error {
	f.calls = append(f.calls, dest+" "+key)
	switch dest {
	case "visa":
		return nil
	case "down":
		return errors.New("no connection up")
	}
	return fmt.Errorf("%w: %q", engine.ErrNoDestination, dest)
}

func TestAdminKeyChange(t *testing.T) {
	f := &fakeChanger{}
	mux := http.NewServeMux()
	mux.Handle("POST /destinations/{name}/keychange", keyChangeHandler(f, zerolog.Nop()))
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/destinations/visa/keychange?key=zpk", http.StatusOK},
		{http.MethodPost, "/destinations/visa/keychange?key=zak", http.StatusOK},
		{http.MethodPost, "/destinations/visa/keychange?key=zmk", http.StatusBadRequest},
		{http.MethodPost, "/destinations/mc/keychange?key=zpk", http.StatusNotFound},
		{http.MethodPost, "/destinations/down/keychange?key=zak", http.StatusBadGateway},
		{http.MethodGet, "/destinations/visa/keychange?key=zpk", http.StatusMethodNotAllowed},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(c.method, "http://127.0.0.1:8580"+c.path, nil))
		if rec.Code != c.want {
			t.Errorf("%s %s: %d %q, want %d", c.method, c.path, rec.Code, rec.Body.String(), c.want)
		}
	}
	if fmt.Sprint(f.calls) != "[visa zpk visa zak mc zpk down zak]" {
		t.Fatalf("calls %v", f.calls)
	}
}
