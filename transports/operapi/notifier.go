package operapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// ErrNotAcknowledged is wrapped by Deliver when the operator answered but not
// with HTTP 2xx and "ok".
var ErrNotAcknowledged = errors.New("operapi: callback not acknowledged")

// Notifier defaults and limits.
const (
	DefaultNotifyTimeout         = 10 * time.Second
	DefaultNotifyMaxConnsPerHost = 64
	// MaxNotifyResponse is the most of an operator's answer that is read.
	MaxNotifyResponse = 4 << 10
	// errorBodyPrefix is how much of a rejecting answer an error quotes.
	errorBodyPrefix = 64
)

// NotifierOptions configures a Notifier. Zero fields take the defaults.
type NotifierOptions struct {
	// Timeout bounds one delivery attempt, connecting included (default 10s).
	Timeout time.Duration
	// MaxConnsPerHost bounds concurrent connections to one operator host
	// (default 64). Deliveries beyond it wait for a connection within Timeout.
	MaxConnsPerHost int
}

// Notifier delivers result callbacks to operators' notify_url. It makes one
// attempt per call and follows no redirects; retrying and back-off are the
// caller's. It is safe for concurrent use.
type Notifier struct {
	client  *fasthttp.Client
	timeout time.Duration
}

// NewNotifier builds a Notifier over its own fasthttp client.
func NewNotifier(o NotifierOptions) *Notifier {
	if o.Timeout <= 0 {
		o.Timeout = DefaultNotifyTimeout
	}
	if o.MaxConnsPerHost <= 0 {
		o.MaxConnsPerHost = DefaultNotifyMaxConnsPerHost
	}
	return &Notifier{
		timeout: o.Timeout,
		client: &fasthttp.Client{
			Name:                   "topup-notifier",
			MaxConnsPerHost:        o.MaxConnsPerHost,
			MaxConnWaitTimeout:     o.Timeout,
			ReadTimeout:            o.Timeout,
			WriteTimeout:           o.Timeout,
			MaxIdleConnDuration:    30 * time.Second,
			MaxResponseBodySize:    MaxNotifyResponse,
			DisablePathNormalizing: true,
		},
	}
}

// Deliver POSTs body as a form to url, once. It returns nil iff the operator
// answered HTTP 2xx with a body that is "ok" in any case once white space is
// trimmed; otherwise an error that wraps ErrNotAcknowledged (with the status
// and the first 64 bytes of the answer) or the transport error. ctx is
// checked before sending and its deadline shortens the attempt; an attempt
// in flight ends at that deadline or the Timeout.
func (n *Notifier) Deliver(ctx context.Context, url string, body []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("operapi: callback to %s: %w", url, err)
	}
	deadline := time.Now().Add(n.timeout)
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
	req.SetBody(body)
	if err := n.client.DoDeadline(req, resp, deadline); err != nil {
		return fmt.Errorf("operapi: callback to %s: %w", url, err)
	}
	status := resp.StatusCode()
	got := resp.Body()
	if status >= 200 && status < 300 && bytes.EqualFold(bytes.TrimSpace(got), []byte("ok")) {
		return nil
	}
	if len(got) > errorBodyPrefix {
		got = got[:errorBodyPrefix]
	}
	return fmt.Errorf("%w: %s answered HTTP %d %q", ErrNotAcknowledged, url, status, got)
}

// Close drops idle connections. Deliveries after Close still work.
func (n *Notifier) Close() {
	n.client.CloseIdleConnections()
}
