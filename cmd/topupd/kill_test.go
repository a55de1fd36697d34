package main_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"topup/bench/dingyinsim"
	"topup/bench/juhesim"
	"topup/bench/opersim"
	"topup/bench/sockmodsim"
	"topup/engine"
)

// envInt reads a positive integer from the environment, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestSIGKILLDuringBurst is the kill -9 torture test: a burst of orders
// across socket-module and HTTP suppliers with random outcomes streams in
// while the daemon is SIGKILLed at random moments and restarted on the same
// data dir each time. Afterwards it checks the invariants against what the
// operator and the supplier simulators saw: every order one terminal status
// (every callback for it identical), a phone recharged iff its order
// succeeded and never twice (so never refunded while a supplier recharged
// it), and the balance exact to the fen. Orders a kill left uncertain are
// decided from the suppliers' records, as a person would.
//
// Size: TOPUP_TORTURE_ORDERS (default 600) and TOPUP_TORTURE_KILLS (default
// 2); `make torture` runs 10,000 orders and 20 kills.
func TestSIGKILLDuringBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	n := envInt("TOPUP_TORTURE_ORDERS", 600)
	kills := envInt("TOPUP_TORTURE_KILLS", 2)
	rng := rand.New(rand.NewSource(int64(envInt("TOPUP_TORTURE_SEED", 1))))

	jcfg := juhesim.DefaultConfig()
	jcfg.OpenID, jcfg.Key, jcfg.Seed = "openid-1", "juhe-key-1", 21
	jcfg.Mix = juhesim.Mix{Success: 60, Fail: 10, FailTarget: 5, Uncertain10014: 5, Duplicate210508: 5, Error5xxAfterSuccess: 5, RejectRetry: 10}
	jcfg.Latency, jcfg.Jitter = 50*time.Millisecond, 100*time.Millisecond
	jcfg.Callbacks, jcfg.CallbackRetries, jcfg.CallbackRetryInterval = true, 60, 500*time.Millisecond
	jcfg.Products = map[string]engine.Fen{"105000": 1000, "105001": 2000}
	js, err := juhesim.Start(jcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	dcfg := dingyinsim.DefaultConfig()
	dcfg.UserID, dcfg.Key, dcfg.Seed = "10001", "dingyin-key-1", 23
	dcfg.Mix = dingyinsim.Mix{Success: 70, Fail: 10, Uncertain9999: 5, Error5xxAfterSuccess: 5, Reject5003: 10}
	dcfg.Latency, dcfg.Jitter = 50*time.Millisecond, 100*time.Millisecond
	dcfg.Products = map[string]engine.Fen{"dy": 1000}
	ds, err := dingyinsim.Start(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()

	mix := sockmodsim.Mix{Success: 70, Fail: 15, FailTarget: 10, Uncertain: 5}
	lenient := "breaker: {window: 50, min_samples: 50, fail_ratio: 0.95}"
	c := newClusterWith(t, mix, clusterOpts{
		channels: fmt.Sprintf(`  - {name: juhe, kind: juhe, base_url: %q, openid: openid-1, key: juhe-key-1, callbacks: true, timeout: 3s, max_inflight: 300, %s}
  - {name: dy, kind: dingyin, base_url: %q, userid: "10001", key: dingyin-key-1, callbacks: false, timeout: 3s, max_inflight: 300, %s}`,
			js.URL(), lenient, ds.URL(), lenient),
		products: `  - {order_type: 2, carriers: [1, 2, 3], face_values: [1000],
     routes: [{channel: juhe, code: "105000", priority: 1}, {channel: dy, code: dy, priority: 2}, {channel: sock-b, charge_type: 5, priority: 3}]}`,
	})
	const funded = 1_000_000_000
	c.fund(opUID, funded, "f-kill")
	orders := make([]opersim.Order, n)
	for i := range orders {
		orders[i] = opersim.Order{OrderNo: fmt.Sprintf("K%06d", i), OrderType: 1 + i%2, MobileType: 1,
			Phone: phoneFor(100000 + i), FaceValue: 1000 * engine.Fen(1+(i%4)/3), NotifyURL: c.recv.URL()}
		if orders[i].OrderType == 2 {
			orders[i].FaceValue = 1000
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
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
	go func() {
		for _, o := range orders {
			next <- o
		}
		close(next)
	}()
	// Kill at random moments spread over the burst.
	var restarts []time.Duration
	for k := 1; k <= kills; k++ {
		at := int64(n) * int64(k) / int64(kills+1)
		at += rng.Int63n(int64(n)/int64(kills+1)/2 + 1)
		waitFor(t, 10*time.Minute, "orders pushed", func() bool { return pushed.Load() >= at })
		time.Sleep(time.Duration(rng.Intn(50)) * time.Millisecond)
		c.kill()
		start := time.Now()
		c.start()
		restarts = append(restarts, time.Since(start))
	}
	wg.Wait()

	recharges := func() map[string]int {
		return sumRecharges(c.simA.Stats().SuccessByAcct, c.simB.Stats().SuccessByAcct,
			js.Stats().RechargesByPhone, ds.Stats().RechargesByAccount)
	}
	decided := c.settle(orders, recharges, 5*time.Minute)
	time.Sleep(time.Second)

	rc := recharges()
	var charged int64
	violations := 0
	violate := func(format string, args ...any) {
		violations++
		if violations <= 20 {
			t.Errorf(format, args...)
		}
	}
	statuses := map[int]int{}
	for _, o := range orders {
		cbs := c.recv.Callbacks(opUID, o.OrderNo)
		for _, cb := range cbs[1:] {
			if cb != cbs[0] {
				violate("order %s: callbacks differ: %+v vs %+v", o.OrderNo, cbs[0], cb)
			}
		}
		success := cbs[0].Status == engine.StatusSuccess
		statuses[cbs[0].Status]++
		if success {
			charged += int64(engine.ChargeFor(o.FaceValue, 985))
		}
		if k := rc[o.Phone]; k > 1 || (k == 1) != success {
			violate("order %s: status %d but phone recharged %d times", o.OrderNo, cbs[0].Status, k)
		}
	}
	if c.recv.BadSigns() != 0 {
		violate("%d callbacks with a bad sign", c.recv.BadSigns())
	}
	if b := c.balance(opUID); b != funded-charged {
		violate("balance %d, want %d", b, funded-charged)
	}
	var rep struct {
		Differences int `json:"differences"`
	}
	if st := c.adminDo("GET", "/admin/reconcile", nil, &rep); st != 200 || rep.Differences != 0 {
		violate("reconcile after the torture: status %d, %d differences", st, rep.Differences)
	}
	// Duplicates are still answered after the restarts, and charge nothing.
	for _, o := range orders[:20] {
		if a := c.placeWithRetry(ctx, c.op, o); a.Code != 200 {
			violate("duplicate after restart: %+v", a)
		}
	}
	if b := c.balance(opUID); b != funded-charged {
		violate("duplicates after restart changed the balance: %d, want %d", b, funded-charged)
	}
	var worst time.Duration
	for _, d := range restarts {
		worst = max(worst, d)
	}
	t.Logf("torture: kills=%d orders=%d violations=%d statuses=%v decided_by_hand=%d restart_to_ready=%v (worst %v)",
		kills, n, violations, statuses, decided, restarts, worst)
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
