package daemon

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"topup/actors"
	"topup/cmd/internal/config"
	"topup/engine"
	"topup/transports/dingyin"
	"topup/transports/juhe"
)

// Callback paths of HTTP suppliers on the operator listener; the channel
// name follows the prefix.
const (
	juheCallbackPrefix    = "/callback/juhe/"
	dingyinCallbackPrefix = "/callback/dingyin/"
)

// supplierOrderID is an attempt's order number at an HTTP supplier.
func supplierOrderID(o *engine.Order, a engine.Attempt) string {
	return strconv.FormatInt(o.ID.SupplierNo(a.N), 10)
}

// juheChannel places attempts with a Juhe account.
type juheChannel struct {
	cfg config.Channel
	cli *juhe.Client
}

func newJuheChannel(c config.Channel, publicURL string) (*juheChannel, error) {
	jc := juhe.Config{BaseURL: c.BaseURL, OpenID: c.OpenID, Key: c.Key, Timeout: c.Timeout, MaxConns: c.MaxInflight}
	if c.Callbacks {
		jc.CallbackURL = strings.TrimRight(publicURL, "/") + juheCallbackPrefix + c.Name
	}
	cli, err := juhe.NewClient(jc)
	if err != nil {
		return nil, fmt.Errorf("daemon: channel %s: %w", c.Name, err)
	}
	return &juheChannel{cfg: c, cli: cli}, nil
}

// Submit implements actors.Channel.
func (c *juheChannel) Submit(ctx context.Context, o *engine.Order, a engine.Attempt) engine.EvSubmitted {
	r := c.cli.Submit(ctx, supplierOrderID(o, a), o.Phone, a.Route.Code)
	return engine.EvSubmitted{Outcome: r.Outcome, Detail: r.Detail, Ref: r.Ref}
}

// Query implements actors.Querier.
func (c *juheChannel) Query(ctx context.Context, o *engine.Order, a engine.Attempt) engine.EvResult {
	r := c.cli.Query(ctx, supplierOrderID(o, a))
	return engine.EvResult{Outcome: r.Outcome, Detail: r.Detail, Ref: r.Ref, Cost: r.Cost}
}

// Polls implements actors.Querier.
func (c *juheChannel) Polls() bool { return !c.cfg.Callbacks }

// dingyinChannel places attempts with a Dingyin-style supplier.
type dingyinChannel struct {
	cfg   config.Channel
	cli   *dingyin.Client
	guard *actors.Guarded
	now   func() time.Time
}

func newDingyinChannel(c config.Channel, publicURL string, now func() time.Time) (*dingyinChannel, error) {
	dc := dingyin.Config{BaseURL: c.BaseURL, UserID: c.UserID, Key: c.Key, Timeout: c.Timeout, MaxConns: c.MaxInflight}
	if c.Callbacks {
		dc.BackURL = strings.TrimRight(publicURL, "/") + dingyinCallbackPrefix + c.Name
	}
	cli, err := dingyin.NewClient(dc)
	if err != nil {
		return nil, fmt.Errorf("daemon: channel %s: %w", c.Name, err)
	}
	return &dingyinChannel{cfg: c, cli: cli, now: now}, nil
}

func (c *dingyinChannel) noteBalance(r dingyin.Result) {
	if c.guard == nil {
		return
	}
	switch {
	case r.HasBalance:
		c.guard.ReportBalance(r.FundBalance)
	case dingyin.IsLowBalance(r.ResultNo):
		c.guard.ReportBalance(0) // out of rotation until a balance query says otherwise
	}
}

// Submit implements actors.Channel.
func (c *dingyinChannel) Submit(ctx context.Context, o *engine.Order, a engine.Attempt) engine.EvSubmitted {
	r := c.cli.Submit(ctx, supplierOrderID(o, a), o.Phone, a.Route.Code, 1, time.UnixMilli(a.SentAt))
	c.noteBalance(r)
	return engine.EvSubmitted{Outcome: r.Outcome, Detail: r.Detail, Ref: r.Ref}
}

// Query implements actors.Querier.
func (c *dingyinChannel) Query(ctx context.Context, o *engine.Order, a engine.Attempt) engine.EvResult {
	r := c.cli.Query(ctx, supplierOrderID(o, a))
	c.noteBalance(r)
	return engine.EvResult{Outcome: r.Outcome, Detail: r.Detail, Ref: r.Ref, Cost: r.Cost}
}

// Polls implements actors.Querier.
func (c *dingyinChannel) Polls() bool { return !c.cfg.Callbacks }

// pollBalance asks the supplier for our balance every BalancePoll until ctx ends.
func (c *dingyinChannel) pollBalance(ctx context.Context, n *Node) {
	t := time.NewTicker(c.cfg.BalancePoll)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		bal, err := c.cli.Balance(qctx)
		cancel()
		if err == nil {
			c.guard.ReportBalance(bal)
		} else if ctx.Err() == nil {
			n.logger.Warn("supplier balance query failed", "channel", c.cfg.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// handleSupplierCallback serves HTTP supplier callbacks on the operator
// listener. The reply the supplier wants is written only once the result
// is durable.
func (n *Node) handleSupplierCallback(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	// fail answers a callback that was not taken. Juhe takes any body as
	// "received", so its failures carry none and it resends.
	fail := func(status int, msg string) {
		ctx.SetStatusCode(status)
		if !strings.HasPrefix(path, juheCallbackPrefix) {
			ctx.SetBodyString(msg)
		}
	}
	var (
		name    string
		orderID string
		ev      engine.EvResult
		reply   []byte
		proto   string
	)
	switch {
	case strings.HasPrefix(path, juheCallbackPrefix):
		proto, name = "juhe", strings.TrimPrefix(path, juheCallbackPrefix)
		ch, ok := n.juheChs[name]
		if !ok {
			fail(fasthttp.StatusNotFound, "no such channel")
			return
		}
		cb, err := juhe.ParseCallback(ctx.QueryArgs())
		if err != nil {
			n.metrics.callbacks.WithLabelValues(proto, "malformed").Inc()
			fail(fasthttp.StatusBadRequest, "malformed callback")
			return
		}
		if !cb.SignOK(ch.cfg.Key) {
			n.metrics.callbacks.WithLabelValues(proto, "bad_sign").Inc()
			fail(fasthttp.StatusForbidden, "bad sign")
			return
		}
		orderID, reply = cb.OrderID, juhe.CallbackReply()
		ev = engine.EvResult{Outcome: cb.Outcome(), Detail: cb.Detail(), Ref: cb.SporderID}
	case strings.HasPrefix(path, dingyinCallbackPrefix):
		proto, name = "dingyin", strings.TrimPrefix(path, dingyinCallbackPrefix)
		ch, ok := n.dingyinChs[name]
		if !ok {
			fail(fasthttp.StatusNotFound, "no such channel")
			return
		}
		cb, err := dingyin.ParseCallback(ctx.Request.Header.ContentType(), ctx.PostBody())
		if err != nil {
			n.metrics.callbacks.WithLabelValues(proto, "malformed").Inc()
			fail(fasthttp.StatusBadRequest, "malformed callback")
			return
		}
		if !cb.SignOK(ch.cfg.Key) || cb.UserID != ch.cfg.UserID {
			n.metrics.callbacks.WithLabelValues(proto, "bad_sign").Inc()
			fail(fasthttp.StatusForbidden, "bad sign")
			return
		}
		if fb, err := dingyin.ParseYuan(cb.FundBalance); err == nil && cb.FundBalance != "" && ch.guard != nil {
			ch.guard.ReportBalance(fb)
		}
		orderID, reply = cb.SporderID, dingyin.CallbackReply()
		ev = engine.EvResult{Outcome: cb.Outcome(), Detail: cb.Detail(), Ref: cb.OrderID}
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"code":404,"count":0,"msg":"no such path","reason":"not_found"}`)
		return
	}
	no, err := strconv.ParseInt(orderID, 10, 64)
	id, attempt := engine.SplitSupplierNo(no)
	if err != nil || id == 0 || attempt == 0 {
		n.metrics.callbacks.WithLabelValues(proto, "unknown_order").Inc()
		n.logger.Warn("supplier callback for an order number we never issued; acknowledged", "channel", name, "orderid", orderID)
		ctx.SetBody(reply)
		return
	}
	ev.Attempt, ev.Channel = attempt, name
	if !n.recordResult(proto, id, ev, orderID) {
		fail(fasthttp.StatusServiceUnavailable, "not recorded, retry")
		return
	}
	ctx.SetBody(reply)
}
