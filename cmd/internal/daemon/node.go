// Package daemon assembles one engine node from its configuration: the
// order log, the ledger, the actor runtime, the supplier channels and the
// listeners (operator API, admin API, socket-module callbacks).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"topup/actors"
	"topup/cmd/internal/config"
	"topup/engine"
	"topup/persistence"
	"topup/persistence/redisserver"
	"topup/transports/operapi"
	"topup/transports/sockmod"
)

// Node is one running engine node.
type Node struct {
	cfg        config.Config
	logger     *slog.Logger
	now        func() time.Time
	log        *persistence.Log
	rdb        *redis.Client
	redisSrv   *redisserver.Server
	ledger     *persistence.Ledger
	rt         *actors.Runtime
	reg        *prometheus.Registry
	metrics    *nodeMetrics
	products   []engine.Product
	sockChs    []*sockmodChannel
	juheChs    map[string]*juheChannel
	dingyinChs map[string]*dingyinChannel
	guards     map[string]*actors.Guarded
	bgCancel   context.CancelFunc
	sockCli    *sockmod.Client
	acceptor   *acceptor

	mu        sync.RWMutex
	merchants map[string]engine.Merchant

	recovered   atomic.Bool
	reconciling atomic.Bool
	opSrv       *fasthttp.Server
	adminSrv    *fasthttp.Server
	opLn        net.Listener
	adminLn     net.Listener
	cbSrv       *sockmod.CallbackServer
}

// nodeID is the node id as the engine uses it.
func nodeID(c config.Config) uint16 { return uint16(c.Node.ID) }

// Option adjusts how a node starts (tests).
type Option func(*startOptions)

type startOptions struct {
	logFS vfs.FS
}

// WithLogFS runs the order log on fs (fault injection in tests).
func WithLogFS(fs vfs.FS) Option { return func(o *startOptions) { o.logFS = fs } }

// Start opens everything, recovers live orders and starts the listeners.
func Start(cfg config.Config, logger *slog.Logger, opts ...Option) (*Node, error) {
	var so startOptions
	for _, o := range opts {
		o(&so)
	}
	n := &Node{cfg: cfg, logger: logger, now: time.Now, merchants: map[string]engine.Merchant{},
		products: cfg.EngineProducts(), reg: prometheus.NewRegistry()}
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.metrics = newNodeMetrics(n.reg)
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()
	if err := os.MkdirAll(cfg.Node.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("daemon: data dir: %w", err)
	}
	if cfg.Redis.Spawn {
		_, port, _ := net.SplitHostPort(cfg.Redis.Addr)
		var p int
		fmt.Sscan(port, &p)
		srv, err := redisserver.Start(redisserver.Options{Dir: filepath.Join(cfg.Node.DataDir, "redis"), Port: p, AppendOnly: true,
			ExtraArgs: []string{"--appendfsync", "always"}})
		if err != nil {
			return nil, fmt.Errorf("daemon: spawning redis: %w", err)
		}
		n.redisSrv = srv
		logger.Info("spawned redis-server", "addr", srv.Addr(), "dir", filepath.Join(cfg.Node.DataDir, "redis"))
	}
	var err error
	n.log, err = persistence.OpenLog(filepath.Join(cfg.Node.DataDir, "orderlog"), nodeID(cfg), persistence.LogOptions{FS: so.logFS, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("daemon: opening order log: %w", err)
	}
	n.rdb = redis.NewClient(&redis.Options{Addr: cfg.Redis.Addr, DB: cfg.Redis.DB, Password: cfg.Redis.Password,
		PoolSize: 64, MinIdleConns: 8, DialTimeout: 3 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second})
	pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.rdb.Ping(pctx).Err(); err != nil {
		return nil, fmt.Errorf("daemon: redis at %s: %w", cfg.Redis.Addr, err)
	}
	n.ledger = persistence.NewLedger(n.rdb, nodeID(cfg))
	if err := n.bootstrapMerchants(pctx); err != nil {
		return nil, err
	}
	n.sockCli, err = sockmod.NewClient()
	if err != nil {
		return nil, fmt.Errorf("daemon: socket-module client: %w", err)
	}
	channels := map[string]actors.Channel{}
	n.guards = map[string]*actors.Guarded{}
	n.juheChs, n.dingyinChs = map[string]*juheChannel{}, map[string]*dingyinChannel{}
	bg, bgCancel := context.WithCancel(context.Background())
	n.bgCancel = bgCancel
	for _, ch := range cfg.Channels {
		var inner actors.Channel
		switch ch.Kind {
		case "sockmod":
			sc := newSockmodChannel(ch, n.sockCli)
			n.sockChs = append(n.sockChs, sc)
			inner = sc
		case "juhe":
			jc, err := newJuheChannel(ch, cfg.PublicURL)
			if err != nil {
				return nil, err
			}
			n.juheChs[ch.Name] = jc
			inner = jc
		case "dingyin":
			dc, err := newDingyinChannel(ch, cfg.PublicURL, n.now)
			if err != nil {
				return nil, err
			}
			n.dingyinChs[ch.Name] = dc
			inner = dc
		}
		if inner == nil {
			continue
		}
		g := actors.Guard(inner, actors.GuardConfig{Name: ch.Name, MaxInflight: ch.MaxInflight, LowBalance: engine.Fen(ch.LowBalance),
			Breaker: actors.BreakerConfig{Window: ch.Breaker.Window, MinSamples: ch.Breaker.MinSamples,
				FailRatio: ch.Breaker.FailRatio, OpenFor: ch.Breaker.OpenFor}}, n.reg, n.now)
		n.guards[ch.Name] = g
		channels[ch.Name] = g.Channel()
		if dc, ok := n.dingyinChs[ch.Name]; ok {
			dc.guard = g
			if ch.BalancePoll > 0 {
				go dc.pollBalance(bg, n)
			}
		}
	}
	n.acceptor = newAcceptor(n, cfg.OperatorAPI.MaxInflight, cfg.Node.Placement.BusyAccepts)
	notifier := operapi.NewNotifier(operapi.NotifierOptions{Timeout: cfg.Notify.Timeout})
	n.rt = actors.New(actors.Config{Node: nodeID(cfg), IdleTimeout: cfg.Node.IdleActorTimeout, MaxSubmitting: cfg.Node.MaxSubmitting,
		Placement: actors.PlacementPolicy{MaxBacklog: cfg.Node.Placement.MaxBacklog, MaxPlacing: cfg.Node.Placement.MaxPlacing,
			BusyRate: cfg.Node.Placement.BusyRate, MaxDefer: cfg.Node.Placement.MaxDefer},
		Query:  actors.QueryPolicy{Schedule: cfg.Query.Schedule, HoldAfter: cfg.Query.HoldAfter},
		Notify: actors.NotifyPolicy{Attempts: cfg.Notify.Attempts, Backoff: cfg.Notify.Backoff, Timeout: cfg.Notify.Timeout, Workers: cfg.Notify.Workers}},
		actors.Deps{Log: n.log, Ledger: n.ledger, Channels: channels, Deliver: notifier.Deliver,
			CallbackBody: n.callbackBody, Logger: logger, Metrics: actors.NewMetrics(n.reg),
			AcceptBusy: n.acceptor.busy})
	n.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "topup_order_actors", Help: "Order actors running."},
			func() float64 { return float64(n.rt.LiveActors()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "topup_submissions_inflight",
			Help: "Submissions waiting for or talking to a supplier (bounded by node.max_submitting)."},
			func() float64 { return float64(n.rt.Submitting()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "topup_orders_waiting",
			Help: "Orders waiting on a supplier with a query or hold timer."},
			func() float64 { return float64(n.rt.Pending()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "topup_placement_backlog",
			Help: "Accepted orders waiting to be placed (bounded by node.placement.max_backlog)."},
			func() float64 { return float64(n.rt.Backlog()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "topup_placing",
			Help: "Orders in their placing step (bounded by node.placement.max_placing, fewer while accepting)."},
			func() float64 { return float64(n.rt.Placing()) }))

	// Callbacks and the admin API come up before recovery: results for
	// recovered orders must be accepted; orders are not taken until recovery
	// is done (readiness).
	n.cbSrv, err = sockmod.ListenCallbacks(cfg.Sockmod.CallbackListen, n.handleSockmodCallback,
		sockmod.ServerOptions{Workers: cfg.Sockmod.Workers})
	if err != nil {
		return nil, fmt.Errorf("daemon: socket-module callback listener: %w", err)
	}
	if err := n.startAdmin(); err != nil {
		return nil, err
	}
	if err := n.recover(pctx); err != nil {
		return nil, err
	}
	if err := n.startOperatorAPI(); err != nil {
		return nil, err
	}
	ok = true
	logger.Info("node ready", "node", cfg.Node.ID, "operator_api", n.opLn.Addr().String(),
		"admin_api", n.adminLn.Addr().String(), "sockmod_callbacks", n.cbSrv.Addr())
	return n, nil
}

// bootstrapMerchants creates configured merchants that the log does not
// have. A brand-new merchant gets a zero balance in Redis; a known merchant
// whose Redis balance is missing stays untrusted until reconciled.
func (n *Node) bootstrapMerchants(ctx context.Context) error {
	for _, cm := range n.cfg.Merchants {
		m := cm.EngineMerchant()
		_, known, err := n.log.GetMerchant(m.UID)
		if err != nil {
			return fmt.Errorf("daemon: reading merchant %s: %w", m.UID, err)
		}
		if err := n.log.PutMerchant(m); err != nil {
			return fmt.Errorf("daemon: writing merchant %s: %w", m.UID, err)
		}
		if !known {
			if _, err := n.ledger.InitMerchant(ctx, m.UID); err != nil {
				return fmt.Errorf("daemon: initialising balance of %s: %w", m.UID, err)
			}
		} else if _, trusted, err := n.ledger.Balance(ctx, m.UID); err == nil && !trusted {
			n.logger.Warn("merchant balance missing in redis; orders refused until `topupctl reconcile --fix`", "uid", m.UID)
		}
	}
	ms, err := n.log.Merchants()
	if err != nil {
		return fmt.Errorf("daemon: listing merchants: %w", err)
	}
	n.mu.Lock()
	for _, m := range ms {
		n.merchants[m.UID] = m
	}
	n.mu.Unlock()
	return nil
}

// recover resumes every live order in the log and settles charges that were
// made in Redis for orders that never reached the log.
func (n *Node) recover(ctx context.Context) error {
	start := time.Now()
	counts := map[string]int{}
	err := n.log.ScanLiveSummaries(func(s persistence.LiveSummary) error {
		counts[s.State.String()]++
		switch s.State {
		case engine.StatePlaced, engine.StateUncertain:
			// Waiting for the supplier: no actor until a result, query or
			// hold is due; the timer is set from the summary alone.
			n.rt.ScheduleWaiting(s)
			return nil
		case engine.StateAccepted:
			// Never placed: through placement admission like a new order.
			n.rt.Resume(s.ID)
			return nil
		}
		n.rt.Deliver(s.ID, engine.EvRecovered{})
		return nil
	})
	if err != nil {
		return fmt.Errorf("daemon: scanning live orders: %w", err)
	}
	abandoned := 0
	pending, err := n.ledger.Pending(ctx)
	if err != nil {
		return fmt.Errorf("daemon: reading pending accepts: %w", err)
	}
	for _, p := range pending {
		if _, ok, err := n.log.GetOrder(p.ID); err != nil {
			return fmt.Errorf("daemon: recovery: %w", err)
		} else if ok {
			n.ledger.AcceptDone(p.ID)
			continue
		}
		refunded, err := n.ledger.AbandonAccept(ctx, p.UID, p.OrderNo, p.ID, n.now().UnixMilli())
		if err != nil {
			return fmt.Errorf("daemon: abandoning unlogged charge %s: %w", p.ID, err)
		}
		if refunded {
			abandoned++
		}
	}
	took := time.Since(start)
	total := 0
	args := []any{"took", took.String(), "abandoned_charges", abandoned}
	for s, c := range counts {
		total += c
		args = append(args, s, c)
		n.metrics.recovered.WithLabelValues(s).Set(float64(c))
	}
	n.metrics.recoverySeconds.Set(took.Seconds())
	n.logger.Info("recovery done", append([]any{"live_orders", total}, args...)...)
	n.recovered.Store(true)
	return nil
}

func (n *Node) ready() bool {
	return n.recovered.Load() && n.rt.Healthy() && !n.reconciling.Load()
}

func (n *Node) merchant(uid string) (engine.Merchant, bool) {
	n.mu.RLock()
	m, ok := n.merchants[uid]
	n.mu.RUnlock()
	return m, ok
}

func (n *Node) product(orderType, carrier int, face engine.Fen) (*engine.Product, bool) {
	for i := range n.products {
		if n.products[i].Matches(orderType, carrier, face) {
			return &n.products[i], true
		}
	}
	return nil, false
}

func (n *Node) callbackBody(o *engine.Order) ([]byte, error) {
	m, ok := n.merchant(o.UID)
	if !ok {
		return nil, fmt.Errorf("%w: %s", errNoMerchant, o.UID)
	}
	return operapi.CallbackBody(o, m.MD5Key), nil
}

func (n *Node) startOperatorAPI() error {
	ln, err := net.Listen("tcp", n.cfg.OperatorAPI.Listen)
	if err != nil {
		return fmt.Errorf("daemon: operator api: %w", err)
	}
	n.opLn = ln
	n.opSrv = &fasthttp.Server{Handler: operapi.NewHandler(n.acceptor, n.handleSupplierCallback), Name: "topupd",
		MaxRequestBodySize: n.cfg.OperatorAPI.MaxBodyBytes, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 120 * time.Second, Concurrency: 256 * 1024, NoDefaultServerHeader: true, CloseOnShutdown: true}
	go func() {
		if err := n.opSrv.Serve(ln); err != nil {
			n.logger.Error("operator api stopped", "err", err)
		}
	}()
	return nil
}

// OperatorAddr is the bound operator API address.
func (n *Node) OperatorAddr() string { return n.opLn.Addr().String() }

// Close stops the node. Safe on a partly started node.
func (n *Node) Close() {
	if n.bgCancel != nil {
		n.bgCancel()
	}
	// Listeners first; idle keep-alive connections get a short grace period.
	for _, srv := range []*fasthttp.Server{n.opSrv, n.adminSrv} {
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_ = srv.ShutdownWithContext(ctx)
			cancel()
		}
	}
	// The runtime drains its submissions while callbacks are still taken.
	if n.rt != nil {
		n.rt.Close()
	}
	if n.cbSrv != nil {
		_ = n.cbSrv.Close()
	}
	if n.sockCli != nil {
		_ = n.sockCli.Close()
	}
	if n.ledger != nil {
		_ = n.ledger.Close()
	}
	if n.rdb != nil {
		_ = n.rdb.Close()
	}
	if n.log != nil {
		if err := n.log.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			n.logger.Warn("closing order log", "err", err)
		}
	}
	if n.redisSrv != nil {
		_ = n.redisSrv.Stop()
	}
}
