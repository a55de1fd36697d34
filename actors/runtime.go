// Package actors runs live orders: one protoactor-go actor per live order,
// behind a fixed set of router shards, each driving its order through
// engine.Step and carrying out the effects in the order Step gives them.
//
// Design note. An order actor exists only while its order has something to
// do; its whole state is in the order log, so an idle actor stops
// (ReceiveTimeout) and the next event for the order spawns a fresh one that
// loads the order again. A router shard owns the map of live actors of its
// orders; an idle actor asks its router to stop it (passivate), telling how
// many events it has handled. The router stops it only if it has forwarded
// exactly that many: then nothing is in flight to the old actor, whose last
// state change is already in the log, and the next event for the order
// spawns a fresh actor that reads that state. A passivation that crossed an
// event in flight is ignored; the actor asks again later. So two actors of
// one order never run at once.
package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"topup/engine"
	"topup/persistence"
)

// Channel is a supplier adapter (socket module, Juhe, Dingyin).
type Channel interface {
	// Submit sends attempt a of order o and returns the supplier's
	// synchronous answer. Network errors and time-outs are
	// OutcomeUncertain; an attempt that certainly never left is
	// OutcomeFailRoute. Safe for concurrent use; bounds its own concurrency.
	Submit(ctx context.Context, o *engine.Order, a engine.Attempt) engine.EvSubmitted
}

// Config tunes the runtime.
type Config struct {
	// Node is this node's id.
	Node uint16
	// Shards is the number of router actors (default 32).
	Shards int
	// RouterMailbox and OrderMailbox bound the mailboxes (defaults 65536, 64).
	RouterMailbox, OrderMailbox int
	// IdleTimeout stops an order actor that received nothing for this long.
	IdleTimeout time.Duration
	// Notify is the operator callback policy.
	Notify NotifyPolicy
	// Query is the policy for attempts without a definite result.
	Query QueryPolicy
	// MaxSubmitting bounds submissions waiting for or talking to a supplier
	// (default 100,000); Overloaded reports when it is reached, and the
	// acceptor then refuses new orders.
	MaxSubmitting int
	// Placement is the admission of accepted orders to placing.
	Placement PlacementPolicy
}

// ErrNotFound is returned for an event on an order that is not in the log.
var ErrNotFound = errors.New("actors: order not found")

// ErrStopped is returned after Close.
var ErrStopped = errors.New("actors: runtime stopped")

// Runtime owns the actor system and everything order actors need.
type Runtime struct {
	cfg      Config
	sys      *actor.ActorSystem
	shards   []*actor.PID
	log      *persistence.Log
	ledger   *persistence.Ledger
	channels map[string]Channel
	notifier *notifier
	logger   *slog.Logger
	metrics  *Metrics
	now      func() time.Time
	ctx      context.Context
	cancel   context.CancelFunc

	timers    timers
	placement *placement
	closeOnce sync.Once

	logFailed  atomic.Bool
	liveActors atomic.Int64
	submitting atomic.Int64
}

// Deps are the runtime's collaborators.
type Deps struct {
	Log      *persistence.Log
	Ledger   *persistence.Ledger
	Channels map[string]Channel
	// Deliver posts an operator callback; nil error only when the operator answered "ok".
	Deliver func(ctx context.Context, url string, body []byte) error
	// CallbackBody renders the operator callback of a terminal order.
	CallbackBody func(o *engine.Order) ([]byte, error)
	Logger       *slog.Logger
	Metrics      *Metrics
	// Now is the clock (default time.Now).
	Now func() time.Time
	// AcceptBusy reports that the operator API is busy accepting orders;
	// placing then yields to it (PlacementPolicy.BusyRate, MaxDefer). Nil: never.
	AcceptBusy func() bool
}

// New starts a runtime.
func New(cfg Config, d Deps) *Runtime {
	if cfg.Shards <= 0 {
		cfg.Shards = 32
	}
	if cfg.RouterMailbox <= 0 {
		cfg.RouterMailbox = 65536
	}
	if cfg.OrderMailbox <= 0 {
		cfg.OrderMailbox = 64
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.MaxSubmitting <= 0 {
		cfg.MaxSubmitting = 100_000
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil)
	}
	quiet := d.Logger.Handler()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(levelFloor{quiet, slog.LevelWarn})
	}))
	ctx, cancel := context.WithCancel(context.Background())
	rt := &Runtime{cfg: cfg, sys: sys, log: d.Log, ledger: d.Ledger, channels: d.Channels,
		logger: d.Logger, metrics: d.Metrics, now: d.Now, ctx: ctx, cancel: cancel}
	rt.notifier = newNotifier(rt, cfg.Notify, d.Deliver, d.CallbackBody)
	rt.timers.m = map[engine.ID]*time.Timer{}
	rt.placement = newPlacement(rt, cfg.Placement, d.AcceptBusy)
	rt.cfg.Query = cfg.Query.withDefaults()
	for i := 0; i < cfg.Shards; i++ {
		props := actor.PropsFromProducer(func() actor.Actor { return &router{rt: rt, children: map[engine.ID]*child{}} },
			actor.WithMailbox(actor.Bounded(cfg.RouterMailbox)))
		rt.shards = append(rt.shards, sys.Root.Spawn(props))
	}
	go rt.placement.run()
	return rt
}

// Healthy is false once an order log write failed: the node must stop
// taking orders rather than act on state that is not logged.
func (rt *Runtime) Healthy() bool { return !rt.logFailed.Load() }

// MarkLogFailed records a failed log write (also used by the accept path).
func (rt *Runtime) MarkLogFailed(err error) {
	if rt.logFailed.CompareAndSwap(false, true) {
		rt.logger.Error("order log write failed; not taking orders until restarted", "err", err)
		rt.metrics.logFailed.Set(1)
	}
}

// LiveActors is the number of order actors currently running.
func (rt *Runtime) LiveActors() int64 { return rt.liveActors.Load() }

// Submitting is the number of submissions in flight to suppliers.
func (rt *Runtime) Submitting() int64 { return rt.submitting.Load() }

// Overloaded reports whether submissions have reached MaxSubmitting or the
// placement backlog is full: new orders should be refused until suppliers
// catch up.
func (rt *Runtime) Overloaded() bool {
	return rt.submitting.Load() >= int64(rt.cfg.MaxSubmitting) || rt.placement.full()
}

// Backlog is the number of accepted orders waiting to be placed.
func (rt *Runtime) Backlog() int { return rt.placement.backlog() }

// Placing is the number of orders in their placing step.
func (rt *Runtime) Placing() int { return rt.placement.inPlacing() }

// Close stops the runtime. Orders waiting in the placement backlog stay
// accepted in the log. Orders already being placed and submissions talking
// to a supplier get up to drain to finish, so their answers are logged
// rather than left uncertain; then the actor system and the notifier stop.
func (rt *Runtime) Close() { rt.CloseWithin(10 * time.Second) }

// CloseWithin is Close with its own drain bound. Later calls do nothing.
func (rt *Runtime) CloseWithin(drain time.Duration) {
	rt.closeOnce.Do(func() { rt.closeWithin(drain) })
}

func (rt *Runtime) closeWithin(drain time.Duration) {
	// No new placing: queued orders stay "accepted" in the log for the next
	// start-up. Orders dispatched before the stop may be in their placing
	// step (logged "submitting", about to be sent): the drain lets them go
	// out too, or the next start-up would have to treat them as uncertain.
	rt.placement.close()
	deadline := time.Now().Add(drain)
	for (rt.submitting.Load() > 0 || rt.placement.inPlacing() > 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the last answers reach their actors
	rt.cancel()
	rt.timers.stopAll()
	rt.notifier.close()
	rt.sys.Shutdown()
}

// envelope carries one event to an order actor.
type envelope struct {
	id      engine.ID
	ev      engine.Event
	preload *engine.Order
	reply   chan reply // nil or buffered(1)
	// tick, when non-zero, is a timer for this attempt (query or hold) and ev is nil.
	tick int
	// admitted: dispatched by placement, which holds a placing slot for it.
	admitted bool
}

type reply struct {
	order engine.Order
	err   error
}

// passivate asks a router to stop an idle or finished order actor that has
// handled the given number of events.
type passivate struct {
	id      engine.ID
	pid     *actor.PID
	handled uint64
}

func (rt *Runtime) shard(id engine.ID) *actor.PID {
	h := uint64(id) * 0x9e3779b97f4a7c15
	return rt.shards[(h>>32)%uint64(len(rt.shards))]
}

// Deliver sends an event to an order, without waiting.
func (rt *Runtime) Deliver(id engine.ID, ev engine.Event) {
	if rt.ctx.Err() != nil {
		return
	}
	rt.sys.Root.Send(rt.shard(id), &envelope{id: id, ev: ev})
}

// Start queues a freshly accepted (and logged) order for placing.
func (rt *Runtime) Start(o engine.Order) {
	if rt.ctx.Err() != nil {
		return
	}
	if rt.placement.push(placeItem{id: o.ID, ev: engine.EvStart{}, preload: &o}) == pushFull {
		// Backlog full (the acceptor checks Overloaded first, so only a
		// race gets here): the order is paid for and logged, place it now.
		// (Closed: shutting down; the next start-up resumes it.)
		rt.sys.Root.Send(rt.shard(o.ID), &envelope{id: o.ID, ev: engine.EvStart{}, preload: &o})
	}
}

// Resume queues an accepted order found in the log at start-up.
func (rt *Runtime) Resume(id engine.ID) {
	if rt.ctx.Err() != nil {
		return
	}
	if rt.placement.push(placeItem{id: id, ev: engine.EvRecovered{}}) == pushFull {
		rt.Deliver(id, engine.EvRecovered{})
	}
}

// Ask sends an event to an order and waits until the resulting state is
// durable and its effects are started. It returns the order as it then is.
func (rt *Runtime) Ask(ctx context.Context, id engine.ID, ev engine.Event) (engine.Order, error) {
	if rt.ctx.Err() != nil {
		return engine.Order{}, ErrStopped
	}
	ch := make(chan reply, 1)
	rt.sys.Root.Send(rt.shard(id), &envelope{id: id, ev: ev, reply: ch})
	select {
	case r := <-ch:
		return r.order, r.err
	case <-ctx.Done():
		return engine.Order{}, fmt.Errorf("actors: waiting for order %s: %w", id, ctx.Err())
	}
}

// router owns the live order actors of one shard.
type router struct {
	rt       *Runtime
	children map[engine.ID]*child
}

// child is a live order actor and how many events were forwarded to it.
type child struct {
	pid  *actor.PID
	sent uint64
}

func (r *router) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *envelope:
		c, ok := r.children[m.id]
		if !ok {
			props := actor.PropsFromProducer(func() actor.Actor { return &orderActor{rt: r.rt, id: m.id} },
				actor.WithMailbox(actor.Bounded(r.rt.cfg.OrderMailbox)))
			c = &child{pid: ctx.Spawn(props)}
			r.children[m.id] = c
		}
		c.sent++
		ctx.Send(c.pid, m)
	case *passivate:
		if c, ok := r.children[m.id]; ok && c.pid.Equal(m.pid) && c.sent == m.handled {
			delete(r.children, m.id)
			ctx.Poison(m.pid)
		}
	}
}

// orderActor drives one order.
type orderActor struct {
	rt      *Runtime
	id      engine.ID
	order   engine.Order
	loaded  bool
	missing bool
	// handled counts the events received; asked is the count at the last
	// passivation request (0: none).
	handled, asked uint64
}

func (a *orderActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.rt.liveActors.Add(1)
		ctx.SetReceiveTimeout(a.rt.cfg.IdleTimeout)
	case *actor.Stopped:
		a.rt.liveActors.Add(-1)
	case *actor.ReceiveTimeout:
		a.passivate(ctx)
	case *envelope:
		a.handled++
		r, handed := a.handle(ctx, m)
		if m.admitted && !handed {
			a.rt.placement.release()
		}
		if m.reply != nil {
			m.reply <- r
		}
		if a.loaded && !a.missing {
			a.rt.schedule(&a.order)
			// An order waiting on a supplier needs no actor: its state is in
			// the log and its timer is with the runtime. Stopping it at once
			// keeps memory per pending order small.
			if s := a.order.State; s == engine.StatePlaced || s == engine.StateUncertain {
				a.passivate(ctx)
			}
		}
		if a.missing {
			a.passivate(ctx)
		}
	}
}

func (a *orderActor) passivate(ctx actor.Context) {
	if a.asked == a.handled && a.asked != 0 {
		return // already asked with nothing handled since
	}
	a.asked = a.handled
	ctx.Send(ctx.Parent(), &passivate{id: a.id, pid: ctx.Self(), handled: a.handled})
}

// handle applies one event. handed is true when a submission took over the
// envelope's placing slot (it releases it when the supplier has answered).
func (a *orderActor) handle(ctx actor.Context, m *envelope) (r reply, handed bool) {
	rt := a.rt
	if !a.loaded {
		switch {
		case m.preload != nil:
			a.order = *m.preload
		default:
			o, ok, err := rt.log.GetOrder(a.id)
			if err != nil {
				return reply{err: fmt.Errorf("actors: loading order %s: %w", a.id, err)}, handed
			}
			if !ok {
				a.missing = true
				return reply{err: fmt.Errorf("%w: %s", ErrNotFound, a.id)}, handed
			}
			a.order = o
		}
		a.loaded = true
	}
	ev := m.ev
	if _, ok := ev.(engine.EvStart); ok && a.order.State != engine.StateAccepted {
		return reply{order: a.order}, handed // placed already (a duplicate start)
	}
	if m.tick != 0 {
		var ok bool
		if ev, ok = rt.tick(&a.order, m.tick); !ok {
			return reply{order: a.order}, handed
		}
	}
	next, effects, err := engine.Step(a.order, ev, rt.now().UnixMilli())
	if err != nil {
		if errors.Is(err, engine.ErrIllegal) {
			rt.logger.Error("illegal transition", "order", a.id, "event", fmt.Sprintf("%T", ev), "err", err)
		}
		return reply{order: a.order, err: err}, handed
	}
	for _, e := range effects {
		switch e := e.(type) {
		case engine.PersistOrder:
			if err := rt.log.PutOrder(&next); err != nil {
				rt.MarkLogFailed(err)
				return reply{order: a.order, err: fmt.Errorf("actors: logging order %s: %w", a.id, err)}, handed
			}
			if next.State.Terminal() && !a.order.State.Terminal() {
				rt.metrics.terminal.WithLabelValues(strconv.Itoa(next.Status)).Inc()
			}
			a.order = next
		case engine.Submit:
			handed = rt.submit(next, e.Attempt, m.admitted)
		case engine.Refund:
			if err := rt.refund(next); err != nil {
				rt.logger.Warn("refund failed; retrying later", "order", a.id, "err", err)
				time.AfterFunc(5*time.Second, func() { rt.Deliver(a.id, engine.EvRecovered{}) })
				a.order = next
				return reply{order: next}, handed
			}
		case engine.Notify:
			rt.notifier.enqueue(next)
		case engine.Alert:
			rt.metrics.anomalies.Inc()
			rt.logger.Error("ALERT order result contradicts its status", "order", a.id, "uid", next.UID,
				"order_no", next.OrderNo, "msg", e.Msg)
		case engine.Done:
			a.passivate(ctx)
		}
	}
	a.order = next
	return reply{order: next}, handed
}

func (rt *Runtime) refund(o engine.Order) error {
	var err error
	for try, wait := 0, 50*time.Millisecond; try < 3; try, wait = try+1, wait*4 {
		ctx, cancel := context.WithTimeout(rt.ctx, 2*time.Second)
		_, err = rt.ledger.Refund(ctx, o.UID, o.ID, rt.now().UnixMilli())
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(wait)
	}
	return err
}

// submit sends an attempt in the background; its answer comes back as an
// event. The attempt is already durable in the log. With admitted, the
// submission takes over the caller's placing slot and releases it once the
// supplier answered; it reports whether it did.
func (rt *Runtime) submit(o engine.Order, n int, admitted bool) bool {
	att := o.Attempts[n-1]
	ch, ok := rt.channels[att.Route.Channel]
	if !ok {
		// Never sent: a definite failure of this route.
		rt.Deliver(o.ID, engine.EvSubmitted{Attempt: n, Outcome: engine.OutcomeFailRoute,
			Detail: "channel " + att.Route.Channel + " is not configured"})
		return false
	}
	rt.submitting.Add(1)
	go func() {
		defer rt.submitting.Add(-1)
		ev := ch.Submit(rt.ctx, &o, att)
		if admitted {
			rt.placement.release()
		}
		ev.Attempt = n
		rt.metrics.submits.WithLabelValues(att.Route.Channel, ev.Outcome.String()).Inc()
		rt.Deliver(o.ID, ev)
	}()
	return admitted
}

// levelFloor drops records below a level (protoactor logs a lot at info).
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
