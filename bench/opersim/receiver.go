package opersim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"topup/transports/operapi"
)

// NotifyPath is the path the Receiver takes callbacks on.
const NotifyPath = "/notify"

// Receiver is an operator's callback endpoint. It checks each callback's sign
// against the uid's key, records every validly signed delivery per
// (uid, order_no) and answers "ok", except where fault injection makes it
// answer HTTP 500. It is safe for concurrent use.
type Receiver struct {
	keys map[string]string
	srv  *fasthttp.Server
	ln   net.Listener
	url  string
	done chan error // Serve's result

	closeOnce sync.Once
	closeErr  error

	mu        sync.Mutex
	orders    map[string]*orderLog // uid + "/" + order_no
	failFirst int
	total     int
	badSigns  int
	malformed int
	acked     int // distinct orders answered "ok" at least once
	changed   chan struct{}
}

// orderLog is what one order's deliveries left.
type orderLog struct {
	callbacks []operapi.Callback
	bodies    [][]byte
	acked     int // deliveries answered "ok"
}

// NewReceiver listens on listen (host:port, port 0 picks one) and serves
// callbacks for the operators in keys (uid → md5key).
func NewReceiver(listen string, keys map[string]string) (*Receiver, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("opersim: receiver listen %s: %w", listen, err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	r := &Receiver{
		keys:    maps.Clone(keys),
		ln:      ln,
		url:     "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port)) + NotifyPath,
		done:    make(chan error, 1),
		orders:  make(map[string]*orderLog),
		changed: make(chan struct{}),
	}
	r.srv = &fasthttp.Server{
		Handler:            r.handle,
		Name:               "opersim-receiver",
		MaxRequestBodySize: operapi.MaxBodySize,
		ReadTimeout:        30 * time.Second,
		IdleTimeout:        30 * time.Second,
	}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
}

// URL is the notify_url to give in orders: http://host:port/notify.
func (r *Receiver) URL() string { return r.url }

// SetFailFirst makes the first n validly signed deliveries of each order
// (counted from the start, including those already received) answer HTTP 500.
func (r *Receiver) SetFailFirst(n int) {
	r.mu.Lock()
	r.failFirst = n
	r.mu.Unlock()
}

func (r *Receiver) handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != NotifyPath {
		ctx.Error("no such path", fasthttp.StatusNotFound)
		return
	}
	if !ctx.IsPost() {
		ctx.Error("use POST", fasthttp.StatusMethodNotAllowed)
		return
	}
	body := bytes.Clone(ctx.PostBody())
	cb, err := operapi.ParseCallback(ctx.Request.Header.ContentType(), body)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	if err != nil {
		r.malformed++
		ctx.Error("bad request", fasthttp.StatusBadRequest)
		return
	}
	key, known := r.keys[cb.UID]
	if !known || !cb.SignOK(key) {
		r.badSigns++
		ctx.Error("bad sign", fasthttp.StatusBadRequest)
		return
	}
	k := cb.UID + "/" + cb.OrderNo
	log := r.orders[k]
	if log == nil {
		log = &orderLog{}
		r.orders[k] = log
	}
	log.callbacks = append(log.callbacks, cb)
	log.bodies = append(log.bodies, body)
	defer r.notifyLocked()
	if len(log.callbacks) <= r.failFirst {
		ctx.Error("injected failure", fasthttp.StatusInternalServerError)
		return
	}
	if log.acked == 0 {
		r.acked++
	}
	log.acked++
	ctx.SetBodyString("ok")
}

// notifyLocked wakes WaitCount callers.
func (r *Receiver) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Callbacks is every validly signed delivery of the order, in arrival order,
// including those answered 500 by fault injection.
func (r *Receiver) Callbacks(uid, orderNo string) []operapi.Callback {
	r.mu.Lock()
	defer r.mu.Unlock()
	if log := r.orders[uid+"/"+orderNo]; log != nil {
		return append([]operapi.Callback(nil), log.callbacks...)
	}
	return nil
}

// Bodies is the raw body of every validly signed delivery of the order, in
// arrival order.
func (r *Receiver) Bodies(uid, orderNo string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if log := r.orders[uid+"/"+orderNo]; log != nil {
		return append([][]byte(nil), log.bodies...)
	}
	return nil
}

// Acked is how many deliveries of the order were answered "ok".
func (r *Receiver) Acked(uid, orderNo string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if log := r.orders[uid+"/"+orderNo]; log != nil {
		return log.acked
	}
	return 0
}

// Snapshot is Callbacks for every order, keyed uid + "/" + order_no.
func (r *Receiver) Snapshot() map[string][]operapi.Callback {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]operapi.Callback, len(r.orders))
	for k, log := range r.orders {
		out[k] = append([]operapi.Callback(nil), log.callbacks...)
	}
	return out
}

// BadSigns is how many deliveries had a wrong sign or an unknown uid.
func (r *Receiver) BadSigns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.badSigns
}

// Malformed is how many deliveries could not be parsed as a callback.
func (r *Receiver) Malformed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.malformed
}

// Total is how many POSTs arrived on NotifyPath, good or bad.
func (r *Receiver) Total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Orders is how many distinct orders had a delivery answered "ok".
func (r *Receiver) Orders() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acked
}

// WaitCount waits until at least distinctOrders orders have had a delivery
// answered "ok" (so injected failures do not count), or ctx ends.
func (r *Receiver) WaitCount(ctx context.Context, distinctOrders int) error {
	for {
		r.mu.Lock()
		n, ch := r.acked, r.changed
		r.mu.Unlock()
		if n >= distinctOrders {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("opersim: %d of %d orders called back: %w", n, distinctOrders, ctx.Err())
		}
	}
}

// Close stops the server, waiting up to 5 seconds for deliveries in
// progress. Later calls return the first call's result.
func (r *Receiver) Close() error {
	r.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := r.srv.ShutdownWithContext(ctx)
		if serveErr := <-r.done; serveErr != nil {
			err = errors.Join(err, serveErr)
		}
		if err != nil {
			r.closeErr = fmt.Errorf("opersim: receiver close: %w", err)
		}
	})
	return r.closeErr
}
