package main_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"topup/bench/sockmodsim"
	"topup/engine"
	"topup/persistence"
)

// TestRecoveryOfALargeLog writes an order log of TOPUP_RECOVERY_ORDERS
// orders (default 20,000; `make recovery-bench` uses 1,000,000), 99% of them
// finished and 1% placed and waiting for a supplier, then starts the daemon
// on it and reports how long start-up recovery took and how long until the
// node was ready.
func TestRecoveryOfALargeLog(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	n := envInt("TOPUP_RECOVERY_ORDERS", 20000)
	var wrote time.Duration
	var live int
	prepare := func(dataDir string) {
		start := time.Now()
		log, err := persistence.OpenLog(filepath.Join(dataDir, "orderlog"), 3, persistence.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		per := (n + 63) / 64
		for w := 0; w < 64; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w * per; i < min(n, (w+1)*per); i++ {
					id, err := log.NewID()
					if err != nil {
						t.Error(err)
						return
					}
					o := engine.Order{ID: id, UID: opUID, OrderNo: fmt.Sprintf("R%08d", i), OrderType: 1, Carrier: 1,
						Phone: phoneFor(i % 100000000), FaceValue: 1000, Charge: 985, NotifyURL: "http://127.0.0.1:1/n",
						FieldsHash: "h", CreatedAt: time.Now().UnixMilli(), UpdatedAt: time.Now().UnixMilli(),
						Routes:   []engine.Route{{Channel: "sock-b", Kind: "sockmod", Code: "0"}},
						Attempts: []engine.Attempt{{N: 1, Route: engine.Route{Channel: "sock-b", Kind: "sockmod", Code: "0"}, SentAt: time.Now().UnixMilli()}}}
					if i%100 == 0 {
						o.State, o.Attempts[0].State = engine.StatePlaced, engine.AttemptPlaced
						mu.Lock()
						live++
						mu.Unlock()
					} else {
						o.State, o.Status, o.Notify = engine.StateSucceeded, engine.StatusSuccess, engine.NotifyDelivered
						o.Attempts[0].State = engine.AttemptSucceeded
					}
					if err := log.PutOrder(&o); err != nil {
						t.Error(err)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		if err := log.Close(); err != nil {
			t.Fatal(err)
		}
		wrote = time.Since(start)
	}
	c := newClusterWith(t, sockmodsim.Mix{Success: 1}, clusterOpts{prepare: prepare})
	// Measure a restart on the full log: SIGKILL, start, wait for readiness.
	c.kill()
	start := time.Now()
	c.start()
	total := time.Since(start)
	logs := regexp.MustCompile(`msg="recovery done" live_orders=(\d+) took=(\S+)`).FindAllStringSubmatch(c.daemonLog(), -1)
	var m []string
	if len(logs) > 0 {
		m = logs[len(logs)-1]
	}
	if m == nil {
		t.Fatalf("no recovery line in the log:\n%s", c.daemonLog())
	}
	if m[1] != fmt.Sprint(live) {
		t.Fatalf("recovered %s live orders, wrote %d", m[1], live)
	}
	// The log holds every order: a duplicate of the first one is answered 200.
	if _, ok := c.order(opUID, "R00000000"); !ok {
		t.Fatal("first order missing after recovery")
	}
	t.Logf("recovery: %d orders in the log (%d live), written in %v; recovery scan took %s; SIGKILL restart to ready %v",
		n, live, wrote.Round(time.Millisecond), m[2], total.Round(time.Millisecond))
}
