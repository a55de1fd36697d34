package actors

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"topup/engine"
)

// Querier is a Channel whose supplier can be asked about an attempt.
type Querier interface {
	// Query returns what the supplier says about the attempt now.
	// OutcomeAccepted (or OutcomeNone) means no news.
	Query(ctx context.Context, o *engine.Order, a engine.Attempt) engine.EvResult
	// Polls reports whether placed attempts must be polled because the
	// supplier does not call back.
	Polls() bool
}

// BreakerConfig tunes a channel's circuit breaker.
type BreakerConfig struct {
	// Window is how many recent attempts are judged (default 20).
	Window int
	// MinSamples is how many attempts the window needs before it can open (default 10).
	MinSamples int
	// FailRatio opens the breaker when this share of the window failed (default 0.5).
	FailRatio float64
	// OpenFor is how long an open breaker rejects before it lets one probe through (default 30s).
	OpenFor time.Duration
}

// GuardConfig bounds and protects one channel.
type GuardConfig struct {
	Name        string
	MaxInflight int
	Breaker     BreakerConfig
	// LowBalance takes the channel out of rotation while its reported
	// supplier balance is below it (0: off).
	LowBalance engine.Fen
}

// Breaker states as exported in the topup_channel_breaker metric.
const (
	BreakerClosed   = 0
	BreakerOpen     = 1
	BreakerHalfOpen = 2
)

// Guarded wraps a channel with its concurrency bound, circuit breaker and
// low-balance check. A submission it refuses never reaches the supplier, so
// it is reported as a definite failure of this route (OutcomeFailRoute) and
// the order moves on to its next route.
type Guarded struct {
	inner Channel
	cfg   GuardConfig
	sem   chan struct{}
	now   func() time.Time

	mu       sync.Mutex
	results  []bool // ring of recent attempts: true = failed
	next     int
	filled   int
	state    int
	openedAt time.Time
	probing  bool

	balance    atomic.Int64
	hasBalance atomic.Bool

	stateGauge   prometheus.Gauge
	balanceGauge prometheus.Gauge
	inflight     prometheus.Gauge
}

// Guard wraps ch. reg may be nil.
func Guard(ch Channel, cfg GuardConfig, reg prometheus.Registerer, now func() time.Time) *Guarded {
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 1000
	}
	b := &cfg.Breaker
	if b.Window <= 0 {
		b.Window = 20
	}
	if b.MinSamples <= 0 {
		b.MinSamples = 10
	}
	if b.MinSamples > b.Window {
		b.MinSamples = b.Window
	}
	if b.FailRatio <= 0 {
		b.FailRatio = 0.5
	}
	if b.OpenFor <= 0 {
		b.OpenFor = 30 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	l := prometheus.Labels{"channel": cfg.Name}
	g := &Guarded{inner: ch, cfg: cfg, sem: make(chan struct{}, cfg.MaxInflight), now: now, results: make([]bool, b.Window),
		stateGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "topup_channel_breaker", ConstLabels: l,
			Help: "Circuit breaker state: 0 closed, 1 open, 2 half-open."}),
		balanceGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "topup_channel_balance_fen", ConstLabels: l,
			Help: "Supplier balance last reported by the channel, in fen."}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "topup_channel_inflight", ConstLabels: l,
			Help: "Submissions and queries in flight to the channel."}),
	}
	if reg != nil {
		reg.MustRegister(g.stateGauge, g.balanceGauge, g.inflight)
	}
	return g
}

// Channel is the guarded channel as the runtime uses it: it also
// implements Querier when the wrapped channel does.
func (g *Guarded) Channel() Channel {
	if _, ok := g.inner.(Querier); ok {
		return guardedQuerier{g}
	}
	return g
}

// ReportBalance records the supplier balance the channel reported.
func (g *Guarded) ReportBalance(b engine.Fen) {
	g.balance.Store(int64(b))
	g.hasBalance.Store(true)
	g.balanceGauge.Set(float64(b))
}

// Balance is the last reported supplier balance, if any.
func (g *Guarded) Balance() (engine.Fen, bool) {
	return engine.Fen(g.balance.Load()), g.hasBalance.Load()
}

// State is the breaker state (BreakerClosed, BreakerOpen, BreakerHalfOpen).
func (g *Guarded) State() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stateLocked(g.now())
}

func (g *Guarded) stateLocked(now time.Time) int {
	if g.state == BreakerOpen && now.Sub(g.openedAt) >= g.cfg.Breaker.OpenFor {
		g.state = BreakerHalfOpen
		g.probing = false
		g.stateGauge.Set(BreakerHalfOpen)
	}
	return g.state
}

// allow reports whether a submission may go out now; in half-open state
// exactly one probe goes out at a time.
func (g *Guarded) allow() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch g.stateLocked(g.now()) {
	case BreakerOpen:
		return false
	case BreakerHalfOpen:
		if g.probing {
			return false
		}
		g.probing = true
	}
	return true
}

// record feeds one attempt's outcome to the breaker.
func (g *Guarded) record(failed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if g.stateLocked(now) == BreakerHalfOpen {
		g.probing = false
		if failed {
			g.openLocked(now)
			return
		}
		g.state = BreakerClosed
		g.stateGauge.Set(BreakerClosed)
		g.filled, g.next = 0, 0
	}
	g.results[g.next] = failed
	g.next = (g.next + 1) % len(g.results)
	if g.filled < len(g.results) {
		g.filled++
	}
	if g.state != BreakerClosed || g.filled < g.cfg.Breaker.MinSamples {
		return
	}
	bad := 0
	for i := 0; i < g.filled; i++ {
		if g.results[i] {
			bad++
		}
	}
	if float64(bad) >= g.cfg.Breaker.FailRatio*float64(g.filled) {
		g.openLocked(now)
	}
}

func (g *Guarded) openLocked(now time.Time) {
	g.state = BreakerOpen
	g.openedAt = now
	g.filled, g.next = 0, 0
	g.stateGauge.Set(BreakerOpen)
}

func (g *Guarded) acquire(ctx context.Context) bool {
	select {
	case g.sem <- struct{}{}:
		g.inflight.Inc()
		return true
	case <-ctx.Done():
		return false
	}
}

func (g *Guarded) release() {
	<-g.sem
	g.inflight.Dec()
}

// Submit implements Channel.
func (g *Guarded) Submit(ctx context.Context, o *engine.Order, a engine.Attempt) engine.EvSubmitted {
	if b, ok := g.Balance(); ok && g.cfg.LowBalance > 0 && b < g.cfg.LowBalance {
		return engine.EvSubmitted{Outcome: engine.OutcomeFailRoute, Detail: "not sent: channel " + g.cfg.Name + " balance below its threshold"}
	}
	if !g.allow() {
		return engine.EvSubmitted{Outcome: engine.OutcomeFailRoute, Detail: "not sent: channel " + g.cfg.Name + " circuit open"}
	}
	if !g.acquire(ctx) {
		g.mu.Lock()
		g.probing = false // a probe that never went out says nothing
		g.mu.Unlock()
		return engine.EvSubmitted{Outcome: engine.OutcomeUncertain, Detail: "engine stopping before submission"}
	}
	ev := g.inner.Submit(ctx, o, a)
	g.release()
	switch ev.Outcome {
	case engine.OutcomeFailRoute, engine.OutcomeUncertain:
		g.record(true)
	default:
		g.record(false)
	}
	return ev
}

type guardedQuerier struct{ *Guarded }

// Query implements Querier; queries are bounded by the same in-flight
// limit as submissions but do not feed the breaker.
func (g guardedQuerier) Query(ctx context.Context, o *engine.Order, a engine.Attempt) engine.EvResult {
	if !g.acquire(ctx) {
		return engine.EvResult{Outcome: engine.OutcomeNone}
	}
	defer g.release()
	return g.inner.(Querier).Query(ctx, o, a)
}

// Polls implements Querier.
func (g guardedQuerier) Polls() bool { return g.inner.(Querier).Polls() }
