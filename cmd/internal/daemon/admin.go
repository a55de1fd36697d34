package daemon

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"topup/engine"
	"topup/persistence"
)

type nodeMetrics struct {
	accepted        prometheus.Counter
	rejected        *prometheus.CounterVec
	acceptSeconds   prometheus.Histogram
	callbacks       *prometheus.CounterVec
	recovered       *prometheus.GaugeVec
	recoverySeconds prometheus.Gauge
}

func newNodeMetrics(reg prometheus.Registerer) *nodeMetrics {
	m := &nodeMetrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "topup_orders_accepted_total", Help: "Orders accepted (charged and logged)."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "topup_orders_rejected_total",
			Help: "Order requests rejected, by stable reason."}, []string{"reason"}),
		acceptSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "topup_accept_seconds",
			Help: "Time to accept an order (charge + synced log).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "topup_supplier_callbacks_total",
			Help: "Supplier result callbacks by protocol and outcome."}, []string{"protocol", "result"}),
		recovered: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "topup_recovered_orders",
			Help: "Live orders found in the log at the last start, by state."}, []string{"state"}),
		recoverySeconds: prometheus.NewGauge(prometheus.GaugeOpts{Name: "topup_recovery_seconds", Help: "Duration of the last start-up recovery."}),
	}
	reg.MustRegister(m.accepted, m.rejected, m.acceptSeconds, m.callbacks, m.recovered, m.recoverySeconds)
	return m
}

// pprofHandler serves net/http/pprof (behind the admin token).
var pprofHandler = fasthttpadaptor.NewFastHTTPHandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	default:
		pprof.Index(w, r)
	}
})

func (n *Node) startAdmin() error {
	ln, err := net.Listen("tcp", n.cfg.AdminAPI.Listen)
	if err != nil {
		return fmt.Errorf("daemon: admin api: %w", err)
	}
	n.adminLn = ln
	metrics := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	n.adminSrv = &fasthttp.Server{Name: "topupd-admin", NoDefaultServerHeader: true, MaxRequestBodySize: 64 << 10,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, CloseOnShutdown: true, IdleTimeout: time.Minute,
		Handler: func(ctx *fasthttp.RequestCtx) {
			path := string(ctx.Path())
			switch path {
			case "/healthz":
				ctx.SetBodyString("ok")
				return
			case "/readyz":
				if !n.ready() {
					ctx.SetStatusCode(503)
					ctx.SetBodyString("not ready")
					return
				}
				ctx.SetBodyString("ready")
				return
			case "/metrics":
				metrics(ctx)
				return
			}
			if !n.authorized(ctx) {
				adminError(ctx, engine.ErrUnauthorized, "")
				return
			}
			if strings.HasPrefix(path, "/debug/pprof/") {
				pprofHandler(ctx)
				return
			}
			n.admin(ctx, path)
		}}
	go func() {
		if err := n.adminSrv.Serve(ln); err != nil {
			n.logger.Error("admin api stopped", "err", err)
		}
	}()
	return nil
}

// AdminAddr is the bound admin API address.
func (n *Node) AdminAddr() string { return n.adminLn.Addr().String() }

func (n *Node) authorized(ctx *fasthttp.RequestCtx) bool {
	got := ctx.Request.Header.Peek("Authorization")
	want := "Bearer " + n.cfg.AdminAPI.Token
	return subtle.ConstantTimeCompare(got, []byte(want)) == 1
}

func adminError(ctx *fasthttp.RequestCtx, c engine.Code, detail string) {
	msg := c.Msg()
	if detail != "" {
		msg += ": " + detail
	}
	writeJSON(ctx, c.HTTPStatus(), map[string]any{"error": c.Reason(), "msg": msg})
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":"internal","msg":"cannot encode reply"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// admin routes:
//
//	POST /admin/merchants/{uid}/fund      {"amount": fen, "funding_id": "...", "note": "..."}
//	GET  /admin/merchants/{uid}           balance, totals, trust
//	GET  /admin/merchants/{uid}/ledger?n= latest ledger entries (newest first)
//	GET  /admin/orders/{id}
//	GET  /admin/orders?uid=&order_no=
//	GET  /admin/orders/held               orders awaiting a decision: uncertain, or held after the hold window
//	POST /admin/orders/{id}/resolve       {"result": "success"|"failed", "by": "...", "why": "..."}
func (n *Node) admin(ctx *fasthttp.RequestCtx, path string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	method := string(ctx.Method())
	switch {
	case len(parts) == 4 && parts[0] == "admin" && parts[1] == "merchants" && parts[3] == "fund" && method == "POST":
		n.adminFund(ctx, parts[2])
	case len(parts) == 3 && parts[0] == "admin" && parts[1] == "merchants" && method == "GET":
		n.adminMerchant(ctx, parts[2])
	case len(parts) == 4 && parts[0] == "admin" && parts[1] == "merchants" && parts[3] == "ledger" && method == "GET":
		n.adminLedger(ctx, parts[2])
	case len(parts) == 2 && parts[0] == "admin" && parts[1] == "orders" && method == "GET":
		uid, no := string(ctx.QueryArgs().Peek("uid")), string(ctx.QueryArgs().Peek("order_no"))
		id, ok, err := n.log.LookupOrderNo(uid, no)
		if err != nil {
			adminError(ctx, engine.ErrUnavailable, err.Error())
			return
		}
		if !ok {
			adminError(ctx, engine.ErrNotFound, "no order "+uid+"/"+no)
			return
		}
		n.adminOrder(ctx, id.String())
	case len(parts) == 3 && parts[0] == "admin" && parts[1] == "orders" && parts[2] == "held" && method == "GET":
		n.adminHeld(ctx)
	case len(parts) == 3 && parts[0] == "admin" && parts[1] == "orders" && method == "GET":
		n.adminOrder(ctx, parts[2])
	case len(parts) == 4 && parts[0] == "admin" && parts[1] == "orders" && parts[3] == "resolve" && method == "POST":
		n.adminResolve(ctx, parts[2])
	case len(parts) == 2 && parts[0] == "admin" && parts[1] == "reconcile" && (method == "GET" || method == "POST"):
		n.adminReconcile(ctx, method == "POST" && string(ctx.QueryArgs().Peek("fix")) == "1")
	default:
		adminError(ctx, engine.ErrNotFound, method+" "+path)
	}
}

// adminReconcile compares Redis with the order log and funding records and,
// with fix, repairs Redis. A fix stops taking orders while it runs (waiting
// for accepts in flight to finish) so the log and Redis hold still.
func (n *Node) adminReconcile(ctx *fasthttp.RequestCtx, fix bool) {
	if fix {
		n.reconciling.Store(true)
		defer n.reconciling.Store(false)
		deadline := time.Now().Add(10 * time.Second)
		for len(n.acceptor.inflight) > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := persistence.Reconcile(rctx, n.log, n.ledger, fix)
	if err != nil {
		adminError(ctx, engine.ErrConflict, err.Error())
		return
	}
	for _, m := range rep.Merchants {
		for _, d := range m.Diffs {
			n.logger.Warn("reconcile difference", "uid", d.UID, "kind", d.Kind, "id", d.ID, "want", d.Want, "got", d.Got, "fixed", d.Fixed, "detail", d.Detail)
		}
	}
	n.logger.Info("reconcile done", "fix", fix, "differences", rep.Differences, "fixed", rep.Fixed)
	writeJSON(ctx, 200, rep)
}

func (n *Node) adminFund(ctx *fasthttp.RequestCtx, uid string) {
	if _, ok := n.merchant(uid); !ok {
		adminError(ctx, engine.ErrNotFound, "no merchant "+uid)
		return
	}
	var req struct {
		Amount    int64  `json:"amount"`
		FundingID string `json:"funding_id"`
		Note      string `json:"note"`
		By        string `json:"by"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		adminError(ctx, engine.ErrBadRequest, err.Error())
		return
	}
	if req.Amount <= 0 || req.Amount > 1e12 || req.FundingID == "" || len(req.FundingID) > 64 || strings.ContainsRune(req.FundingID, 0) {
		adminError(ctx, engine.ErrBadRequest, "amount must be 1..1e12 fen and funding_id 1-64 characters")
		return
	}
	now := n.now().UnixMilli()
	f := persistence.Funding{UID: uid, FundingID: req.FundingID, Amount: engine.Fen(req.Amount), At: now, By: req.By, Note: req.Note}
	existing, created, err := n.log.PutFunding(f)
	if err != nil {
		adminError(ctx, engine.ErrUnavailable, err.Error())
		return
	}
	if !created && existing.Amount != f.Amount {
		adminError(ctx, engine.ErrConflict, fmt.Sprintf("funding %s was %d fen", req.FundingID, existing.Amount))
		return
	}
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	applied, bal, err := n.ledger.Fund(rctx, uid, req.FundingID, f.Amount, now)
	if err != nil {
		adminError(ctx, engine.ErrUnavailable, err.Error())
		return
	}
	n.logger.Info("merchant funded", "uid", uid, "funding_id", req.FundingID, "amount", req.Amount, "applied", applied, "balance", int64(bal))
	writeJSON(ctx, 200, map[string]any{"uid": uid, "funding_id": req.FundingID, "amount": req.Amount, "applied": applied, "balance": int64(bal)})
}

func (n *Node) adminMerchant(ctx *fasthttp.RequestCtx, uid string) {
	m, ok := n.merchant(uid)
	if !ok {
		adminError(ctx, engine.ErrNotFound, "no merchant "+uid)
		return
	}
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bal, trusted, err := n.ledger.Balance(rctx, uid)
	if err != nil {
		adminError(ctx, engine.ErrUnavailable, err.Error())
		return
	}
	tot, err := n.ledger.Totals(rctx, uid)
	if err != nil {
		adminError(ctx, engine.ErrUnavailable, err.Error())
		return
	}
	writeJSON(ctx, 200, map[string]any{"uid": uid, "name": m.Name, "price_permille": m.PricePermille,
		"balance": int64(bal), "trusted": trusted, "income": int64(tot.Income), "expenditure": int64(tot.Expenditure)})
}

func (n *Node) adminLedger(ctx *fasthttp.RequestCtx, uid string) {
	if _, ok := n.merchant(uid); !ok {
		adminError(ctx, engine.ErrNotFound, "no merchant "+uid)
		return
	}
	limit := 100
	if v, err := strconv.Atoi(string(ctx.QueryArgs().Peek("n"))); err == nil && v > 0 && v <= persistence.LedgerMax {
		limit = v
	}
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	entries, err := n.ledger.Entries(rctx, uid, limit)
	if err != nil {
		adminError(ctx, engine.ErrUnavailable, err.Error())
		return
	}
	writeJSON(ctx, 200, map[string]any{"uid": uid, "entries": entries})
}

func (n *Node) adminOrder(ctx *fasthttp.RequestCtx, idStr string) {
	id, err := engine.ParseID(idStr)
	if err != nil {
		adminError(ctx, engine.ErrBadRequest, err.Error())
		return
	}
	o, ok, err := n.log.GetOrder(id)
	if err != nil {
		adminError(ctx, engine.ErrUnavailable, err.Error())
		return
	}
	if !ok {
		adminError(ctx, engine.ErrNotFound, "no order "+idStr)
		return
	}
	writeJSON(ctx, 200, orderView(&o))
}

// orderView is the admin JSON form of an order.
func orderView(o *engine.Order) map[string]any {
	return map[string]any{"id": o.ID.String(), "uid": o.UID, "order_no": o.OrderNo, "order_type": o.OrderType,
		"carrier": o.Carrier, "phone": o.Phone, "face_value": int64(o.FaceValue), "charge": int64(o.Charge),
		"state": o.State.String(), "status": o.Status, "reason": o.Reason, "query_status": o.QueryStatus(),
		"notify": o.Notify.String(), "notify_attempts": o.NotifyAttempts, "notify_error": o.NotifyError,
		"attempts": attemptViews(o.Attempts), "resolution": o.Resolution, "held_at": o.HeldAt, "anomalies": o.Anomalies,
		"created_at": o.CreatedAt, "updated_at": o.UpdatedAt, "notify_url": o.NotifyURL}
}

func attemptViews(as []engine.Attempt) []map[string]any {
	out := make([]map[string]any, 0, len(as))
	for _, a := range as {
		out = append(out, map[string]any{"n": a.N, "channel": a.Route.Channel, "code": a.Route.Code, "state": a.State.String(),
			"detail": a.Detail, "sent_at": a.SentAt, "done_at": a.DoneAt, "ref": a.Ref, "cost": int64(a.Cost)})
	}
	return out
}

func (n *Node) adminHeld(ctx *fasthttp.RequestCtx) {
	var held []map[string]any
	err := n.log.ScanLive(func(o *engine.Order) error {
		if (o.State == engine.StateUncertain || o.HeldAt != 0) && len(held) < 10000 {
			held = append(held, orderView(o))
		}
		return nil
	})
	if err != nil {
		adminError(ctx, engine.ErrUnavailable, err.Error())
		return
	}
	writeJSON(ctx, 200, map[string]any{"orders": held, "count": len(held)})
}

func (n *Node) adminResolve(ctx *fasthttp.RequestCtx, idStr string) {
	id, err := engine.ParseID(idStr)
	if err != nil {
		adminError(ctx, engine.ErrBadRequest, err.Error())
		return
	}
	var req struct{ Result, By, Why string }
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil || (req.Result != "success" && req.Result != "failed") || req.By == "" || req.Why == "" {
		adminError(ctx, engine.ErrBadRequest, `want {"result":"success"|"failed","by":"who","why":"reason"}`)
		return
	}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o, err := n.rt.Ask(rctx, id, engine.EvResolve{Success: req.Result == "success", By: req.By, Why: req.Why})
	if err != nil {
		adminError(ctx, engine.ErrConflict, err.Error())
		return
	}
	n.logger.Info("order resolved by hand", "order", id, "result", req.Result, "by", req.By, "why", req.Why)
	writeJSON(ctx, 200, orderView(&o))
}
