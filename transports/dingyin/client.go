package dingyin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"topup/engine"
)

// Errors of Balance (and of the transport beneath every call). Callers use
// errors.Is.
var (
	// ErrTransport: no usable answer: a network error, a time-out, a
	// non-2xx HTTP status (redirects included) or an answer over
	// MaxResponseBody.
	ErrTransport = errors.New("dingyin: transport error")
	// ErrRejected: the supplier answered with a request error.
	ErrRejected = errors.New("dingyin: request rejected")
)

// orderTimeLayout is spordertime's layout, yyyyMMddHHmmss.
const orderTimeLayout = "20060102150405"

// Result is the classified answer to a submission or a status query.
type Result struct {
	// Outcome is what the answer means for the attempt (see ClassifyResultNo);
	// OutcomeUncertain for every transport failure.
	Outcome engine.Outcome
	// ResultNo is the supplier's resultno, "" when there was no usable answer.
	ResultNo string
	// Detail explains the result for people and logs. For resultno 5002 it
	// starts "resultno 5002: supplier balance too low".
	Detail string
	// Ref is the supplier's own order number (orderid), where reported.
	Ref string
	// Cost is what the supplier charged us (ordercash), 0 if not reported.
	Cost engine.Fen
	// FundBalance is our balance at the supplier (fundbalance), valid when
	// HasBalance.
	FundBalance engine.Fen
	// HasBalance reports whether the answer carried a readable fundbalance.
	HasBalance bool
}

// Client calls one Dingyin supplier. It is safe for concurrent use.
type Client struct {
	hc                              *fasthttp.Client
	timeout                         time.Duration
	submitURL, queryURL, balanceURL string
	userID, key, backURL            []byte // GBK
	cst                             *time.Location
}

// NewClient validates c and builds a Client over its own fasthttp client.
func NewClient(c Config) (*Client, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	userID, _ := toGBK(c.UserID) // checked by Validate
	key, _ := toGBK(c.Key)
	var backURL []byte
	if c.BackURL != "" {
		backURL, _ = toGBK(c.BackURL)
	}
	return &Client{
		hc: &fasthttp.Client{
			Name:                      "topup-dingyin",
			MaxConnsPerHost:           c.MaxConns,
			MaxConnWaitTimeout:        c.Timeout,
			ReadTimeout:               c.Timeout,
			WriteTimeout:              c.Timeout,
			MaxIdleConnDuration:       maxIdleConn,
			MaxResponseBodySize:       MaxResponseBody,
			DisablePathNormalizing:    true,
			MaxIdemponentCallAttempts: 2,
			RetryIfErr:                retryReads,
		},
		timeout:    c.Timeout,
		submitURL:  c.BaseURL + SubmitPath,
		queryURL:   c.BaseURL + QueryPath,
		balanceURL: c.BaseURL + BalancePath,
		userID:     userID,
		key:        key,
		backURL:    backURL,
		cst:        time.FixedZone("CST", 8*60*60),
	}, nil
}

// retryReads lets fasthttp retry a status or balance query once after a
// connection error (typically a keep-alive connection the supplier closed);
// a submission is never resent.
func retryReads(req *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	if errors.Is(err, fasthttp.ErrTimeout) || bytes.HasSuffix(req.URI().Path(), []byte(SubmitPath)) {
		return false, false
	}
	return false, true
}

// Close drops idle connections. Calls after Close still work.
func (c *Client) Close() {
	c.hc.CloseIdleConnections()
}

// Submit places order sporderID (our supplier order number) for account and
// productID (may be empty: the supplier picks by number), num items, ordered
// at orderTime. It sends once and never retries.
//
// A value that cannot be sent (empty sporderID or account, num < 1, text GBK
// cannot represent) is OutcomeFailRoute with a Detail saying it was not
// sent. Every transport failure is OutcomeUncertain, as is a cancelled ctx.
func (c *Client) Submit(ctx context.Context, sporderID, account, productID string, num int, orderTime time.Time) Result {
	body, err := c.submitBody(sporderID, account, productID, num, orderTime)
	if err != nil {
		return Result{Outcome: engine.OutcomeFailRoute, Detail: "dingyin: submit not sent: " + err.Error()}
	}
	rb, err := c.post(ctx, c.submitURL, body)
	return result("submit", rb, err, sporderID, false)
}

func (c *Client) submitBody(sporderID, account, productID string, num int, orderTime time.Time) ([]byte, error) {
	var errs []error
	if sporderID == "" {
		errs = append(errs, errors.New("empty sporderid"))
	}
	if account == "" {
		errs = append(errs, errors.New("empty account"))
	}
	if num < 1 {
		errs = append(errs, fmt.Errorf("num %d is not positive", num))
	}
	acct, err := toGBK(account)
	if err != nil {
		errs = append(errs, fmt.Errorf("account: %w", err))
	}
	prod, err := toGBK(productID)
	if err != nil {
		errs = append(errs, fmt.Errorf("productid: %w", err))
	}
	spo, err := toGBK(sporderID)
	if err != nil {
		errs = append(errs, fmt.Errorf("sporderid: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	numText := strconv.AppendInt(make([]byte, 0, 20), int64(num), 10)
	when := orderTime.In(c.cst).AppendFormat(make([]byte, 0, len(orderTimeLayout)), orderTimeLayout)
	sign := submitSignGBK(c.userID, prod, numText, nil, nil, acct, when, spo, c.key)

	b := make([]byte, 0, 256+3*(len(acct)+len(prod)+len(spo)+len(c.backURL)))
	b = appendForm(b, "userid", c.userID)
	b = appendForm(b, "productid", prod)
	b = appendForm(b, "num", numText)
	b = appendForm(b, "areaid", nil)
	b = appendForm(b, "serverid", nil)
	b = appendForm(b, "account", acct)
	b = appendForm(b, "userip", nil)
	b = appendForm(b, "spordertime", when)
	b = appendForm(b, "sporderid", spo)
	b = appendForm(b, "sign", []byte(sign))
	if len(c.backURL) > 0 {
		b = appendForm(b, "back_url", c.backURL)
	}
	return b, nil
}

// Query asks searchpay.do for the status of order sporderID. A 5007 ("no
// such order") is OutcomeAccepted: the supplier may not have registered the
// order yet. Request errors and transport failures are OutcomeUncertain.
func (c *Client) Query(ctx context.Context, sporderID string) Result {
	spo, err := toGBK(sporderID)
	if err != nil || sporderID == "" {
		return Result{Outcome: engine.OutcomeUncertain, Detail: fmt.Sprintf("dingyin: query not sent: bad sporderid %q", sporderID)}
	}
	sign := querySignGBK(c.userID, spo, c.key)
	b := make([]byte, 0, 128+3*len(spo))
	b = appendForm(b, "userid", c.userID)
	b = appendForm(b, "sporderid", spo)
	b = appendForm(b, "sign", []byte(sign))
	rb, err := c.post(ctx, c.queryURL, b)
	return result("query", rb, err, sporderID, true)
}

// Balance asks searchbalance.do for our balance at the supplier. Errors wrap
// ErrTransport, ErrBadReply or ErrRejected.
func (c *Client) Balance(ctx context.Context) (engine.Fen, error) {
	sign := balanceSignGBK(c.userID, c.key)
	b := make([]byte, 0, 96)
	b = appendForm(b, "userid", c.userID)
	b = appendForm(b, "sign", []byte(sign))
	rb, err := c.post(ctx, c.balanceURL, b)
	if err != nil {
		return 0, fmt.Errorf("dingyin: balance: %w", err)
	}
	r, err := parseReply(rb)
	if err != nil {
		return 0, fmt.Errorf("dingyin: balance: %w", err)
	}
	if r.ResultNo != "" && r.ResultNo != CodeWaiting && r.ResultNo != CodeSuccess {
		return 0, fmt.Errorf("dingyin: balance: %w: %s", ErrRejected, describe(r.ResultNo))
	}
	if r.Balance == "" {
		return 0, fmt.Errorf("dingyin: balance: %w: no balance element", ErrBadReply)
	}
	f, err := ParseYuan(r.Balance)
	if err != nil {
		return 0, fmt.Errorf("dingyin: balance: %w: %w", ErrBadReply, err)
	}
	return f, nil
}

// post sends a form and returns a copy of the 2xx answer's body. Errors wrap
// ErrTransport.
func (c *Client) post(ctx context.Context, url string, body []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: not sent: %w", ErrTransport, err)
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.SetBodyRaw(body)
	if err := c.hc.DoDeadline(req, resp, deadline); err != nil {
		if errors.Is(err, fasthttp.ErrTimeout) {
			return nil, fmt.Errorf("%w: time-out: %w", ErrTransport, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	if st := resp.StatusCode(); st < 200 || st > 299 {
		if loc := resp.Header.Peek(fasthttp.HeaderLocation); len(loc) > 0 {
			return nil, fmt.Errorf("%w: HTTP %d to %q (redirects are not followed)", ErrTransport, st, loc)
		}
		return nil, fmt.Errorf("%w: HTTP %d", ErrTransport, st)
	}
	return append([]byte(nil), resp.Body()...), nil
}

// result classifies the answer to a submission or status query.
func result(op string, body []byte, err error, sporderID string, query bool) Result {
	if err != nil {
		return Result{Outcome: engine.OutcomeUncertain, Detail: op + ": " + err.Error()}
	}
	r, err := parseReply(body)
	if err != nil {
		return Result{Outcome: engine.OutcomeUncertain, Detail: op + ": " + err.Error()}
	}
	if r.ResultNo == "" {
		return Result{Outcome: engine.OutcomeUncertain, Detail: op + ": " + ErrBadReply.Error() + ": no resultno"}
	}
	if r.SporderID != "" && r.SporderID != sporderID {
		return Result{Outcome: engine.OutcomeUncertain,
			Detail: fmt.Sprintf("%s: %v: answer names sporderid %q, not %q", op, ErrBadReply, r.SporderID, sporderID)}
	}
	res := Result{
		Outcome:  ClassifyResultNo(r.ResultNo, query),
		ResultNo: r.ResultNo,
		Detail:   describe(r.ResultNo),
		Ref:      r.OrderID,
	}
	if r.OrderCash != "" {
		if f, err := ParseYuan(r.OrderCash); err == nil {
			res.Cost = f
		} else {
			res.Detail += fmt.Sprintf("; unreadable ordercash %q", r.OrderCash)
		}
	}
	if r.FundBalance != "" {
		if f, err := ParseYuan(r.FundBalance); err == nil {
			res.FundBalance, res.HasBalance = f, true
		} else {
			res.Detail += fmt.Sprintf("; unreadable fundbalance %q", r.FundBalance)
		}
	}
	return res
}
