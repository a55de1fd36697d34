package ceiling

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/valyala/fasthttp"

	"topup/bench"
	"topup/bench/load"
	"topup/bench/opersim"
)

// successReply is the operator API's success body.
const successReply = `{"code":200,"count":1,"msg":"Success"}`

// measureFastHTTP serves a bare fasthttp handler in process and drives it
// with the engine's load generator: the same opersim client, request bodies
// (bench.OrderFor, form and JSON in turn) and connection count.
func measureFastHTTP(ctx context.Context, cfg Config) (Measure, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Measure{}, fmt.Errorf("ceiling: fasthttp: %w", err)
	}
	srv := &fasthttp.Server{Name: "ceiling", ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		Handler: func(c *fasthttp.RequestCtx) {
			if !c.IsPost() || len(c.PostBody()) == 0 {
				c.Error("POST an order", fasthttp.StatusBadRequest)
				return
			}
			c.SetContentType("application/json")
			c.SetBodyString(successReply)
		}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	cl := &opersim.Client{BaseURL: "http://" + ln.Addr().String(), UID: bench.SpawnUID, Key: bench.SpawnKey,
		HTTP: &fasthttp.Client{Name: "topupbench", MaxConnsPerHost: cfg.Conns, MaxConnWaitTimeout: 30 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}}
	notify := "http://127.0.0.1:40000/notify"
	rec, err := load.RunClosed(ctx, load.Closed{N: unbounded, Workers: cfg.Conns, MaxDuration: cfg.Duration},
		func(ctx context.Context, i int, _ time.Time) load.Outcome {
			a, err := cl.PlaceOrder(ctx, bench.OrderFor("ceiling", i, notify), i%2 == 1)
			if err != nil || !a.OK() {
				return load.Outcome{Reason: "error"}
			}
			return load.Outcome{OK: true}
		})
	serr := srv.Shutdown()
	if e := <-done; serr == nil {
		serr = e
	}
	if err != nil {
		return Measure{}, fmt.Errorf("ceiling: fasthttp: %w", err)
	}
	if serr != nil {
		return Measure{}, fmt.Errorf("ceiling: fasthttp: shutdown: %w", serr)
	}
	m := fromRecording(FastHTTP, fmt.Sprintf("bare fasthttp POST handler, the operator's order bodies, %d connections", cfg.Conns),
		"req/s", rec, 1, cfg.Conns)
	return m, nil
}
