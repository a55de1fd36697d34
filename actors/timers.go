package actors

import (
	"context"
	"sync"
	"time"

	"topup/engine"
	"topup/persistence"
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

// querier returns the query side of the channel an order's current attempt
// went to, if that attempt is to be queried in its state.
func (rt *Runtime) querier(state engine.State, channel string) (Querier, bool) {
	q, ok := rt.channels[channel].(Querier)
	if !ok || (state != engine.StateUncertain && !q.Polls()) {
		return nil, false
	}
	return q, true
}

// schedule sets the order's next query or hold timer, or clears it when the
// order no longer waits on a supplier. It is called after every event.
func (rt *Runtime) schedule(o *engine.Order) {
	var n int
	var sent int64
	var ch string
	if a := o.Current(); a != nil {
		n, sent, ch = a.N, a.SentAt, a.Route.Channel
	}
	rt.scheduleWaiting(o.ID, o.State, o.HeldAt, n, sent, ch)
}

// ScheduleWaiting is Schedule from a log summary: start-up sets the timers
// of orders waiting on a supplier without loading them.
func (rt *Runtime) ScheduleWaiting(s persistence.LiveSummary) {
	rt.scheduleWaiting(s.ID, s.State, s.HeldAt, s.Attempt, s.SentAt, s.Channel)
}

func (rt *Runtime) scheduleWaiting(id engine.ID, state engine.State, heldAt int64, n int, sent int64, channel string) {
	if (state != engine.StatePlaced && state != engine.StateUncertain) || heldAt != 0 || n == 0 {
		rt.timers.cancel(id)
		return
	}
	now := rt.now().UnixMilli()
	due := sent + rt.cfg.Query.HoldAfter.Milliseconds()
	if _, ok := rt.querier(state, channel); ok {
		due = min(due, rt.cfg.Query.nextQueryAt(sent, now))
	}
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
	q, ok := rt.querier(o.State, a.Route.Channel)
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
