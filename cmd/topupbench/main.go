// Command topupbench is the bench suite of the top-up engine: it runs
// workloads against a topupd it starts (-engine-bin, default bin/topupd,
// which it does not build) or one already running (-target), measures the
// ceilings of the engine's building blocks on the same machine, checks
// correctness, and writes <name>.json, <name>.txt and <name>.svg under -out.
// It exits 1 when a workload had a correctness violation or could not run.
//
//	topupbench [flags] burst|rate|mixed|duplicates|pending|ceilings|smoke|standard
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"topup/bench"
	"topup/bench/ceiling"
	"topup/bench/report"
)

// options are the command line.
type options struct {
	engineBin, workDir, outDir, name             string
	target, admin, token, uid, key               string
	pid                                          int
	n, conns, copies                             int
	rate                                         float64
	duration, latency, hold, ceilingDur, timeout time.Duration
	idle                                         time.Duration
	restart, noCeilings, keep, quiet             bool
	mixedRate                                    float64
	logLevel                                     string
}

const usage = `usage: topupbench [flags] WORKLOAD

WORKLOAD is one of
  burst       -n orders as fast as the engine takes them over -conns connections
  rate        -rate orders/s for -duration, latency from each order's intended send time
  mixed       -rate orders/s for -duration against suppliers with mixed outcomes and slow callbacks
  duplicates  -n orders, each sent 1..-copies times at once
  pending     -n orders left pending at a supplier answering after -latency; RSS per order, restart time
  ceilings    only the ceilings (fasthttp, Redis, Pebble, TCP)
  smoke       every workload at small sizes (~1 minute; CI)
  standard    every workload at bench sizes (make bench)
Each run also measures the ceilings unless -no-ceilings, and writes -out/<name>.{json,txt,svg}.

flags:
`

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("topupbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&o.engineBin, "engine-bin", "bin/topupd", "topupd binary to start (built beforehand: make build)")
	fs.StringVar(&o.workDir, "workdir", "", "directory for the started engine's data and the ceilings' stores (default: temporary)")
	fs.BoolVar(&o.keep, "keep", false, "keep the started engine's work directories")
	fs.StringVar(&o.logLevel, "engine-log", "info", "log level of the started engine")
	fs.DurationVar(&o.idle, "engine-idle", 0, "node.idle_actor_timeout of the started engine (default: the daemon's, 30s)")
	fs.StringVar(&o.target, "target", "", "operator API of an engine already running (http://127.0.0.1:8088); replaces -engine-bin")
	fs.StringVar(&o.admin, "admin", "", "admin API of that engine (http://127.0.0.1:8089)")
	fs.StringVar(&o.token, "token", os.Getenv("TOPUP_TOKEN"), "admin token of that engine (default $TOPUP_TOKEN)")
	fs.StringVar(&o.uid, "uid", "", "merchant uid to fund and push orders for (in that engine's merchants list)")
	fs.StringVar(&o.key, "key", "", "that merchant's md5key")
	fs.IntVar(&o.pid, "engine-pid", 0, "process id of that engine, for RSS and CPU figures")
	fs.IntVar(&o.n, "n", 0, "orders (burst, duplicates, pending; default per workload)")
	fs.Float64Var(&o.rate, "rate", 0, "arrival rate, orders/s (rate, mixed; default per workload)")
	fs.DurationVar(&o.duration, "duration", 0, "how long orders arrive (rate, mixed; default 10s)")
	fs.IntVar(&o.conns, "conns", 64, "operator connections to the engine (and to the fasthttp ceiling)")
	fs.IntVar(&o.copies, "copies", 5, "most copies of one order (duplicates)")
	fs.DurationVar(&o.latency, "latency", 0, "supplier delay before the result (pending; default 2m)")
	fs.DurationVar(&o.hold, "hold", 0, "wait once every order is pending before reading the RSS (pending; default 2s)")
	fs.BoolVar(&o.restart, "restart", true, "SIGKILL and restart a started engine with the orders pending (pending)")
	fs.DurationVar(&o.ceilingDur, "ceiling-duration", 5*time.Second, "length of each ceiling measurement")
	fs.BoolVar(&o.noCeilings, "no-ceilings", false, "skip the ceilings")
	fs.StringVar(&o.outDir, "out", "bench/results", "directory for the result files")
	fs.StringVar(&o.name, "name", "", "result file name (default: the workload)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Hour, "bound on the whole invocation")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines on stderr")
	fs.Float64Var(&o.mixedRate, "mixed-rate", 0, "arrival rate of the mixed workload in a suite (default: smoke 300/s; standard 40% of the TCP ceiling, at most half the rate the burst finished end to end)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	what := fs.Arg(0)
	if !slices.Contains([]string{bench.WorkloadBurst, bench.WorkloadRate, bench.WorkloadMixed, bench.WorkloadDuplicates,
		bench.WorkloadPending, "ceilings", "smoke", "standard"}, what) {
		fmt.Fprintf(stderr, "topupbench: unknown workload %q\n", what)
		fs.Usage()
		return 2
	}
	if o.name == "" {
		o.name = what
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	logf := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
		}
	}
	f := &report.File{Schema: report.Schema, Name: o.name, Started: time.Now(), Machine: report.ReadMachine(),
		GoVersion: runtime.Version(), CommandLine: args}
	s := &suite{o: o, logf: logf, file: f}
	if err := s.run(ctx, what); err != nil {
		fmt.Fprintf(stderr, "topupbench: %v\n", err)
		return 1
	}
	f.Finished = time.Now()
	f.Finish()
	paths, err := report.Write(o.outDir, f)
	report.Text(stdout, f)
	if err != nil {
		fmt.Fprintf(stderr, "topupbench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nwritten: %s\n", strings.Join(paths, ", "))
	if !f.Passed {
		return 1
	}
	return 0
}

// suite runs workloads and collects their results into file.
type suite struct {
	o    options
	logf func(string, ...any)
	file *report.File
}

// common is the Common every workload of the invocation shares.
func (s *suite) common(workload string) bench.Common {
	o := s.o
	c := bench.Common{Conns: o.conns, Logf: s.logf}
	if o.target != "" {
		c.Target = bench.Target{OperatorURL: o.target, AdminURL: o.admin, AdminToken: o.token, UID: o.uid, Key: o.key, PID: o.pid}
	} else {
		c.Target = bench.Target{EngineBin: o.engineBin, KeepWorkDir: o.keep, LogLevel: o.logLevel, IdleActorTimeout: o.idle}
		if o.workDir != "" {
			c.Target.WorkDir = fmt.Sprintf("%s/%s-%d", o.workDir, workload, time.Now().UnixNano())
		}
	}
	return c
}

// sized holds the sizes of a suite's workloads.
type sized struct {
	burstN, dupN, pendingN int
	rate, mixedRate        float64
	rateFrac               float64 // rate as a fraction of the burst's accept rate (0: use rate)
	duration, mixedDur     time.Duration
	latency, hold          time.Duration
	quiet, grace           time.Duration
	ceilingDur             time.Duration
}

func (s *suite) run(ctx context.Context, what string) error {
	o := s.o
	switch what {
	case "smoke":
		return s.all(ctx, sized{burstN: 2000, dupN: 500, pendingN: 2000, rate: 500, mixedRate: or(o.mixedRate, 300),
			duration: 5 * time.Second, mixedDur: 5 * time.Second, latency: 8 * time.Second, hold: time.Second,
			quiet: 2 * time.Second, grace: 500 * time.Millisecond, ceilingDur: time.Second})
	case "standard":
		return s.all(ctx, sized{burstN: 20_000, dupN: 5000, pendingN: 50_000, rateFrac: 0.7, mixedRate: o.mixedRate,
			duration: 30 * time.Second, mixedDur: 60 * time.Second, latency: 2 * time.Minute, hold: 2 * time.Second,
			ceilingDur: o.ceilingDur})
	case "ceilings":
		return s.ceilings(ctx, o.ceilingDur)
	}
	if !o.noCeilings {
		if err := s.ceilings(ctx, o.ceilingDur); err != nil {
			return err
		}
	}
	var err error
	var res bench.Result
	c := s.common(what)
	switch what {
	case bench.WorkloadBurst:
		res, err = bench.RunBurst(ctx, bench.BurstConfig{Common: c, N: o.n})
	case bench.WorkloadRate:
		res, err = bench.RunRate(ctx, bench.RateConfig{Common: c, Rate: o.rate, Duration: o.duration})
	case bench.WorkloadMixed:
		res, err = bench.RunMixed(ctx, bench.MixedConfig{RateConfig: bench.RateConfig{Common: c, Rate: o.rate, Duration: o.duration}})
	case bench.WorkloadDuplicates:
		res, err = bench.RunDuplicates(ctx, bench.DuplicateConfig{Common: c, N: o.n, MaxCopies: o.copies})
	case bench.WorkloadPending:
		res, err = bench.RunPending(ctx, bench.PendingConfig{Common: c, N: o.n, Latency: o.latency, Hold: o.hold, Restart: o.restart})
	}
	s.add(what, res, err)
	return nil
}

func or(v, def float64) float64 {
	if v > 0 {
		return v
	}
	return def
}

// add records a workload's result or failure. A run that measured but
// then failed to tear down keeps its result beside the failure.
func (s *suite) add(what string, res bench.Result, err error) {
	if err != nil {
		s.logf("%s: %v", what, err)
		s.file.Failures = append(s.file.Failures, fmt.Sprintf("%s: %v", what, err))
		if res.Workload == "" {
			return
		}
	}
	s.logf("%s: %s accepted/s, accept p99 %.2f ms, passed %v", what, report.Thousands(res.Load.AcceptedPerSec), res.Accept.P99, res.Passed)
	s.file.Results = append(s.file.Results, res)
}

// ceilings measures the ceilings with the invocation's connection count.
func (s *suite) ceilings(ctx context.Context, d time.Duration) error {
	if s.o.noCeilings {
		return nil
	}
	cfg := ceiling.Config{Duration: d, Conns: s.o.conns, Logf: s.logf}
	if s.o.workDir != "" {
		cfg.WorkDir = s.o.workDir
	}
	res, err := ceiling.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("ceilings: %w", err)
	}
	s.file.Ceilings = &res
	return nil
}

// all runs the ceilings and every workload at the given sizes.
func (s *suite) all(ctx context.Context, z sized) error {
	if err := s.ceilings(ctx, z.ceilingDur); err != nil {
		return err
	}
	with := func(w string) bench.Common {
		c := s.common(w)
		c.Quiet, c.Grace = z.quiet, z.grace
		return c
	}
	res, err := bench.RunBurst(ctx, bench.BurstConfig{Common: with(bench.WorkloadBurst), N: z.burstN})
	s.add(bench.WorkloadBurst, res, err)
	burstRate, burstE2E := res.Load.AcceptedPerSec, res.Load.EndToEndPerSec

	rate := z.rate
	if z.rateFrac > 0 {
		if err != nil || burstRate <= 0 {
			return errors.Join(errors.New("the rate workload needs the burst's accept rate"), ctx.Err())
		}
		rate = z.rateFrac * burstRate
	}
	res, err = bench.RunRate(ctx, bench.RateConfig{Common: with(bench.WorkloadRate), Rate: rate, Duration: z.duration})
	s.add(bench.WorkloadRate, res, err)

	mixedRate := z.mixedRate
	if mixedRate == 0 {
		// Half the rate the node finished the burst end to end: a burst is
		// accepted ahead of placing (accept first), so its accept rate is
		// not one the node sustains end to end, and the mixed suppliers'
		// slow callbacks, queries and failovers cost more per order than
		// the burst's fast socket module.
		mixedRate = 0.5 * burstE2E
		if s.file.Ceilings != nil {
			if m, ok := s.file.Ceilings.Get(ceiling.TCPShort); ok && 0.4*m.Rate < mixedRate {
				mixedRate = 0.4 * m.Rate
			}
		}
		if mixedRate <= 0 {
			mixedRate = 300
		}
	}
	res, err = bench.RunMixed(ctx, bench.MixedConfig{RateConfig: bench.RateConfig{Common: with(bench.WorkloadMixed),
		Rate: mixedRate, Duration: z.mixedDur}})
	s.add(bench.WorkloadMixed, res, err)

	res, err = bench.RunDuplicates(ctx, bench.DuplicateConfig{Common: with(bench.WorkloadDuplicates), N: z.dupN, MaxCopies: s.o.copies})
	s.add(bench.WorkloadDuplicates, res, err)

	res, err = bench.RunPending(ctx, bench.PendingConfig{Common: with(bench.WorkloadPending), N: z.pendingN,
		Latency: z.latency, Hold: z.hold, Restart: s.o.restart && s.o.target == ""})
	s.add(bench.WorkloadPending, res, err)
	return ctx.Err()
}
