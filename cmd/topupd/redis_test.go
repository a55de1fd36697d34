package main_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"topup/bench/opersim"
	"topup/bench/sockmodsim"
	"topup/engine"
)

// TestRedisLossAndReconcile empties Redis under a running engine: orders of
// the merchant are refused (balance untrusted, nothing charged), reconcile
// reports and fixes the ledger from the order log and funding records, and
// afterwards balances are exact and old order numbers are still duplicates.
func TestRedisLossAndReconcile(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	c := newCluster(t, sockmodsim.Mix{Success: 80, FailTarget: 20})
	c.fund(opUID, 1_000_000, "f-1")
	ctx := context.Background()
	var orders []opersim.Order
	for i := 0; i < 100; i++ {
		o := opersim.Order{OrderNo: fmt.Sprintf("RL%03d", i), OrderType: 1, MobileType: 1, Phone: phoneFor(30000 + i), FaceValue: 1000, NotifyURL: c.recv.URL()}
		orders = append(orders, o)
		if a, err := c.op.PlaceOrder(ctx, o, false); err != nil || a.Code != 200 {
			t.Fatalf("order %d: %+v %v", i, a, err)
		}
	}
	waitFor(t, time.Minute, "callbacks", func() bool {
		for _, o := range orders {
			if len(c.recv.Callbacks(opUID, o.OrderNo)) == 0 {
				return false
			}
		}
		return true
	})
	var charged int64
	for _, o := range orders {
		if c.recv.Callbacks(opUID, o.OrderNo)[0].Status == engine.StatusSuccess {
			charged += 985
		}
	}
	want := 1_000_000 - charged
	if b := c.balance(opUID); b != want {
		t.Fatalf("balance %d, want %d", b, want)
	}

	rdb := redis.NewClient(&redis.Options{Addr: c.redis.Addr()})
	defer rdb.Close()
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	a, err := c.op.PlaceOrder(ctx, opersim.Order{OrderNo: "AFTER-LOSS", OrderType: 1, MobileType: 1, Phone: phoneFor(39999), FaceValue: 1000, NotifyURL: c.recv.URL()}, false)
	if err != nil || a.Code != 400 || a.Reason != "balance_untrusted" {
		t.Fatalf("order with a lost balance: %+v %v", a, err)
	}
	if _, ok := c.order(opUID, "AFTER-LOSS"); ok {
		t.Fatal("an order was created with an untrusted balance")
	}

	var rep struct {
		Differences int `json:"differences"`
		Fixed       int `json:"fixed"`
		Merchants   []struct {
			UID      string `json:"uid"`
			Expected int64  `json:"expected"`
		} `json:"merchants"`
	}
	if st := c.adminDo("GET", "/admin/reconcile", nil, &rep); st != 200 || rep.Differences == 0 || rep.Fixed != 0 {
		t.Fatalf("reconcile report: %d %+v", st, rep)
	}
	if st := c.adminDo("POST", "/admin/reconcile?fix=1", nil, &rep); st != 200 || rep.Fixed != rep.Differences {
		t.Fatalf("reconcile fix: %d %+v", st, rep)
	}
	if b := c.balance(opUID); b != want {
		t.Fatalf("balance after reconcile %d, want %d", b, want)
	}
	if st := c.adminDo("GET", "/admin/reconcile", nil, &rep); st != 200 || rep.Differences != 0 {
		t.Fatalf("reconcile after fix: %d %+v", st, rep)
	}
	// Old order numbers are duplicates again; replayed funding credits nothing.
	for _, o := range orders[:10] {
		if a, err := c.op.PlaceOrder(ctx, o, false); err != nil || a.Code != 200 {
			t.Fatalf("duplicate after reconcile: %+v %v", a, err)
		}
	}
	c.fund(opUID, 1_000_000, "f-1")
	if b := c.balance(opUID); b != want {
		t.Fatalf("balance after replays %d, want %d", b, want)
	}
}

// TestRedisRestartUnderLoad kills redis-server (AOF on) while orders stream
// in and restarts it: orders refused meanwhile change nothing, retried
// orders go through once, and the balance is exact.
func TestRedisRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	c := newCluster(t, sockmodsim.Mix{Success: 1})
	c.fund(opUID, 10_000_000, "f-1")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 600
	var pushed, refused atomic.Int64
	var wg sync.WaitGroup
	next := make(chan opersim.Order)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range next {
				for {
					a, err := c.op.PlaceOrder(ctx, o, false)
					if err == nil && a.Code == 200 {
						break
					}
					if err == nil && a.Code == 400 && a.Reason != "unavailable" {
						t.Errorf("order %s: %+v", o.OrderNo, a)
						break
					}
					refused.Add(1)
					if ctx.Err() != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
				pushed.Add(1)
				time.Sleep(20 * time.Millisecond) // ~400 orders/s: the outage falls mid-stream
			}
		}()
	}
	go func() {
		defer close(next)
		for i := 0; i < n; i++ {
			next <- opersim.Order{OrderNo: fmt.Sprintf("RR%04d", i), OrderType: 1, MobileType: 1, Phone: phoneFor(40000 + i), FaceValue: 1000, NotifyURL: c.recv.URL()}
		}
	}()
	waitFor(t, time.Minute, "a third of the orders", func() bool { return pushed.Load() >= n/3 })
	if err := c.redis.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second) // longer than an accept waits for Redis
	if err := c.redis.Restart(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Logf("%d requests refused while Redis was down", refused.Load())
	if refused.Load() == 0 {
		t.Fatal("no request met the Redis outage; the test proved nothing")
	}
	waitFor(t, 2*time.Minute, "callbacks", func() bool { return c.recv.Orders() >= n })
	var rep struct {
		Differences int `json:"differences"`
	}
	if st := c.adminDo("GET", "/admin/reconcile", nil, &rep); st != 200 || rep.Differences != 0 {
		t.Fatalf("reconcile after Redis restart: %d %+v; log:\n%s", st, rep, c.daemonLog())
	}
	if b := c.balance(opUID); b != 10_000_000-int64(n)*985 {
		t.Fatalf("balance %d, want %d", b, 10_000_000-int64(n)*985)
	}
}
