package persistence

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"topup/engine"
)

const testNode = 7

func openLog(t testing.TB, dir string, o LogOptions) *Log {
	t.Helper()
	l, err := OpenLog(dir, testNode, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testOrder(id engine.ID, orderNo string) *engine.Order {
	return &engine.Order{
		ID: id, UID: "m1", OrderNo: orderNo, OrderType: 1, Carrier: 2,
		Phone: "13800138000", FaceValue: 10000, Charge: 9850,
		NotifyURL: "http://example.test/cb", FieldsHash: "h-" + orderNo,
		CreatedAt: 1700000000000, UpdatedAt: 1700000000000,
		State:  engine.StateAccepted,
		Routes: []engine.Route{{Channel: "juhe", Kind: "juhe", Code: "p1"}},
	}
}

func TestNewIDUniqueAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	seen := map[engine.ID]bool{}
	var last engine.ID
	for round := range 3 {
		l := openLog(t, dir, LogOptions{IDBlock: 100})
		for range 250 {
			id, err := l.NewID()
			if err != nil {
				t.Fatal(err)
			}
			if id <= last || seen[id] {
				t.Fatalf("round %d: id %d not above %d or repeated", round, id, last)
			}
			if id.Node() != testNode || id.Seq() == 0 {
				t.Fatalf("id %d: node %d seq %d", id, id.Node(), id.Seq())
			}
			seen[id] = true
			last = id
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if first := engine.MakeID(testNode, 1); !seen[first] {
		t.Fatalf("sequence did not start at 1 (%d missing)", first)
	}
}

func TestNewIDConcurrent(t *testing.T) {
	l := openLog(t, t.TempDir(), LogOptions{IDBlock: 64})
	defer l.Close()
	const workers, per = 8, 500
	got := make([][]engine.ID, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range per {
				id, err := l.NewID()
				if err != nil {
					t.Error(err)
					return
				}
				got[w] = append(got[w], id)
			}
		})
	}
	wg.Wait()
	all := map[engine.ID]bool{}
	for w, ids := range got {
		if !slices.IsSorted(ids) {
			t.Fatalf("worker %d saw ids out of order", w)
		}
		for _, id := range ids {
			if all[id] {
				t.Fatalf("id %d handed out twice", id)
			}
			all[id] = true
		}
	}
	if len(all) != workers*per {
		t.Fatalf("%d ids, want %d", len(all), workers*per)
	}
}

// TestCrashKeepsSyncedState crashes the file system (keeping only synced
// data) and checks that ids do not repeat and logged orders survive.
func TestCrashKeepsSyncedState(t *testing.T) {
	fs := vfs.NewCrashableMem()
	l := openLog(t, "db", LogOptions{FS: fs, IDBlock: 10})
	var maxID engine.ID
	for i := range 25 {
		id, err := l.NewID()
		if err != nil {
			t.Fatal(err)
		}
		maxID = id
		if err := l.PutOrder(testOrder(id, fmt.Sprintf("no-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openLog(t, "db", LogOptions{FS: crashed, IDBlock: 10})
	defer l.Close()
	id, err := l.NewID()
	if err != nil {
		t.Fatal(err)
	}
	if id <= maxID {
		t.Fatalf("id %d after crash not above %d", id, maxID)
	}
	o, ok, err := l.GetOrder(maxID)
	if err != nil || !ok {
		t.Fatalf("order %d lost in crash: ok=%v err=%v", maxID, ok, err)
	}
	if o.OrderNo != "no-24" {
		t.Fatalf("order %d has order_no %q", maxID, o.OrderNo)
	}
	n := 0
	if err := l.ScanLive(func(*engine.Order) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 25 {
		t.Fatalf("%d live orders after crash, want 25", n)
	}
}

func TestOrderRoundTripAndLiveIndex(t *testing.T) {
	l := openLog(t, t.TempDir(), LogOptions{})
	defer l.Close()
	a, b := testOrder(engine.MakeID(testNode, 1), "A"), testOrder(engine.MakeID(testNode, 2), "B")
	a.Attempts = []engine.Attempt{{N: 1, Route: a.Routes[0], State: engine.AttemptSending, SentAt: 5}}
	for _, o := range []*engine.Order{a, b} {
		if err := l.PutOrder(o); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := l.GetOrder(a.ID)
	if err != nil || !ok {
		t.Fatalf("get: ok=%v err=%v", ok, err)
	}
	if !reflect.DeepEqual(&got, a) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, *a)
	}
	if _, ok, err := l.GetOrder(engine.MakeID(testNode, 99)); ok || err != nil {
		t.Fatalf("missing order: ok=%v err=%v", ok, err)
	}
	if id, ok, err := l.LookupOrderNo("m1", "B"); err != nil || !ok || id != b.ID {
		t.Fatalf("lookup B: %d %v %v", id, ok, err)
	}
	if _, ok, err := l.LookupOrderNo("m2", "B"); ok || err != nil {
		t.Fatalf("lookup other merchant: ok=%v err=%v", ok, err)
	}

	if live := liveIDs(t, l); !slices.Equal(live, []engine.ID{a.ID, b.ID}) {
		t.Fatalf("live %v", live)
	}
	// Terminal but not yet notified: still live.
	a.State, a.Notify = engine.StateSucceeded, engine.NotifyPending
	if err := l.PutOrder(a); err != nil {
		t.Fatal(err)
	}
	if live := liveIDs(t, l); !slices.Equal(live, []engine.ID{a.ID, b.ID}) {
		t.Fatalf("live %v", live)
	}
	a.Notify = engine.NotifyDelivered
	if err := l.PutOrder(a); err != nil {
		t.Fatal(err)
	}
	if live := liveIDs(t, l); !slices.Equal(live, []engine.ID{b.ID}) {
		t.Fatalf("live after finish %v", live)
	}
	var all []engine.ID
	if err := l.ScanOrders(func(o *engine.Order) error { all = append(all, o.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all, []engine.ID{a.ID, b.ID}) {
		t.Fatalf("all orders %v", all)
	}
	if id, ok, _ := l.LookupOrderNo("m1", "A"); !ok || id != a.ID {
		t.Fatal("order_no index lost after the order finished")
	}
	stop := errors.New("stop")
	if err := l.ScanOrders(func(*engine.Order) error { return stop }); err != stop {
		t.Fatalf("scan did not return fn's error: %v", err)
	}
}

func liveIDs(t *testing.T, l *Log) []engine.ID {
	t.Helper()
	var ids []engine.ID
	if err := l.ScanLive(func(o *engine.Order) error { ids = append(ids, o.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestPutOrderRejectsBadKeys(t *testing.T) {
	l := openLog(t, t.TempDir(), LogOptions{})
	defer l.Close()
	for _, o := range []*engine.Order{
		{ID: 0, UID: "m", OrderNo: "n"},
		{ID: 1, UID: "", OrderNo: "n"},
		{ID: 1, UID: "m\x00x", OrderNo: "n"},
		{ID: 1, UID: "m", OrderNo: ""},
	} {
		if err := l.PutOrder(o); err == nil {
			t.Errorf("PutOrder(%+v) succeeded", o)
		}
	}
}

func TestCorruptRecord(t *testing.T) {
	l := openLog(t, t.TempDir(), LogOptions{})
	defer l.Close()
	id := engine.MakeID(testNode, 3)
	for _, bad := range [][]byte{{}, {9, '{', '}'}, {1, '{'}} {
		if err := l.db.Set(orderKey(id), bad, pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.GetOrder(id); !errors.Is(err, ErrCorrupt) {
			t.Errorf("value %q: err %v, want ErrCorrupt", bad, err)
		}
	}
	if err := l.ScanOrders(func(*engine.Order) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Errorf("scan: err %v, want ErrCorrupt", err)
	}
	if err := l.db.Set(liveKey(engine.MakeID(testNode, 4)), nil, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := l.ScanLive(func(*engine.Order) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Errorf("scan live: err %v, want ErrCorrupt", err)
	}
}

// TestWriteFailureSurfaces injects WAL write errors: the failed write and
// every later call must report ErrLogFailed, never succeed silently.
func TestWriteFailureSurfaces(t *testing.T) {
	toggle := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return errorfs.ErrInjected
		}
		return nil
	})}
	fs := errorfs.Wrap(vfs.NewMem(), toggle)
	l := openLog(t, "db", LogOptions{FS: fs})
	if err := l.PutOrder(testOrder(engine.MakeID(testNode, 1), "ok")); err != nil {
		t.Fatal(err)
	}
	toggle.On()
	err := l.PutOrder(testOrder(engine.MakeID(testNode, 2), "fails"))
	if !errors.Is(err, ErrLogFailed) {
		t.Fatalf("put with failing WAL: err %v, want ErrLogFailed", err)
	}
	toggle.Off()
	if err := l.PutOrder(testOrder(engine.MakeID(testNode, 3), "after")); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("put after failure: err %v, want ErrLogFailed", err)
	}
	if _, _, err := l.GetOrder(engine.MakeID(testNode, 1)); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("get after failure: err %v, want ErrLogFailed", err)
	}
	if l.Err() == nil {
		t.Fatal("Err() nil after failure")
	}
	_ = l.Close()
}

func TestFundingIdempotent(t *testing.T) {
	l := openLog(t, t.TempDir(), LogOptions{})
	defer l.Close()
	f := Funding{UID: "m1", FundingID: "F1", Amount: 5000, At: 1, By: "ops", Note: "first"}
	got, created, err := l.PutFunding(f)
	if err != nil || !created || got != f {
		t.Fatalf("first: %+v %v %v", got, created, err)
	}
	g := f
	g.Amount, g.Note = 7000, "retry"
	got, created, err = l.PutFunding(g)
	if err != nil || created || got != f {
		t.Fatalf("second: %+v %v %v (want the first record back)", got, created, err)
	}
	if _, _, err := l.PutFunding(Funding{UID: "m2", FundingID: "F1", Amount: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.PutFunding(Funding{UID: "m2", FundingID: "F2", Amount: 0}); err == nil {
		t.Fatal("zero funding accepted")
	}
	count := func(uid string) int {
		n := 0
		if err := l.ScanFundings(uid, func(Funding) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count("m1") != 1 || count("m2") != 1 || count("") != 2 || count("m") != 0 {
		t.Fatalf("fundings: m1 %d m2 %d all %d m %d", count("m1"), count("m2"), count(""), count("m"))
	}
}

func TestMerchants(t *testing.T) {
	l := openLog(t, t.TempDir(), LogOptions{})
	defer l.Close()
	ms := []engine.Merchant{{UID: "b", Name: "B", MD5Key: "k2", PricePermille: 990}, {UID: "a", Name: "A", MD5Key: "k1", PricePermille: 985}}
	for _, m := range ms {
		if err := l.PutMerchant(m); err != nil {
			t.Fatal(err)
		}
	}
	if m, ok, err := l.GetMerchant("a"); err != nil || !ok || m != ms[1] {
		t.Fatalf("get a: %+v %v %v", m, ok, err)
	}
	if _, ok, err := l.GetMerchant("c"); ok || err != nil {
		t.Fatalf("get c: %v %v", ok, err)
	}
	all, err := l.Merchants()
	if err != nil || !slices.Equal(all, []engine.Merchant{ms[1], ms[0]}) {
		t.Fatalf("merchants %+v %v", all, err)
	}
}

func BenchmarkLogPutOrderParallel(b *testing.B) {
	l := openLog(b, b.TempDir(), LogOptions{})
	defer l.Close()
	b.ReportAllocs()
	b.SetParallelism(32) // concurrent order actors; Pebble groups their syncs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id, err := l.NewID()
			if err != nil {
				b.Error(err)
				return
			}
			if err := l.PutOrder(testOrder(id, id.String())); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestLiveSummaries(t *testing.T) {
	l := openLog(t, t.TempDir(), LogOptions{})
	defer l.Close()
	o := testOrder(engine.MakeID(testNode, 5), "sum-1")
	o.State, o.HeldAt = engine.StatePlaced, 77
	o.Attempts = []engine.Attempt{{N: 1, Route: engine.Route{Channel: "a"}}, {N: 2, Route: engine.Route{Channel: "渠道-b"}, SentAt: 1234}}
	if err := l.PutOrder(o); err != nil {
		t.Fatal(err)
	}
	var got []LiveSummary
	if err := l.ScanLiveSummaries(func(s LiveSummary) error { got = append(got, s); return nil }); err != nil {
		t.Fatal(err)
	}
	want := LiveSummary{ID: o.ID, State: engine.StatePlaced, HeldAt: 77, Attempt: 2, SentAt: 1234, Channel: "渠道-b"}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("summaries %+v, want %+v", got, want)
	}
	if _, err := decodeLiveSummary(o.ID, []byte{1, 2}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short summary: %v", err)
	}
}
