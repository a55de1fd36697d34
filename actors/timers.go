package actors

import (
	"context"
	"sync"
	"time"

	"topup/engine"
)

// QueryPolicy is how attempts without a definite result are followed up.
type QueryPolicy struct {
	// Schedule is the wait before each status query, counted from the
	// previous one (the first from the submission); the last repeats.
	Schedule []time.Duration
	// HoldAfter is how long after its submission an attempt without a
	// definite result is held for a person's decision (no more queries).
	HoldAfter time.Duration
}

func (p QueryPolicy) withDefaults() QueryPolicy {
	if len(p.Schedule) == 0 {
		p.Schedule = []time.Duration{5 * time.Second, 15 * time.Second, time.Minute, 5 * time.Minute}
	}
	if p.HoldAfter <= 0 {
		p.HoldAfter = 30 * time.Minute
	}
	return p
}

// nextQueryAt is the first point of the schedule, counted from sent, that
// lies strictly after now (all unix ms).
func (p QueryPolicy) nextQueryAt(sent, now int64) int64 {
	t := sent
	for i := 0; ; i++ {
		step := p.Schedule[min(i, len(p.Schedule)-1)].Milliseconds()
		if step <= 0 {
			step = 1000
		}
		t += step
		if t > now {
			return t
		}
		if i >= len(p.Schedule)-1 { // the last step repeats: jump close to now
			t += (now - t) / step * step
		}
	}
}

// timers holds at most one timer per order: the next query or hold of its
// current attempt. Its size is bounded by the number of orders awaiting a
// supplier.
type timers struct {
	mu      sync.Mutex
	m       map[engine.ID]*time.Timer
	stopped bool
}

func (t *timers) set(id engine.ID, d time.Duration, f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	if old, ok := t.m[id]; ok {
		old.Stop()
	}
	t.m[id] = time.AfterFunc(d, func() {
		t.mu.Lock()
		delete(t.m, id)
		t.mu.Unlock()
		f()
	})
}

func (t *timers) cancel(id engine.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.m[id]; ok {
		old.Stop()
		delete(t.m, id)
	}
}

func (t *timers) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

func (t *timers) stopAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	for id, tm := range t.m {
		tm.Stop()
		delete(t.m, id)
	}
}

// Pending is the number of orders with a query or hold timer.
func (rt *Runtime) Pending() int { return rt.timers.len() }

// wantsQuery reports whether the order's current attempt is to be queried.
func (rt *Runtime) querier(o *engine.Order) (Querier, bool) {
	a := o.Current()
	if a == nil {
		return nil, false
	}
	q, ok := rt.channels[a.Route.Channel].(Querier)
	if !ok || (o.State != engine.StateUncertain && !q.Polls()) {
		return nil, false
	}
	return q, true
}

// Schedule sets the order's next query or hold timer, or clears it when the
// order no longer waits on a supplier. It is called after every event, and
// at start-up for orders that wait without a live actor.
func (rt *Runtime) Schedule(o *engine.Order) { rt.schedule(o) }

func (rt *Runtime) schedule(o *engine.Order) {
	if (o.State != engine.StatePlaced && o.State != engine.StateUncertain) || o.HeldAt != 0 {
		rt.timers.cancel(o.ID)
		return
	}
	a := o.Current()
	now := rt.now().UnixMilli()
	due := a.SentAt + rt.cfg.Query.HoldAfter.Milliseconds()
	if _, ok := rt.querier(o); ok {
		due = min(due, rt.cfg.Query.nextQueryAt(a.SentAt, now))
	}
	id, n := o.ID, a.N
	rt.timers.set(id, time.Duration(max(due-now, 0))*time.Millisecond, func() {
		if rt.ctx.Err() == nil {
			rt.sys.Root.Send(rt.shard(id), &envelope{id: id, tick: n})
		}
	})
}

// tick handles a timer of attempt n: the hold, if its window has passed
// (returned as the event to step), else a status query, run in the
// background with its answer delivered as EvResult.
func (rt *Runtime) tick(o *engine.Order, n int) (engine.Event, bool) {
	a := o.Current()
	if a == nil || a.N != n || (o.State != engine.StatePlaced && o.State != engine.StateUncertain) || o.HeldAt != 0 {
		return nil, false
	}
	if rt.now().UnixMilli() >= a.SentAt+rt.cfg.Query.HoldAfter.Milliseconds() {
		rt.logger.Warn("order held for a decision: no definite result within the hold window", "order", o.ID,
			"uid", o.UID, "order_no", o.OrderNo, "channel", a.Route.Channel, "state", o.State.String())
		return engine.EvHold{Attempt: n}, true
	}
	q, ok := rt.querier(o)
	if !ok {
		return nil, false
	}
	order, att := *o, *a
	go func() {
		ctx, cancel := context.WithTimeout(rt.ctx, time.Minute)
		defer cancel()
		ev := q.Query(ctx, &order, att)
		rt.metrics.queries.WithLabelValues(att.Route.Channel, ev.Outcome.String()).Inc()
		if ev.Outcome == engine.OutcomeNone {
			ev.Outcome = engine.OutcomeAccepted // no news
		}
		ev.Attempt, ev.Channel = n, att.Route.Channel
		rt.Deliver(order.ID, ev)
	}()
	return nil, false
}
