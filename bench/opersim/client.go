// Package opersim is a test operator for the operator API (spec 000): a
// Client that signs and pushes orders and queries balances and orders, and a
// Receiver that takes our result callbacks, checks their signs and records
// them, with fault injection to exercise retries. Integration tests and the
// bench harness use it against a real engine over loopback HTTP.
//
// The package owns no mutable globals; every Client and Receiver is
// independent.
package opersim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"topup/engine"
	"topup/transports/operapi"
)

// DefaultTimeout bounds a Client call whose context has no deadline.
const DefaultTimeout = 10 * time.Second

// ErrReplySign is wrapped when a signed reply's sign does not verify.
var ErrReplySign = errors.New("opersim: reply sign does not verify")

// ErrReply is wrapped when a reply is not the JSON the API promises.
var ErrReply = errors.New("opersim: malformed reply")

// Client is one operator calling the API. A zero HTTP uses a client of its
// own, made on first use. A Client is safe for concurrent use once its
// fields are set; it must not be copied after first use.
type Client struct {
	// BaseURL is the API's root, like http://127.0.0.1:8088.
	BaseURL string
	// UID is the operator's uid.
	UID string
	// Key is the operator's md5key.
	Key string
	// HTTP is the client requests go through; nil: a default one.
	HTTP *fasthttp.Client

	once sync.Once
	def  *fasthttp.Client
}

// Order is what an operator pushes; uid and sign are added by the Client.
type Order struct {
	OrderNo    string
	OrderType  int
	MobileType int
	Phone      string
	FaceValue  engine.Fen
	NotifyURL  string
}

// Answer is the API's answer to a call, as received.
type Answer struct {
	// HTTPStatus is the HTTP status code.
	HTTPStatus int
	// Code is the body's code (200 success, 400 failure), read from a JSON
	// number or string.
	Code int
	// Count is the body's count.
	Count int
	// Msg is the body's msg.
	Msg string
	// Reason is the engine.Code reason of a failure ("" on success).
	Reason string
	// Raw is the whole body.
	Raw []byte
}

// OK reports whether the answer is a success.
func (a Answer) OK() bool { return a.HTTPStatus == fasthttp.StatusOK && a.Code == 200 }

func (c *Client) client() *fasthttp.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	c.once.Do(func() {
		c.def = &fasthttp.Client{Name: "opersim", MaxConnsPerHost: 512, MaxConnWaitTimeout: DefaultTimeout}
	})
	return c.def
}

// post sends body to path and returns the HTTP status and a copy of the body.
func (c *Client) post(ctx context.Context, path, contentType string, body []byte) (int, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, fmt.Errorf("opersim: %s: %w", path, err)
	}
	deadline := time.Now().Add(DefaultTimeout)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(strings.TrimSuffix(c.BaseURL, "/") + path)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType(contentType)
	req.SetBody(body)
	if err := c.client().DoDeadline(req, resp, deadline); err != nil {
		return 0, nil, fmt.Errorf("opersim: %s: %w", path, err)
	}
	return resp.StatusCode(), bytes.Clone(resp.Body()), nil
}

// envelope is a reply body; code and count may be numbers or strings.
type envelope struct {
	Code   json.RawMessage `json:"code"`
	Count  json.RawMessage `json:"count"`
	Msg    string          `json:"msg"`
	Reason string          `json:"reason"`
	Sign   string          `json:"sign"`
	Data   json.RawMessage `json:"data"`
}

func flexInt(raw json.RawMessage) (int, error) {
	s := strings.Trim(string(raw), `"`)
	if s == "" {
		return 0, nil
	}
	return strconv.Atoi(s)
}

func decodeAnswer(status int, body []byte) (Answer, envelope, error) {
	a := Answer{HTTPStatus: status, Raw: body}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return a, env, fmt.Errorf("%w: HTTP %d %.64q: %v", ErrReply, status, body, err)
	}
	var err1, err2 error
	a.Code, err1 = flexInt(env.Code)
	a.Count, err2 = flexInt(env.Count)
	if err := errors.Join(err1, err2); err != nil {
		return a, env, fmt.Errorf("%w: code/count %s/%s: %v", ErrReply, env.Code, env.Count, err)
	}
	a.Msg, a.Reason = env.Msg, env.Reason
	return a, env, nil
}

// PlaceOrder signs o and pushes it, as a form or as JSON (numbers as JSON
// numbers). The error is for transport failures and unreadable answers; a
// refusal is an Answer with Code 400 and its Reason.
func (c *Client) PlaceOrder(ctx context.Context, o Order, asJSON bool) (Answer, error) {
	sign := operapi.OrderSign(c.UID, o.OrderNo, o.Phone, o.FaceValue, c.Key)
	var body []byte
	ct := "application/x-www-form-urlencoded"
	if asJSON {
		ct = "application/json"
		var err error
		body, err = json.Marshal(struct {
			UID        string     `json:"uid"`
			OrderNo    string     `json:"order_no"`
			OrderType  int        `json:"order_type"`
			MobileType int        `json:"mobile_type"`
			Phone      string     `json:"phone_number"`
			FaceValue  engine.Fen `json:"face_value"`
			NotifyURL  string     `json:"notify_url"`
			Sign       string     `json:"sign"`
		}{c.UID, o.OrderNo, o.OrderType, o.MobileType, o.Phone, o.FaceValue, o.NotifyURL, sign})
		if err != nil {
			return Answer{}, fmt.Errorf("opersim: encode order: %w", err)
		}
	} else {
		args := fasthttp.AcquireArgs()
		args.Add("uid", c.UID)
		args.Add("order_no", o.OrderNo)
		args.Add("order_type", strconv.Itoa(o.OrderType))
		args.Add("mobile_type", strconv.Itoa(o.MobileType))
		args.Add("phone_number", o.Phone)
		args.Add("face_value", strconv.FormatInt(int64(o.FaceValue), 10))
		args.Add("notify_url", o.NotifyURL)
		args.Add("sign", sign)
		body = args.AppendBytes(nil)
		fasthttp.ReleaseArgs(args)
	}
	status, resp, err := c.post(ctx, operapi.PathOrder, ct, body)
	if err != nil {
		return Answer{}, err
	}
	a, _, err := decodeAnswer(status, resp)
	return a, err
}

// signedCall posts form and, for a success answer, verifies the reply sign
// and decodes data into v.
func (c *Client) signedCall(ctx context.Context, path string, form *fasthttp.Args, v any) (Answer, error) {
	status, resp, err := c.post(ctx, path, "application/x-www-form-urlencoded", form.AppendBytes(nil))
	if err != nil {
		return Answer{}, err
	}
	a, env, err := decodeAnswer(status, resp)
	if err != nil || !a.OK() {
		return a, err
	}
	if len(env.Data) == 0 || !operapi.DataSignOK(env.Data, c.Key, env.Sign) {
		return a, fmt.Errorf("%w: %s sign %q", ErrReplySign, path, env.Sign)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		return a, fmt.Errorf("%w: %s data: %v", ErrReply, path, err)
	}
	return a, nil
}

// Balance queries the operator's balance. A success answer's sign must
// verify (else an error wrapping ErrReplySign); a refusal is returned as an
// Answer with zero data and no error.
func (c *Client) Balance(ctx context.Context) (operapi.BalanceData, Answer, error) {
	args := fasthttp.AcquireArgs()
	defer fasthttp.ReleaseArgs(args)
	args.Add("uid", c.UID)
	args.Add("sign", operapi.BalanceSign(c.UID, c.Key))
	var d operapi.BalanceData
	a, err := c.signedCall(ctx, operapi.PathBalance, args, &d)
	return d, a, err
}

// QueryOrder queries one of the operator's orders by order_no. A success
// answer's sign must verify (else an error wrapping ErrReplySign); a refusal
// (order_not_found, …) is returned as an Answer with zero data and no error.
func (c *Client) QueryOrder(ctx context.Context, orderNo string) (operapi.OrderData, Answer, error) {
	args := fasthttp.AcquireArgs()
	defer fasthttp.ReleaseArgs(args)
	args.Add("uid", c.UID)
	args.Add("order_no", orderNo)
	args.Add("sign", operapi.QuerySign(c.UID, orderNo, c.Key))
	var d operapi.OrderData
	a, err := c.signedCall(ctx, operapi.PathQueryOrder, args, &d)
	return d, a, err
}
