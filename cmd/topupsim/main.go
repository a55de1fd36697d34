// Command topupsim runs a simulated socket module (specs/003): it takes
// recharge orders from the engine, acks them, and pushes result callbacks
// whose outcomes follow a configurable mix. See package bench/sockmodsim.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"topup/bench/sockmodsim"
	"topup/transports/sockmod"
)

const usage = `topupsim: a simulated socket module (supplier) for the top-up engine.

It listens for orders (action CZ, GBK JSON over short TCP connections),
answers each with a signed ack, then pushes a signed result callback to the
engine and resends it until the engine answers OK. Each phone number's
outcome is drawn deterministically from -mix and -seed.

Usage:
  topupsim [sockmod] -key MD5KEY [flags]   a socket module (this page)
  topupsim juhe -h                         a Juhe flow-recharge supplier
  topupsim dingyin -h                      a Dingyin-style supplier

Example:
  topupsim -listen 127.0.0.1:60001 -key bff0378ea5ef0d5d \
      -callback 127.0.0.1:50899 -mix success=90,fail=5,uncertain=5 -stats 127.0.0.1:9101

Flags:
`

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "juhe":
			os.Exit(runJuhe(os.Args[2:]))
		case "dingyin":
			os.Exit(runDingyin(os.Args[2:]))
		case "sockmod":
			os.Args = append(os.Args[:1], os.Args[2:]...)
		}
	}
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "topupsim:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	def := sockmodsim.DefaultConfig()
	fs := flag.NewFlagSet("topupsim", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	var (
		listen        = fs.String("listen", "127.0.0.1:60001", "address to take orders on")
		key           = fs.String("key", "", "md5key shared with the engine (required)")
		callback      = fs.String("callback", "", "engine callback address host:port (default: the order sender's IP and -callback-port)")
		callbackPort  = fs.Int("callback-port", sockmod.DefaultCallbackPort, "engine callback port when -callback is empty")
		mixFlag       = fs.String("mix", "success=80,fail=10,fail_target=3,uncertain=4,nocallback=2,partial=1", "outcome weights: success, fail, fail_target, uncertain, nocallback, partial")
		seed          = fs.Uint64("seed", 1, "seed for outcomes and jitter")
		latency       = fs.Duration("latency", 200*time.Millisecond, "delay from ack to result callback")
		jitter        = fs.Duration("jitter", 100*time.Millisecond, "uniform spread of the delay (±)")
		followUp      = fs.Duration("followup", 2*time.Second, "for uncertain results: delay before the true result is sent (0 = never)")
		ackCode       = fs.Int("ack-code", 0, "retCode of every ack: 0 accepted, 1 success, 2 uncertain, 3 failed")
		retries       = fs.Int("retries", def.CallbackRetries, "callback resends until the engine answers OK (negative: none)")
		retryInterval = fs.Duration("retry-interval", def.CallbackRetryInterval, "spacing of callback resends")
		maxPending    = fs.Int("max-pending", def.MaxPending, "bound on orders with callbacks still to deliver")
		statsAddr     = fs.String("stats", "", "serve GET /stats as JSON on this address (optional; ?accts=1 adds per-account recharges)")
		verbose       = fs.Bool("v", false, "debug logging")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	log := newLogger(*verbose)
	slog.SetDefault(log)

	mix, err := sockmodsim.ParseMix(*mixFlag)
	if err != nil {
		return err
	}
	cfg := sockmodsim.Config{
		Listen:                *listen,
		MD5Key:                *key,
		CallbackAddr:          *callback,
		CallbackPort:          *callbackPort,
		Mix:                   mix,
		Seed:                  *seed,
		Latency:               *latency,
		Jitter:                *jitter,
		AckRetCode:            *ackCode,
		CallbackRetries:       *retries,
		CallbackRetryInterval: *retryInterval,
		UncertainFollowUp:     *followUp,
		MaxPending:            *maxPending,
		Logger:                log,
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	_, err = runUntilSignal(runSpec[*sockmodsim.Sim]{
		name: "topupsim", log: log, statsAddr: *statsAddr,
		start: func() (*sockmodsim.Sim, error) { return sockmodsim.Start(cfg) },
		listening: func(sim *sockmodsim.Sim) []any {
			return []any{"addr", sim.Addr(), "callback", callbackTarget(cfg), "mix", mix.String(),
				"seed", *seed, "latency", *latency, "jitter", *jitter, "followup", *followUp}
		},
		stats: func(sim *sockmodsim.Sim, q url.Values) any {
			st := sim.Stats()
			if q.Get("accts") == "" {
				st.SuccessByAcct = nil
			}
			return st
		},
		stopped: func(sim *sockmodsim.Sim) []any {
			st := sim.Stats()
			return []any{"received", st.Received, "acked", st.Acked, "bad_sign", st.BadSign,
				"malformed", st.Malformed, "callbacks_ok", st.CallbacksOK, "callbacks_failed", st.CallbacksFailed,
				"callbacks_abandoned", st.CallbacksAbandoned, "pending", st.Pending, "duplicates", st.DuplicateChargeIDs}
		},
	})
	return err
}

func callbackTarget(cfg sockmodsim.Config) string {
	if cfg.CallbackAddr != "" {
		return cfg.CallbackAddr
	}
	return fmt.Sprintf("<sender>:%d", cfg.CallbackPort)
}
