package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"topup/bench/opersim"
	"topup/bench/sockmodsim"
	"topup/cmd/internal/config"
	"topup/engine"
	"topup/persistence"
	"topup/persistence/redisserver"
)

// startTestNode runs a node in-process on a real redis-server and a
// socket-module simulator, with one merchant m1 (key merchant-key).
func startTestNode(t *testing.T, opts ...Option) (*Node, *sockmodsim.Sim, config.Config) {
	t.Helper()
	redis := redisserver.StartT(t, redisserver.Options{})
	sim, err := sockmodsim.Start(sockmodsim.Config{Listen: "127.0.0.1:0", MD5Key: "simkey-123", Mix: sockmodsim.Mix{Success: 1},
		CallbackAddr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	cfg := config.Default()
	cfg.Node.DataDir = t.TempDir()
	cfg.Redis.Addr = redis.Addr()
	cfg.OperatorAPI.Listen, cfg.AdminAPI.Listen, cfg.Sockmod.CallbackListen = freeAddr(t), freeAddr(t), freeAddr(t)
	cfg.AdminAPI.Token = "admin-token"
	cfg.Merchants = []config.Merchant{{UID: "m1", Name: "m", MD5Key: "merchant-key", PricePermille: 1000}}
	cfg.Channels = []config.Channel{{Name: "s", Kind: "sockmod", Addr: sim.Addr(), MD5Key: "simkey-123", Timeout: 5 * time.Second, MaxInflight: 10}}
	cfg.Products = []config.Product{{OrderType: 1, Carriers: []int{1}, FaceValues: []int{1000}, Routes: []config.Route{{Channel: "s"}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n, err := Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n, sim, cfg
}

func freeAddr(t *testing.T) string {
	addr, err := redisserver.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestDiskErrorsStopOrders injects EIO into the order log's writes and
// syncs: the node answers not_ready, turns readiness off, keeps refusing
// after the disk recovers (until restarted), and nothing unlogged reaches
// a supplier.
func TestDiskErrorsStopOrders(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	var failing atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failing.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.Contains(op.Path, string(filepath.Separator)+"orderlog") {
			return errorfs.ErrInjected
		}
		return nil
	}))
	n, sim, _ := startTestNode(t, WithLogFS(fs))
	ctx := context.Background()
	if _, _, err := n.log.PutFunding(persistence.Funding{UID: "m1", FundingID: "f", Amount: 100_000}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.ledger.Fund(ctx, "m1", "f", 100_000, 0); err != nil {
		t.Fatal(err)
	}
	op := &opersim.Client{BaseURL: "http://" + n.OperatorAddr(), UID: "m1", Key: "merchant-key"}
	order := func(no string) opersim.Answer {
		a, err := op.PlaceOrder(ctx, opersim.Order{OrderNo: no, OrderType: 1, MobileType: 1, Phone: "13800000000", FaceValue: 1000, NotifyURL: "http://127.0.0.1:1/n"}, false)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	ready := func() int {
		resp, err := http.Get("http://" + n.AdminAddr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if a := order("ok-1"); a.Code != 200 || ready() != 200 {
		t.Fatalf("healthy node: %+v ready %d", a, ready())
	}
	time.Sleep(200 * time.Millisecond)
	received := sim.Stats().Received

	failing.Store(true)
	a := order("fail-1")
	if a.Code != 400 || a.Reason != engine.ErrNotReady.Reason() || a.HTTPStatus != 503 {
		t.Fatalf("order during disk errors: %+v", a)
	}
	if ready() != 503 {
		t.Fatal("readiness still on after a log write failed")
	}
	failing.Store(false)
	if a := order("fail-2"); a.Reason != engine.ErrNotReady.Reason() {
		t.Fatalf("order after the disk recovered (no restart): %+v", a)
	}
	time.Sleep(300 * time.Millisecond)
	if got := sim.Stats().Received; got != received {
		t.Fatalf("the supplier received %d orders after the log failed", got-received)
	}
}
