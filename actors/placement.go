package actors

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"topup/engine"
)

// Placement admission.
//
// An accepted order is durable (charged and logged) before its 200, so
// placing it with a supplier can wait; answering the operator cannot. New
// orders therefore go through a bounded backlog and a dispatcher that
// decides when an order starts placing: at once (up to MaxPlacing in their
// placing step) while the operator API is quiet, at BusyRate per second
// while it is busy accepting. A burst is
// accepted at the speed of the accept path and placed right after it, at
// the suppliers' pace; a sustained overload fills the backlog until the
// acceptor refuses new orders as "overloaded" (Overloaded).
//
// "Placing" is the stretch from the dispatch of an order's start until its
// first submission has its synchronous answer (or, if nothing was
// submitted, until the start step is done): the part of an order's life
// that costs the engine CPU while the operator is still pushing.

// PlacementPolicy tunes admission.
type PlacementPolicy struct {
	// MaxBacklog bounds accepted orders waiting to be placed (default
	// 1,000,000; 40 bytes each beyond the first PreloadLimit).
	MaxBacklog int
	// MaxPlacing bounds orders in their placing step at once (default 256).
	MaxPlacing int
	// BusyRate bounds how many orders per second start placing while the
	// operator API is busy (default 500).
	BusyRate float64
	// MaxDefer is the longest an order is held back while the operator API
	// is busy; older orders start placing regardless (default 30s).
	MaxDefer time.Duration
	// PreloadLimit is how many queued orders keep their record in memory;
	// beyond it the actor reads the order from the log (default 65,536).
	PreloadLimit int
}

func (p PlacementPolicy) withDefaults() PlacementPolicy {
	if p.MaxBacklog <= 0 {
		p.MaxBacklog = 1_000_000
	}
	if p.MaxPlacing <= 0 {
		p.MaxPlacing = 256
	}
	if p.BusyRate <= 0 {
		p.BusyRate = 500
	}
	if p.MaxDefer <= 0 {
		p.MaxDefer = 30 * time.Second
	}
	if p.PreloadLimit <= 0 {
		p.PreloadLimit = 65536
	}
	return p
}

// shrinkAbove is the backlog capacity kept once the backlog is empty.
const shrinkAbove = 4096

// placeItem is an order waiting to be placed.
type placeItem struct {
	id      engine.ID
	ev      engine.Event // EvStart or EvRecovered
	preload *engine.Order
	queued  int64 // unix nanoseconds
}

// placement is the backlog and its dispatcher.
type placement struct {
	rt   *Runtime
	p    PlacementPolicy
	busy func() bool

	mu      sync.Mutex
	items   []placeItem // FIFO: items[head:]
	head    int
	placing int
	closed  bool

	wake chan struct{} // an item arrived or a placing slot freed
}

func newPlacement(rt *Runtime, p PlacementPolicy, busy func() bool) *placement {
	if busy == nil {
		busy = func() bool { return false }
	}
	return &placement{rt: rt, p: p.withDefaults(), busy: busy, wake: make(chan struct{}, 1)}
}

func (q *placement) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pushResult says what push did.
type pushResult int

const (
	pushQueued pushResult = iota
	pushFull              // the backlog is at MaxBacklog
	pushClosed            // the runtime is shutting down
)

// push queues an order.
func (q *placement) push(it placeItem) pushResult {
	q.mu.Lock()
	n := len(q.items) - q.head
	if q.closed {
		q.mu.Unlock()
		return pushClosed
	}
	if n >= q.p.MaxBacklog {
		q.mu.Unlock()
		return pushFull
	}
	if n >= q.p.PreloadLimit {
		it.preload = nil
	}
	it.queued = time.Now().UnixNano()
	q.items = append(q.items, it)
	q.mu.Unlock()
	q.signal()
	return pushQueued
}

// close stops dispatching: orders still queued stay "accepted" in the log
// and are resumed by the next start-up.
func (q *placement) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

// backlog is the number of orders waiting to be placed.
func (q *placement) backlog() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

func (q *placement) full() bool {
	return q.backlog() >= q.p.MaxBacklog
}

// inPlacing is the number of orders in their placing step.
func (q *placement) inPlacing() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.placing
}

// release ends one order's placing step.
func (q *placement) release() {
	q.mu.Lock()
	q.placing--
	q.mu.Unlock()
	q.signal()
}

// next takes the next order if a placing slot is free and, when
// queuedBefore is non-zero, the order was queued before it; ok is false when
// there is nothing to do now.
func (q *placement) next(queuedBefore int64) (placeItem, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.head == len(q.items) || q.placing >= q.p.MaxPlacing {
		return placeItem{}, false
	}
	if queuedBefore != 0 && q.items[q.head].queued >= queuedBefore {
		return placeItem{}, false
	}
	it := q.items[q.head]
	q.items[q.head] = placeItem{}
	q.head++
	if q.head == len(q.items) {
		if cap(q.items) > shrinkAbove {
			q.items = nil // a burst's backlog is not kept for the next one
		} else {
			q.items = q.items[:0]
		}
		q.head = 0
	} else if q.head > 4096 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	q.placing++
	return it, true
}

// run dispatches queued orders until the runtime stops. While the operator
// API is busy, orders start placing at most BusyRate per second, plus those
// held back for MaxDefer; the busy signal is polled every millisecond while
// orders wait.
func (q *placement) run() {
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	lim := rate.NewLimiter(rate.Limit(q.p.BusyRate), max(1, int(q.p.BusyRate/100)))
	for {
		var before int64 // 0: any order
		busy := q.busy()
		if busy && lim.Tokens() < 1 {
			before = time.Now().Add(-q.p.MaxDefer).UnixNano()
		}
		if it, ok := q.next(before); ok {
			if busy && before == 0 {
				lim.Allow()
			}
			q.rt.sys.Root.Send(q.rt.shard(it.id), &envelope{id: it.id, ev: it.ev, preload: it.preload, admitted: true})
			continue
		}
		waiting := q.backlog() > 0
		select {
		case <-q.rt.ctx.Done():
			q.close()
			return
		case <-q.wake:
		case <-poll.C:
			if !waiting {
				// Nothing queued: sleep until something arrives.
				select {
				case <-q.rt.ctx.Done():
				case <-q.wake:
				}
			}
		}
	}
}
