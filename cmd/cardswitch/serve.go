package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/cmd/cardswitch/dashboard"
	"github.com/cardswitch/cardswitch/engine"
	"github.com/cardswitch/cardswitch/engine/auth"
	"github.com/cardswitch/cardswitch/engine/issuer"
	"github.com/cardswitch/cardswitch/journal"
	"github.com/cardswitch/cardswitch/router"
)

func init() {
	register(&command{
		name: "serve",
		summary: "Run the switch.\n\n" +
			"Without --config it serves on the embedded default configuration ('cardswitch config default'\n" +
			"prints it). SIGINT or SIGTERM stops it gracefully: no new connections or requests, requests in\n" +
			"flight answered within engine.drain_timeout, then exit 0.",
		setup: func(fs *flag.FlagSet) func([]string, *env) error {
			path := fs.String("config", "", "configuration file (YAML); default: the embedded configuration")
			format := fs.String("log-format", "", "json or console (default: the configuration's log.format)")
			level := fs.String("log-level", "", "debug, info, warn or error (default: the configuration's log.level)")
			acceptLoss := fs.Bool("accept-journal-loss", false, "start on a journal that fails verification, continuing after its last intact record (records after it are quarantined)")
			rebuildMark := fs.Bool(strings.TrimPrefix(journal.RebuildMarkFlag, "--"), false, "start on a journal whose high-water mark file is missing, taking its last intact record as the last acknowledged one")
			newKey := fs.Bool(strings.TrimPrefix(newKeyFlag, "--"), false, "start on a journal whose data key file is missing, with new keys (card usage, PIN tries and holds by card are forgotten)")
			return func(args []string, e *env) error {
				if len(args) > 0 {
					return usagef("serve takes no arguments")
				}
				c, err := loadConfig(*path)
				if err != nil {
					return err
				}
				if *format != "" {
					c.file.Log.Format = *format
				}
				if *level != "" {
					c.file.Log.Level = *level
				}
				log, err := newLogger(e.stderr, c.file.Log.Format, c.file.Log.Level)
				if err != nil {
					return usagef("%v", err)
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				hup := make(chan os.Signal, 1)
				signal.Notify(hup, syscall.SIGHUP)
				defer signal.Stop(hup)
				c.reload = func() (*config, error) { return loadConfig(*path) }
				c.hup = hup
				c.acceptLoss, c.rebuildMark, c.newKey = *acceptLoss, *rebuildMark, *newKey
				return serve(ctx, c, log, nil)
			}
		},
	})
}

// newLogger builds the process logger: zerolog JSON, or console for people.
func newLogger(w io.Writer, format, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, fmt.Errorf("log level %q: debug, info, warn or error", level)
	}
	switch format {
	case "json":
	case "console":
		// colours only for a terminal: in a file or a pipe they are noise
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000", NoColor: !isTerminal(w)}
	default:
		return zerolog.Logger{}, fmt.Errorf("log format %q: json or console", format)
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.DurationFieldFormat = zerolog.DurationFormatString // "took":"1.5ms": the unit goes with the value
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// isTerminal reports a writer that is a terminal (not a file, a pipe or
// /dev/null, which os.ModeCharDevice would take for one): colours in the
// console log and bench's live line only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// serve runs the switch until ctx ends. started, if set, receives the
// server once it listens (for tests).
func serve(ctx context.Context, c *config, log zerolog.Logger, started chan<- *engine.Server) error {
	admin, err := net.Listen("tcp", c.file.Admin.Listen)
	if err != nil {
		return fmt.Errorf("admin.listen: %v", err)
	}
	applyMemoryLimit(c.memoryLimitMB(), log)
	reg := engine.NewRegistry()
	c.onCommit = engine.NewCommitMetrics(reg).Observe
	st, err := openState(c, log, func(err error) {
		log.Error().Err(err).Msg("journal failed: the switch is out of service until it is restarted")
	})
	if err != nil {
		admin.Close()
		return err
	}
	j, authz := st.j, st.authz
	engine.RegisterJournalQueue(reg, j)
	defer func() {
		if err := j.Close(); err != nil {
			log.Error().Err(err).Msg("closing the journal")
		}
	}()
	now := time.Now
	if c.clock != nil {
		now = c.clock.Now
	}
	if st.day, err = businessDay(c, j); err != nil {
		admin.Close()
		return err
	}
	// before any traffic: what the last run left open upstream is
	// recorded to be reversed (openup.go)
	open, err := closeOpen(st, log, now())
	if err != nil {
		admin.Close()
		return err
	}
	dests := make([]string, 0, len(c.engine.Destinations))
	for _, d := range c.engine.Destinations {
		dests = append(dests, d.Name)
	}
	engine.RegisterOpenAtStart(reg, dests, open.byDest)
	token, err := adminToken(c.file.Admin.TokenFile, log)
	if err != nil {
		admin.Close()
		return err
	}
	sec, closeHSM, err := newHSM(c)
	if err != nil {
		admin.Close()
		return err
	}
	defer closeHSM()
	if err := hsmHealth(sec); err != nil {
		log.Warn().Err(err).Str("hsm", c.file.HSM.Kind).Msg("HSM not answering: PIN, MAC and sign-on requests will answer 96 until it does")
	}
	if err := checkEMVKeys(sec, authz.Data()); err != nil {
		if errors.Is(err, engine.ErrKCV) {
			admin.Close()
			return fmt.Errorf("issuer.data: %v", err)
		}
		log.Warn().Err(err).Str("hsm", c.file.HSM.Kind).Msg("the HSM could not check the issuer data's EMV keys (imk_kcv): chip requests answer 96 while it cannot verify ARQCs")
	}
	if c.cards, err = loadCardStatus(filepath.Join(c.file.DataDir, cardStatusFile), authz.HashPAN, now); err == nil {
		err = c.cards.install(authz, authz.Data())
	}
	if err != nil {
		admin.Close()
		return fmt.Errorf("card blocks: %v", err)
	}
	if err := loadNegatives(c, st.prot); err != nil {
		admin.Close()
		return err
	}
	routes := router.New(c.routes)
	srv, err := engine.New(c.engine, engine.Deps{
		Clock:      c.clock,
		Log:        log,
		Router:     routes,
		Authorizer: engine.AuthStage{A: authz, P: st.prot}, // authz hashes PANs with st.prot (state.go)
		Journal:    engine.JournalStage{J: j, P: st.prot},
		HSM:        sec,
		Keys:       st.keys,
		IDs:        st.ids,
		Registry:   reg,
		Day:        st.day,
	})
	if err != nil {
		admin.Close()
		return err
	}
	if err := restoreSAF(st, srv, open.closed, log); err != nil {
		admin.Close()
		return err
	}
	if err := restoreStandIn(st, srv, log); err != nil {
		admin.Close()
		return err
	}
	if err := srv.Start(ctx); err != nil {
		admin.Close()
		return err
	}
	c.reloadTLS = srv.ReloadTLS
	reload := func() { _, _ = reloadConfig(c, routes, authz, sec, log, false) } // SIGHUP: never forced
	mux := http.NewServeMux()
	mux.Handle("/", srv.AdminHandler())
	mux.HandleFunc("/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST to reload the routes, the issuer data and the TLS files", http.StatusMethodNotAllowed)
			return
		}
		note, err := reloadConfig(c, routes, authz, sec, log, r.URL.Query().Get("force") == "1")
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		if note != "" {
			fmt.Fprintf(w, "reloaded; %s\n", note)
			return
		}
		fmt.Fprintln(w, "reloaded")
	})
	mux.Handle("POST /destinations/{name}/keychange", keyChangeHandler(srv, log))
	mux.Handle("POST /destinations/{name}/{action}", destControlHandler(srv, log))
	mux.Handle("/upstream/open-at-start", open.handler())
	safHandlers(mux, srv, log)
	cutoverHandlers(mux, srv, j)
	exceptionHandlers(mux, c.file.DataDir)
	mux.Handle("GET /config", configHandler(c.inForce))
	mux.HandleFunc("GET /links", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, struct {
			Links []engine.LinkState `json:"links"`
		}{srv.LinkStates()})
	})
	linkConnHandlers(mux, srv)
	cardHandlers(mux, c.cards, authz, log)
	mux.Handle("GET /transactions", newLookup(j, srv.BusinessDate).handler())
	dash := dashboard.New(dashboard.Config{Gatherer: reg, Links: func() []dashboard.Link {
		var out []dashboard.Link
		for _, l := range srv.LinkStates() {
			out = append(out, dashboard.Link{Name: l.Name, Up: l.Up})
		}
		return out
	}}).Handler()
	mux.Handle("/dashboard/", dash) // the live page (GET: open, like every read); its rates are per wall-clock second
	mux.Handle("/dashboard", dash)
	mux.HandleFunc("/debug/pprof/", pprof.Index) // the guard asks for the token
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: newAdminGuard(token, admin.Addr(), log, now, mux), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(admin); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("admin listener stopped")
		}
	}()
	bg, stopBG := context.WithCancel(context.Background())
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		newSnapshotter(c, log, st).run(bg)
	}()
	go engine.WatchIndex(bg, log, authz, engine.IndexAlertEvery)
	defer func() { stopBG(); <-bgDone }() // before the journal closes
	log.Info().Str("admin", admin.Addr().String()).Int("links", len(srv.Links())).Msg("cardswitch serving")
	if started != nil {
		started <- srv
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-c.hup:
			reload()
		}
	}
	log.Info().Msg("shutting down: draining requests in flight")
	stopCtx, cancel := context.WithTimeout(context.Background(), c.engine.DrainTimeout+5*time.Second)
	defer cancel()
	err = srv.Shutdown(stopCtx)
	_ = hs.Shutdown(stopCtx)
	if err != nil {
		log.Error().Err(err).Msg("shutdown incomplete")
		return err
	}
	log.Info().Msg("stopped")
	return nil
}

// checkEMVKeys compares the issuer data's EMV keys with their check values
// through the HSM, waiting at most 5 seconds.
func checkEMVKeys(h engine.KCVer, d *issuer.Data) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return engine.CheckEMVKeys(ctx, h, d)
}

// checkDrop refuses issuer data that would take more than share of the
// cards or of the terminals in force out of service: a file cut short at a
// list's end still parses, counts and all, if whoever cut it fixed them.
func checkDrop(cur, next *issuer.Data, share float64) error {
	cards, terms := cur.Dropped(next)
	for _, s := range []struct {
		what    string
		dropped int
		of      int
	}{{"cards", cards, len(cur.Cards)}, {"terminals", terms, len(cur.Terminals)}} {
		if s.of > 0 && float64(s.dropped) > share*float64(s.of) {
			return fmt.Errorf("issuer.data: the reload would drop %d of the %d %s in force (%.0f%%), more than issuer.max_drop_share %.0f%%: refused (POST /reload?force=1 applies it; SIGHUP never forces)",
				s.dropped, s.of, s.what, 100*float64(s.dropped)/float64(s.of), 100*share)
		}
	}
	return nil
}

// reloadConfig reads the configuration and the issuer data again and swaps
// in the routing table and the issuer data; a file with an error is
// rejected whole and what is in force stays, and so is one whose routes
// forward to a destination that is not running (the destinations' links
// are built at the start), and one that would drop more than
// issuer.max_drop_share of the cards or terminals unless force (POST
// /reload?force=1; a SIGHUP is never forced). Usage, holds and movements
// carry over. Its EMV keys must have the check values it gives (kcv: the
// HSM; nil checks none). A change to destinations[] is not applied (see
// destinationChanges); the note returned says so.
func reloadConfig(c *config, routes *router.Router, authz *auth.Authorizer, kcv engine.KCVer, log zerolog.Logger, force bool) (note string, err error) {
	if c.reload == nil {
		return "", errors.New("no configuration file to reload")
	}
	next, err := c.reload()
	if err != nil {
		log.Error().Err(err).Msg("reload rejected: the previous configuration stays in force")
		return "", err
	}
	if err := checkRunningDestinations(c, next); err != nil {
		log.Error().Err(err).Msg("reload rejected: the previous configuration stays in force")
		return "", err
	}
	if kcv != nil {
		if err := checkEMVKeys(kcv, next.issuer); err != nil {
			err = fmt.Errorf("issuer.data: %v", err)
			log.Error().Err(err).Msg("reload rejected: the previous configuration stays in force")
			return "", err
		}
	}
	if err := checkDrop(authz.Data(), next.issuer, *next.file.Issuer.MaxDropShare); err != nil {
		if !force {
			log.Error().Err(err).Msg("reload rejected: the previous configuration stays in force")
			return "", err
		}
		log.Warn().Err(err).Msg("reload forced")
	}
	if c.reloadTLS != nil {
		// the files named at the start, read again: a renewed certificate
		// goes into force without a restart (new handshakes use it, open
		// connections keep theirs); one that fails rejects the reload
		n, err := c.reloadTLS()
		if err != nil {
			log.Error().Err(err).Msg("reload rejected: the previous configuration stays in force")
			return "", err
		}
		if n > 0 {
			log.Info().Int("tls_sections", n).Msg("TLS certificates, keys, CAs and pins read again: new handshakes use them")
		}
	}
	routes.Swap(next.routes)
	if c.cards == nil {
		authz.Reload(next.issuer)
	} else if err := c.cards.install(authz, next.issuer); err != nil {
		log.Error().Err(err).Msg("reload rejected: the previous configuration stays in force")
		return "", err
	}
	c.reloaded.Store(&next.file)
	log.Info().Msg("routes and issuer data reloaded (links, destinations, engine and log settings need a restart)")
	if changed := destinationChanges(c.engine.Destinations, next.engine.Destinations); len(changed) > 0 {
		note = "destinations changed, not applied until a restart: " + strings.Join(changed, ", ")
		log.Warn().Strs("destinations", changed).Msg("reload: destinations[] changed: the running ones stay as they are until a restart")
	}
	if changed := linkTLSChanges(c.engine.Links, next.engine.Links); len(changed) > 0 {
		note = strings.TrimPrefix(note+"; links' tls settings changed, not applied until a restart (the files named at the start were read again): "+strings.Join(changed, ", "), "; ")
		log.Warn().Strs("links", changed).Msg("reload: links[].tls changed: the files named at the start were read again; the new settings wait for a restart")
	}
	return note, nil
}

// linkTLSChanges names the links whose tls section next changes (file
// names, CA, pins, version): a reload reads the running files again, and
// the links' other settings wait for a restart.
func linkTLSChanges(cur, next []engine.LinkConfig) []string {
	was := map[string]*engine.TLSConfig{}
	for _, l := range cur {
		was[l.Name] = l.TLS
	}
	var out []string
	for _, l := range next {
		if old, ok := was[l.Name]; ok && !reflect.DeepEqual(old, l.TLS) {
			out = append(out, l.Name)
		}
	}
	return out
}

// checkRunningDestinations refuses routes that forward to a destination
// the running switch does not have: its connections are made at the start,
// so such a rule would answer 91 to every request it takes.
func checkRunningDestinations(c, next *config) error {
	running := map[string]bool{}
	for _, d := range c.engine.Destinations {
		running[d.Name] = true
	}
	for i, r := range next.file.Routes.Rules {
		if r.Action == "upstream" && !running[r.Destination] {
			return fmt.Errorf("routes.rules[%d].destination: %q is not a running destination (destinations are started with the switch: restart to add one)", i, r.Destination)
		}
	}
	return nil
}

// destinationChanges names the destinations that next adds, removes or
// configures differently from cur ("visa-host (changed)"). None is applied
// on a reload, not even a timeout: a destination's settings are read
// without a lock by the workers, the journal's committer and the event
// loops (its table, deadline, connections and their keepers), so changing
// them under traffic would need every one of those reads guarded for a
// gain a restart gives safely.
func destinationChanges(cur, next []engine.DestinationConfig) []string {
	was := map[string]engine.DestinationConfig{}
	for _, d := range cur {
		was[d.Name] = d
	}
	var out []string
	for _, d := range next {
		old, ok := was[d.Name]
		switch {
		case !ok:
			out = append(out, d.Name+" (added)")
		case !reflect.DeepEqual(old, d):
			out = append(out, d.Name+" (changed)")
		}
		delete(was, d.Name)
	}
	for _, d := range cur {
		if _, ok := was[d.Name]; ok {
			out = append(out, d.Name+" (removed)")
		}
	}
	return out
}
