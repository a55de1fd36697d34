package engine

import (
	"errors"
	"fmt"
)

// Errors returned by Step. ErrIllegal is an assertion: the runtime fed an
// event that cannot happen in the order's state (a bug, not bad input).
// ErrUnknownAttempt and ErrWrongChannel are bad input from a supplier.
var (
	ErrIllegal        = errors.New("engine: illegal transition")
	ErrUnknownAttempt = errors.New("engine: no such attempt")
	ErrWrongChannel   = errors.New("engine: result from a channel the attempt was not sent to")
)

// Step applies one event to an order and returns the new order and the
// effects the runtime must carry out, in order. It never mutates its input:
// the caller's copy stays valid if the effects fail (for instance when the
// log write fails, the caller keeps the old order).
//
// An event that changes nothing returns no effects. Every change returns
// PersistOrder first, and every outward action (Submit, Refund, Notify) comes
// after it.
func Step(o Order, ev Event, now int64) (Order, []Effect, error) {
	o = o.clone()
	switch ev := ev.(type) {
	case EvStart:
		if o.State != StateAccepted {
			return o, nil, fmt.Errorf("%w: start in state %s", ErrIllegal, o.State)
		}
		return o.route(now)
	case EvSubmitted:
		return o.outcome(ev.Attempt, "", ev.Outcome, ev.Detail, ev.Ref, 0, now)
	case EvResult:
		out, detail := ev.Outcome, ev.Detail
		if out == OutcomeSuccess && ev.Recharged > 0 && ev.Recharged < o.FaceValue {
			out, detail = OutcomePartial, fmt.Sprintf("%s; recharged %s of %s", detail, ev.Recharged.Yuan3(), o.FaceValue.Yuan3())
		}
		return o.outcome(ev.Attempt, ev.Channel, out, detail, ev.Ref, ev.Cost, now)
	case EvRecovered:
		return o.recovered(now)
	case EvNotified:
		return o.notified(ev, now)
	case EvResolve:
		return o.resolve(ev, now)
	case EvHold:
		if (o.State != StatePlaced && o.State != StateUncertain) || o.HeldAt != 0 || ev.Attempt != len(o.Attempts) {
			return o, nil, nil // settled, already held, or moved on
		}
		o.HeldAt = now
		o.UpdatedAt = now
		return o, []Effect{PersistOrder{}}, nil
	case EvDeadline:
		if o.State != StateAccepted {
			return o, nil, nil // a supplier has the order; the deadline no longer applies
		}
		return o.fail(StatusReturned, ReasonExpired, now)
	}
	return o, nil, fmt.Errorf("%w: unknown event %T", ErrIllegal, ev)
}

func (o Order) clone() Order {
	o.Attempts = append([]Attempt(nil), o.Attempts...)
	o.Anomalies = append([]string(nil), o.Anomalies...)
	return o
}

// route starts the next attempt, or fails the order when no route is left
// or the deadline has passed.
func (o Order) route(now int64) (Order, []Effect, error) {
	next := len(o.Attempts)
	if o.Deadline > 0 && now >= o.Deadline {
		return o.fail(StatusReturned, ReasonExpired, now)
	}
	if next >= len(o.Routes) || next >= MaxAttempts {
		return o.fail(StatusReturned, ReasonRoutesFailed, now)
	}
	o.Attempts = append(o.Attempts, Attempt{N: next + 1, Route: o.Routes[next], State: AttemptSending, SentAt: now})
	o.State = StateSubmitting
	o.UpdatedAt = now
	return o, []Effect{PersistOrder{}, Submit{Attempt: next + 1}}, nil
}

// fail makes the order terminal-failed: refund, then tell the operator.
func (o Order) fail(status int, reason string, now int64) (Order, []Effect, error) {
	o.State = StateFailed
	o.Status = status
	o.Reason = reason
	o.Refunded = true
	o.Notify = NotifyPending
	o.UpdatedAt = now
	return o, []Effect{PersistOrder{}, Refund{Amount: o.Charge}, Notify{}}, nil
}

func (o Order) succeed(now int64) (Order, []Effect, error) {
	o.State = StateSucceeded
	o.Status = StatusSuccess
	o.Notify = NotifyPending
	o.UpdatedAt = now
	return o, []Effect{PersistOrder{}, Notify{}}, nil
}

// anomaly records a result that contradicts the terminal status; the status
// does not change.
func (o Order) anomaly(msg string, now int64) (Order, []Effect, error) {
	o.Anomalies = append(o.Anomalies, msg)
	o.UpdatedAt = now
	return o, []Effect{PersistOrder{}, Alert{Msg: msg}}, nil
}

// outcome applies what a supplier said about attempt n.
func (o Order) outcome(n int, channel string, out Outcome, detail, ref string, cost Fen, now int64) (Order, []Effect, error) {
	if n < 1 || n > len(o.Attempts) {
		return o, nil, fmt.Errorf("%w: attempt %d of order %s (has %d)", ErrUnknownAttempt, n, o.ID, len(o.Attempts))
	}
	a := &o.Attempts[n-1]
	if channel != "" && channel != a.Route.Channel {
		return o, nil, fmt.Errorf("%w: attempt %d of order %s went to %q, result from %q", ErrWrongChannel, n, o.ID, a.Route.Channel, channel)
	}
	if ref != "" {
		a.Ref = ref
	}
	if cost != 0 {
		a.Cost = cost
	}
	if n < len(o.Attempts) {
		return o.lateOutcome(a, out, detail, now)
	}
	if o.State.Terminal() {
		return o.afterTerminal(a, out, detail, now)
	}
	switch out {
	case OutcomeAccepted:
		if a.State != AttemptSending {
			return o, nil, nil // "not processed yet" from a supplier that already has it
		}
		a.State = AttemptPlaced
		o.State = StatePlaced
		o.UpdatedAt = now
		return o, []Effect{PersistOrder{}}, nil
	case OutcomeUncertain, OutcomePartial:
		if a.State == AttemptUncertain && a.Detail == detail {
			return o, nil, nil
		}
		a.State = AttemptUncertain
		if out == OutcomePartial {
			detail = "partial: " + detail
		}
		a.Detail = detail
		o.State = StateUncertain
		o.UpdatedAt = now
		return o, []Effect{PersistOrder{}}, nil
	case OutcomeSuccess:
		a.State = AttemptSucceeded
		a.Detail = detail
		a.DoneAt = now
		return o.succeed(now)
	case OutcomeFailTarget:
		a.State = AttemptFailed
		a.Detail = detail
		a.DoneAt = now
		return o.fail(StatusFailed, ReasonTarget, now)
	case OutcomeFailRoute:
		a.State = AttemptFailed
		a.Detail = detail
		a.DoneAt = now
		return o.route(now)
	}
	return o, nil, fmt.Errorf("%w: outcome %s", ErrIllegal, out)
}

// lateOutcome handles a result for an attempt that is no longer current: it
// definitely failed before the order moved on. A failure repeats what is
// known; anything else is recorded and raised, and changes nothing else.
func (o Order) lateOutcome(a *Attempt, out Outcome, detail string, now int64) (Order, []Effect, error) {
	switch out {
	case OutcomeFailRoute, OutcomeFailTarget, OutcomeAccepted:
		return o, nil, nil
	case OutcomeSuccess, OutcomePartial:
		return o.anomaly(fmt.Sprintf("late %s for failed attempt %d (%s): %s", out, a.N, a.Route.Channel, detail), now)
	}
	o.Anomalies = append(o.Anomalies, fmt.Sprintf("late %s for failed attempt %d (%s): %s", out, a.N, a.Route.Channel, detail))
	o.UpdatedAt = now
	return o, []Effect{PersistOrder{}}, nil
}

// afterTerminal handles a result for the current attempt of a terminal order.
func (o Order) afterTerminal(a *Attempt, out Outcome, detail string, now int64) (Order, []Effect, error) {
	switch {
	case out == OutcomeSuccess && o.State == StateSucceeded,
		(out == OutcomeFailRoute || out == OutcomeFailTarget) && o.State == StateFailed,
		out == OutcomeAccepted, out == OutcomeUncertain:
		return o, nil, nil // a repeat, or no news
	}
	return o.anomaly(fmt.Sprintf("%s for attempt %d (%s) after terminal %s (status %d): %s",
		out, a.N, a.Route.Channel, o.State, o.Status, detail), now)
}

// recovered decides what a live order found in the log at start-up needs.
func (o Order) recovered(now int64) (Order, []Effect, error) {
	switch o.State {
	case StateAccepted:
		return o.route(now)
	case StateSubmitting:
		// The attempt was logged but we cannot know whether it reached the
		// supplier: it is uncertain, never resent.
		a := o.Current()
		a.State = AttemptUncertain
		a.Detail = "engine restarted while submitting"
		o.State = StateUncertain
		o.UpdatedAt = now
		return o, []Effect{PersistOrder{}}, nil
	case StatePlaced, StateUncertain:
		return o, nil, nil
	case StateSucceeded:
		if o.Notify == NotifyPending {
			return o, []Effect{Notify{}}, nil
		}
		return o, []Effect{Done{}}, nil
	case StateFailed:
		if o.Notify == NotifyPending {
			return o, []Effect{Refund{Amount: o.Charge}, Notify{}}, nil
		}
		return o, []Effect{Done{}}, nil
	}
	return o, nil, fmt.Errorf("%w: recover in state %s", ErrIllegal, o.State)
}

func (o Order) notified(ev EvNotified, now int64) (Order, []Effect, error) {
	if !o.State.Terminal() {
		return o, nil, fmt.Errorf("%w: notified in state %s", ErrIllegal, o.State)
	}
	if o.Notify != NotifyPending {
		return o, nil, nil
	}
	o.NotifyAttempts++
	o.UpdatedAt = now
	switch {
	case ev.Delivered:
		o.Notify = NotifyDelivered
		o.NotifyError = ""
		return o, []Effect{PersistOrder{}, Done{}}, nil
	case ev.Final:
		o.Notify = NotifyGaveUp
		o.NotifyError = ev.Err
		return o, []Effect{PersistOrder{}, Done{}}, nil
	}
	o.NotifyError = ev.Err
	return o, []Effect{PersistOrder{}, Notify{}}, nil // keep trying
}

// resolve applies a person's decision on an order whose outcome is unknown.
func (o Order) resolve(ev EvResolve, now int64) (Order, []Effect, error) {
	if o.State != StateUncertain && o.State != StatePlaced {
		return o, nil, fmt.Errorf("%w: resolve in state %s", ErrIllegal, o.State)
	}
	a := o.Current()
	a.DoneAt = now
	o.Resolution = fmt.Sprintf("by %s: %s", ev.By, ev.Why)
	if ev.Success {
		a.State = AttemptSucceeded
		return o.succeed(now)
	}
	a.State = AttemptFailed
	return o.fail(StatusReturned, ReasonManual, now)
}
