package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/cardswitch/cardswitch/engine"
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
				c.acceptLoss = *acceptLoss
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
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	default:
		return zerolog.Logger{}, fmt.Errorf("log format %q: json or console", format)
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// serve runs the switch until ctx ends. started, if set, receives the
// server once it listens (for tests).
func serve(ctx context.Context, c *config, log zerolog.Logger, started chan<- *engine.Server) error {
	admin, err := net.Listen("tcp", c.file.Admin.Listen)
	if err != nil {
		return fmt.Errorf("admin.listen: %v", err)
	}
	j, prot, err := openJournal(c, log)
	if err != nil {
		admin.Close()
		return err
	}
	defer func() {
		if err := j.Close(); err != nil {
			log.Error().Err(err).Msg("closing the journal")
		}
	}()
	sec, closeHSM, err := newHSM(c)
	if err != nil {
		admin.Close()
		return err
	}
	defer closeHSM()
	if err := hsmHealth(sec); err != nil {
		log.Warn().Err(err).Str("hsm", c.file.HSM.Kind).Msg("HSM not answering: PIN, MAC and sign-on requests will answer 96 until it does")
	}
	routes := router.New(c.routes)
	srv, err := engine.New(c.engine, engine.Deps{
		Log:        log,
		Router:     routes,
		Authorizer: engine.DemoAuthorizer{Data: c.issuer},
		Journal:    engine.JournalStage{J: j, P: prot},
		HSM:        sec,
		Keys:       &engine.Keys{Data: c.issuer},
	})
	if err != nil {
		admin.Close()
		return err
	}
	if err := srv.Start(ctx); err != nil {
		admin.Close()
		return err
	}
	hs := &http.Server{Handler: srv.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(admin); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("admin listener stopped")
		}
	}()
	log.Info().Str("admin", admin.Addr().String()).Int("links", len(srv.Links())).Msg("cardswitch serving")
	if started != nil {
		started <- srv
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-c.hup:
			reloadRoutes(c, routes, log)
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

// reloadRoutes reads the configuration again and swaps in its routing
// table; a file with an error is rejected whole and the old table stays.
func reloadRoutes(c *config, routes *router.Router, log zerolog.Logger) {
	if c.reload == nil {
		return
	}
	next, err := c.reload()
	if err != nil {
		log.Error().Err(err).Msg("reload rejected: the previous configuration stays in force")
		return
	}
	routes.Swap(next.routes)
	log.Info().Msg("routes reloaded (links, engine and log settings need a restart)")
}

// openJournal opens the write-ahead journal in the data directory, verifying
// it whole and replaying it before any traffic is taken.
func openJournal(c *config, log zerolog.Logger) (*journal.Journal, *journal.Protector, error) {
	if err := os.MkdirAll(c.file.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("data_dir: %v", err)
	}
	prot, err := journal.LoadOrCreateKeys(filepath.Join(c.file.DataDir, "journal.key"))
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	replayed := 0
	j, err := journal.Open(journal.Options{
		Dir:        filepath.Join(c.file.DataDir, "journal"),
		Window:     c.file.Journal.Window,
		MaxBatch:   c.file.Journal.MaxBatch,
		AcceptLoss: c.acceptLoss,
		Replay:     func(*journal.Record) error { replayed++; return nil },
	})
	var ie *journal.IntegrityError
	if errors.As(err, &ie) {
		return nil, nil, fmt.Errorf("%v; the switch will not start on it: run 'cardswitch journal verify' to see it, and start with --accept-journal-loss only if the loss is accepted", err)
	}
	if err != nil {
		return nil, nil, err
	}
	log.Info().Uint64("last_seq", j.LastSeq()).Int("replayed", replayed).Dur("took", time.Since(start)).
		Msg("journal verified and replayed")
	return j, prot, nil
}
