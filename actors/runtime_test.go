package actors

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"topup/engine"
	"topup/persistence"
)

// countingChannel acks every submission and counts them per attempt.
type countingChannel struct {
	mu    sync.Mutex
	count map[int64]int
	delay time.Duration // before answering
}

func (c *countingChannel) Submit(_ context.Context, o *engine.Order, a engine.Attempt) engine.EvSubmitted {
	time.Sleep(c.delay)
	c.mu.Lock()
	c.count[o.ID.SupplierNo(a.N)]++
	c.mu.Unlock()
	return engine.EvSubmitted{Outcome: engine.OutcomeAccepted}
}

// TestNoTwoActorsPerOrder floods orders that stop their actor at once (they
// wait on a supplier) with duplicate results from many goroutines. If a new
// actor could start before the old one's last change was logged, a stale
// copy would route an order again and submit an attempt twice.
func TestNoTwoActorsPerOrder(t *testing.T) {
	log, err := persistence.OpenLog(t.TempDir(), 1, persistence.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	ch := &countingChannel{count: map[int64]int{}}
	var notified atomic.Int64
	rt := New(Config{Node: 1, Shards: 2, IdleTimeout: time.Second}, Deps{Log: log,
		Channels:     map[string]Channel{"a": ch, "b": ch, "c": ch},
		Deliver:      func(context.Context, string, []byte) error { notified.Add(1); return nil },
		CallbackBody: func(*engine.Order) ([]byte, error) { return []byte("x"), nil }})
	defer rt.Close()
	ids := acceptOrders(t, rt, log, 40, "a", "b", "c")
	placed := func(n int) bool {
		for _, id := range ids {
			o, _, _ := log.GetOrder(id)
			if len(o.Attempts) != n || o.State != engine.StatePlaced {
				return false
			}
		}
		return true
	}
	// Copies of "attempt 1 failed" and "attempt 2 failed" per order from 20
	// goroutines, spread over the moments the orders are placed (and their
	// actors stop) at attempts 1 and 2.
	{
		var wg sync.WaitGroup
		for g := 0; g < 20; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for k := 0; k < 20; k++ {
					for _, id := range ids {
						a := 1 + (g+k)%2
						rt.Deliver(id, engine.EvResult{Attempt: a, Channel: []string{"", "a", "b"}[a], Outcome: engine.OutcomeFailRoute})
					}
					time.Sleep(time.Duration(g%5) * 100 * time.Microsecond)
				}
			}(g)
		}
		wg.Wait()
		deadline := time.Now().Add(10 * time.Second)
		for !placed(3) {
			if time.Now().After(deadline) {
				o, _, _ := log.GetOrder(ids[0])
				t.Fatalf("orders not at attempt 3: %+v", o)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, id := range ids {
		for n := 1; n <= 3; n++ {
			if k := ch.count[id.SupplierNo(n)]; k != 1 {
				t.Fatalf("order %s attempt %d submitted %d times", id, n, k)
			}
		}
		if k := ch.count[id.SupplierNo(4)]; k != 0 {
			t.Fatalf("order %s has a 4th attempt", id)
		}
	}
}
