package persistence

import (
	"context"
	"testing"

	"topup/engine"
	"topup/persistence/redisserver"
)

// TestReconcileAfterRedisLoss builds a history (fundings, charged orders, a
// refunded order, a charge that never reached the log), empties Redis, and
// checks that reconcile reports the differences, fixes them exactly, and
// that afterwards replays change nothing.
func TestReconcileAfterRedisLoss(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{})
	log := openLog(t, t.TempDir(), LogOptions{})
	ctx := context.Background()
	uid := "m1"
	if err := log.PutMerchant(engine.Merchant{UID: uid, Name: "m", MD5Key: "k", PricePermille: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.l.InitMerchant(ctx, uid); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Funding{{UID: uid, FundingID: "f1", Amount: 10_000}, {UID: uid, FundingID: "f2", Amount: 5_000}} {
		if _, _, err := log.PutFunding(f); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.l.Fund(ctx, uid, f.FundingID, f.Amount, now); err != nil {
			t.Fatal(err)
		}
	}
	place := func(seq uint64, no string, charge engine.Fen, logged bool) *engine.Order {
		o := testOrder(id(seq), no)
		o.UID, o.Charge = uid, charge
		if res, err := e.l.Accept(ctx, uid, no, o.ID, charge, o.FieldsHash, now); err != nil || res.Code != AcceptOK {
			t.Fatalf("accept %s: %+v %v", no, res, err)
		}
		if logged {
			if err := log.PutOrder(o); err != nil {
				t.Fatal(err)
			}
			e.l.AcceptDone(o.ID)
		}
		return o
	}
	place(1, "A", 1000, true)
	place(2, "B", 2000, true)
	failed := place(3, "C", 3000, true)
	failed.State, failed.Refunded, failed.Status = engine.StateFailed, true, engine.StatusReturned
	if err := log.PutOrder(failed); err != nil {
		t.Fatal(err)
	}
	if _, err := e.l.Refund(ctx, uid, failed.ID, now); err != nil {
		t.Fatal(err)
	}
	place(4, "D", 500, false) // charged, crash before the log
	want := engine.Fen(15_000 - 1000 - 2000)

	// Redis intact except the orphan: reconcile --fix undoes the orphan.
	rep, err := Reconcile(ctx, log, e.l, true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Differences != 1 || rep.Fixed != 1 || rep.Merchants[0].Diffs[0].Kind != "charge_orphan" {
		t.Fatalf("first reconcile: %+v", rep)
	}
	if b := e.balance(t, uid); b != want {
		t.Fatalf("balance after orphan fix %d, want %d", b, want)
	}

	// Redis emptied: balance missing, marks missing.
	if err := e.rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rep, err = Reconcile(ctx, log, e.l, false)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, d := range rep.Merchants[0].Diffs {
		kinds[d.Kind]++
		if d.Fixed {
			t.Fatalf("report-only run fixed %+v", d)
		}
	}
	if kinds["balance_missing"] != 1 || kinds["charge_missing"] != 3 || kinds["refund_missing"] != 1 || kinds["idem_missing"] != 3 || kinds["funding_missing"] != 2 {
		t.Fatalf("diffs after FLUSHALL: %v", kinds)
	}
	if _, trusted, _ := e.l.Balance(ctx, uid); trusted {
		t.Fatal("report-only run created the balance")
	}
	rep, err = Reconcile(ctx, log, e.l, true)
	if err != nil || rep.Fixed != rep.Differences {
		t.Fatalf("fix: %+v %v", rep, err)
	}
	if b := e.balance(t, uid); b != want {
		t.Fatalf("balance after fix %d, want %d", b, want)
	}
	if rep, err = Reconcile(ctx, log, e.l, false); err != nil || rep.Differences != 0 {
		t.Fatalf("reconcile after fix: %+v %v", rep, err)
	}
	// Replays after the fix change nothing.
	if applied, _, _ := e.l.Fund(ctx, uid, "f1", 10_000, now); applied {
		t.Fatal("replayed funding credited again")
	}
	if applied, _ := e.l.Refund(ctx, uid, failed.ID, now); applied {
		t.Fatal("refund replayed after reconcile")
	}
	if res, _ := e.l.Accept(ctx, uid, "A", id(99), 1000, "other", now); res.Code != AcceptDuplicate || res.ExistingID != id(1) {
		t.Fatalf("duplicate after reconcile: %+v", res)
	}
	if b := e.balance(t, uid); b != want {
		t.Fatalf("balance after replays %d, want %d", b, want)
	}
}

// TestReconcileRefusesARacingBalance: a balance that changes between the
// read and the fix is not overwritten.
func TestReconcileCASBalance(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{})
	ctx := context.Background()
	if err := e.rdb.Set(ctx, balKey("m"), 5, 0).Err(); err != nil {
		t.Fatal(err)
	}
	ok, err := e.rdb.Eval(ctx, luaCASBalance, []string{balKey("m")}, "4", 100).Int()
	if err != nil || ok != 0 {
		t.Fatalf("CAS against a stale value: %d %v", ok, err)
	}
	ok, err = e.rdb.Eval(ctx, luaCASBalance, []string{balKey("m")}, "5", 100).Int()
	if err != nil || ok != 1 || e.balance(t, "m") != 100 {
		t.Fatalf("CAS against the current value: %d %v", ok, err)
	}
	ok, err = e.rdb.Eval(ctx, luaCASBalance, []string{balKey("x")}, "", 7).Int()
	if err != nil || ok != 1 || e.balance(t, "x") != 7 {
		t.Fatalf("CAS of a missing balance: %d %v", ok, err)
	}
}
