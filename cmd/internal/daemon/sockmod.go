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
	id, attempt := engine.SplitSupplierNo(r.ChargeID)
	if id.Node() != nodeID(n.cfg) {
		n.metrics.callbacks.WithLabelValues("sockmod", "other_node").Inc()
		n.logger.Warn("socket-module callback for another node's order", "charge_id", r.ChargeID, "node", id.Node())
		return nil, false
	}
	// Partial success (retCash below the face value) is judged by the engine,
	// which knows the order: the callback is classified without loading it.
	out, detail := sockmod.ClassifyResult(r, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = n.rt.Ask(ctx, id, engine.EvResult{Attempt: attempt, Channel: ch.cfg.Name, Outcome: out, Detail: detail,
		Cost: r.RetCost, Recharged: r.RetCash})
	switch {
	case err == nil:
		n.metrics.callbacks.WithLabelValues("sockmod", "ok").Inc()
		return okReply, true
	case errors.Is(err, engine.ErrUnknownAttempt), errors.Is(err, engine.ErrWrongChannel), errors.Is(err, actors.ErrNotFound):
		n.metrics.callbacks.WithLabelValues("sockmod", "rejected").Inc()
		n.logger.Warn("socket-module callback does not match the order; answered OK so it stops", "charge_id", r.ChargeID, "err", err)
		return okReply, true
	}
	n.metrics.callbacks.WithLabelValues("sockmod", "error").Inc()
	n.logger.Warn("socket-module callback not recorded; the module will resend", "charge_id", r.ChargeID, "err", err)
	return nil, false
}
