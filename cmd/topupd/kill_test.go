package main_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"topup/bench/opersim"
	"topup/bench/sockmodsim"
	"topup/engine"
)

// TestSIGKILLDuringBurst kills the daemon with SIGKILL twice while orders
// stream in, restarts it on the same data dir each time, and checks that
// nothing was lost or done twice: every order has one terminal status
// (every callback for it identical), a phone is recharged iff its order
// succeeded, never twice, and the balance is exact to the fen.
func TestSIGKILLDuringBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	mix := sockmodsim.Mix{Success: 70, Fail: 15, FailTarget: 10, Uncertain: 5}
	c := newCluster(t, mix)
	const funded = 50_000_000
	c.fund(opUID, funded, "f-kill")
	const n = 600
	orders := make([]opersim.Order, n)
	for i := range orders {
		orders[i] = opersim.Order{OrderNo: fmt.Sprintf("K%05d", i), OrderType: 1, MobileType: 1,
			Phone: phoneFor(10000 + i), FaceValue: 1000 * engine.Fen(1+i%2), NotifyURL: c.recv.URL()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var pushed atomic.Int64
	var wg sync.WaitGroup
	next := make(chan opersim.Order)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range next {
				a := c.placeWithRetry(ctx, c.op, o)
				if a.Code != 200 {
					t.Errorf("order %s finally answered %+v", o.OrderNo, a)
				}
				pushed.Add(1)
			}
		}()
	}
	var restarts []time.Duration
	go func() {
		for _, o := range orders {
			next <- o
		}
		close(next)
	}()
	for _, at := range []int64{n / 3, 2 * n / 3} {
		waitFor(t, 2*time.Minute, "orders pushed", func() bool { return pushed.Load() >= at })
		c.kill()
		start := time.Now()
		c.start()
		restarts = append(restarts, time.Since(start))
	}
	wg.Wait()
	t.Logf("2 SIGKILLs; restart to ready took %v", restarts)

	// Settle: callbacks arrive; orders left uncertain by a kill while
	// submitting are resolved by hand: failed when no supplier ever got them.
	got := func(o opersim.Order) bool { return len(c.recv.Callbacks(opUID, o.OrderNo)) > 0 }
	// received reports whether a simulator got the held order's current attempt.
	received := func(h orderView) bool {
		id, err := engine.ParseID(h.ID)
		if err != nil || len(h.Attempts) == 0 {
			return false
		}
		no := id.SupplierNo(len(h.Attempts))
		for _, s := range []*sockmodsim.Sim{c.simA, c.simB} {
			for _, r := range s.Records() {
				if r.ChargeID == no {
					return true
				}
			}
		}
		return false
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		missing := 0
		for _, o := range orders {
			if !got(o) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d orders never called back; log:\n%s", missing, c.daemonLog())
		}
		for _, h := range c.heldOrders() {
			if !received(h) {
				c.adminDo("POST", "/admin/orders/"+h.ID+"/resolve", map[string]string{"result": "failed", "by": "test", "why": "no supplier received it"}, nil)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(time.Second)

	recharged := map[string]int{}
	for _, s := range []*sockmodsim.Sim{c.simA, c.simB} {
		for acct, k := range s.Stats().SuccessByAcct {
			recharged[acct] += k
		}
	}
	var charged int64
	for _, o := range orders {
		cbs := c.recv.Callbacks(opUID, o.OrderNo)
		for _, cb := range cbs[1:] {
			if cb != cbs[0] {
				t.Fatalf("order %s: callbacks differ: %+v vs %+v", o.OrderNo, cbs[0], cb)
			}
		}
		success := cbs[0].Status == engine.StatusSuccess
		if success {
			charged += int64(engine.ChargeFor(o.FaceValue, 985))
		}
		if k := recharged[o.Phone]; k > 1 || (k == 1) != success {
			t.Fatalf("order %s: status %d but phone recharged %d times", o.OrderNo, cbs[0].Status, k)
		}
	}
	if c.recv.BadSigns() != 0 {
		t.Fatalf("%d callbacks with a bad sign", c.recv.BadSigns())
	}
	if b := c.balance(opUID); b != funded-charged {
		t.Fatalf("balance %d, want %d", b, funded-charged)
	}
	// Duplicates are still answered after the restarts.
	for _, o := range orders[:20] {
		if a := c.placeWithRetry(ctx, c.op, o); a.Code != 200 {
			t.Fatalf("duplicate after restart: %+v", a)
		}
	}
	if b := c.balance(opUID); b != funded-charged {
		t.Fatalf("duplicates after restart changed the balance: %d, want %d", b, funded-charged)
	}
}

// TestPendingNotificationsSurviveRestart: the operator refuses the first
// delivery of every callback; the daemon is killed while the retries wait
// out their 4 s back-off, and after the restart every callback is delivered
// on schedule, each with the same content as the refused attempt.
func TestPendingNotificationsSurviveRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	c := newClusterWith(t, sockmodsim.Mix{Success: 1}, clusterOpts{notify: "{attempts: 4, backoff: [0s, 4s], timeout: 5s}"})
	c.recv.SetFailFirst(1)
	c.fund(opUID, 1_000_000, "f-n")
	ctx := context.Background()
	const n = 50
	for i := 0; i < n; i++ {
		o := opersim.Order{OrderNo: fmt.Sprintf("N%03d", i), OrderType: 1, MobileType: 1, Phone: phoneFor(20000 + i), FaceValue: 1000, NotifyURL: c.recv.URL()}
		if a, err := c.op.PlaceOrder(ctx, o, false); err != nil || a.Code != 200 {
			t.Fatalf("order %d: %+v %v", i, a, err)
		}
	}
	// Every order got its first (refused) delivery; the next waits 4 s.
	waitFor(t, time.Minute, "first deliveries", func() bool {
		for i := 0; i < n; i++ {
			if len(c.recv.Callbacks(opUID, fmt.Sprintf("N%03d", i))) == 0 {
				return false
			}
		}
		return true
	})
	for i := 0; i < n; i++ {
		if k := c.recv.Acked(opUID, fmt.Sprintf("N%03d", i)); k != 0 {
			t.Fatalf("order %d acknowledged before the restart", i)
		}
	}
	c.kill()
	c.start()
	waitFor(t, time.Minute, "deliveries after restart", func() bool {
		for i := 0; i < n; i++ {
			if c.recv.Acked(opUID, fmt.Sprintf("N%03d", i)) == 0 {
				return false
			}
		}
		return true
	})
	for i := 0; i < n; i++ {
		no := fmt.Sprintf("N%03d", i)
		bodies := c.recv.Bodies(opUID, no)
		if len(bodies) < 2 {
			t.Fatalf("order %s: %d deliveries", no, len(bodies))
		}
		for _, b := range bodies[1:] {
			if string(b) != string(bodies[0]) {
				t.Fatalf("order %s: deliveries differ:\n%s\n%s", no, bodies[0], b)
			}
		}
		if v, _ := c.order(opUID, no); v.Notify != "delivered" {
			t.Fatalf("order %s: notify %s", no, v.Notify)
		}
	}
}
