package main_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"topup/bench/dingyinsim"
	"topup/bench/juhesim"
	"topup/bench/opersim"
	"topup/bench/sockmodsim"
	"topup/engine"
)

// TestHTTPSuppliersFaultModes routes data orders through Juhe (callbacks,
// duplicated), then a Dingyin-style supplier (no callbacks: query-driven),
// then socket module B, with every fault mode the simulators have. It checks
// that no phone is recharged twice, no order is refunded while any supplier
// recharged it, definite failures fail over, every order ends terminal (held
// ones are decided from the suppliers' records, as a person would), and the
// balance is exact.
func TestHTTPSuppliersFaultModes(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	const clientTimeout = 2 * time.Second
	jmix := juhesim.Mix{Success: 40, Fail: 10, FailTarget: 5, Uncertain10014: 10, Duplicate210508: 10,
		TimeoutAfterSuccess: 5, Error5xxAfterSuccess: 10, RejectRetry: 10}
	jcfg := juhesim.DefaultConfig()
	jcfg.OpenID, jcfg.Key, jcfg.Mix, jcfg.Seed = "openid-1", "juhe-key-1", jmix, 11
	jcfg.Latency, jcfg.Jitter, jcfg.ClientTimeout = 50*time.Millisecond, 50*time.Millisecond, clientTimeout
	jcfg.Callbacks, jcfg.DuplicateCallbacks = true, true
	jcfg.Products = map[string]engine.Fen{"105000": 1000}
	js, err := juhesim.Start(jcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	dmix := dingyinsim.Mix{Success: 50, Fail: 10, Uncertain9999: 10, Duplicate5006: 5, TimeoutAfterSuccess: 5,
		Error5xxAfterSuccess: 10, Reject5003: 10}
	dcfg := dingyinsim.DefaultConfig()
	dcfg.UserID, dcfg.Key, dcfg.Mix, dcfg.Seed = "10001", "dingyin-key-1", dmix, 13
	dcfg.Latency, dcfg.Jitter, dcfg.ClientTimeout = 50*time.Millisecond, 50*time.Millisecond, clientTimeout
	dcfg.NotFoundFor = 300 * time.Millisecond
	dcfg.Products = map[string]engine.Fen{"dy-1000": 1000}
	ds, err := dingyinsim.Start(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()

	c := newClusterWith(t, sockmodsim.Mix{Success: 1}, clusterOpts{
		channels: fmt.Sprintf(`  - {name: juhe, kind: juhe, base_url: %q, openid: openid-1, key: juhe-key-1, callbacks: true, timeout: 2s, max_inflight: 200,
      breaker: {window: 50, min_samples: 50, fail_ratio: 0.95}}
  - {name: dy, kind: dingyin, base_url: %q, userid: "10001", key: dingyin-key-1, callbacks: false, timeout: 2s, max_inflight: 200, balance_poll: 1s, low_balance: 100,
      breaker: {window: 50, min_samples: 50, fail_ratio: 0.95}}`, js.URL(), ds.URL()),
		products: `  - {order_type: 2, carriers: [1, 2, 3], face_values: [1000],
     routes: [{channel: juhe, code: "105000", cost_permille: 980, priority: 1},
              {channel: dy, code: dy-1000, cost_permille: 975, priority: 2},
              {channel: sock-b, charge_type: 5, priority: 3}]}`,
	})
	const funded = 10_000_000
	c.fund(opUID, funded, "f-http")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const n = 1000
	orders := make([]opersim.Order, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range orders {
		orders[i] = opersim.Order{OrderNo: fmt.Sprintf("H%05d", i), OrderType: 2, MobileType: 1 + i%3,
			Phone: phoneFor(60000 + i), FaceValue: 1000, NotifyURL: c.recv.URL()}
		wg.Add(1)
		sem <- struct{}{}
		go func(o opersim.Order) {
			defer wg.Done()
			defer func() { <-sem }()
			if a := c.placeWithRetry(ctx, c.op, o); a.Code != 200 {
				t.Errorf("order %s: %+v", o.OrderNo, a)
			}
		}(orders[i])
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	recharges := func() map[string]int {
		return sumRecharges(js.Stats().RechargesByPhone, ds.Stats().RechargesByAccount, c.simB.Stats().SuccessByAcct)
	}
	held := c.settle(orders, recharges, 3*time.Minute)
	time.Sleep(time.Second)

	rc := recharges()
	var charged int64
	statuses := map[int]int{}
	failovers := 0
	for _, o := range orders {
		cbs := c.recv.Callbacks(opUID, o.OrderNo)
		for _, cb := range cbs[1:] {
			if cb != cbs[0] {
				t.Fatalf("order %s: differing callbacks %+v %+v", o.OrderNo, cbs[0], cb)
			}
		}
		st := cbs[0].Status
		statuses[st]++
		k := rc[o.Phone]
		if k > 1 {
			t.Fatalf("order %s: phone recharged %d times", o.OrderNo, k)
		}
		if st == engine.StatusSuccess {
			charged += 985
			if k != 1 {
				t.Fatalf("order %s: success but recharged %d times", o.OrderNo, k)
			}
		} else if k != 0 {
			t.Fatalf("order %s: refunded (status %d) although a supplier recharged it", o.OrderNo, st)
		}
		if kind := juhesim.Decide(jmix, jcfg.Seed, o.Phone); kind == juhesim.KindFail || kind == juhesim.KindRejectRetry {
			v, _ := c.order(opUID, o.OrderNo)
			if len(v.Attempts) < 2 || v.Attempts[0].Channel != "juhe" || v.Attempts[0].State != "failed" {
				t.Fatalf("order %s (juhe %s) did not fail over: %+v", o.OrderNo, kind, v)
			}
			failovers++
		}
	}
	if b := c.balance(opUID); b != funded-charged {
		t.Fatalf("balance %d, want %d", b, funded-charged)
	}
	// Every order went to Juhe first (the breaker is lenient here), and
	// each failure mode showed up.
	if got := js.Stats().Received; got < n {
		t.Fatalf("juhe received %d of %d orders", got, n)
	}
	if statuses[engine.StatusFailed] == 0 || statuses[engine.StatusSuccess] == 0 {
		t.Fatalf("statuses %v: the mix did not show", statuses)
	}
	if c.recv.BadSigns() != 0 {
		t.Fatalf("%d bad signs", c.recv.BadSigns())
	}
	t.Logf("%d orders: statuses %v, %d failed over from juhe, %d held and decided; juhe %+v; dingyin %+v",
		n, statuses, failovers, held, js.Stats().Received, ds.Stats().Received)
}
