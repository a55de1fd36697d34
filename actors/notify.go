package actors

import (
	"context"
	"time"

	"topup/engine"
)

// NotifyPolicy is how operator callbacks are delivered.
type NotifyPolicy struct {
	// Attempts before giving up (at least 3).
	Attempts int
	// Backoff[i] is the wait before attempt i+1; the last value repeats.
	Backoff []time.Duration
	// Timeout bounds one delivery.
	Timeout time.Duration
	// Workers deliver concurrently; the queue holds Workers*64 jobs.
	Workers int
}

type notifyJob struct {
	id    engine.ID
	url   string
	body  []byte
	final bool
}

// notifier delivers operator callbacks with a bounded queue and a fixed set
// of workers. A job that finds the queue full is retried a second later,
// never dropped. Each delivery's outcome goes back to the order as
// EvNotified, which persists it and asks for the next attempt if needed.
type notifier struct {
	rt      *Runtime
	policy  NotifyPolicy
	deliver func(ctx context.Context, url string, body []byte) error
	render  func(o *engine.Order) ([]byte, error)
	queue   chan notifyJob
	done    chan struct{}
}

func newNotifier(rt *Runtime, p NotifyPolicy, deliver func(context.Context, string, []byte) error,
	render func(*engine.Order) ([]byte, error)) *notifier {
	if p.Attempts < 1 {
		p.Attempts = 3
	}
	if len(p.Backoff) == 0 {
		p.Backoff = []time.Duration{0}
	}
	if p.Timeout <= 0 {
		p.Timeout = 10 * time.Second
	}
	if p.Workers <= 0 {
		p.Workers = 64
	}
	n := &notifier{rt: rt, policy: p, deliver: deliver, render: render,
		queue: make(chan notifyJob, p.Workers*64), done: make(chan struct{})}
	for i := 0; i < p.Workers; i++ {
		go n.work()
	}
	return n
}

// enqueue schedules the next delivery attempt of a terminal order.
func (n *notifier) enqueue(o engine.Order) {
	body, err := n.render(&o)
	if err != nil {
		n.rt.logger.Error("cannot render operator callback; giving up on it", "order", o.ID, "err", err)
		n.rt.Deliver(o.ID, engine.EvNotified{Err: err.Error(), Final: true})
		return
	}
	k := o.NotifyAttempts
	// The wait runs from the order's last change (the previous attempt), so
	// a restart keeps the schedule instead of starting it over.
	wait := n.policy.Backoff[min(k, len(n.policy.Backoff)-1)]
	delay := time.Duration(o.UpdatedAt)*time.Millisecond + wait - time.Duration(n.rt.now().UnixMilli())*time.Millisecond
	job := notifyJob{id: o.ID, url: o.NotifyURL, body: body, final: k+1 >= n.policy.Attempts}
	n.rt.metrics.notifyQueued.Inc()
	if delay <= 0 {
		n.push(job)
		return
	}
	time.AfterFunc(delay, func() { n.push(job) })
}

func (n *notifier) push(job notifyJob) {
	select {
	case <-n.done:
		return
	default:
	}
	select {
	case n.queue <- job:
	default:
		time.AfterFunc(time.Second, func() { n.push(job) })
	}
}

func (n *notifier) work() {
	for {
		select {
		case <-n.done:
			return
		case job := <-n.queue:
			n.rt.metrics.notifyQueued.Dec()
			ctx, cancel := context.WithTimeout(n.rt.ctx, n.policy.Timeout)
			err := n.deliver(ctx, job.url, job.body)
			cancel()
			if n.rt.ctx.Err() != nil {
				return // shutting down: the order stays pending and is retried after restart
			}
			ev := engine.EvNotified{Delivered: err == nil, Final: job.final}
			if err != nil {
				ev.Err = err.Error()
				n.rt.metrics.notifies.WithLabelValues("failed").Inc()
			} else {
				n.rt.metrics.notifies.WithLabelValues("delivered").Inc()
			}
			n.rt.Deliver(job.id, ev)
		}
	}
}

func (n *notifier) close() { close(n.done) }
