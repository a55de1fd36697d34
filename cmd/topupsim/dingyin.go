package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"topup/bench/dingyinsim"
	"topup/engine"
	"topup/transports/dingyin"
)

const dingyinUsage = `topupsim dingyin: a simulated Dingyin supplier (specs/001) for the top-up engine.

It takes submissions on /gameonlinepay.do (GBK form, upper-case MD5 sign),
answers GB2312 XML, answers status queries on /searchpay.do and balance
queries on /searchbalance.do, and with -callbacks posts signed results to the
back_url of each submission. Each account's outcome is drawn
deterministically from -mix and -seed.

Usage:
  topupsim dingyin -key KEY [flags]

Example:
  topupsim dingyin -listen 127.0.0.1:9086 -userid 10001 -key bff0378ea5ef0d5d \
      -mix success=90,fail=5,uncertain9999=2,timeout_after_success=1,error5xx_after_success=1,low_balance5002=1 \
      -callbacks -latency 300ms -stats 127.0.0.1:9102

Flags:
`

// runDingyin runs a simulated Dingyin supplier until SIGINT or SIGTERM. It
// returns the process exit code: 0 after a clean shutdown (or -h), 2 for bad
// flags or configuration, 1 when the simulator fails.
func runDingyin(args []string) int {
	fs := flag.NewFlagSet("topupsim dingyin", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), dingyinUsage)
		fs.PrintDefaults()
	}
	def := dingyinsim.DefaultConfig()
	var (
		listen       = fs.String("listen", "127.0.0.1:9086", "address to serve on")
		userID       = fs.String("userid", "10001", "merchant number (userid) the engine sends")
		key          = fs.String("key", "", "signing key shared with the engine (required)")
		mixFlag      = fs.String("mix", "success=85,fail=8,uncertain9999=2,duplicate5006=1,timeout_after_success=1,error5xx_after_success=1,low_balance5002=1,reject5003=1", "outcome weights: success, fail, uncertain9999, duplicate5006, timeout_after_success, error5xx_after_success, low_balance5002, reject5003")
		seed         = fs.Uint64("seed", 1, "seed for outcomes and jitter")
		latency      = fs.Duration("latency", 300*time.Millisecond, "time from submission to the final result")
		jitter       = fs.Duration("jitter", 100*time.Millisecond, "uniform spread of the latency (±)")
		replyDelay   = fs.Duration("reply-delay", 0, "delay before every submit answer")
		clientTO     = fs.Duration("client-timeout", def.ClientTimeout, "the engine's time-out; timeout_after_success answers after twice this")
		callbacks    = fs.Bool("callbacks", false, "post results to back_url when a submission gives one")
		dupCallbacks = fs.Bool("dup-callbacks", false, "post every callback twice")
		late         = fs.Duration("late", 0, "post callbacks this long after the result is final")
		beforeReply  = fs.Bool("callback-before-reply", false, "make results final at once and post the callback before answering the submission")
		notFoundFor  = fs.Duration("notfound-for", 0, "answer status queries 5007 for this long after submission")
		balance      = fs.String("balance", dingyin.FormatYuan(def.Balance), "starting supplier balance in yuan")
		products     = fs.String("products", "", `productid=face value in yuan, comma separated, e.g. "cm10=10,=10" (replaces the default: only the empty productid, 10 yuan)`)
		statsAddr    = fs.String("stats", "", "serve GET /stats as JSON on this address (optional; ?accts=1 adds per-account recharges)")
		verbose      = fs.Bool("v", false, "debug logging")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "topupsim dingyin: unexpected arguments %q\n", fs.Args())
		return 2
	}
	log := newLogger(*verbose)

	cfg, err := dingyinConfig(*mixFlag, *balance, *products)
	if err != nil {
		fmt.Fprintln(os.Stderr, "topupsim dingyin:", err)
		return 2
	}
	cfg.Listen, cfg.UserID, cfg.Key, cfg.Seed = *listen, *userID, *key, *seed
	cfg.Latency, cfg.Jitter, cfg.ReplyDelay, cfg.ClientTimeout = *latency, *jitter, *replyDelay, *clientTO
	cfg.Callbacks, cfg.DuplicateCallbacks, cfg.LateCallbackDelay = *callbacks, *dupCallbacks, *late
	cfg.CallbackBeforeReply, cfg.NotFoundFor, cfg.Logger = *beforeReply, *notFoundFor, log
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "topupsim dingyin:", err)
		return 2
	}

	if _, err := runUntilSignal(runSpec[*dingyinsim.Sim]{
		name: "dingyin simulator", log: log, statsAddr: *statsAddr,
		start: func() (*dingyinsim.Sim, error) { return dingyinsim.Start(cfg) },
		listening: func(sim *dingyinsim.Sim) []any {
			return []any{"url", sim.URL(), "userid", cfg.UserID, "mix", cfg.Mix.String(),
				"seed", cfg.Seed, "latency", cfg.Latency, "jitter", cfg.Jitter, "callbacks", cfg.Callbacks,
				"balance", dingyin.FormatYuan(cfg.Balance)}
		},
		stats: func(sim *dingyinsim.Sim, q url.Values) any {
			st := sim.Stats()
			if q.Get("accts") == "" {
				st.RechargesByAccount = nil
			}
			return st
		},
		stopped: func(sim *dingyinsim.Sim) []any {
			st := sim.Stats()
			return []any{"received", st.Received, "bad_sign", st.BadSign, "duplicates", st.Duplicates,
				"queries", st.Queries, "callbacks_sent", st.CallbacksSent, "callbacks_ok", st.CallbacksOK,
				"callbacks_abandoned", st.CallbacksAbandoned, "pending", st.Pending, "balance", dingyin.FormatYuan(st.Balance)}
		},
	}); err != nil {
		fmt.Fprintln(os.Stderr, "topupsim dingyin:", err)
		return 1
	}
	return 0
}

// dingyinConfig builds the parts of the configuration that need parsing,
// reporting every problem at once.
func dingyinConfig(mix, balance, products string) (dingyinsim.Config, error) {
	var cfg dingyinsim.Config
	var errs []error
	m, err := dingyinsim.ParseMix(mix)
	if err != nil {
		errs = append(errs, fmt.Errorf("-mix: %w", err))
	}
	cfg.Mix = m
	if cfg.Balance, err = dingyin.ParseYuan(balance); err != nil {
		errs = append(errs, fmt.Errorf("-balance: %w", err))
	} else if cfg.Balance <= 0 {
		errs = append(errs, fmt.Errorf("-balance %s must be positive", balance))
	}
	if strings.TrimSpace(products) != "" {
		cfg.Products = make(map[string]engine.Fen)
		for part := range strings.SplitSeq(products, ",") {
			code, face, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				errs = append(errs, fmt.Errorf("-products: %q is not productid=yuan", part))
				continue
			}
			f, err := dingyin.ParseYuan(face)
			if err != nil {
				errs = append(errs, fmt.Errorf("-products: %s: %w", code, err))
				continue
			}
			cfg.Products[strings.TrimSpace(code)] = f
		}
	}
	return cfg, errors.Join(errs...)
}
