package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"topup/engine"
	"topup/persistence/redisserver"
)

const now = int64(1700000000000)

type ledgerEnv struct {
	srv *redisserver.Server
	rdb *redis.Client
	l   *Ledger
}

func newLedgerEnv(t testing.TB, o redisserver.Options) *ledgerEnv {
	t.Helper()
	srv := redisserver.StartT(t, o)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 64})
	l := NewLedger(rdb, testNode)
	t.Cleanup(func() {
		_ = l.Close()
		_ = rdb.Close()
	})
	return &ledgerEnv{srv: srv, rdb: rdb, l: l}
}

// merchant creates uid with the given balance (via a funding).
func (e *ledgerEnv) merchant(t testing.TB, uid string, bal engine.Fen) {
	t.Helper()
	ctx := context.Background()
	if created, err := e.l.InitMerchant(ctx, uid); err != nil || !created {
		t.Fatalf("init %s: %v %v", uid, created, err)
	}
	if bal > 0 {
		if applied, got, err := e.l.Fund(ctx, uid, "init", bal, now); err != nil || !applied || got != bal {
			t.Fatalf("fund %s: %v %d %v", uid, applied, got, err)
		}
	}
}

func (e *ledgerEnv) balance(t testing.TB, uid string) engine.Fen {
	t.Helper()
	bal, trusted, err := e.l.Balance(context.Background(), uid)
	if err != nil || !trusted {
		t.Fatalf("balance %s: trusted=%v err=%v", uid, trusted, err)
	}
	return bal
}

func id(seq uint64) engine.ID { return engine.MakeID(testNode, seq) }

func TestAcceptOutcomes(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{})
	ctx := context.Background()
	e.merchant(t, "m1", 1000)

	res, err := e.l.Accept(ctx, "m1", "A", id(1), 100, "hA", now)
	if err != nil || res.Code != AcceptOK || res.Balance != 900 {
		t.Fatalf("first accept: %+v %v", res, err)
	}
	// Same order_no, new id: duplicate naming the first order.
	res, err = e.l.Accept(ctx, "m1", "A", id(2), 100, "hA2", now)
	if err != nil || res.Code != AcceptDuplicate || res.ExistingID != id(1) || res.ExistingHash != "hA" || res.Balance != 900 {
		t.Fatalf("duplicate: %+v %v", res, err)
	}
	// Replay of the first call (lost reply): OK, charged once.
	res, err = e.l.Accept(ctx, "m1", "A", id(1), 100, "hA", now)
	if err != nil || res.Code != AcceptOK || res.Balance != 900 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	// Insufficient: nothing changes.
	res, err = e.l.Accept(ctx, "m1", "B", id(3), 901, "hB", now)
	if err != nil || res.Code != AcceptInsufficient || res.Balance != 900 {
		t.Fatalf("insufficient: %+v %v", res, err)
	}
	if bal := e.balance(t, "m1"); bal != 900 {
		t.Fatalf("balance %d, want 900", bal)
	}
	// The insufficient order_no stays free.
	if res, err := e.l.Accept(ctx, "m1", "B", id(4), 900, "hB", now); err != nil || res.Code != AcceptOK || res.Balance != 0 {
		t.Fatalf("accept B: %+v %v", res, err)
	}
	tot, err := e.l.Totals(ctx, "m1")
	if err != nil || tot != (Totals{Income: 1000, Expenditure: 1000}) {
		t.Fatalf("totals %+v %v", tot, err)
	}
	ents, err := e.l.Entries(ctx, "m1", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Seq: 3, Kind: "charge", ID: id(4).String(), Amount: 900, Balance: 0, At: now},
		{Seq: 2, Kind: "charge", ID: id(1).String(), Amount: 100, Balance: 900, At: now},
		{Seq: 1, Kind: "fund", ID: "init", Amount: 1000, Balance: 1000, At: now},
	}
	if !slices.Equal(ents, want) {
		t.Fatalf("entries\n got %+v\nwant %+v", ents, want)
	}
	if _, err := e.l.Accept(ctx, "m1", "C", id(5), 0, "h", now); err == nil {
		t.Fatal("zero amount accepted")
	}
}

func TestUntrustedAfterFlush(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{})
	ctx := context.Background()
	e.merchant(t, "m1", 1000)
	if err := e.rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := e.l.Accept(ctx, "m1", "A", id(1), 100, "h", now)
	if err != nil || res.Code != AcceptUntrusted {
		t.Fatalf("accept: %+v %v", res, err)
	}
	if _, _, err := e.l.Fund(ctx, "m1", "F", 10, now); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("fund: %v, want ErrUntrusted", err)
	}
	if _, err := e.l.Refund(ctx, "m1", id(1), now); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("refund: %v, want ErrUntrusted", err)
	}
	if _, trusted, err := e.l.Balance(ctx, "m1"); trusted || err != nil {
		t.Fatalf("balance trusted=%v err=%v", trusted, err)
	}
	if n, _ := e.rdb.Exists(ctx, balKey("m1")).Result(); n != 0 {
		t.Fatal("a failed call created the balance")
	}
	// Reconcile: restore marks, then the balance.
	if err := e.l.RestoreFunding(ctx, "m1", "init", 1000); err != nil {
		t.Fatal(err)
	}
	if err := e.l.RestoreOrder(ctx, "m1", "X", id(9), "hX", 300, false); err != nil {
		t.Fatal(err)
	}
	if err := e.l.SetBalance(ctx, "m1", 700); err != nil {
		t.Fatal(err)
	}
	if applied, _, err := e.l.Fund(ctx, "m1", "init", 1000, now); err != nil || applied {
		t.Fatalf("replayed funding after reconcile: applied=%v err=%v", applied, err)
	}
	if res, err := e.l.Accept(ctx, "m1", "X", id(10), 1, "hX", now); err != nil || res.Code != AcceptDuplicate || res.ExistingID != id(9) {
		t.Fatalf("duplicate after reconcile: %+v %v", res, err)
	}
	if applied, err := e.l.Refund(ctx, "m1", id(9), now); err != nil || !applied {
		t.Fatalf("refund after reconcile: %v %v", applied, err)
	}
	if bal := e.balance(t, "m1"); bal != 1000 {
		t.Fatalf("balance %d, want 1000", bal)
	}
}

func TestAcceptConcurrentExactBalance(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{})
	e.merchant(t, "m1", 150*100)
	var ok, insufficient atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			res, err := e.l.Accept(context.Background(), "m1", fmt.Sprintf("o%d", i), id(uint64(i+1)), 100, "h", now)
			switch {
			case err != nil:
				t.Error(err)
			case res.Code == AcceptOK:
				ok.Add(1)
			case res.Code == AcceptInsufficient:
				insufficient.Add(1)
			default:
				t.Errorf("unexpected %+v", res)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 150 || insufficient.Load() != 50 {
		t.Fatalf("ok %d insufficient %d, want 150 and 50", ok.Load(), insufficient.Load())
	}
	if bal := e.balance(t, "m1"); bal != 0 {
		t.Fatalf("balance %d, want 0", bal)
	}
	if n, _ := e.rdb.HLen(context.Background(), chgKey("m1")).Result(); n != 150 {
		t.Fatalf("%d charges recorded, want 150", n)
	}
}

func TestAcceptConcurrentSameOrderNo(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{})
	e.merchant(t, "m1", 10000)
	results := make([]AcceptResult, 20)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			res, err := e.l.Accept(context.Background(), "m1", "same", id(uint64(i+1)), 100, "h", now)
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	var winner engine.ID
	for i, r := range results {
		if r.Code == AcceptOK {
			if winner != 0 {
				t.Fatalf("two winners: %d and %d", winner, id(uint64(i+1)))
			}
			winner = id(uint64(i + 1))
		}
	}
	if winner == 0 {
		t.Fatal("no winner")
	}
	for _, r := range results {
		if r.Code != AcceptOK && (r.Code != AcceptDuplicate || r.ExistingID != winner || r.ExistingHash != "h") {
			t.Fatalf("loser got %+v, want duplicate of %d", r, winner)
		}
	}
	if bal := e.balance(t, "m1"); bal != 9900 {
		t.Fatalf("balance %d, want 9900", bal)
	}
}

func TestRefundOnce(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{})
	ctx := context.Background()
	e.merchant(t, "m1", 1000)
	if res, err := e.l.Accept(ctx, "m1", "A", id(1), 300, "h", now); err != nil || res.Code != AcceptOK {
		t.Fatalf("accept: %+v %v", res, err)
	}
	if applied, err := e.l.Refund(ctx, "m1", id(1), now+1); err != nil || !applied {
		t.Fatalf("refund: %v %v", applied, err)
	}
	if applied, err := e.l.Refund(ctx, "m1", id(1), now+2); err != nil || applied {
		t.Fatalf("second refund: %v %v", applied, err)
	}
	if applied, err := e.l.Refund(ctx, "m1", id(2), now); err != nil || applied {
		t.Fatalf("refund of an uncharged id: %v %v", applied, err)
	}
	if bal := e.balance(t, "m1"); bal != 1000 {
		t.Fatalf("balance %d, want 1000", bal)
	}
	tot, _ := e.l.Totals(ctx, "m1")
	if tot != (Totals{Income: 1000, Expenditure: 0}) {
		t.Fatalf("totals %+v", tot)
	}
	ents, _ := e.l.Entries(ctx, "m1", 1)
	if len(ents) != 1 || ents[0] != (Entry{Seq: 3, Kind: "refund", ID: id(1).String(), Amount: 300, Balance: 1000, At: now + 1}) {
		t.Fatalf("entries %+v", ents)
	}
}

func TestAbandonAccept(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{})
	ctx := context.Background()
	e.merchant(t, "m1", 1000)
	if res, err := e.l.Accept(ctx, "m1", "A", id(1), 300, "h", now); err != nil || res.Code != AcceptOK {
		t.Fatalf("accept: %+v %v", res, err)
	}
	ps, err := e.l.Pending(ctx)
	if err != nil || len(ps) != 1 || ps[0] != (Pending{ID: id(1), UID: "m1", OrderNo: "A", At: now}) {
		t.Fatalf("pending %+v %v", ps, err)
	}
	if refunded, err := e.l.AbandonAccept(ctx, "m1", "A", id(1), now); err != nil || !refunded {
		t.Fatalf("abandon: %v %v", refunded, err)
	}
	if refunded, err := e.l.AbandonAccept(ctx, "m1", "A", id(1), now); err != nil || refunded {
		t.Fatalf("second abandon: %v %v", refunded, err)
	}
	if bal := e.balance(t, "m1"); bal != 1000 {
		t.Fatalf("balance %d, want 1000", bal)
	}
	if ids, err := e.l.PendingAccepts(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("pending after abandon %v %v", ids, err)
	}
	// The order_no is free again; abandoning an id that does not hold it
	// leaves it alone.
	if res, err := e.l.Accept(ctx, "m1", "A", id(2), 100, "h2", now); err != nil || res.Code != AcceptOK {
		t.Fatalf("accept again: %+v %v", res, err)
	}
	if refunded, err := e.l.AbandonAccept(ctx, "m1", "A", id(1), now); err != nil || refunded {
		t.Fatalf("stale abandon: %v %v", refunded, err)
	}
	if res, _ := e.l.Accept(ctx, "m1", "A", id(3), 100, "h3", now); res.Code != AcceptDuplicate || res.ExistingID != id(2) {
		t.Fatalf("order_no of id 2 was freed: %+v", res)
	}
	// An id never charged: nothing to refund.
	if refunded, err := e.l.AbandonAccept(ctx, "m1", "Z", id(9), now); err != nil || refunded {
		t.Fatalf("abandon uncharged: %v %v", refunded, err)
	}
}

func TestAcceptDoneAndPending(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{})
	ctx := context.Background()
	e.merchant(t, "m1", 1000)
	for i := range 3 {
		if res, err := e.l.Accept(ctx, "m1", strconv.Itoa(i), id(uint64(i+1)), 10, "h", now+int64(i)); err != nil || res.Code != AcceptOK {
			t.Fatalf("accept: %+v %v", res, err)
		}
	}
	ids, err := e.l.PendingAccepts(ctx)
	if err != nil || !slices.Equal(ids, []engine.ID{id(1), id(2), id(3)}) {
		t.Fatalf("pending %v %v", ids, err)
	}
	e.l.AcceptDone(id(1), id(3))
	waitFor(t, func() bool {
		ids, err := e.l.PendingAccepts(ctx)
		return err == nil && slices.Equal(ids, []engine.ID{id(2)})
	})
	if n, _ := e.rdb.HLen(ctx, "pendo:7").Result(); n != 1 {
		t.Fatalf("pendo has %d entries, want 1", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFundIdempotentAndEntriesTrimmed(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{})
	ctx := context.Background()
	e.merchant(t, "m1", 0)
	if applied, bal, err := e.l.Fund(ctx, "m1", `F"1`, 10, now); err != nil || !applied || bal != 10 {
		t.Fatalf("fund: %v %d %v", applied, bal, err)
	}
	if applied, bal, err := e.l.Fund(ctx, "m1", `F"1`, 99, now); err != nil || applied || bal != 10 {
		t.Fatalf("second fund: %v %d %v", applied, bal, err)
	}
	pipe := e.rdb.Pipeline()
	for i := range LedgerMax + 4 {
		e.l.fund.Run(ctx, pipe, []string{balKey("m1"), fundKey("m1"), ledKey("m1"), ledSeqKey("m1"), totKey("m1")},
			fmt.Sprintf("G%d", i), "1", strconv.FormatInt(now, 10), LedgerMax)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	ents, err := e.l.Entries(ctx, "m1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != LedgerMax {
		t.Fatalf("%d entries, want %d", len(ents), LedgerMax)
	}
	last := LedgerMax + 5
	if ents[0].Seq != int64(last) || ents[0].ID != fmt.Sprintf("G%d", LedgerMax+3) || ents[0].Balance != engine.Fen(10+LedgerMax+4) {
		t.Fatalf("newest entry %+v", ents[0])
	}
	if ents[LedgerMax-1].Seq != int64(last-LedgerMax+1) {
		t.Fatalf("oldest kept entry %+v", ents[LedgerMax-1])
	}
	if ents, _ := e.l.Entries(ctx, "m1", 5); len(ents) != 5 {
		t.Fatalf("%d entries, want 5", len(ents))
	}
	if n, _ := e.rdb.LLen(ctx, ledKey("m1")).Result(); n != LedgerMax {
		t.Fatalf("list holds %d entries", n)
	}
}

// TestAcceptAfterRedisRestart: a restarted Redis has no cached scripts;
// Accept must load them again (NOSCRIPT) and go on.
func TestAcceptAfterRedisRestart(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{AppendOnly: true})
	ctx := context.Background()
	e.merchant(t, "m1", 1000)
	if res, err := e.l.Accept(ctx, "m1", "A", id(1), 100, "h", now); err != nil || res.Code != AcceptOK {
		t.Fatalf("accept: %+v %v", res, err)
	}
	// Scripts dropped from the cache: the next Accept meets NOSCRIPT.
	if err := e.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if res, err := e.l.Accept(ctx, "m1", "A2", id(3), 100, "h", now); err != nil || res.Code != AcceptOK || res.Balance != 800 {
		t.Fatalf("accept after SCRIPT FLUSH: %+v %v", res, err)
	}
	if err := e.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	var res AcceptResult
	var err error
	for range 3 { // the first call may meet a connection closed by the restart
		if res, err = e.l.Accept(ctx, "m1", "B", id(2), 100, "h", now); err == nil {
			break
		}
	}
	if err != nil || res.Code != AcceptOK || res.Balance != 700 {
		t.Fatalf("accept after restart: %+v %v", res, err)
	}
}

func TestAcceptCancelledAndClosed(t *testing.T) {
	e := newLedgerEnv(t, redisserver.Options{})
	e.merchant(t, "m1", 1000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.l.Accept(ctx, "m1", "A", id(1), 100, "h", now); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled accept: %v", err)
	}
	if bal := e.balance(t, "m1"); bal != 1000 {
		t.Fatalf("cancelled accept charged: %d", bal)
	}
	if err := e.l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.l.Accept(context.Background(), "m1", "A", id(1), 100, "h", now); !errors.Is(err, ErrLedgerClosed) {
		t.Fatalf("accept after close: %v", err)
	}
	e.l.AcceptDone(id(1)) // must not block or panic
}

func BenchmarkLedgerAccept(b *testing.B) {
	e := newLedgerEnv(b, redisserver.Options{})
	e.merchant(b, "m1", 1<<50)
	var seq atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(128) // many concurrent handlers, as in the daemon
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			n := seq.Add(1)
			res, err := e.l.Accept(ctx, "m1", strconv.FormatUint(n, 10), id(n), 1, "h", now)
			if err != nil || res.Code != AcceptOK {
				b.Errorf("accept: %+v %v", res, err)
				return
			}
		}
	})
}
