package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"topup/bench/juhesim"
	"topup/engine"
)

const juheUsage = `topupsim juhe: a simulated Juhe flow-recharge API (specs/002) for the top-up engine.

It serves POST/GET /flow/onlineorder and /flow/ordersta with JSON replies
and, with -callbacks, calls back each created order's cburl (GET sporder_id,
orderid, sta, sign), resending until the answer is a non-empty 2xx. Each
phone number's outcome is drawn deterministically from -mix and -seed:

  success      accepted, recharged (game_state/sta 1)
  fail         accepted, not recharged (game_state/sta 9)
  fail_target  refused with 210501, no order
  uncertain    replied 10014, but recharged
  duplicate    replied 210508; the order exists and fails
  timeout      recharged, replied only after -client-timeout+1s
  5xx          recharged, replied HTTP 502
  reject       refused with 210507, no order

Usage:
  topupsim juhe -openid OPENID -key KEY [flags]

Example:
  topupsim juhe -listen 127.0.0.1:60002 -openid JHtest -key 0123456789abcdef \
      -mix success=85,fail=5,uncertain=3,duplicate=2,timeout=1,5xx=1,reject=3 -latency 300ms

Flags:
`

// runJuhe runs the Juhe simulator until SIGINT or SIGTERM. It returns the
// process exit status: 0 after a clean shutdown (or -h), 2 for bad flags or
// configuration, 1 when the simulator fails.
func runJuhe(args []string) int {
	def := juhesim.DefaultConfig()
	fs := flag.NewFlagSet("topupsim juhe", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), juheUsage)
		fs.PrintDefaults()
	}
	var (
		listen        = fs.String("listen", "127.0.0.1:60002", "address to serve the API on")
		openID        = fs.String("openid", "", "account OpenID shared with the engine (required)")
		key           = fs.String("key", "", "request key shared with the engine, also the callback appkey (required)")
		mixFlag       = fs.String("mix", "success=85,fail=5,fail_target=2,uncertain=2,duplicate=1,timeout=1,5xx=1,reject=3", "outcome weights: success, fail, fail_target, uncertain, duplicate, timeout, 5xx, reject")
		seed          = fs.Uint64("seed", 1, "seed for outcomes and jitter")
		latency       = fs.Duration("latency", 300*time.Millisecond, "time until an order's result is known (query and callback change then)")
		jitter        = fs.Duration("jitter", 100*time.Millisecond, "uniform spread of -latency (±)")
		replyDelay    = fs.Duration("reply-delay", 0, "delay of every submission reply")
		clientTimeout = fs.Duration("client-timeout", def.ClientTimeout, "the engine's time-out; timeout orders are answered after this +1s")
		callbacks     = fs.Bool("callbacks", true, "send status callbacks to cburl")
		dupCallbacks  = fs.Bool("dup-callbacks", false, "deliver every callback twice")
		late          = fs.Duration("late", 0, "extra delay of callbacks after the result is known")
		cbFirst       = fs.Bool("callback-before-reply", false, "send the callback before writing the submission reply")
		retries       = fs.Int("retries", def.CallbackRetries, "callback resends after the first attempt (negative: none)")
		retryInterval = fs.Duration("retry-interval", def.CallbackRetryInterval, "spacing of callback resends")
		products      = fs.String("products", "105000=1000", "pid=face value in fen, comma-separated; other pids get 210503")
		costPermille  = fs.Int64("cost-permille", def.CostPermille, "uordercash as permille of the face value")
		statsAddr     = fs.String("stats", "", "serve GET /stats as JSON on this address (optional; ?phones=1 adds recharges per phone)")
		verbose       = fs.Bool("v", false, "debug logging")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "topupsim juhe: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return 2
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	mix, err := juhesim.ParseMix(*mixFlag)
	if err != nil {
		log.Error("topupsim juhe: -mix", "err", err)
		return 2
	}
	prods, err := parseProducts(*products)
	if err != nil {
		log.Error("topupsim juhe: -products", "err", err)
		return 2
	}
	cfg := juhesim.Config{
		Listen:                *listen,
		OpenID:                *openID,
		Key:                   *key,
		Mix:                   mix,
		Seed:                  *seed,
		Latency:               *latency,
		Jitter:                *jitter,
		ReplyDelay:            *replyDelay,
		ClientTimeout:         *clientTimeout,
		Callbacks:             *callbacks,
		DuplicateCallbacks:    *dupCallbacks,
		LateCallbackDelay:     *late,
		CallbackBeforeReply:   *cbFirst,
		Products:              prods,
		CostPermille:          *costPermille,
		CallbackRetries:       *retries,
		CallbackRetryInterval: *retryInterval,
		Logger:                log,
	}
	if *retries == 0 {
		cfg.CallbackRetries = -1 // Config reads 0 as "default"
	}
	if err := cfg.Validate(); err != nil {
		log.Error("topupsim juhe: config", "err", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	sim, err := juhesim.Start(cfg)
	if err != nil {
		log.Error("topupsim juhe: start", "err", err)
		return 1
	}
	log.Info("topupsim juhe listening", "url", sim.URL(), "mix", mix.String(), "seed", *seed,
		"latency", *latency, "jitter", *jitter, "callbacks", *callbacks, "dup_callbacks", *dupCallbacks,
		"late", *late, "callback_before_reply", *cbFirst)

	var srv *http.Server
	if *statsAddr != "" {
		if srv, err = serveJuheStats(*statsAddr, sim, log); err != nil {
			_ = sim.Close()
			log.Error("topupsim juhe: stats", "err", err)
			return 1
		}
	}

	<-ctx.Done()
	log.Info("topupsim juhe shutting down")
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	closeErr := sim.Close()
	st := sim.Stats()
	log.Info("topupsim juhe stopped", "received", st.Received, "accepted", st.Accepted, "bad_sign", st.BadSign,
		"bad_key", st.BadKey, "duplicates", st.DuplicateOrderIDs, "queries", st.Queries, "recharges", st.Recharges,
		"callbacks_ok", st.CallbacksOK, "callbacks_failed", st.CallbacksFailed,
		"callbacks_abandoned", st.CallbacksAbandoned, "pending", st.Pending)
	if closeErr != nil {
		log.Error("topupsim juhe: close", "err", closeErr)
		return 1
	}
	return 0
}

// parseProducts parses "105000=1000,105001=2000" (pid=face value in fen).
func parseProducts(s string) (map[string]engine.Fen, error) {
	out := make(map[string]engine.Fen)
	for part := range strings.SplitSeq(s, ",") {
		pid, face, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || strings.TrimSpace(pid) == "" {
			return nil, fmt.Errorf("%q is not pid=fen", part)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(face), 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("face value of %q must be a positive number of fen", pid)
		}
		out[strings.TrimSpace(pid)] = engine.Fen(v)
	}
	return out, nil
}

// serveJuheStats serves the simulator's counters until the server is shut
// down.
func serveJuheStats(addr string, sim *juhesim.Sim, log *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		st := sim.Stats()
		if r.URL.Query().Get("phones") == "" {
			st.RechargesByPhone = nil
		}
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
