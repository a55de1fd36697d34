package operapi

import (
	"context"

	"github.com/valyala/fasthttp"

	"topup/engine"
)

// Request paths.
const (
	PathOrder      = "/1/api/oper/order"
	PathBalance    = "/1/api/oper/balance"
	PathQueryOrder = "/1/api/oper/query_order"
)

// Transport-level answers that are not engine codes.
const (
	replyNotFound         = `{"code":404,"count":0,"msg":"no such path","reason":"not_found"}`
	replyMethodNotAllowed = `{"code":405,"count":0,"msg":"use POST","reason":"method_not_allowed"}`
)

// Service is what the API needs from the engine. Calls are made on the
// fasthttp handler goroutine and must not block on suppliers. The context is
// the request's and is valid only for the duration of the call.
type Service interface {
	// Merchant looks up an operator by uid.
	Merchant(uid string) (engine.Merchant, bool)
	// PlaceOrder accepts, or reports why it does not accept, an order whose
	// fields and sign have been checked.
	PlaceOrder(ctx context.Context, m engine.Merchant, req *OrderRequest) engine.Code
	// Balance reports the merchant's balance.
	Balance(ctx context.Context, m engine.Merchant) (BalanceData, engine.Code)
	// QueryOrder finds the merchant's order by its order_no.
	QueryOrder(ctx context.Context, m engine.Merchant, orderNo string) (*engine.Order, engine.Code)
}

type handler struct {
	svc      Service
	fallback fasthttp.RequestHandler
}

// NewHandler serves the three operator paths from svc and hands any other
// path to fallback (nil: a 404 JSON answer). It checks, in order: method
// (POST, else 405), body size (MaxBodySize, else 413), fields, uid
// (unknown_uid), sign (bad_sign), and only then calls svc.
func NewHandler(svc Service, fallback fasthttp.RequestHandler) fasthttp.RequestHandler {
	h := &handler{svc: svc, fallback: fallback}
	return h.serve
}

func (h *handler) serve(ctx *fasthttp.RequestCtx) {
	var serve func(*fasthttp.RequestCtx)
	switch string(ctx.Path()) {
	case PathOrder:
		serve = h.order
	case PathBalance:
		serve = h.balance
	case PathQueryOrder:
		serve = h.query
	default:
		if h.fallback != nil {
			h.fallback(ctx)
			return
		}
		writeJSON(ctx, fasthttp.StatusNotFound, []byte(replyNotFound))
		return
	}
	if !ctx.IsPost() {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, fasthttp.MethodPost)
		writeJSON(ctx, fasthttp.StatusMethodNotAllowed, []byte(replyMethodNotAllowed))
		return
	}
	if len(ctx.PostBody()) > MaxBodySize {
		writeJSON(ctx, fasthttp.StatusRequestEntityTooLarge, Reply(engine.ErrBadRequest))
		return
	}
	serve(ctx)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.SetBody(body)
}

// writeCode answers with Reply(c): HTTP 503 for codes the catalogue marks
// 503 (retry, nothing changed), HTTP 200 for every other business answer.
func writeCode(ctx *fasthttp.RequestCtx, c engine.Code) {
	status := fasthttp.StatusOK
	if c.HTTPStatus() == fasthttp.StatusServiceUnavailable {
		status = fasthttp.StatusServiceUnavailable
	}
	writeJSON(ctx, status, Reply(c))
}

// merchant resolves the uid of a request whose parse ended with code. A
// malformed sign is reported only once the uid is known, so that an unknown
// uid is always unknown_uid.
func (h *handler) merchant(ctx *fasthttp.RequestCtx, uid string, code engine.Code) (engine.Merchant, bool) {
	if code != engine.OK && code != engine.ErrBadSign {
		writeCode(ctx, code)
		return engine.Merchant{}, false
	}
	m, ok := h.svc.Merchant(uid)
	if !ok {
		writeCode(ctx, engine.ErrUnknownUID)
		return engine.Merchant{}, false
	}
	if code == engine.ErrBadSign {
		writeCode(ctx, engine.ErrBadSign)
		return engine.Merchant{}, false
	}
	return m, true
}

func (h *handler) order(ctx *fasthttp.RequestCtx) {
	req, code := ParseOrder(ctx.Request.Header.ContentType(), ctx.PostBody())
	m, ok := h.merchant(ctx, req.UID, code)
	if !ok {
		return
	}
	if !req.SignOK(m.MD5Key) {
		writeCode(ctx, engine.ErrBadSign)
		return
	}
	writeCode(ctx, h.svc.PlaceOrder(ctx, m, &req))
}

func (h *handler) balance(ctx *fasthttp.RequestCtx) {
	req, code := ParseBalance(ctx.Request.Header.ContentType(), ctx.PostBody())
	m, ok := h.merchant(ctx, req.UID, code)
	if !ok {
		return
	}
	if !req.SignOK(m.MD5Key) {
		writeCode(ctx, engine.ErrBadSign)
		return
	}
	data, code := h.svc.Balance(ctx, m)
	if code != engine.OK {
		writeCode(ctx, code)
		return
	}
	h.writeSigned(ctx, data, m.MD5Key)
}

func (h *handler) query(ctx *fasthttp.RequestCtx) {
	req, code := ParseQuery(ctx.Request.Header.ContentType(), ctx.PostBody())
	m, ok := h.merchant(ctx, req.UID, code)
	if !ok {
		return
	}
	if !req.SignOK(m.MD5Key) {
		writeCode(ctx, engine.ErrBadSign)
		return
	}
	o, code := h.svc.QueryOrder(ctx, m, req.OrderNo)
	if code == engine.OK && o == nil {
		code = engine.ErrOrderNotFound
	}
	if code != engine.OK {
		writeCode(ctx, code)
		return
	}
	h.writeSigned(ctx, OrderDataFor(o, m.Name), m.MD5Key)
}

func (h *handler) writeSigned(ctx *fasthttp.RequestCtx, v any, key string) {
	data, err := MarshalData(v)
	if err != nil {
		// The data types hold only strings and integers; this cannot happen
		// short of a programming error.
		writeCode(ctx, engine.ErrUnavailable)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, SignedReply(data, key))
}
