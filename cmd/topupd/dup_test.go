package main_test

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"topup/bench/opersim"
	"topup/bench/sockmodsim"
	"topup/engine"
)

// TestDuplicateStorm sends every order_no 1–5 times at once, then replays
// every order later, also after its Redis idempotency key is deleted: one
// order, one charge, and every reply for an order_no identical.
func TestDuplicateStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	c := newCluster(t, sockmodsim.Mix{Success: 1})
	const funded = 10_000_000
	c.fund(opUID, funded, "f-dup")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	rng := rand.New(rand.NewSource(1))
	const n = 300
	orders := make([]opersim.Order, n)
	copies := make([]int, n)
	for i := range orders {
		orders[i] = opersim.Order{OrderNo: fmt.Sprintf("DS%04d", i), OrderType: 1, MobileType: 1, Phone: phoneFor(50000 + i), FaceValue: 1000, NotifyURL: c.recv.URL()}
		copies[i] = 1 + rng.Intn(5)
	}
	replies := make([][]string, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	sent := 0
	for i := range orders {
		for k := 0; k < copies[i]; k++ {
			sent++
			wg.Add(1)
			sem <- struct{}{}
			go func(i, k int) {
				defer wg.Done()
				defer func() { <-sem }()
				a, err := c.op.PlaceOrder(ctx, orders[i], k%2 == 1)
				if err != nil {
					t.Errorf("order %d copy %d: %v", i, k, err)
					return
				}
				mu.Lock()
				replies[i] = append(replies[i], string(a.Raw))
				mu.Unlock()
			}(i, k)
		}
	}
	wg.Wait()
	check := func(when string) {
		for i := range orders {
			for _, r := range replies[i] {
				if r != replies[i][0] || r != `{"code":200,"count":1,"msg":"Success"}` {
					t.Fatalf("%s: order %s replies differ: %q", when, orders[i].OrderNo, replies[i])
				}
			}
		}
	}
	check("storm")
	t.Logf("storm done after %v", time.Since(start))
	waitFor(t, time.Minute, "callbacks", func() bool { return c.recv.Orders() >= n })
	if b := c.balance(opUID); b != funded-n*985 {
		t.Fatalf("balance %d after %d requests for %d orders, want %d", b, sent, n, funded-n*985)
	}

	// Replay later, half of them after their Redis idempotency key is gone.
	rdb := redis.NewClient(&redis.Options{Addr: c.redis.Addr()})
	defer rdb.Close()
	for i := 0; i < n; i += 2 {
		if err := rdb.Del(ctx, "idem:{"+opUID+"}:"+orders[i].OrderNo).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range orders {
		a, err := c.op.PlaceOrder(ctx, orders[i], false)
		if err != nil {
			t.Fatal(err)
		}
		replies[i] = append(replies[i], string(a.Raw))
	}
	check("replay")
	t.Logf("replay done after %v", time.Since(start))
	time.Sleep(500 * time.Millisecond)
	if b := c.balance(opUID); b != funded-n*985 {
		t.Fatalf("balance %d after replays, want %d", b, funded-n*985)
	}
	for i := range orders {
		if cbs := c.recv.Callbacks(opUID, orders[i].OrderNo); len(cbs) != 1 || cbs[0].Status != engine.StatusSuccess {
			t.Fatalf("order %s: callbacks %+v", orders[i].OrderNo, cbs)
		}
	}
	t.Logf("%d requests for %d orders: one charge each", sent, n)
}
