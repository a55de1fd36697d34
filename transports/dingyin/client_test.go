package dingyin

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"topup/engine"
)

// request is what the test supplier received.
type request struct {
	path, contentType, body string
	form                    map[string]string // GBK-decoded values
}

// supplier is a scripted supplier on a real fasthttp server.
type supplier struct {
	url  string
	stop chan struct{} // closed before shutdown: wakes slow handlers
	hits atomic.Int64

	mu   sync.Mutex
	reqs []request
}

func (s *supplier) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

// startSupplier serves handle on 127.0.0.1:0, recording every request.
func startSupplier(t *testing.T, handle func(s *supplier, ctx *fasthttp.RequestCtx)) *supplier {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &supplier{url: "http://" + ln.Addr().String(), stop: make(chan struct{})}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			s.hits.Add(1)
			r := request{path: string(ctx.Path()), contentType: string(ctx.Request.Header.ContentType()),
				body: string(ctx.PostBody()), form: map[string]string{}}
			for k, v := range ctx.PostArgs().All() {
				r.form[string(k)] = fromGBK(v)
			}
			s.mu.Lock()
			s.reqs = append(s.reqs, r)
			s.mu.Unlock()
			handle(s, ctx)
		},
		ReadTimeout: 5 * time.Second,
		IdleTimeout: 5 * time.Second,
		Logger:      quietLogger{},
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Error(err)
		}
		// Shutdown misses a Serve that has not registered its listener yet.
		_ = ln.Close()
		<-done
	})
	t.Cleanup(func() { close(s.stop) }) // runs first
	return s
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// xmlReply answers with a GB2312-declared reply.
func xmlReply(ctx *fasthttp.RequestCtx, inner string) {
	body, err := toGBK(`<?xml version="1.0" encoding="GB2312" ?>` + "\n- <order>" + inner + "</order>")
	if err != nil {
		panic(err)
	}
	ctx.SetContentType("text/xml; charset=GB2312")
	ctx.SetBody(body)
}

func newTestClient(t *testing.T, url string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: url, UserID: testUser, Key: testKey, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// orderTime is 2021-02-24 13:45:52 in China, sent as spordertime 20210224134552.
var orderTime = time.Date(2021, 2, 24, 5, 45, 52, 0, time.UTC)

func TestSubmitWire(t *testing.T) {
	for _, withBack := range []bool{false, true} {
		s := startSupplier(t, func(_ *supplier, ctx *fasthttp.RequestCtx) {
			xmlReply(ctx, "<orderid>XS1</orderid><ordercash>98.5</ordercash><sporderid>2009042800001</sporderid><resultno>0</resultno>")
		})
		c := newTestClient(t, s.url+"/", func(cfg *Config) {
			if withBack {
				cfg.BackURL = "http://127.0.0.1:8088/dingyin/callback?ch=dy1"
			}
		})
		res := c.Submit(context.Background(), "2009042800001", "张三", "", 1, orderTime)
		if res.Outcome != engine.OutcomeAccepted || res.ResultNo != "0" || res.Ref != "XS1" || res.Cost != 9850 {
			t.Fatalf("result %+v", res)
		}
		reqs := s.requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		r := reqs[0]
		if r.path != SubmitPath || r.contentType != "application/x-www-form-urlencoded" {
			t.Errorf("path %q content type %q", r.path, r.contentType)
		}
		wantBody := "userid=10001&productid=&num=1&areaid=&serverid=&account=%D5%C5%C8%FD&userip=" +
			"&spordertime=20210224134552&sporderid=2009042800001&sign=A96E5C585B01976427A6B45C2E4A0DE7"
		if withBack {
			wantBody += "&back_url=http%3A%2F%2F127.0.0.1%3A8088%2Fdingyin%2Fcallback%3Fch%3Ddy1"
		}
		if r.body != wantBody {
			t.Errorf("body\n got %s\nwant %s", r.body, wantBody)
		}
		if r.form["account"] != "张三" {
			t.Errorf("account decoded as %q", r.form["account"])
		}
	}
}

func TestSubmitMappings(t *testing.T) {
	var answer atomic.Value // string: the inner XML to answer with
	s := startSupplier(t, func(_ *supplier, ctx *fasthttp.RequestCtx) { xmlReply(ctx, answer.Load().(string)) })
	c := newTestClient(t, s.url, nil)
	A, S, F, U := engine.OutcomeAccepted, engine.OutcomeSuccess, engine.OutcomeFailRoute, engine.OutcomeUncertain
	for _, tc := range []struct {
		no   string
		want engine.Outcome
	}{
		{"0", A}, {"2", A}, {"1", S}, {"9", F}, {"5001", F}, {"5002", F}, {"5003", F}, {"5005", F},
		{"5006", U}, {"5007", F}, {"5012", F}, {"9999", U}, {"7", U}, {"5013", U},
	} {
		answer.Store("<sporderid>42</sporderid><resultno>" + tc.no + "</resultno><fundbalance>1024.505</fundbalance>")
		res := c.Submit(context.Background(), "42", "13800000000", "p1", 2, orderTime)
		if res.Outcome != tc.want || res.ResultNo != tc.no || !strings.HasPrefix(res.Detail, "resultno "+tc.no+": ") {
			t.Errorf("resultno %s: %+v, want %v", tc.no, res, tc.want)
		}
		if !res.HasBalance || res.FundBalance != 102451 {
			t.Errorf("resultno %s: balance %+v", tc.no, res)
		}
		if tc.no == "5002" && (!IsLowBalance(res.ResultNo) || !strings.Contains(res.Detail, "supplier balance too low")) {
			t.Errorf("5002 not recognisable: %+v", res)
		}
	}
	// Answers that cannot be trusted are uncertain.
	for _, inner := range []string{
		"<sporderid>43</sporderid><resultno>1</resultno>", // another order's answer
		"<sporderid>42</sporderid>",                       // no resultno
		"<resultno></resultno>",
	} {
		answer.Store(inner)
		if res := c.Submit(context.Background(), "42", "13800000000", "", 1, orderTime); res.Outcome != U || res.ResultNo != "" {
			t.Errorf("%s: %+v", inner, res)
		}
	}
	answer.Store("<resultno>1</resultno><ordercash>abc</ordercash>")
	if res := c.Submit(context.Background(), "42", "13800000000", "", 1, orderTime); res.Outcome != S || res.Cost != 0 ||
		!strings.Contains(res.Detail, "ordercash") {
		t.Errorf("bad ordercash: %+v", res)
	}
}

func TestQueryMappings(t *testing.T) {
	var answer atomic.Value
	s := startSupplier(t, func(_ *supplier, ctx *fasthttp.RequestCtx) { xmlReply(ctx, answer.Load().(string)) })
	c := newTestClient(t, s.url, nil)
	A, S, F, U := engine.OutcomeAccepted, engine.OutcomeSuccess, engine.OutcomeFailRoute, engine.OutcomeUncertain
	for _, tc := range []struct {
		no   string
		want engine.Outcome
	}{
		{"0", A}, {"2", A}, {"1", S}, {"9", F}, {"5007", A}, {"5005", U}, {"5002", U}, {"5001", U},
		{"5006", U}, {"9999", U}, {"x", U},
	} {
		answer.Store("<orderid>XS9</orderid><sporderid>2009042800001</sporderid><resultno>" + tc.no + "</resultno>")
		res := c.Query(context.Background(), "2009042800001")
		if res.Outcome != tc.want || res.ResultNo != tc.no || res.Ref != "XS9" {
			t.Errorf("query resultno %s: %+v, want %v", tc.no, res, tc.want)
		}
	}
	r := s.requests()[0]
	if r.path != QueryPath || r.body != "userid=10001&sporderid=2009042800001&sign=8E8763C1299211D9B2A35AD67D62169D" {
		t.Errorf("query request %+v", r)
	}
}

func TestTransportFailuresAreUncertain(t *testing.T) {
	big := strings.Repeat("x", MaxResponseBody+1)
	var redirectTargetHit atomic.Int64
	s := startSupplier(t, func(s *supplier, ctx *fasthttp.RequestCtx) {
		switch acct := string(ctx.PostArgs().Peek("account")); acct {
		case "slow":
			select {
			case <-time.After(2 * time.Second):
			case <-s.stop:
			}
			xmlReply(ctx, "<resultno>1</resultno>")
		case "5xx":
			ctx.SetStatusCode(fasthttp.StatusBadGateway)
			ctx.SetBodyString("<html>bad gateway</html>")
		case "4xx":
			ctx.SetStatusCode(fasthttp.StatusNotFound)
		case "redirect":
			ctx.Redirect("/elsewhere", fasthttp.StatusFound)
		case "big":
			ctx.SetBodyString("<order><resultno>1</resultno></order>" + big)
		case "garbage":
			ctx.SetBodyString("success")
		case "close":
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(net.Conn) {}) // the connection closes without an answer
		default:
			if string(ctx.Path()) == "/elsewhere" {
				redirectTargetHit.Add(1)
			}
			xmlReply(ctx, "<resultno>1</resultno>")
		}
	})
	c := newTestClient(t, s.url, func(cfg *Config) { cfg.Timeout = 300 * time.Millisecond })
	for _, acct := range []string{"slow", "5xx", "4xx", "redirect", "big", "garbage", "close"} {
		start := time.Now()
		res := c.Submit(context.Background(), "1", acct, "", 1, orderTime)
		if res.Outcome != engine.OutcomeUncertain || res.ResultNo != "" || res.Detail == "" {
			t.Errorf("%s: %+v", acct, res)
		}
		if time.Since(start) > 1500*time.Millisecond {
			t.Errorf("%s: took %v with a 300ms time-out", acct, time.Since(start))
		}
		t.Logf("%s: %s", acct, res.Detail)
	}
	if n := redirectTargetHit.Load(); n != 0 {
		t.Errorf("redirect followed %d times", n)
	}

	// A context deadline shorter than Timeout bounds the call too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if res := c.Submit(ctx, "1", "slow", "", 1, orderTime); res.Outcome != engine.OutcomeUncertain {
		t.Errorf("ctx deadline: %+v", res)
	}

	// A cancelled context sends nothing and is uncertain.
	hits := s.hits.Load()
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if res := c.Submit(cctx, "1", "x", "", 1, orderTime); res.Outcome != engine.OutcomeUncertain {
		t.Errorf("cancelled: %+v", res)
	}
	if s.hits.Load() != hits {
		t.Error("cancelled submission was sent")
	}
}

func TestConnectionRefusedIsUncertain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newTestClient(t, "http://"+addr, nil)
	if res := c.Submit(context.Background(), "1", "13800000000", "", 1, orderTime); res.Outcome != engine.OutcomeUncertain {
		t.Errorf("submit: %+v", res)
	}
	if res := c.Query(context.Background(), "1"); res.Outcome != engine.OutcomeUncertain {
		t.Errorf("query: %+v", res)
	}
	if _, err := c.Balance(context.Background()); !errors.Is(err, ErrTransport) {
		t.Errorf("balance: %v", err)
	}
}

func TestSubmitNotSent(t *testing.T) {
	s := startSupplier(t, func(_ *supplier, ctx *fasthttp.RequestCtx) { xmlReply(ctx, "<resultno>0</resultno>") })
	c := newTestClient(t, s.url, nil)
	for _, tc := range []struct {
		spo, acct, prod string
		num             int
	}{
		{"1", "138😀", "", 1}, {"1", "13800000000", "", 0}, {"", "13800000000", "", 1}, {"1", "", "", 1}, {"1", "1", "\xff", 1},
	} {
		res := c.Submit(context.Background(), tc.spo, tc.acct, tc.prod, tc.num, orderTime)
		if res.Outcome != engine.OutcomeFailRoute || !strings.Contains(res.Detail, "not sent") {
			t.Errorf("%+v: %+v", tc, res)
		}
	}
	if n := s.hits.Load(); n != 0 {
		t.Errorf("%d requests reached the supplier", n)
	}
}

func TestBalance(t *testing.T) {
	var answer atomic.Value
	s := startSupplier(t, func(_ *supplier, ctx *fasthttp.RequestCtx) {
		if a := answer.Load().(string); a == "500" {
			ctx.SetStatusCode(500)
		} else {
			xmlReply(ctx, a)
		}
	})
	c := newTestClient(t, s.url, nil)
	answer.Store("<userid>10001</userid><balance>1024.505</balance>")
	if f, err := c.Balance(context.Background()); err != nil || f != 102451 {
		t.Errorf("balance %d, %v", f, err)
	}
	r := s.requests()[0]
	if r.path != BalancePath || r.body != "userid=10001&sign=A2F944D3502777962BDD47264CF41A6A" {
		t.Errorf("balance request %+v", r)
	}
	for a, want := range map[string]error{
		"<resultno>5005</resultno>": ErrRejected,
		"<userid>10001</userid>":    ErrBadReply,
		"<balance>lots</balance>":   ErrBadReply,
		"500":                       ErrTransport,
		"<resultno>1</resultno><balance>3</balance>": nil,
	} {
		answer.Store(a)
		if _, err := c.Balance(context.Background()); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", a, err, want)
		}
	}
}

func TestQueryRetriedOnceSubmitNever(t *testing.T) {
	// The supplier drops every connection without answering.
	var n atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			buf := make([]byte, 4096)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			_, _ = c.Read(buf)
			c.Close()
		}
	})
	c := newTestClient(t, "http://"+ln.Addr().String(), nil)
	if res := c.Submit(context.Background(), "1", "13800000000", "", 1, orderTime); res.Outcome != engine.OutcomeUncertain {
		t.Errorf("submit %+v", res)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("submission sent %d times", got)
	}
	if res := c.Query(context.Background(), "1"); res.Outcome != engine.OutcomeUncertain {
		t.Errorf("query %+v", res)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("query sent %d times, want 2", got-1)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := NewClient(Config{}); err == nil {
		t.Fatal("empty config accepted")
	} else {
		for _, want := range []string{"BaseURL", "UserID", "Key"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %s", err, want)
			}
		}
	}
	for _, bad := range []Config{
		{BaseURL: "ftp://x", UserID: "1", Key: "k"},
		{BaseURL: "http://x?a=1", UserID: "1", Key: "k"},
		{BaseURL: "http://x", UserID: "1", Key: "k", BackURL: "/relative"},
		{BaseURL: "http://x", UserID: "1", Key: "k", Timeout: -1},
		{BaseURL: "http://x", UserID: "😀", Key: "k"},
	} {
		if _, err := NewClient(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := NewClient(Config{BaseURL: "https://x/api/", UserID: "1", Key: "k", BackURL: "http://y/cb?c=1"}); err != nil {
		t.Error(err)
	}
}
