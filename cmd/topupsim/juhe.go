package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
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

	log := newLogger(*verbose)

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

	step, err := runUntilSignal(runSpec[*juhesim.Sim]{
		name: "topupsim juhe", log: log, statsAddr: *statsAddr,
		start: func() (*juhesim.Sim, error) { return juhesim.Start(cfg) },
		listening: func(sim *juhesim.Sim) []any {
			return []any{"url", sim.URL(), "mix", mix.String(), "seed", *seed,
				"latency", *latency, "jitter", *jitter, "callbacks", *callbacks, "dup_callbacks", *dupCallbacks,
				"late", *late, "callback_before_reply", *cbFirst}
		},
		stats: func(sim *juhesim.Sim, q url.Values) any {
			st := sim.Stats()
			if q.Get("phones") == "" {
				st.RechargesByPhone = nil
			}
			return st
		},
		stopped: func(sim *juhesim.Sim) []any {
			st := sim.Stats()
			return []any{"received", st.Received, "accepted", st.Accepted, "bad_sign", st.BadSign,
				"bad_key", st.BadKey, "duplicates", st.DuplicateOrderIDs, "queries", st.Queries, "recharges", st.Recharges,
				"callbacks_ok", st.CallbacksOK, "callbacks_failed", st.CallbacksFailed,
				"callbacks_abandoned", st.CallbacksAbandoned, "pending", st.Pending}
		},
	})
	if err != nil {
		log.Error("topupsim juhe: "+step, "err", err)
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
