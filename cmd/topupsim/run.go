package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// newLogger logs text to stderr, at debug level when verbose.
func newLogger(verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// simulator is what topupsim runs: a started sockmodsim, juhesim or
// dingyinsim.Sim.
type simulator interface{ Close() error }

// runSpec is one run of a simulator, for runUntilSignal.
type runSpec[S simulator] struct {
	// name begins the log messages: "<name> listening", "<name> stopped".
	name string
	log  *slog.Logger
	// statsAddr is where GET /stats is served; "" for nowhere.
	statsAddr string
	// start starts the simulator.
	start func() (S, error)
	// listening are the attributes of the message once it started.
	listening func(S) []any
	// stats is the /stats document for a request's query.
	stats func(S, url.Values) any
	// stopped are the attributes of the message once it is closed.
	stopped func(S) []any
}

// runUntilSignal starts the simulator and serves its stats until SIGINT or
// SIGTERM, then stops the stats server and closes the simulator. On failure
// it says which step failed: "start", "stats" or "close".
func runUntilSignal[S simulator](r runSpec[S]) (step string, err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	sim, err := r.start()
	if err != nil {
		return "start", err
	}
	r.log.Info(r.name+" listening", r.listening(sim)...)

	var srv *http.Server
	if r.statsAddr != "" {
		if srv, err = serveStats(r.statsAddr, func(q url.Values) any { return r.stats(sim, q) }, r.log); err != nil {
			_ = sim.Close()
			return "stats", err
		}
	}

	<-ctx.Done()
	r.log.Info(r.name + " shutting down")
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	closeErr := sim.Close()
	r.log.Info(r.name+" stopped", r.stopped(sim)...)
	if closeErr != nil {
		return "close", closeErr
	}
	return "", nil
}

// serveStats serves stats(query) as JSON on GET /stats until the server is
// shut down.
func serveStats(addr string, stats func(url.Values) any, log *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		st := stats(r.URL.Query())
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(st); err != nil {
			log.Debug("stats: write", "err", err)
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stats: listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("stats server", "err", err)
		}
	}()
	log.Info("stats served", "url", "http://"+ln.Addr().String()+"/stats")
	return srv, nil
}
