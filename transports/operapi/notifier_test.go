package operapi

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestNotifierDeliver(t *testing.T) {
	release := make(chan struct{})
	var (
		mu   sync.Mutex
		seen []string
	)
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		seen = append(seen, string(ctx.Method())+" "+string(ctx.Request.Header.ContentType())+" "+string(ctx.PostBody()))
		mu.Unlock()
		switch string(ctx.Path()) {
		case "/ok":
			ctx.SetBodyString("ok")
		case "/ok-spaced":
			ctx.SetBodyString(" OK\n")
		case "/accepted":
			ctx.SetStatusCode(202)
			ctx.SetBodyString("Ok")
		case "/fail":
			ctx.SetBodyString("fail")
		case "/500":
			ctx.SetStatusCode(500)
			ctx.SetBodyString("ok")
		case "/redirect":
			ctx.Redirect("/ok", 302)
		case "/big":
			ctx.SetBodyString(strings.Repeat("x", 2*MaxNotifyResponse))
		case "/long":
			ctx.SetBodyString(strings.Repeat("y", 100))
		case "/slow":
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			ctx.SetBodyString("ok")
		}
	})
	defer close(release) // before the server shuts down (cleanups run after defers)

	n := NewNotifier(NotifierOptions{Timeout: 300 * time.Millisecond})
	defer n.Close()
	ctx := context.Background()
	body := CallbackBody(testOrder(), testKey)

	for _, p := range []string{"/ok", "/ok-spaced", "/accepted"} {
		if err := n.Deliver(ctx, base+p, body); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	mu.Lock()
	if want := "POST application/x-www-form-urlencoded " + string(body); len(seen) == 0 || seen[0] != want {
		t.Errorf("server saw %q want %q", seen, want)
	}
	mu.Unlock()

	for p, wantInErr := range map[string]string{
		"/fail":     `HTTP 200 "fail"`,
		"/500":      `HTTP 500 "ok"`,
		"/redirect": `HTTP 302`,
		"/long":     `HTTP 200 "` + strings.Repeat("y", 64) + `"`,
	} {
		err := n.Deliver(ctx, base+p, body)
		if !errors.Is(err, ErrNotAcknowledged) || !strings.Contains(err.Error(), wantInErr) {
			t.Errorf("%s: err %v, want one containing %s", p, err, wantInErr)
		}
	}
	if err := n.Deliver(ctx, base+"/big", body); err == nil || !errors.Is(err, fasthttp.ErrBodyTooLarge) {
		t.Errorf("/big: err %v", err)
	}

	start := time.Now()
	err := n.Deliver(ctx, base+"/slow", body)
	if err == nil || errors.Is(err, ErrNotAcknowledged) {
		t.Errorf("/slow: err %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("/slow took %v", d)
	}

	// A context deadline shorter than the Timeout bounds the attempt.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := n.Deliver(short, base+"/slow", body); err == nil {
		t.Error("/slow with a short context: no error")
	}
	done, cancelDone := context.WithCancel(ctx)
	cancelDone()
	if err := n.Deliver(done, base+"/ok", body); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	// Nothing listens here.
	if err := n.Deliver(ctx, "http://127.0.0.1:1/notify", body); err == nil {
		t.Error("closed port: no error")
	}
}
