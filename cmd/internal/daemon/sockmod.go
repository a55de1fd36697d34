package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"topup/actors"
	"topup/cmd/internal/config"
	"topup/engine"
	"topup/transports/sockmod"
)

// sockmodChannel places attempts with one socket module.
type sockmodChannel struct {
	cfg config.Channel
	cli *sockmod.Client
	sem chan struct{}
}

func newSockmodChannel(c config.Channel, cli *sockmod.Client) *sockmodChannel {
	return &sockmodChannel{cfg: c, cli: cli, sem: make(chan struct{}, c.MaxInflight)}
}

// Submit implements actors.Channel.
func (c *sockmodChannel) Submit(ctx context.Context, o *engine.Order, a engine.Attempt) engine.EvSubmitted {
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-ctx.Done():
		return engine.EvSubmitted{Outcome: engine.OutcomeUncertain, Detail: "engine stopping before submission"}
	}
	chargeType, _ := strconv.Atoi(a.Route.Code)
	no := o.ID.SupplierNo(a.N)
	frame, err := sockmod.EncodeOrder(sockmod.Order{ChargeID: no, ChargeAcct: o.Phone, ChargeCash: o.FaceValue,
		ChargeType: chargeType, Amount: 1, FaceValue: o.FaceValue, RetRsn: strconv.FormatInt(no, 10)}, c.cfg.MD5Key)
	if err != nil {
		return engine.EvSubmitted{Outcome: engine.OutcomeFailRoute, Detail: "cannot encode order: " + err.Error()}
	}
	reply, err := c.cli.Send(ctx, c.cfg.Addr, frame, c.cfg.Timeout)
	if err != nil {
		if errors.Is(err, sockmod.ErrNotSent) {
			// The connection was never made: the order certainly never left.
			return engine.EvSubmitted{Outcome: engine.OutcomeFailRoute, Detail: err.Error()}
		}
		return engine.EvSubmitted{Outcome: engine.OutcomeUncertain, Detail: err.Error()}
	}
	ack, err := sockmod.DecodeAck(reply)
	if err != nil {
		return engine.EvSubmitted{Outcome: engine.OutcomeUncertain, Detail: "malformed ack: " + err.Error()}
	}
	if !ack.VerifySign(c.cfg.MD5Key) {
		return engine.EvSubmitted{Outcome: engine.OutcomeUncertain, Detail: "ack with a bad sign"}
	}
	if ack.ChargeID != no {
		return engine.EvSubmitted{Outcome: engine.OutcomeUncertain, Detail: fmt.Sprintf("ack for chargeId %d, sent %d", ack.ChargeID, no)}
	}
	out, detail := sockmod.ClassifyAck(ack)
	return engine.EvSubmitted{Outcome: out, Detail: detail}
}

var okReply = []byte("OK")

// handleSockmodCallback takes one result callback. It answers OK only once
// the result is durable in the order log (or the callback is one that no
// retry could ever make acceptable: an unknown order or attempt).
func (n *Node) handleSockmodCallback(frame []byte) ([]byte, bool) {
	r, err := sockmod.DecodeResult(frame)
	if err != nil {
		n.metrics.callbacks.WithLabelValues("sockmod", "malformed").Inc()
		n.logger.Warn("malformed socket-module callback", "err", err)
		return nil, false
	}
	var ch *sockmodChannel
	for _, c := range n.sockChs {
		if r.VerifySign(c.cfg.MD5Key) {
			ch = c
			break
		}
	}
	if ch == nil {
		n.metrics.callbacks.WithLabelValues("sockmod", "bad_sign").Inc()
		n.logger.Warn("socket-module callback with a bad sign", "charge_id", r.ChargeID)
		return nil, false
	}
	if r.RetBalance > 0 {
		if g, ok := n.guards[ch.cfg.Name]; ok {
			g.ReportBalance(r.RetBalance)
		}
	}
	// Partial success (retCash below the face value) is judged by the engine,
	// which knows the order: the callback is classified without loading it.
	out, detail := sockmod.ClassifyResult(r, 0)
	id, attempt := engine.SplitSupplierNo(r.ChargeID)
	if !n.recordResult("sockmod", id, engine.EvResult{Attempt: attempt, Channel: ch.cfg.Name, Outcome: out, Detail: detail,
		Cost: r.RetCost, Recharged: r.RetCash}, strconv.FormatInt(r.ChargeID, 10)) {
		return nil, false
	}
	return okReply, true
}

// recordResult hands a supplier's result for attempt ev.Attempt of order id
// to the order and reports whether the supplier may be told it was taken:
// yes once the result is durable, and also for a result that no resend could
// ever make acceptable (an unknown order or attempt, a wrong channel); no for
// another node's order or a result that could not be logged, so the supplier
// resends it.
func (n *Node) recordResult(proto string, id engine.ID, ev engine.EvResult, supplierNo string) bool {
	if id.Node() != nodeID(n.cfg) {
		n.metrics.callbacks.WithLabelValues(proto, "other_node").Inc()
		n.logger.Warn("supplier callback for another node's order", "protocol", proto, "supplier_no", supplierNo, "node", id.Node())
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := n.rt.Ask(ctx, id, ev)
	switch {
	case err == nil:
		n.metrics.callbacks.WithLabelValues(proto, "ok").Inc()
		return true
	case errors.Is(err, engine.ErrUnknownAttempt), errors.Is(err, engine.ErrWrongChannel), errors.Is(err, actors.ErrNotFound):
		n.metrics.callbacks.WithLabelValues(proto, "rejected").Inc()
		n.logger.Warn("supplier callback does not match the order; acknowledged so it stops", "protocol", proto,
			"channel", ev.Channel, "supplier_no", supplierNo, "err", err)
		return true
	}
	n.metrics.callbacks.WithLabelValues(proto, "error").Inc()
	n.logger.Warn("supplier callback not recorded; the supplier will resend", "protocol", proto,
		"channel", ev.Channel, "supplier_no", supplierNo, "err", err)
	return false
}
