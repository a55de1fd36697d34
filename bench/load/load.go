// Package load drives a target with a bounded load and records what came
// back.
//
// Two shapes are offered. Closed runs a fixed number of workers that each
// send the next request as soon as their previous one is answered: it finds
// how fast the target takes requests. Open sends requests at a fixed arrival
// rate and measures every latency from the request's intended send time, not
// from when a worker got round to sending it, so a stall of the target shows
// up in the latency of every request that should have been sent during the
// stall (the "coordinated omission" correction). Both are bounded in count
// (N requests at most) and in time (MaxDuration), and stop early when the
// context ends.
//
// A Recording holds an HdrHistogram of latencies in microseconds, a
// per-second series of completions and the count of every failure reason.
// The package owns no mutable globals.
package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds, in microseconds: 1 µs to 10 minutes, 3 significant
// digits.
const (
	histLowest  = 1
	histHighest = int64(10 * time.Minute / time.Microsecond)
	histDigits  = 3
)

// ReasonCutOff is the reason of a request that failed after the run's time
// bound or context ended: it is counted in Reasons but not in the latency.
const ReasonCutOff = "cut_off"

// lateThreshold is how far behind its intended time an open-loop request may
// start before it counts as Late.
const lateThreshold = time.Millisecond

// NewHistogram is a latency histogram in microseconds with the package's
// range (1 µs to 10 min, 3 significant digits).
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// Outcome is what one request got.
type Outcome struct {
	// OK reports success.
	OK bool
	// Reason names a failure: a stable reason code of the target, or a
	// transport-level reason ("timeout", "transport"). Empty when OK.
	Reason string
}

// Func performs request i. intended is the time the request was meant to be
// sent (open loop) or was sent (closed loop). It must honour ctx.
type Func func(ctx context.Context, i int, intended time.Time) Outcome

// Closed configures a closed-loop run.
type Closed struct {
	// N is the number of requests (indices 0..N-1).
	N int
	// Workers is the number of requests in flight at once.
	Workers int
	// MaxDuration stops the run (requests not yet started are not sent).
	MaxDuration time.Duration
}

// Validate reports every problem at once.
func (c Closed) Validate() error {
	var errs []error
	if c.N < 1 {
		errs = append(errs, fmt.Errorf("load: closed: N %d must be positive", c.N))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("load: closed: Workers %d must be positive", c.Workers))
	}
	if c.MaxDuration <= 0 {
		errs = append(errs, fmt.Errorf("load: closed: MaxDuration %s must be positive", c.MaxDuration))
	}
	return errors.Join(errs...)
}

// Open configures an open-loop run.
type Open struct {
	// Rate is the arrival rate, requests per second.
	Rate float64
	// N is the number of requests: request i is due at Intended(start, Rate, i).
	N int
	// Workers bounds the requests in flight at once. When all are busy the
	// next request starts late, and its latency still counts from its
	// intended time.
	Workers int
	// MaxDuration stops the run (requests not yet started are not sent).
	// It should leave room beyond N/Rate for the last answers.
	MaxDuration time.Duration
}

// Validate reports every problem at once.
func (o Open) Validate() error {
	var errs []error
	if !(o.Rate > 0) || o.Rate > 1e7 {
		errs = append(errs, fmt.Errorf("load: open: Rate %g must be in (0, 1e7]", o.Rate))
	}
	if o.N < 1 {
		errs = append(errs, fmt.Errorf("load: open: N %d must be positive", o.N))
	}
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("load: open: Workers %d must be positive", o.Workers))
	}
	if o.MaxDuration <= 0 {
		errs = append(errs, fmt.Errorf("load: open: MaxDuration %s must be positive", o.MaxDuration))
	}
	return errors.Join(errs...)
}

// Intended is when request i of an open-loop run started at start with the
// given rate is due: start + i/rate. It is exact for any i (no drift from
// summing intervals).
func Intended(start time.Time, rate float64, i int) time.Time {
	return start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
}

// Recording is what a run measured.
type Recording struct {
	// Start is when the run began (the first request's intended time).
	Start time.Time
	// Elapsed runs from Start to the last completion.
	Elapsed time.Duration
	// Sent is the number of requests started; Unsent those never started
	// because the time bound or the context ended the run.
	Sent, Unsent int
	// OK counts successful requests.
	OK int
	// Reasons counts failed requests by reason.
	Reasons map[string]int
	// Latency holds every request's latency in microseconds, successful or
	// not (open loop: from the intended send time), except failures cut off
	// by the end of the run.
	Latency *hdrhistogram.Histogram
	// PerSecond[s] counts successful completions in second s after Start.
	PerSecond []int
	// Late counts open-loop requests that started more than 1 ms after
	// their intended time (the target or the generator fell behind).
	Late int
}

// Rate is successful completions per second over Elapsed.
func (r Recording) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// worker is one worker's private tallies, merged when the run ends.
type worker struct {
	hist      *hdrhistogram.Histogram
	perSecond []int
	reasons   map[string]int
	sent, ok  int
	late      int
	last      time.Time
}

func newWorker() *worker {
	return &worker{hist: NewHistogram(), reasons: make(map[string]int)}
}

// maxSeries bounds the per-second series (one day).
const maxSeries = 86400

func (w *worker) record(ctx context.Context, start, intended, done time.Time, out Outcome) {
	w.sent++
	if !out.OK && !live(ctx) {
		w.reasons[ReasonCutOff]++
		return
	}
	lat := done.Sub(intended).Microseconds()
	if lat < histLowest {
		lat = histLowest
	}
	if lat > histHighest {
		lat = histHighest
	}
	_ = w.hist.RecordValue(lat) // in range by construction
	if out.OK {
		w.ok++
		if s := int(done.Sub(start) / time.Second); s >= 0 && s < maxSeries {
			for len(w.perSecond) <= s {
				w.perSecond = append(w.perSecond, 0)
			}
			w.perSecond[s]++
		}
	} else {
		reason := out.Reason
		if reason == "" {
			reason = "unknown"
		}
		w.reasons[reason]++
	}
	if done.After(w.last) {
		w.last = done
	}
}

func merge(start time.Time, n int, ws []*worker) Recording {
	r := Recording{Start: start, Reasons: make(map[string]int), Latency: NewHistogram()}
	last := start
	for _, w := range ws {
		r.Sent += w.sent
		r.OK += w.ok
		r.Late += w.late
		r.Latency.Merge(w.hist)
		for k, v := range w.reasons {
			r.Reasons[k] += v
		}
		for len(r.PerSecond) < len(w.perSecond) {
			r.PerSecond = append(r.PerSecond, 0)
		}
		for s, c := range w.perSecond {
			r.PerSecond[s] += c
		}
		if w.last.After(last) {
			last = w.last
		}
	}
	r.Unsent = n - r.Sent
	r.Elapsed = last.Sub(start)
	return r
}

// live reports whether ctx has neither ended nor passed its deadline (its
// timer may fire a little after the deadline; requests sent in between
// would fail at once and count as failures).
func live(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	dl, ok := ctx.Deadline()
	return !ok || time.Now().Before(dl)
}

// RunClosed sends requests 0..N-1 from Workers workers, each sending its
// next request when the previous one is answered, until all are sent, the
// time bound passes or ctx ends.
func RunClosed(ctx context.Context, c Closed, fn Func) (Recording, error) {
	if err := c.Validate(); err != nil {
		return Recording{}, err
	}
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(c.MaxDuration))
	defer cancel()
	var next atomic.Int64
	ws := make([]*worker, min(c.Workers, c.N))
	var wg sync.WaitGroup
	for k := range ws {
		w := newWorker()
		ws[k] = w
		wg.Go(func() {
			for live(ctx) {
				i := int(next.Add(1) - 1)
				if i >= c.N {
					return
				}
				sent := time.Now()
				out := fn(ctx, i, sent)
				w.record(ctx, start, sent, time.Now(), out)
			}
		})
	}
	wg.Wait()
	return merge(start, c.N, ws), nil
}

// RunOpen sends request i at Intended(start, Rate, i) for i in 0..N-1 with
// at most Workers in flight, until all are sent, the time bound passes or
// ctx ends. Latency counts from the intended time.
func RunOpen(ctx context.Context, o Open, fn Func) (Recording, error) {
	if err := o.Validate(); err != nil {
		return Recording{}, err
	}
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(o.MaxDuration))
	defer cancel()
	var next atomic.Int64
	ws := make([]*worker, min(o.Workers, o.N))
	var wg sync.WaitGroup
	for k := range ws {
		w := newWorker()
		ws[k] = w
		wg.Go(func() {
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for live(ctx) {
				i := int(next.Add(1) - 1)
				if i >= o.N {
					return
				}
				due := Intended(start, o.Rate, i)
				if wait := time.Until(due); wait > 0 {
					timer.Reset(wait)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
				} else if -wait > lateThreshold {
					w.late++
				}
				out := fn(ctx, i, due)
				w.record(ctx, start, due, time.Now(), out)
			}
		})
	}
	wg.Wait()
	return merge(start, o.N, ws), nil
}

// Merge combines two recordings of one run taken one after the other (b
// starting after a): counts, reasons and latencies add up, Elapsed is the
// sum of both (the time under load, not the pause between), and b's
// per-second series is placed at its offset from a.Start.
func Merge(a, b Recording) Recording {
	out := Recording{Start: a.Start, Elapsed: a.Elapsed + b.Elapsed, Sent: a.Sent + b.Sent, Unsent: a.Unsent + b.Unsent,
		OK: a.OK + b.OK, Late: a.Late + b.Late, Reasons: make(map[string]int), Latency: NewHistogram()}
	if a.Start.IsZero() {
		out.Start = b.Start
	}
	for _, r := range []Recording{a, b} {
		for k, v := range r.Reasons {
			out.Reasons[k] += v
		}
		if r.Latency != nil {
			out.Latency.Merge(r.Latency)
		}
		off := 0
		if !r.Start.IsZero() && r.Start.After(out.Start) {
			off = int(r.Start.Sub(out.Start) / time.Second)
		}
		for s, c := range r.PerSecond {
			if off+s >= maxSeries {
				break
			}
			for len(out.PerSecond) <= off+s {
				out.PerSecond = append(out.PerSecond, 0)
			}
			out.PerSecond[off+s] += c
		}
	}
	return out
}
