package main_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"topup/bench/opersim"
	"topup/bench/sockmodsim"
	"topup/engine"
)

var testMix = sockmodsim.Mix{Success: 60, Fail: 15, FailTarget: 10, Uncertain: 5, NoCallback: 5, Partial: 5}

// TestLifecycle1000 pushes 1,000 orders with mixed outcomes through the real
// daemon and checks every order's single terminal callback, balances to the
// fen, signed replies, duplicates and rejections.
func TestLifecycle1000(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	c := newCluster(t, testMix)
	const funded = 20_000_000
	c.fund(opUID, funded, "f-1")
	c.fund(opUID, funded, "f-1") // replay: funds once
	if b := c.balance(opUID); b != funded {
		t.Fatalf("balance after replayed funding %d, want %d", b, funded)
	}
	faces := []engine.Fen{1000, 2000, 5000, 10000}
	const n = 1000
	orders := make([]opersim.Order, n)
	for i := range orders {
		orders[i] = opersim.Order{OrderNo: fmt.Sprintf("L%06d", i), OrderType: 1, MobileType: 1 + i%3,
			Phone: phoneFor(i), FaceValue: faces[i%len(faces)], NotifyURL: c.recv.URL()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	sem := make(chan struct{}, 64)
	for i := range orders {
		wg.Add(1)
		sem <- struct{}{}
		go func(o opersim.Order, asJSON bool) {
			defer wg.Done()
			defer func() { <-sem }()
			a, err := c.op.PlaceOrder(ctx, o, asJSON)
			if err != nil || a.Code != 200 {
				errs <- fmt.Sprintf("%s: %v %+v", o.OrderNo, err, a)
			}
		}(orders[i], i%2 == 0)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("order rejected: %s", e)
	}

	// Duplicates: sequential resends and 20 concurrent copies of a new order.
	for i := 0; i < 50; i++ {
		a, err := c.op.PlaceOrder(ctx, orders[i], i%2 == 1)
		if err != nil || a.Code != 200 || a.Count != 1 {
			t.Fatalf("duplicate %d answered %+v %v", i, a, err)
		}
	}
	dup := opersim.Order{OrderNo: "DUP-CONCURRENT", OrderType: 1, MobileType: 1, Phone: phoneFor(5000), FaceValue: 1000, NotifyURL: c.recv.URL()}
	orders = append(orders, dup)
	var dwg sync.WaitGroup
	answers := make([]opersim.Answer, 20)
	for i := range answers {
		dwg.Add(1)
		go func(i int) {
			defer dwg.Done()
			answers[i], _ = c.op.PlaceOrder(ctx, dup, i%2 == 0)
		}(i)
	}
	dwg.Wait()
	for i, a := range answers {
		if a.Code != 200 || string(a.Raw) != string(answers[0].Raw) {
			t.Fatalf("concurrent duplicate %d: %+v (first %s)", i, a, answers[0].Raw)
		}
	}

	// Let the suppliers answer, then resolve what is held (no callback,
	// partial) as failed, as an operator of the engine would.
	expected := map[string]int{}
	for _, o := range orders {
		expected[keyOf(opUID, o.OrderNo)] = expectStatus(testMix, c.seedA, o.Phone)
	}
	settled := func() int {
		k := 0
		for _, o := range orders {
			if len(c.recv.Callbacks(opUID, o.OrderNo)) > 0 {
				k++
			}
		}
		return k
	}
	wantHeld := 0
	for _, s := range expected {
		if s == engine.StatusReturned {
			wantHeld++
		}
	}
	waitFor(t, 2*time.Minute, "all but held orders to be called back", func() bool { return settled() >= len(orders)-wantHeld })
	time.Sleep(500 * time.Millisecond)
	held := 0
	for _, o := range orders {
		if expected[keyOf(opUID, o.OrderNo)] != engine.StatusReturned {
			continue
		}
		v, ok := c.order(opUID, o.OrderNo)
		if !ok || (v.State != "uncertain" && v.State != "placed") {
			t.Fatalf("order %s expected held, is %+v", o.OrderNo, v)
		}
		if st := c.adminDo("POST", "/admin/orders/"+v.ID+"/resolve", map[string]string{"result": "failed", "by": "test", "why": "supplier has no record"}, nil); st != 200 {
			t.Fatalf("resolve %s: %d", v.ID, st)
		}
		held++
	}
	if held != wantHeld {
		t.Fatalf("held %d, want %d", held, wantHeld)
	}
	waitFor(t, time.Minute, "every order called back", func() bool { return settled() == len(orders) })
	time.Sleep(time.Second) // any stray second callback would show now

	// Each order: exactly one callback, valid sign, the expected status.
	var charged int64
	counts := map[int]int{}
	for _, o := range orders {
		cbs := c.recv.Callbacks(opUID, o.OrderNo)
		if len(cbs) != 1 {
			t.Fatalf("order %s: %d callbacks", o.OrderNo, len(cbs))
		}
		want := expected[keyOf(opUID, o.OrderNo)]
		if cbs[0].Status != want {
			v, _ := c.order(opUID, o.OrderNo)
			t.Fatalf("order %s (%s): status %d, want %d; order %+v", o.OrderNo, sockmodsim.Decide(testMix, c.seedA, o.Phone), cbs[0].Status, want, v)
		}
		counts[want]++
		if want == engine.StatusSuccess {
			charged += int64(engine.ChargeFor(o.FaceValue, 985))
		}
		// The order query agrees and its reply sign verifies.
		if o.OrderNo[len(o.OrderNo)-1] == '7' {
			d, a, err := c.op.QueryOrder(ctx, o.OrderNo)
			if err != nil || a.Code != 200 || d.OperatorSn != o.OrderNo {
				t.Fatalf("query %s: %+v %+v %v", o.OrderNo, d, a, err)
			}
			if (want == engine.StatusSuccess) != (d.StatusID == engine.QuerySuccess) {
				t.Fatalf("query %s: status id %d for callback status %d", o.OrderNo, d.StatusID, want)
			}
		}
	}
	if c.recv.BadSigns() != 0 {
		t.Fatalf("%d callbacks with a bad sign", c.recv.BadSigns())
	}
	t.Logf("statuses: %v", counts)
	if counts[engine.StatusSuccess] == 0 || counts[engine.StatusFailed] == 0 || counts[engine.StatusReturned] == 0 {
		t.Fatalf("mix did not exercise every status: %v", counts)
	}

	// Money: funded − charged for successes, exactly; the signed balance agrees.
	if b := c.balance(opUID); b != funded-charged {
		t.Fatalf("balance %d, want %d (funded %d, charged %d)", b, funded-charged, funded, charged)
	}
	bd, _, err := c.op.Balance(ctx)
	if err != nil || bd.AccountBalance != funded-charged {
		t.Fatalf("operator balance %+v %v", bd, err)
	}

	// No phone was recharged twice, across both suppliers.
	recharged := map[string]int{}
	for acct, k := range c.simA.Stats().SuccessByAcct {
		recharged[acct] += k
	}
	for acct, k := range c.simB.Stats().SuccessByAcct {
		recharged[acct] += k
	}
	for acct, k := range recharged {
		if k > 1 {
			t.Fatalf("phone %s recharged %d times", acct, k)
		}
	}
}

// TestRejectionsChangeNothing checks every rejection reason and that none
// of them charges, creates an order or changes a balance.
func TestRejectionsChangeNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	c := newCluster(t, sockmodsim.Mix{Success: 1})
	c.fund(opUID, 100_000, "f-1")
	c.fund(opUID2, 1500, "f-2")
	ctx := context.Background()
	good := opersim.Order{OrderNo: "R1", OrderType: 1, MobileType: 1, Phone: "13800000001", FaceValue: 1000, NotifyURL: c.recv.URL()}
	if a, err := c.op.PlaceOrder(ctx, good, false); err != nil || a.Code != 200 {
		t.Fatalf("good order: %+v %v", a, err)
	}
	b1, b2 := c.balance(opUID), c.balance(opUID2)
	bad := func(mut func(*opersim.Order)) opersim.Order {
		o := good
		o.OrderNo = "X" + fmt.Sprint(time.Now().UnixNano())
		mut(&o)
		return o
	}
	cases := []struct {
		name   string
		client *opersim.Client
		order  opersim.Order
		reason string
	}{
		{"bad sign", &opersim.Client{BaseURL: c.op.BaseURL, UID: opUID, Key: "wrong-key"}, bad(func(*opersim.Order) {}), "bad_sign"},
		{"unknown uid", &opersim.Client{BaseURL: c.op.BaseURL, UID: "424242", Key: opKey}, bad(func(*opersim.Order) {}), "unknown_uid"},
		{"unknown product", c.op, bad(func(o *opersim.Order) { o.FaceValue = 1234 }), "unknown_product"},
		{"unknown product type", c.op, bad(func(o *opersim.Order) { o.OrderType = 2 }), "unknown_product"},
		{"bad phone", c.op, bad(func(o *opersim.Order) { o.Phone = "12345" }), "bad_phone"},
		{"bad face value", c.op, bad(func(o *opersim.Order) { o.FaceValue = -5 }), "bad_face_value"},
		{"insufficient balance", c.op2, bad(func(o *opersim.Order) { o.FaceValue = 2000 }), "insufficient_balance"},
		{"duplicate with different fields", c.op, func() opersim.Order { o := good; o.Phone = "13800000002"; return o }(), "duplicate_mismatch"},
	}
	for _, tc := range cases {
		a, err := tc.client.PlaceOrder(ctx, tc.order, false)
		if err != nil || a.Code != 400 || a.Reason != tc.reason || a.Msg == "" {
			t.Errorf("%s: answered %+v %v, want code 400 reason %s", tc.name, a, err, tc.reason)
		}
		if tc.name != "duplicate with different fields" {
			if _, ok := c.order(tc.client.UID, tc.order.OrderNo); ok {
				t.Errorf("%s: an order was created", tc.name)
			}
		}
	}
	if c.balance(opUID) != b1 || c.balance(opUID2) != b2 {
		t.Fatalf("a rejection changed a balance: %d→%d, %d→%d", b1, c.balance(opUID), b2, c.balance(opUID2))
	}
	// The rejected duplicate did not change the first order.
	v, ok := c.order(opUID, "R1")
	if !ok || v.Charge != 985 {
		t.Fatalf("first order changed: %+v", v)
	}
	// Unknown order query is a clear 400.
	if _, a, _ := c.op.QueryOrder(ctx, "NOPE"); a.Code != 400 || a.Reason != "order_not_found" {
		t.Fatalf("query of unknown order: %+v", a)
	}
}
