package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/engine"
)

// safLister is what the admin API's store-and-forward calls ask of the
// engine.
type safLister interface {
	SAF(dest string, max int) ([]engine.SAFStatus, error)
	SAFRetry(dest string, id uint64) error
	SAFExpire(dest string, id uint64) error
}

// safListMax bounds the entries GET /saf lists per destination (the
// journal tools list them all).
const safListMax = 1000

// safHandlers serves the store-and-forward on the admin port:
//
//	GET  /saf[?destination=NAME&max=N]  depth, in flight, oldest age, the first entries and the latest exceptions, PANs masked
//	POST /saf/{destination}/{id}/retry  a waiting entry goes now
//	POST /saf/{destination}/{id}/expire a waiting entry ends as expired (journaled: an exception)
//
// The guard asks for the admin token on every POST.
func safHandlers(mux *http.ServeMux, s safLister, log zerolog.Logger) {
	mux.HandleFunc("GET /saf", func(w http.ResponseWriter, r *http.Request) {
		n := 50
		if v := r.URL.Query().Get("max"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 0 || n > safListMax {
				http.Error(w, fmt.Sprintf("max must be 0 to %d", safListMax), http.StatusBadRequest)
				return
			}
		}
		st, err := s.SAF(r.URL.Query().Get("destination"), n)
		if err != nil {
			http.Error(w, err.Error(), safStatusOf(err))
			return
		}
		if st == nil {
			st = []engine.SAFStatus{}
		}
		w.Header().Set("Content-Type", "application/json")
		body, _ := json.MarshalIndent(st, "", "  ")
		_, _ = w.Write(append(body, '\n'))
	})
	act := func(name string, do func(string, uint64) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			dest := r.PathValue("destination")
			id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
			if err != nil {
				http.Error(w, "id must be an entry's journal sequence number", http.StatusBadRequest)
				return
			}
			if err := do(dest, id); err != nil {
				http.Error(w, err.Error(), safStatusOf(err))
				return
			}
			log.Info().Str("destination", dest).Uint64("id", id).Msg("store-and-forward entry " + name + " (admin API)")
			fmt.Fprintf(w, "entry %d of %s: %s\n", id, dest, name)
		}
	}
	mux.Handle("POST /saf/{destination}/{id}/retry", act("retried", s.SAFRetry))
	mux.Handle("POST /saf/{destination}/{id}/expire", act("expired", s.SAFExpire))
}

func safStatusOf(err error) int {
	switch {
	case errors.Is(err, engine.ErrNoDestination), errors.Is(err, engine.ErrSAFNoEntry):
		return http.StatusNotFound
	case errors.Is(err, engine.ErrNoSAF):
		return http.StatusConflict
	}
	return http.StatusServiceUnavailable
}

func init() {
	register(&command{
		name: "saf",
		args: "list [DESTINATION] | retry DESTINATION ID | expire DESTINATION ID",
		summary: "Store-and-forward entries of a running switch, through its admin port.\n\n" +
			"list prints each destination's queue (depth, in flight, oldest age), its first entries and its\n" +
			"latest exceptions (rejected, expired), PANs masked; --json prints the admin API's JSON.\n" +
			"retry sends a waiting entry now; expire ends it as expired (journaled: an exception), for an\n" +
			"entry settled by other means. ID is the entry's id as list prints it. retry and expire send\n" +
			"the admin token (--token-file, or $CARDSWITCH_ADMIN_TOKEN).",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			admin := fs.String("admin", "127.0.0.1:8580", "the switch's admin address (host:port)")
			tokenFile := fs.String("token-file", "", "file holding the admin token (retry, expire)")
			asJSON := fs.Bool("json", false, "list: print the JSON of GET /saf")
			max := fs.Int("max", 20, "list: entries per destination (0 to 1000)")
			return func(args []string, e *env) error {
				if len(args) == 0 {
					return usagef("list, retry or expire")
				}
				base := "http://" + *admin
				cl := &http.Client{Timeout: 10 * time.Second}
				switch args[0] {
				case "list":
					if len(args) > 2 {
						return usagef("list [DESTINATION]")
					}
					u := fmt.Sprintf("%s/saf?max=%d", base, *max)
					if len(args) == 2 {
						u += "&destination=" + args[1]
					}
					return safList(cl, u, *asJSON, e)
				case "retry", "expire":
					if len(args) != 3 {
						return usagef("%s DESTINATION ID", args[0])
					}
					if _, err := strconv.ParseUint(args[2], 10, 64); err != nil {
						return usagef("ID %q is not a number", args[2])
					}
					tok, err := safToken(*tokenFile)
					if err != nil {
						return err
					}
					return safPost(cl, fmt.Sprintf("%s/saf/%s/%s/%s", base, args[1], args[2], args[0]), tok, e)
				}
				return usagef("unknown action %q: list, retry or expire", args[0])
			}
		},
	})
}

func safToken(path string) (string, error) {
	if path == "" {
		if t := os.Getenv("CARDSWITCH_ADMIN_TOKEN"); t != "" {
			return t, nil
		}
		return "", usagef("retry and expire need the admin token: --token-file or $CARDSWITCH_ADMIN_TOKEN")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func safList(cl *http.Client, u string, asJSON bool, e *env) error {
	resp, err := cl.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if asJSON {
		_, err := e.stdout.Write(body)
		return err
	}
	var st []engine.SAFStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return err
	}
	for _, s := range st {
		fmt.Fprintf(e.stdout, "%s: %d pending, %d in flight, oldest %.1fs\n", s.Destination, s.Depth, s.InFlight, s.OldestAge)
		for _, x := range s.Entries {
			fmt.Fprintf(e.stdout, "  %8d %-11s %s %-9s tries %d %s %12d up_stan %s up_rrn %s (%s)\n", x.ID, x.Kind, x.MTI, x.State, x.Attempts, x.PAN, x.Amount, x.UpSTAN, x.UpRRN, x.Reason)
		}
		for _, x := range s.Exceptions {
			fmt.Fprintf(e.stdout, "  exception %8d %s %s code %q %s %12d up_stan %s up_rrn %s at %s\n", x.ID, x.MTI, x.State, x.Code, x.PAN, x.Amount, x.UpSTAN, x.UpRRN, x.At)
		}
	}
	return nil
}

func safPost(cl *http.Client, u, tok string, e *env) error {
	req, err := http.NewRequest(http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	_, err = e.stdout.Write(body)
	return err
}
