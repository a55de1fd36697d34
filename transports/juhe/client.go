package juhe

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"topup/engine"
)

// ErrConfig: the configuration is invalid. Config.Validate's error wraps it.
var ErrConfig = errors.New("juhe: invalid config")

// Paths of the API, relative to Config.BaseURL.
const (
	PathSubmit = "/flow/onlineorder"
	PathQuery  = "/flow/ordersta"
)

// Defaults and limits.
const (
	// DefaultTimeout bounds one request when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxConns is the connection limit when Config.MaxConns is zero.
	DefaultMaxConns = 512
	// MaxReplyBody is the largest reply body read; a longer one is a
	// transport failure (OutcomeUncertain).
	MaxReplyBody = 64 << 10
	// idleConnDuration closes pooled connections before a server's
	// keep-alive time-out (commonly 60s or more, at least 5s) can, so that a
	// submission, which is never retried, seldom meets a connection the
	// server has just closed.
	idleConnDuration = 4 * time.Second
)

// Config configures a Client.
type Config struct {
	// BaseURL is the API's scheme and host, optionally with a path prefix,
	// e.g. http://v.juhe.cn. Requests go to BaseURL+PathSubmit and
	// BaseURL+PathQuery.
	BaseURL string
	// OpenID is the account's OpenID, used only in the submission sign.
	OpenID string
	// Key is the interface's request key, also the appkey of callback signs.
	Key string
	// Timeout bounds one request, from taking a connection to the last byte
	// of the reply (default DefaultTimeout).
	Timeout time.Duration
	// MaxConns bounds the connections to the API host (default
	// DefaultMaxConns). Requests beyond it wait for a free connection
	// within their time-out.
	MaxConns int
	// CallbackURL is sent as cburl with every submission when non-empty; it
	// must then be an absolute http or https URL.
	CallbackURL string
}

// Validate reports every problem of the configuration at once; the error
// wraps ErrConfig.
func (c Config) Validate() error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("BaseURL is empty"))
	} else if err := checkURL(c.BaseURL); err != nil {
		errs = append(errs, fmt.Errorf("BaseURL: %w", err))
	} else if u, _ := url.Parse(c.BaseURL); u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, errors.New("BaseURL must not have a query or fragment"))
	}
	if c.OpenID == "" {
		errs = append(errs, errors.New("OpenID is empty"))
	}
	if c.Key == "" {
		errs = append(errs, errors.New("Key is empty"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Timeout %v is negative", c.Timeout))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("MaxConns %d is negative", c.MaxConns))
	}
	if c.CallbackURL != "" {
		if err := checkURL(c.CallbackURL); err != nil {
			errs = append(errs, fmt.Errorf("CallbackURL: %w", err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// checkURL accepts absolute http and https URLs with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q is not an http or https URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}

// Result is a classified reply. Transports decide nothing else: what to do
// with the outcome is the engine's business.
type Result struct {
	// Outcome is the reply's meaning for the order.
	Outcome engine.Outcome
	// Code is the reply's error_code, or CodeTransport (-1) when there was
	// none (network error, time-out, HTTP error status, unparseable body, or
	// a request not sent).
	Code int
	// Detail describes the reply for people and logs.
	Detail string
	// Ref is Juhe's order number (sporder_id), when the reply carries it.
	Ref string
	// Cost is what the order costs us (uordercash), when the reply carries
	// it.
	Cost engine.Fen
}

// Client talks to one Juhe account. It is safe for concurrent use.
//
// Design: fasthttp's Client.Do never follows redirects, so a 3xx reaches
// classify as a status code, and its per-request deadline bounds waiting
// for a connection, dialling, writing and reading alike. fasthttp has no
// context support; a context that can be cancelled runs the request on its
// own goroutine, which owns the pooled request and response until fasthttp
// returns.
type Client struct {
	http      *fasthttp.Client
	submitURL string
	queryURL  string
	openID    string
	key       string
	cbURL     string
	timeout   time.Duration
}

// NewClient validates c and builds a client.
func NewClient(c Config) (*Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	base := strings.TrimRight(c.BaseURL, "/")
	cl := &Client{
		submitURL: base + PathSubmit,
		queryURL:  base + PathQuery,
		openID:    c.OpenID,
		key:       c.Key,
		cbURL:     c.CallbackURL,
		timeout:   c.Timeout,
	}
	queryPath := []byte(queryPathOf(cl.queryURL))
	cl.http = &fasthttp.Client{
		Name:                "topup-juhe",
		MaxConnsPerHost:     c.MaxConns,
		MaxConnWaitTimeout:  c.Timeout,
		MaxIdleConnDuration: idleConnDuration,
		ReadTimeout:         c.Timeout,
		WriteTimeout:        c.Timeout,
		MaxResponseBodySize: MaxReplyBody,
		// Only status queries may be sent twice; a submission whose
		// connection failed is uncertain, never resent.
		RetryIfErr: func(req *fasthttp.Request, _ int, _ error) (bool, bool) {
			return false, string(req.URI().Path()) == string(queryPath)
		},
	}
	return cl, nil
}

// queryPathOf is the path part of the query URL, as fasthttp normalises it.
func queryPathOf(u string) string {
	var uri fasthttp.URI
	if err := uri.Parse(nil, []byte(u)); err != nil {
		return PathQuery
	}
	return string(uri.Path())
}

// validOrderID reports whether id is 8–32 ASCII letters and digits, as the
// API requires.
func validOrderID(id string) bool {
	if len(id) < 8 || len(id) > 32 {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// Submit places an order: phone is the number to recharge, pid Juhe's
// product id, orderID our order number (8–32 letters and digits). The
// request is bounded by Config.Timeout and by ctx. Outcomes: accepted (with
// Ref and Cost), a definite failure, or uncertain; see the package
// documentation.
func (c *Client) Submit(ctx context.Context, orderID, phone, pid string) Result {
	if !validOrderID(orderID) {
		return Result{Outcome: engine.OutcomeFailRoute, Code: CodeTransport,
			Detail: fmt.Sprintf("not sent: orderid %q is not 8-32 letters and digits", orderID)}
	}
	if pid == "" {
		return Result{Outcome: engine.OutcomeFailRoute, Code: CodeTransport, Detail: "not sent: pid is empty"}
	}
	req := fasthttp.AcquireRequest()
	req.SetRequestURI(c.submitURL)
	a := req.PostArgs()
	a.Add("phone", phone)
	a.Add("pid", pid)
	a.Add("orderid", orderID)
	a.Add("key", c.key)
	a.Add("sign", SubmitSign(c.openID, c.key, phone, pid, orderID))
	if c.cbURL != "" {
		a.Add("cburl", c.cbURL)
	}
	return c.exchange(ctx, req, false, orderID)
}

// Query asks for the status of an order submitted earlier. game_state 0
// gives OutcomeAccepted (no news), 1 OutcomeSuccess (with Cost), 9
// OutcomeFailRoute; every failed query is OutcomeUncertain.
func (c *Client) Query(ctx context.Context, orderID string) Result {
	if !validOrderID(orderID) {
		return Result{Outcome: engine.OutcomeUncertain, Code: CodeTransport,
			Detail: fmt.Sprintf("not sent: orderid %q is not 8-32 letters and digits", orderID)}
	}
	req := fasthttp.AcquireRequest()
	req.SetRequestURI(c.queryURL)
	a := req.PostArgs()
	a.Add("orderid", orderID)
	a.Add("key", c.key)
	return c.exchange(ctx, req, true, orderID)
}

// exchange sends req (taking ownership of it) and classifies the reply.
func (c *Client) exchange(ctx context.Context, req *fasthttp.Request, query bool, orderID string) Result {
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	if err := ctx.Err(); err != nil {
		fasthttp.ReleaseRequest(req)
		return transportFailure("not sent", err)
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if ctx.Done() == nil {
		return c.roundTrip(req, deadline, query, orderID)
	}
	done := make(chan Result, 1)
	go func() { done <- c.roundTrip(req, deadline, query, orderID) }()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		select {
		case r := <-done: // the reply won the race
			return r
		default:
		}
		return transportFailure("abandoned", ctx.Err())
	}
}

// roundTrip performs the request, releases it, and classifies the reply.
func (c *Client) roundTrip(req *fasthttp.Request, deadline time.Time, query bool, orderID string) Result {
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	err := c.http.DoDeadline(req, resp, deadline)
	fasthttp.ReleaseRequest(req)
	if err != nil {
		return transportFailure("transport", err)
	}
	return classify(resp.StatusCode(), resp.Body(), query, orderID)
}

// transportFailure is the uncertain result of a request that got no reply.
func transportFailure(what string, err error) Result {
	return Result{Outcome: engine.OutcomeUncertain, Code: CodeTransport, Detail: what + ": " + err.Error()}
}

// classify maps an HTTP status and body to a Result (see the package
// documentation for the rules).
func classify(status int, body []byte, query bool, orderID string) Result {
	httpFail := func(why string) Result {
		return Result{Outcome: engine.OutcomeUncertain, Code: CodeTransport,
			Detail: "http " + strconv.Itoa(status) + ": " + why}
	}
	switch {
	case status >= 500:
		return httpFail("server error")
	case status >= 300 && status < 400:
		return httpFail("redirect not followed")
	case status < 200:
		return httpFail("unexpected status")
	}
	rep, err := parseReply(body)
	if err != nil {
		if status >= 400 {
			return httpFail("no parseable body")
		}
		return Result{Outcome: engine.OutcomeUncertain, Code: CodeTransport, Detail: err.Error()}
	}
	res := Result{Outcome: ClassifyCode(rep.Code, query), Code: rep.Code, Ref: rep.Result.SporderID}
	var d strings.Builder
	d.WriteString("error_code ")
	d.WriteString(strconv.Itoa(rep.Code))
	if query && rep.Code == CodeOK {
		d.WriteString(" game_state ")
		d.WriteString(rep.Result.GameState)
		switch rep.Result.GameState {
		case stateRecharging:
			res.Outcome = engine.OutcomeAccepted
		case stateSuccess:
			res.Outcome = engine.OutcomeSuccess
		case stateFailed:
			res.Outcome = engine.OutcomeFailRoute
		default:
			res.Outcome = engine.OutcomeUncertain
		}
	}
	reason := rep.Reason
	if reason == "" {
		reason = codeText(rep.Code)
	}
	if reason != "" {
		d.WriteString(": ")
		d.WriteString(reason)
	}
	if status >= 400 {
		d.WriteString(" (http ")
		d.WriteString(strconv.Itoa(status))
		d.WriteString(")")
	}
	if rep.Result.OrderID != "" && rep.Result.OrderID != orderID {
		res.Outcome = engine.OutcomeUncertain
		d.WriteString("; reply is for orderid ")
		d.WriteString(strconv.Quote(rep.Result.OrderID))
	}
	if rep.Result.UOrderCash != "" {
		cost, err := parseYuan(rep.Result.UOrderCash)
		if err != nil {
			d.WriteString("; bad uordercash ")
			d.WriteString(strconv.Quote(rep.Result.UOrderCash))
		} else {
			res.Cost = cost
		}
	}
	res.Detail = d.String()
	return res
}
