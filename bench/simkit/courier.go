package simkit

import (
	"sync"
	"sync/atomic"
	"time"
)

// A Callback is one order's callback messages, which a Courier delivers in
// turn, each resent until it is delivered or given up.
type Callback interface {
	// Push makes one attempt at delivering the current message.
	Push() error
	// Next is told whether the current message was delivered (false: given
	// up after every resend) and says whether another message follows, and
	// how long after.
	Next(delivered bool) (delay time.Duration, more bool)
}

// CourierConfig configures a Courier.
type CourierConfig struct {
	// Senders is the number of goroutines delivering callbacks.
	Senders int
	// MaxPending bounds the callbacks admitted and not yet done.
	MaxPending int
	// Retries is how many times a message is resent after a failed attempt.
	Retries int
	// RetryInterval spaces the resends.
	RetryInterval time.Duration
}

// Counts are a courier's counters. Each simulator's Stats embeds them, so
// the field names and JSON keys are those of its result callbacks.
type Counts struct {
	// CallbacksSent counts delivery attempts, resends included.
	CallbacksSent int `json:"callbacks_sent"`
	// CallbacksOK counts attempts the engine acknowledged (as the
	// simulator's deliver function judges its answer).
	CallbacksOK int `json:"callbacks_ok"`
	// CallbacksFailed counts the other attempts.
	CallbacksFailed int `json:"callbacks_failed"`
	// CallbacksAbandoned counts callbacks given up after every resend.
	CallbacksAbandoned int `json:"callbacks_abandoned"`
	// CallbacksDropped counts callbacks never sent because MaxPending were
	// pending.
	CallbacksDropped int `json:"callbacks_dropped"`
	// Pending is the number of callbacks admitted and not yet done.
	Pending int `json:"pending"`
}

// Courier delivers Callbacks with a bounded number of goroutines and
// pending callbacks, resending failed messages.
type Courier struct {
	cfg  CourierConfig
	done <-chan struct{}
	jobs chan *delivery
	wg   sync.WaitGroup

	sent, ok, failed, abandoned, dropped, pending atomic.Int64
}

// delivery is a callback in a courier's hands, with the attempts made at its
// current message.
type delivery struct {
	cb      Callback
	attempt int
}

// StartCourier starts cfg.Senders goroutines that deliver callbacks until
// done is closed. Callbacks not yet sent then are abandoned silently.
func StartCourier(cfg CourierConfig, done <-chan struct{}) *Courier {
	c := &Courier{cfg: cfg, done: done, jobs: make(chan *delivery, cfg.Senders)}
	c.wg.Add(cfg.Senders)
	for range cfg.Senders {
		go c.sender()
	}
	return c
}

// Wait waits until the senders have returned, which they do once done is
// closed.
func (c *Courier) Wait() { c.wg.Wait() }

// Counts returns a snapshot of the counters.
func (c *Courier) Counts() Counts {
	return Counts{
		CallbacksSent:      int(c.sent.Load()),
		CallbacksOK:        int(c.ok.Load()),
		CallbacksFailed:    int(c.failed.Load()),
		CallbacksAbandoned: int(c.abandoned.Load()),
		CallbacksDropped:   int(c.dropped.Load()),
		Pending:            int(c.pending.Load()),
	}
}

// Admit counts a callback as pending before it is sent or delivered. When
// MaxPending are pending already it counts the callback dropped instead and
// reports false.
func (c *Courier) Admit() bool {
	if c.pending.Add(1) > int64(c.cfg.MaxPending) {
		c.pending.Add(-1)
		c.dropped.Add(1)
		return false
	}
	return true
}

// Discard forgets an admitted callback that will not be sent after all.
func (c *Courier) Discard() { c.pending.Add(-1) }

// Send hands an admitted callback to a sender once delay has passed.
func (c *Courier) Send(delay time.Duration, cb Callback) {
	c.after(delay, &delivery{cb: cb})
}

// Deliver makes the first attempt at an admitted callback now, on the
// caller's goroutine; resends and further messages go through the senders.
func (c *Courier) Deliver(cb Callback) { c.deliver(&delivery{cb: cb}) }

// after hands d to a sender once delay has passed.
func (c *Courier) after(delay time.Duration, d *delivery) {
	time.AfterFunc(max(delay, 0), func() {
		select {
		case c.jobs <- d:
		case <-c.done:
			c.pending.Add(-1)
		}
	})
}

func (c *Courier) sender() {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case d := <-c.jobs:
			c.deliver(d)
		}
	}
}

// deliver makes one attempt at d's current message and schedules what comes
// next: a resend, the next message, or nothing.
func (c *Courier) deliver(d *delivery) {
	c.sent.Add(1)
	err := d.cb.Push()
	if err == nil {
		c.ok.Add(1)
	} else {
		c.failed.Add(1)
		if d.attempt < c.cfg.Retries {
			d.attempt++
			c.after(c.cfg.RetryInterval, d)
			return
		}
		c.abandoned.Add(1)
	}
	d.attempt = 0
	if delay, more := d.cb.Next(err == nil); more {
		c.after(delay, d)
		return
	}
	c.pending.Add(-1)
}
