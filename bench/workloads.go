package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"topup/bench/load"
	"topup/bench/sockmodsim"
)

// Workload names, as Result.Workload and topupbench spell them.
const (
	WorkloadBurst      = "burst"
	WorkloadRate       = "rate"
	WorkloadMixed      = "mixed"
	WorkloadDuplicates = "duplicates"
	WorkloadPending    = "pending"
)

// FastSuppliers is the default supplier of the burst, rate and duplicate
// workloads: one socket module that recharges every order and calls back
// after 20±10 ms.
func FastSuppliers() []Supplier {
	return []Supplier{{Name: "sock-a", Kind: SupplierSockmod, Mix: sockmodsim.Mix{Success: 1}, Seed: 1,
		Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Priority: 1}}
}

// MixedSuppliers is the default supplier set of the mixed workload. Routes
// of priority 1 are drawn 3:1 between sock-a (50±25 ms; 80% success, 8%
// failure, 4% failure of the number, 4% uncertain with the truth 300 ms
// later, 2% lost callback, 2% partial recharge) and sock-slow (1±0.5 s; 90%
// success, 10% failure); sock-b (priority 2, 20 ms, always success) takes
// what failed. Lost callbacks and partial recharges stay held until the
// harness resolves them.
func MixedSuppliers() []Supplier {
	return []Supplier{
		{Name: "sock-a", Kind: SupplierSockmod, Seed: 11, Priority: 1, Weight: 3,
			Mix:     sockmodsim.Mix{Success: 80, Fail: 8, FailTarget: 4, Uncertain: 4, NoCallback: 2, Partial: 2},
			Latency: 50 * time.Millisecond, Jitter: 25 * time.Millisecond, FollowUp: 300 * time.Millisecond},
		{Name: "sock-slow", Kind: SupplierSockmod, Seed: 12, Priority: 1, Weight: 1,
			Mix:     sockmodsim.Mix{Success: 90, Fail: 10},
			Latency: time.Second, Jitter: 500 * time.Millisecond},
		{Name: "sock-b", Kind: SupplierSockmod, Seed: 13, Priority: 2, Weight: 1,
			Mix: sockmodsim.Mix{Success: 1}, Latency: 20 * time.Millisecond},
	}
}

// abort tears a run down after a failure before finish.
func (r *run) abort(err error) error {
	if r.usage != nil {
		r.usage.close()
		r.redisUse.close()
	}
	return errors.Join(err, r.rig.close())
}

// BurstConfig configures RunBurst.
type BurstConfig struct {
	Common
	// N is the number of orders (default 10,000).
	N int `json:"n"`
}

// RunBurst pushes N orders as fast as the engine takes them from Conns
// connections (closed loop), then checks every order.
func RunBurst(ctx context.Context, cfg BurstConfig) (Result, error) {
	cfg.Common = cfg.Common.withDefaults(FastSuppliers())
	if cfg.N == 0 {
		cfg.N = 10_000
	}
	if cfg.N < 1 || cfg.N > 10_000_000 {
		return Result{}, fmt.Errorf("bench: burst: N %d must be 1..1e7", cfg.N)
	}
	r, err := begin(ctx, WorkloadBurst, cfg.Common, cfg.N, cfg)
	if err != nil {
		return Result{}, err
	}
	cfg.Logf("burst: pushing %d orders over %d connections", cfg.N, cfg.Conns)
	r.startLoad()
	rec, err := load.RunClosed(ctx, load.Closed{N: cfg.N, Workers: cfg.Conns, MaxDuration: cfg.MaxDuration},
		func(ctx context.Context, i int, at time.Time) load.Outcome { return r.push(ctx, i, 0, at) })
	if err != nil {
		return Result{}, r.abort(err)
	}
	return r.finish(ctx, rec)
}

// RateConfig configures RunRate.
type RateConfig struct {
	Common
	// Rate is the arrival rate, orders per second (default 500).
	Rate float64 `json:"rate"`
	// Duration is how long orders arrive (default 10s); N = Rate × Duration.
	Duration time.Duration `json:"duration"`
}

func (c *RateConfig) defaults(sup []Supplier) (int, error) {
	c.Common = c.Common.withDefaults(sup)
	if c.Rate == 0 {
		c.Rate = 500
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	n := int(c.Rate * c.Duration.Seconds())
	if !(c.Rate > 0) || n < 1 || n > 10_000_000 {
		return 0, fmt.Errorf("bench: rate %g/s for %s: want 1..1e7 orders", c.Rate, c.Duration)
	}
	if c.MaxDuration < c.Duration {
		return 0, fmt.Errorf("bench: MaxDuration %s is shorter than Duration %s", c.MaxDuration, c.Duration)
	}
	return n, nil
}

// openLoop pushes n orders at cfg.Rate and finishes the run.
func openLoop(ctx context.Context, r *run, c RateConfig, n int) (Result, error) {
	c.Logf("%s: %g orders/s for %s (%d orders) over at most %d connections", r.name, c.Rate, c.Duration, n, c.Conns)
	r.result.Load.OfferedRate = c.Rate
	r.startLoad()
	rec, err := load.RunOpen(ctx, load.Open{Rate: c.Rate, N: n, Workers: c.Conns, MaxDuration: c.MaxDuration},
		func(ctx context.Context, i int, at time.Time) load.Outcome { return r.push(ctx, i, 0, at) })
	if err != nil {
		return Result{}, r.abort(err)
	}
	return r.finish(ctx, rec)
}

// RunRate pushes orders at a fixed arrival rate (open loop) and measures
// each accept latency from the order's intended send time, so a stalled
// engine is charged for every order it delayed.
func RunRate(ctx context.Context, cfg RateConfig) (Result, error) {
	n, err := cfg.defaults(FastSuppliers())
	if err != nil {
		return Result{}, err
	}
	r, err := begin(ctx, WorkloadRate, cfg.Common, n, cfg)
	if err != nil {
		return Result{}, err
	}
	return openLoop(ctx, r, cfg, n)
}

// MixedConfig configures RunMixed: a sustained arrival rate against
// suppliers with mixed outcomes.
type MixedConfig struct {
	RateConfig
}

// RunMixed pushes orders at a fixed rate against MixedSuppliers (or
// Common.Suppliers): successes, failures failing over to another route,
// failures of the number, uncertain results followed by the truth, lost
// callbacks, partial recharges and slow callbacks. End-to-end latency and
// throughput count only orders the engine finished on its own.
func RunMixed(ctx context.Context, cfg MixedConfig) (Result, error) {
	n, err := cfg.defaults(MixedSuppliers())
	if err != nil {
		return Result{}, err
	}
	r, err := begin(ctx, WorkloadMixed, cfg.Common, n, cfg)
	if err != nil {
		return Result{}, err
	}
	return openLoop(ctx, r, cfg.RateConfig, n)
}

// DuplicateConfig configures RunDuplicates.
type DuplicateConfig struct {
	Common
	// N is the number of distinct orders (default 2,000).
	N int `json:"n"`
	// MaxCopies is the most copies of one order sent at once (default 5);
	// order i is sent Copies(i, MaxCopies) times.
	MaxCopies int `json:"max_copies"`
}

// Copies is how many times the duplicate workload sends order i: 1 to max,
// spread evenly and deterministically.
func Copies(i, max int) int {
	if max <= 1 {
		return 1
	}
	return 1 + int(uint64(i)*2654435761%uint64(max))
}

// RunDuplicates sends each of N orders 1 to MaxCopies times at once, as form
// and JSON bodies in turn, from Conns connections. Every copy of an order
// must get the same answer and the order must be charged and called back
// once.
func RunDuplicates(ctx context.Context, cfg DuplicateConfig) (Result, error) {
	cfg.Common = cfg.Common.withDefaults(FastSuppliers())
	if cfg.N == 0 {
		cfg.N = 2000
	}
	if cfg.MaxCopies == 0 {
		cfg.MaxCopies = 5
	}
	if cfg.N < 1 || cfg.N > 10_000_000 || cfg.MaxCopies < 1 || cfg.MaxCopies > 100 {
		return Result{}, fmt.Errorf("bench: duplicates: N %d must be 1..1e7 and MaxCopies %d 1..100", cfg.N, cfg.MaxCopies)
	}
	r, err := begin(ctx, WorkloadDuplicates, cfg.Common, cfg.N, cfg)
	if err != nil {
		return Result{}, err
	}
	cfg.Logf("duplicates: %d orders, 1-%d copies each", cfg.N, cfg.MaxCopies)
	r.startLoad()
	// Each worker sends all copies of its order at once, so up to
	// Conns×MaxCopies requests wait for the Conns connections.
	workers := max(1, cfg.Conns/cfg.MaxCopies)
	rec, err := load.RunClosed(ctx, load.Closed{N: cfg.N, Workers: workers, MaxDuration: cfg.MaxDuration},
		func(ctx context.Context, i int, at time.Time) load.Outcome {
			k := Copies(i, cfg.MaxCopies)
			outs := make([]load.Outcome, k)
			var wg sync.WaitGroup
			for c := range k {
				wg.Go(func() { outs[c] = r.push(ctx, i, c, at) })
			}
			wg.Wait()
			for _, o := range outs {
				if !o.OK {
					return o
				}
			}
			return load.Outcome{OK: true}
		})
	if err != nil {
		return Result{}, r.abort(err)
	}
	return r.finish(ctx, rec)
}

// PendingConfig configures RunPending.
type PendingConfig struct {
	Common
	// N is the number of orders left pending (default 10,000).
	N int `json:"n"`
	// Latency is how long the supplier waits before calling back (default
	// 2m). It must outlast the push, or early orders finish before the last
	// are placed.
	Latency time.Duration `json:"latency"`
	// Hold is how long the harness waits, once every order is placed,
	// before reading the RSS (default 2s).
	Hold time.Duration `json:"hold"`
	// Restart SIGKILLs a started engine with the orders pending and times
	// its restart until ready.
	Restart bool `json:"restart"`
}

// RunPending leaves N orders waiting at a supplier that answers only after
// Latency. It pushes them in two halves and reads the engine's RSS once each
// half is pending, so the memory of a pending order is the slope between the
// two readings (the engine's fixed working set cancels out); optionally it
// kills and restarts the engine to time its recovery; then it waits for the
// results and checks every order.
func RunPending(ctx context.Context, cfg PendingConfig) (Result, error) {
	if cfg.N == 0 {
		cfg.N = 10_000
	}
	if cfg.Latency == 0 {
		cfg.Latency = 2 * time.Minute
	}
	if cfg.Hold == 0 {
		cfg.Hold = 2 * time.Second
	}
	slow := []Supplier{{Name: "sock-slow", Kind: SupplierSockmod, Mix: sockmodsim.Mix{Success: 1}, Seed: 21,
		Latency: cfg.Latency, Priority: 1, MaxInflight: 5000}}
	if cfg.SettleTimeout == 0 {
		cfg.SettleTimeout = cfg.Latency + 2*time.Minute
	}
	cfg.Common = cfg.Common.withDefaults(slow)
	if cfg.N < 2 || cfg.N > 10_000_000 || cfg.Latency < 0 || cfg.Hold < 0 {
		return Result{}, fmt.Errorf("bench: pending: N %d must be 2..1e7, Latency and Hold not negative", cfg.N)
	}
	r, err := begin(ctx, WorkloadPending, cfg.Common, cfg.N, cfg)
	if err != nil {
		return Result{}, err
	}
	pf := &PendingFigures{}
	r.result.Pending = pf
	r.startLoad()
	if u, ok := r.usage.sample(); ok {
		pf.RSSBefore = u.RSSBytes
	}
	half := cfg.N / 2
	var rec load.Recording
	for phase, span := range [][2]int{{0, half}, {half, cfg.N}} {
		cfg.Logf("pending: pushing orders %d..%d to a supplier answering after %s", span[0], span[1]-1, cfg.Latency)
		part, err := load.RunClosed(ctx, load.Closed{N: span[1] - span[0], Workers: cfg.Conns, MaxDuration: cfg.MaxDuration},
			func(ctx context.Context, i int, at time.Time) load.Outcome { return r.push(ctx, span[0]+i, 0, at) })
		if err != nil {
			return Result{}, r.abort(err)
		}
		rec = load.Merge(rec, part)
		pending, rss, err := r.readPending(ctx, cfg, rec.OK)
		if err != nil {
			return Result{}, r.abort(err)
		}
		if phase == 0 {
			pf.PendingHalf, pf.RSSHalf = pending, rss
		} else {
			pf.Pending, pf.RSSPending = pending, rss
		}
	}
	pf.compute()
	cfg.Logf("pending: %d orders pending, engine RSS %d MB, %.0f bytes per pending order (slope)", pf.Pending, pf.RSSPending>>20, pf.BytesPerOrder)
	if err := r.restartPending(ctx, cfg); err != nil {
		return Result{}, r.abort(err)
	}
	return r.finish(ctx, rec)
}

// compute derives the per-order figures from the two readings.
func (pf *PendingFigures) compute() {
	if pf.Pending > 0 && pf.RSSPending > 0 {
		pf.AvgBytesPerOrder = float64(pf.RSSPending-pf.RSSBefore) / float64(pf.Pending)
	}
	if d := pf.Pending - pf.PendingHalf; d > 0 && pf.RSSHalf > 0 && pf.RSSPending > 0 {
		pf.BytesPerOrder = float64(pf.RSSPending-pf.RSSHalf) / float64(d)
	} else {
		pf.BytesPerOrder = pf.AvgBytesPerOrder
	}
	pf.RSSFor1M = pf.RSSPending + int64(pf.BytesPerOrder*float64(max(0, 1_000_000-pf.Pending)))
}

// readPending waits until the suppliers acknowledged the accepted orders
// (a started engine), holds, and returns the orders pending (accepted and
// not yet answered) and the engine's RSS (0 when it cannot be read).
func (r *run) readPending(ctx context.Context, cfg PendingConfig, accepted int) (int, int64, error) {
	if r.c.Target.Spawned() {
		deadline := time.Now().Add(cfg.SettleTimeout)
		for r.rig.acked() < accepted && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
		}
	}
	select {
	case <-ctx.Done():
		return 0, 0, fmt.Errorf("bench: pending: %w", ctx.Err())
	case <-time.After(cfg.Hold):
	}
	done := 0
	for _, s := range r.rig.sims {
		done += s.callbacksOK()
	}
	var rss int64
	if u, ok := r.usage.sample(); ok {
		rss = u.RSSBytes
	}
	return accepted - done, rss, nil
}

// restartPending SIGKILLs a started engine with the orders pending, starts
// it again and times it until ready.
func (r *run) restartPending(ctx context.Context, cfg PendingConfig) error {
	pf := r.result.Pending
	if !cfg.Restart || r.rig.proc == nil {
		return nil
	}
	cfg.Logf("pending: killing the engine with the orders pending and restarting it")
	if err := r.rig.proc.halt(sigKill); err != nil {
		return err
	}
	r.usage.setPID(0)
	ready, err := r.rig.proc.start(ctx)
	if err != nil {
		return err
	}
	pf.RestartReadySeconds = ready.Seconds()
	r.usage.setPID(r.rig.proc.pid())
	if u, ok := r.usage.sample(); ok {
		pf.RSSAfterRestart = u.RSSBytes
	}
	cfg.Logf("pending: ready again in %.2fs", pf.RestartReadySeconds)
	return nil
}
