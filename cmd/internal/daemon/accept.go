package daemon

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"topup/engine"
	"topup/persistence"
	"topup/transports/operapi"
)

// acceptor is the order acceptance path: the operator API's Service.
//
// An order is charged in Redis (Lua, keyed by the new platform id, which
// also sets the (uid, order_no) idempotency key) and then logged in Pebble
// with Sync; only then is it answered 200 and handed to its actor. A crash
// between the two leaves a charge whose order is not logged: the operator's
// retry of the same order_no finds the idempotency key, sees that the order
// is this node's and missing from the log, and logs it then (it was paid
// for); start-up recovery refunds such charges whose retry never came.
type acceptor struct {
	n        *Node
	locks    [256]sync.Mutex
	seed     maphash.Seed
	inflight chan struct{}
	// busyAt is when (unix nanoseconds) at least busyAccepts requests were
	// last being accepted at once.
	busyAt      atomic.Int64
	busyAccepts int
}

// busyHold is how long the operator API counts as busy after it last was:
// requests complete in batches (one Redis round trip, one log commit), so
// the number in flight dips between batches of a steady stream.
const busyHold = 100 * time.Millisecond

func newAcceptor(n *Node, maxInflight, busyAccepts int) *acceptor {
	return &acceptor{n: n, seed: maphash.MakeSeed(), inflight: make(chan struct{}, maxInflight), busyAccepts: busyAccepts}
}

// busy reports whether the operator API is busy accepting orders: at least
// busyAccepts requests in flight at once within the last busyHold.
func (a *acceptor) busy() bool {
	return time.Now().UnixNano()-a.busyAt.Load() < int64(busyHold)
}

// Merchant implements operapi.Service.
func (a *acceptor) Merchant(uid string) (engine.Merchant, bool) { return a.n.merchant(uid) }

func (a *acceptor) lock(uid, orderNo string) *sync.Mutex {
	var h maphash.Hash
	h.SetSeed(a.seed)
	h.WriteString(uid)
	h.WriteByte(0)
	h.WriteString(orderNo)
	return &a.locks[h.Sum64()%uint64(len(a.locks))]
}

// PlaceOrder implements operapi.Service.
func (a *acceptor) PlaceOrder(ctx context.Context, m engine.Merchant, req *operapi.OrderRequest) engine.Code {
	n := a.n
	if !n.ready() {
		return engine.ErrNotReady
	}
	if n.rt.Overloaded() {
		n.metrics.rejected.WithLabelValues(engine.ErrOverloaded.Reason()).Inc()
		return engine.ErrOverloaded
	}
	select {
	case a.inflight <- struct{}{}:
		defer func() { <-a.inflight }()
		if len(a.inflight) >= a.busyAccepts {
			a.busyAt.Store(time.Now().UnixNano())
		}
	default:
		n.metrics.rejected.WithLabelValues(engine.ErrOverloaded.Reason()).Inc()
		return engine.ErrOverloaded
	}
	start := time.Now()
	code := a.place(ctx, m, req)
	if code == engine.OK {
		n.metrics.accepted.Inc()
		n.metrics.acceptSeconds.Observe(time.Since(start).Seconds())
	} else {
		n.metrics.rejected.WithLabelValues(code.Reason()).Inc()
	}
	return code
}

func (a *acceptor) place(ctx context.Context, m engine.Merchant, req *operapi.OrderRequest) engine.Code {
	n := a.n
	prod, ok := n.product(req.OrderType, req.MobileType, req.FaceValue)
	if !ok {
		return engine.ErrUnknownProduct
	}
	hash := req.FieldsHash()
	mu := a.lock(req.UID, req.OrderNo)
	mu.Lock()
	defer mu.Unlock()
	if code, done := a.existing(req.UID, req.OrderNo, hash); done {
		return code
	}
	id, err := n.log.NewID()
	if err != nil {
		n.rt.MarkLogFailed(err)
		return engine.ErrNotReady
	}
	now := n.now().UnixMilli()
	charge := engine.ChargeFor(req.FaceValue, m.PricePermille)
	o := engine.Order{ID: id, UID: req.UID, OrderNo: req.OrderNo, OrderType: req.OrderType, Carrier: req.MobileType,
		Phone: req.Phone, FaceValue: req.FaceValue, Charge: charge, NotifyURL: req.NotifyURL, FieldsHash: hash,
		CreatedAt: now, UpdatedAt: now, State: engine.StateAccepted,
		Routes: engine.PlanRoutes(prod.Routes, req.FaceValue, charge, uint64(id))}
	if prod.DeadlineMs > 0 {
		o.Deadline = now + prod.DeadlineMs
	}
	// Not derived from ctx: the operator API passes fasthttp's RequestCtx,
	// and a context derived from it costs a goroutine per request and races
	// with the server's shutdown. The handler is bounded by this time-out.
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	res, err := n.ledger.Accept(rctx, req.UID, req.OrderNo, id, charge, hash, now)
	cancel()
	if err != nil {
		n.logger.Warn("ledger accept failed", "uid", req.UID, "order_no", req.OrderNo, "err", err)
		return engine.ErrUnavailable
	}
	switch res.Code {
	case persistence.AcceptOK:
	case persistence.AcceptInsufficient:
		return engine.ErrInsufficientBalance
	case persistence.AcceptUntrusted:
		return engine.ErrBalanceUntrusted
	case persistence.AcceptDuplicate:
		if res.ExistingHash != hash {
			return engine.ErrDuplicateMismatch
		}
		if res.ExistingID.Node() != nodeID(n.cfg) {
			return engine.OK // another node took it first and owns it
		}
		// Ours and charged, but not in the log: a crash or a failed log
		// write between charge and log. It was paid for: log it now.
		o.ID = res.ExistingID
		o.Routes = engine.PlanRoutes(prod.Routes, req.FaceValue, charge, uint64(o.ID))
	default:
		return engine.ErrUnavailable
	}
	if err := n.log.PutOrder(&o); err != nil {
		n.rt.MarkLogFailed(err)
		return engine.ErrNotReady
	}
	n.ledger.AcceptDone(o.ID)
	n.rt.Start(o)
	return engine.OK
}

// existing answers a duplicate from the order log: the same fields get the
// first order's answer (which was 200), different fields are rejected.
func (a *acceptor) existing(uid, orderNo, hash string) (engine.Code, bool) {
	id, ok, err := a.n.log.LookupOrderNo(uid, orderNo)
	if err != nil {
		return engine.ErrUnavailable, true
	}
	if !ok {
		return 0, false
	}
	o, ok, err := a.n.log.GetOrder(id)
	if err != nil || !ok {
		return engine.ErrUnavailable, true
	}
	if o.FieldsHash != hash {
		return engine.ErrDuplicateMismatch, true
	}
	return engine.OK, true
}

// Balance implements operapi.Service.
func (a *acceptor) Balance(ctx context.Context, m engine.Merchant) (operapi.BalanceData, engine.Code) {
	n := a.n
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // not derived from RequestCtx (see place)
	defer cancel()
	bal, trusted, err := n.ledger.Balance(ctx, m.UID)
	if err != nil {
		return operapi.BalanceData{}, engine.ErrUnavailable
	}
	if !trusted {
		return operapi.BalanceData{}, engine.ErrBalanceUntrusted
	}
	tot, err := n.ledger.Totals(ctx, m.UID)
	if err != nil {
		return operapi.BalanceData{}, engine.ErrUnavailable
	}
	entries, err := n.ledger.Entries(ctx, m.UID, 1)
	if err != nil {
		return operapi.BalanceData{}, engine.ErrUnavailable
	}
	now := n.now()
	y, mo, d := now.Date()
	data := operapi.BalanceData{AccountBalance: int64(bal), BillingDate: time.Date(y, mo, d, 0, 0, 0, 0, now.Location()).UnixMilli(),
		Currency: "人民币", Expenditure: int64(tot.Expenditure), GmtCreate: now.UnixMilli(), Income: int64(tot.Income),
		OperatorName: m.Name}
	if len(entries) > 0 {
		e := entries[0]
		data.PayMoney, data.PaymentDetailID, data.Record = int64(e.Amount), e.Seq, recordName(e.Kind)
		data.ID = e.Seq
	}
	return data, engine.OK
}

func recordName(kind string) string {
	switch kind {
	case "fund":
		return "账户充值"
	case "charge":
		return "订单扣款"
	case "refund":
		return "订单退款"
	}
	return kind
}

// QueryOrder implements operapi.Service.
func (a *acceptor) QueryOrder(ctx context.Context, m engine.Merchant, orderNo string) (*engine.Order, engine.Code) {
	id, ok, err := a.n.log.LookupOrderNo(m.UID, orderNo)
	if err != nil {
		return nil, engine.ErrUnavailable
	}
	if !ok {
		return nil, engine.ErrOrderNotFound
	}
	o, ok, err := a.n.log.GetOrder(id)
	if err != nil {
		return nil, engine.ErrUnavailable
	}
	if !ok {
		return nil, engine.ErrOrderNotFound
	}
	return &o, engine.OK
}

var errNoMerchant = errors.New("daemon: no such merchant")
