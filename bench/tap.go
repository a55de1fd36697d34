package bench

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"topup/bench/opersim"
	"topup/transports/operapi"
)

// tap sits between the engine's callbacks and the opersim.Receiver: it
// notes when each order's first callback arrived, forwards the request
// unchanged and relays the receiver's answer. The receiver stays the judge
// of signs and the record of deliveries; the tap only adds the clock.
type tap struct {
	ln     net.Listener
	srv    *fasthttp.Server
	client *fasthttp.Client
	target string // the receiver's URL
	done   chan error

	mu       sync.Mutex
	first    map[string]time.Time // uid/order_no → first arrival
	arrivals int
}

// maxTapRecords bounds the orders the tap times.
const maxTapRecords = 10_000_000

func newTap(receiverURL string) (*tap, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: callback tap: %w", err)
	}
	t := &tap{ln: ln, target: receiverURL, done: make(chan error, 1), first: make(map[string]time.Time),
		client: &fasthttp.Client{Name: "bench-tap", MaxConnsPerHost: 1024, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, MaxConnWaitTimeout: 30 * time.Second}}
	t.srv = &fasthttp.Server{Handler: t.handle, Name: "bench-tap", MaxRequestBodySize: operapi.MaxBodySize,
		ReadTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second, Concurrency: 64 << 10}
	go func() { t.done <- t.srv.Serve(ln) }()
	return t, nil
}

// url is the notify_url to give the engine.
func (t *tap) url() string { return "http://" + t.ln.Addr().String() + opersim.NotifyPath }

func (t *tap) handle(ctx *fasthttp.RequestCtx) {
	now := time.Now()
	if cb, err := operapi.ParseCallback(ctx.Request.Header.ContentType(), ctx.PostBody()); err == nil {
		k := cb.UID + "/" + cb.OrderNo
		t.mu.Lock()
		t.arrivals++
		if _, seen := t.first[k]; !seen && len(t.first) < maxTapRecords {
			t.first[k] = now
		}
		t.mu.Unlock()
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	ctx.Request.CopyTo(req)
	req.SetRequestURI(t.target)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := t.client.Do(req, resp); err != nil {
		ctx.Error("receiver unreachable", fasthttp.StatusBadGateway)
		return
	}
	ctx.SetStatusCode(resp.StatusCode())
	ctx.SetBody(bytes.Clone(resp.Body()))
}

// firstArrival is when the order's first callback arrived.
func (t *tap) firstArrival(uid, orderNo string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.first[uid+"/"+orderNo]
	return at, ok
}

// counts is the number of callback requests and of distinct orders seen.
func (t *tap) counts() (arrivals, orders int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.arrivals, len(t.first)
}

func (t *tap) close() error {
	err := t.srv.Shutdown()
	if serveErr := <-t.done; serveErr != nil && err == nil {
		err = serveErr
	}
	if err != nil {
		return fmt.Errorf("bench: callback tap: %w", err)
	}
	return nil
}
