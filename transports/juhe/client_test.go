package juhe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"topup/engine"
)

const (
	testOpenID = "JH0b5ac5e9e6c2a2f1c7f2e4d1a3b5c7d9"
	testKey    = "7d3e1c2b4a5f6e7d8c9b0a1f2e3d4c5b"
	testOrder  = "20220705043629"
	testPhone  = "15925601712"
	testPid    = "105000"
)

// serve runs h on a real fasthttp server on 127.0.0.1:0 and returns its
// base URL.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h, ReadTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		// Shutdown is a no-op until Serve has registered the listener.
		for {
			if err := srv.Shutdown(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			select {
			case <-served:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	return "http://" + ln.Addr().String()
}

// replyJSON serves a fixed JSON body with status 200.
func replyJSON(body string) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json;charset=utf-8")
		ctx.SetBodyString(body)
	}
}

func newClient(t *testing.T, base string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: base, OpenID: testOpenID, Key: testKey, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The sign vector was computed outside Go:
//
//	printf '%s' "$OPENID$KEY""15925601712""105000""20220705043629" | md5sum
//	printf '%s' "$KEY""F22070512362939019255270""20220705043629" | md5sum
func TestSignVectors(t *testing.T) {
	if got, want := SubmitSign(testOpenID, testKey, testPhone, testPid, testOrder), "9f6f1beffbfe7468bda03f2a56cfc643"; got != want {
		t.Errorf("SubmitSign = %s, want %s", got, want)
	}
	if got, want := CallbackSign(testKey, "F22070512362939019255270", testOrder), "048db1476621019480391b6b82107c21"; got != want {
		t.Errorf("CallbackSign = %s, want %s", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{BaseURL: "ftp://x", Timeout: -1, MaxConns: -1, CallbackURL: "/cb"}.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v, want ErrConfig", err)
	}
	for _, part := range []string{"BaseURL", "OpenID", "Key", "Timeout", "MaxConns", "CallbackURL"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %s", err, part)
		}
	}
	if err := (Config{BaseURL: "http://h/?a=1", OpenID: "o", Key: "k"}).Validate(); err == nil {
		t.Error("BaseURL with a query accepted")
	}
	if _, err := NewClient(Config{BaseURL: "http://v.juhe.cn/", OpenID: "o", Key: "k"}); err != nil {
		t.Errorf("good config refused: %v", err)
	}
}

// The submission is a form POST to /flow/onlineorder with every field and
// a sign the server can check.
func TestSubmitRequest(t *testing.T) {
	type seen struct{ method, path, ctype, phone, pid, orderid, key, sign, cburl string }
	got := make(chan seen, 1)
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		a := ctx.PostArgs()
		got <- seen{string(ctx.Method()), string(ctx.Path()), string(ctx.Request.Header.ContentType()),
			string(a.Peek("phone")), string(a.Peek("pid")), string(a.Peek("orderid")), string(a.Peek("key")),
			string(a.Peek("sign")), string(a.Peek("cburl"))}
		ctx.SetBodyString(`{"reason":"订单提交成功，等待充值","result":{"pid":"105000","uordercash":"19.630",` +
			`"cardname":"全国移动1G流量月包","sporder_id":"F22070512362939019255270","orderid":"20220705043629",` +
			`"phone":"15925601712"},"error_code":0}`)
	})
	c := newClient(t, base+"/", func(cfg *Config) { cfg.CallbackURL = "http://engine.example/juhe/cb?x=1&y=2" })
	r := c.Submit(context.Background(), testOrder, testPhone, testPid)
	want := Result{Outcome: engine.OutcomeAccepted, Code: 0, Ref: "F22070512362939019255270", Cost: 1963,
		Detail: "error_code 0: 订单提交成功，等待充值"}
	if r != want {
		t.Errorf("result %+v, want %+v", r, want)
	}
	s := <-got
	wantSeen := seen{"POST", PathSubmit, "application/x-www-form-urlencoded", testPhone, testPid, testOrder, testKey,
		"9f6f1beffbfe7468bda03f2a56cfc643", "http://engine.example/juhe/cb?x=1&y=2"}
	if s != wantSeen {
		t.Errorf("server saw %+v, want %+v", s, wantSeen)
	}
}

func TestSubmitWithoutCallbackURL(t *testing.T) {
	hasCB := make(chan bool, 1)
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		hasCB <- ctx.PostArgs().Has("cburl")
		ctx.SetBodyString(`{"error_code":0,"reason":"ok","result":{"sporder_id":"S1","uordercash":"1"}}`)
	})
	r := newClient(t, base, nil).Submit(context.Background(), testOrder, testPhone, testPid)
	if r.Outcome != engine.OutcomeAccepted || r.Cost != 100 || r.Ref != "S1" {
		t.Errorf("result %+v", r)
	}
	if <-hasCB {
		t.Error("cburl sent although CallbackURL is empty")
	}
}

// codeTable is section 4 of the specification with the outcome each code
// has on submit.
var codeTable = []struct {
	code int
	want engine.Outcome
}{
	{0, engine.OutcomeAccepted},
	{210501, engine.OutcomeFailTarget},
	{210502, engine.OutcomeFailRoute},
	{210503, engine.OutcomeFailRoute},
	{210504, engine.OutcomeFailRoute},
	{210505, engine.OutcomeFailRoute},
	{210506, engine.OutcomeFailRoute},
	{210507, engine.OutcomeFailRoute},
	{210508, engine.OutcomeUncertain},
	{210509, engine.OutcomeFailRoute},
	{210510, engine.OutcomeFailRoute},
	{210511, engine.OutcomeFailRoute},
	{10001, engine.OutcomeFailRoute},
	{10002, engine.OutcomeFailRoute},
	{10003, engine.OutcomeFailRoute},
	{10004, engine.OutcomeFailRoute},
	{10005, engine.OutcomeFailRoute},
	{10006, engine.OutcomeFailRoute},
	{10007, engine.OutcomeFailRoute},
	{10008, engine.OutcomeFailRoute},
	{10009, engine.OutcomeFailRoute},
	{10010, engine.OutcomeFailRoute},
	{10011, engine.OutcomeFailRoute},
	{10012, engine.OutcomeFailRoute},
	{10013, engine.OutcomeFailRoute},
	{10014, engine.OutcomeUncertain},
	{10020, engine.OutcomeFailRoute},
	{10021, engine.OutcomeFailRoute},
	// Not in the table: unknown, so uncertain.
	{1, engine.OutcomeUncertain},
	{-1, engine.OutcomeUncertain},
	{10000, engine.OutcomeUncertain},
	{10015, engine.OutcomeUncertain},
	{10019, engine.OutcomeUncertain},
	{10022, engine.OutcomeUncertain},
	{210500, engine.OutcomeUncertain},
	{210512, engine.OutcomeUncertain},
	{200201, engine.OutcomeUncertain},
}

func TestClassifyCode(t *testing.T) {
	for _, tc := range codeTable {
		if got := ClassifyCode(tc.code, false); got != tc.want {
			t.Errorf("submit %d: %v, want %v", tc.code, got, tc.want)
		}
		want := engine.OutcomeUncertain
		if tc.code == 0 {
			want = engine.OutcomeAccepted
		}
		if got := ClassifyCode(tc.code, true); got != want {
			t.Errorf("query %d: %v, want %v", tc.code, got, want)
		}
	}
	if ClassifyCode(CodeNoSuchOrder, true) != engine.OutcomeUncertain {
		t.Error("210511 on query must be uncertain")
	}
}

// Every code of the table, over a real server, on submit and on query.
func TestCodesOverHTTP(t *testing.T) {
	var code atomic.Int64
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		n := code.Load()
		if n == 0 {
			fmt.Fprintf(ctx, `{"reason":"","result":{"sporder_id":"S9","game_state":"1","uordercash":"9.800"},"error_code":0}`)
			return
		}
		// Errors come with result null, "" or [] in the wild.
		results := []string{"null", `""`, "[]"}
		fmt.Fprintf(ctx, `{"reason":"r%d","result":%s,"error_code":%d}`, n, results[(int(n)%3+3)%3], n)
	})
	c := newClient(t, base, nil)
	for _, tc := range codeTable {
		code.Store(int64(tc.code))
		r := c.Submit(context.Background(), testOrder, testPhone, testPid)
		if r.Outcome != tc.want || r.Code != tc.code {
			t.Errorf("submit, error_code %d: %+v, want %v", tc.code, r, tc.want)
		}
		q := c.Query(context.Background(), testOrder)
		want := engine.OutcomeUncertain
		if tc.code == 0 {
			want = engine.OutcomeSuccess
		}
		if q.Outcome != want || q.Code != tc.code {
			t.Errorf("query, error_code %d: %+v, want %v", tc.code, q, want)
		}
	}
}

func TestQueryGameState(t *testing.T) {
	var state atomic.Value
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != PathQuery || string(ctx.PostArgs().Peek("orderid")) != testOrder ||
			string(ctx.PostArgs().Peek("key")) != testKey || ctx.PostArgs().Has("sign") {
			ctx.SetBodyString(`{"error_code":210511,"reason":"bad request"}`)
			return
		}
		fmt.Fprintf(ctx, `{"reason":"查询成功","result":{"uordercash":"19.635","sporder_id":"F1","game_state":%s},"error_code":0}`,
			state.Load().(string))
	})
	c := newClient(t, base, nil)
	for _, tc := range []struct {
		state string
		want  engine.Outcome
	}{
		{`"0"`, engine.OutcomeAccepted},
		{`"1"`, engine.OutcomeSuccess},
		{`"9"`, engine.OutcomeFailRoute},
		{`0`, engine.OutcomeAccepted},
		{`1`, engine.OutcomeSuccess},
		{`9`, engine.OutcomeFailRoute},
		{`"2"`, engine.OutcomeUncertain},
		{`""`, engine.OutcomeUncertain},
		{`null`, engine.OutcomeUncertain},
	} {
		state.Store(tc.state)
		r := c.Query(context.Background(), testOrder)
		if r.Outcome != tc.want || r.Code != 0 || r.Ref != "F1" || r.Cost != 1964 {
			t.Errorf("game_state %s: %+v, want %v", tc.state, r, tc.want)
		}
	}
}

// A reply that names another order is not believed.
func TestReplyForAnotherOrder(t *testing.T) {
	base := serve(t, replyJSON(`{"error_code":0,"result":{"orderid":"99999999","sporder_id":"S"}}`))
	r := newClient(t, base, nil).Submit(context.Background(), testOrder, testPhone, testPid)
	if r.Outcome != engine.OutcomeUncertain || !strings.Contains(r.Detail, "99999999") {
		t.Errorf("%+v", r)
	}
}

func TestTimeoutIsUncertain(t *testing.T) {
	var hits atomic.Int64
	release := make(chan struct{})
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		hits.Add(1)
		select {
		case <-time.After(5 * time.Second):
		case <-release:
		}
		ctx.SetBodyString(`{"error_code":0}`)
	})
	t.Cleanup(func() { close(release) }) // before the server's shutdown
	c := newClient(t, base, func(cfg *Config) { cfg.Timeout = 200 * time.Millisecond })
	start := time.Now()
	r := c.Submit(context.Background(), testOrder, testPhone, testPid)
	if r.Outcome != engine.OutcomeUncertain || r.Code != CodeTransport {
		t.Errorf("submit: %+v", r)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("time-out took %v", el)
	}
	if q := c.Query(context.Background(), testOrder); q.Outcome != engine.OutcomeUncertain || q.Code != CodeTransport {
		t.Errorf("query: %+v", q)
	}
	// A submission is never resent.
	if n := hits.Load(); n < 2 {
		t.Errorf("server saw %d requests", n)
	}

	// The context's deadline, when earlier, bounds the request too.
	c = newClient(t, base, func(cfg *Config) { cfg.Timeout = 5 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start = time.Now()
	r = c.Submit(ctx, testOrder, testPhone, testPid)
	if r.Outcome != engine.OutcomeUncertain || r.Code != CodeTransport || time.Since(start) > 2*time.Second {
		t.Errorf("context deadline: %+v after %v", r, time.Since(start))
	}

	// Cancelling the context abandons the request.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	r = c.Submit(ctx, testOrder, testPhone, testPid)
	if r.Outcome != engine.OutcomeUncertain || !strings.Contains(r.Detail, "abandoned") || time.Since(start) > 2*time.Second {
		t.Errorf("cancelled: %+v after %v", r, time.Since(start))
	}
	// A context already done sends nothing and is still uncertain.
	before := hits.Load()
	r = c.Submit(ctx, testOrder, testPhone, testPid)
	if r.Outcome != engine.OutcomeUncertain || !strings.Contains(r.Detail, "not sent") {
		t.Errorf("done context: %+v", r)
	}
	if hits.Load() != before {
		t.Error("a request was sent with a done context")
	}
}

func TestSubmitNotResentOnConnectionLoss(t *testing.T) {
	var hits atomic.Int64
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		hits.Add(1)
		// Drop the connection without a reply.
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(func(net.Conn) {})
	})
	c := newClient(t, base, nil)
	r := c.Submit(context.Background(), testOrder, testPhone, testPid)
	if r.Outcome != engine.OutcomeUncertain || r.Code != CodeTransport {
		t.Errorf("submit: %+v", r)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("submission sent %d times", n)
	}
	hits.Store(0)
	if q := c.Query(context.Background(), testOrder); q.Outcome != engine.OutcomeUncertain {
		t.Errorf("query: %+v", q)
	}
	if n := hits.Load(); n < 2 {
		t.Errorf("query sent %d times, want retries", n)
	}
}

func TestConnectionRefusedIsUncertain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := newClient(t, "http://"+addr, nil).Submit(context.Background(), testOrder, testPhone, testPid)
	if r.Outcome != engine.OutcomeUncertain || r.Code != CodeTransport {
		t.Errorf("%+v", r)
	}
}

func TestHTTPStatuses(t *testing.T) {
	var status atomic.Int64
	var body atomic.Value
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(int(status.Load()))
		ctx.SetBodyString(body.Load().(string))
	})
	c := newClient(t, base, nil)
	for _, tc := range []struct {
		status int
		body   string
		want   engine.Outcome
		code   int
	}{
		{500, `{"error_code":210501}`, engine.OutcomeUncertain, CodeTransport},
		{502, `<html>Bad Gateway</html>`, engine.OutcomeUncertain, CodeTransport},
		{503, ``, engine.OutcomeUncertain, CodeTransport},
		{504, `{"error_code":0}`, engine.OutcomeUncertain, CodeTransport},
		{404, `<html>not found</html>`, engine.OutcomeUncertain, CodeTransport},
		{403, ``, engine.OutcomeUncertain, CodeTransport},
		{400, `{"error_code":10001,"reason":"错误的请求KEY"}`, engine.OutcomeFailRoute, 10001},
		{200, ``, engine.OutcomeUncertain, CodeTransport},
		{200, `<html>maintenance</html>`, engine.OutcomeUncertain, CodeTransport},
		{200, `{"reason":"no code"}`, engine.OutcomeUncertain, CodeTransport},
		{200, `{"error_code":"x"}`, engine.OutcomeUncertain, CodeTransport},
		{200, `{"error_code":0`, engine.OutcomeUncertain, CodeTransport},
		{200, `{"error_code":"210501"}`, engine.OutcomeFailTarget, 210501},
		{204, ``, engine.OutcomeUncertain, CodeTransport},
	} {
		status.Store(int64(tc.status))
		body.Store(tc.body)
		r := c.Submit(context.Background(), testOrder, testPhone, testPid)
		if r.Outcome != tc.want || r.Code != tc.code {
			t.Errorf("%d %q: %+v, want %v/%d", tc.status, tc.body, r, tc.want, tc.code)
		}
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var followed atomic.Bool
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/elsewhere" {
			followed.Store(true)
			ctx.SetBodyString(`{"error_code":0,"result":{"game_state":"1"}}`)
			return
		}
		ctx.Redirect("/elsewhere", fasthttp.StatusFound)
	})
	c := newClient(t, base, nil)
	for _, r := range []Result{
		c.Submit(context.Background(), testOrder, testPhone, testPid),
		c.Query(context.Background(), testOrder),
	} {
		if r.Outcome != engine.OutcomeUncertain || r.Code != CodeTransport || !strings.Contains(r.Detail, "302") {
			t.Errorf("%+v", r)
		}
	}
	if followed.Load() {
		t.Error("redirect followed")
	}
}

func TestReplyBodyBounded(t *testing.T) {
	big := `{"error_code":0,"reason":"` + strings.Repeat("x", MaxReplyBody) + `"}`
	base := serve(t, replyJSON(big))
	r := newClient(t, base, nil).Submit(context.Background(), testOrder, testPhone, testPid)
	if r.Outcome != engine.OutcomeUncertain || r.Code != CodeTransport {
		t.Errorf("%+v", r)
	}
}

func TestNotSent(t *testing.T) {
	var hits atomic.Int64
	base := serve(t, func(ctx *fasthttp.RequestCtx) { hits.Add(1) })
	c := newClient(t, base, nil)
	for _, id := range []string{"", "1234567", strings.Repeat("1", 33), "1234-5678", "订单号订单号订单号"} {
		if r := c.Submit(context.Background(), id, testPhone, testPid); r.Outcome != engine.OutcomeFailRoute || r.Code != CodeTransport {
			t.Errorf("submit orderid %q: %+v", id, r)
		}
		if r := c.Query(context.Background(), id); r.Outcome != engine.OutcomeUncertain || r.Code != CodeTransport {
			t.Errorf("query orderid %q: %+v", id, r)
		}
	}
	if r := c.Submit(context.Background(), testOrder, testPhone, ""); r.Outcome != engine.OutcomeFailRoute {
		t.Errorf("empty pid: %+v", r)
	}
	if hits.Load() != 0 {
		t.Error("an invalid request was sent")
	}
}

// MaxConns bounds the connections; requests beyond it wait for one.
func TestMaxConns(t *testing.T) {
	var cur, peak atomic.Int64
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		ctx.SetBodyString(`{"error_code":0}`)
	})
	c := newClient(t, base, func(cfg *Config) { cfg.MaxConns = 2 })
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 10 {
		wg.Go(func() {
			if r := c.Submit(context.Background(), testOrder, testPhone, testPid); r.Outcome != engine.OutcomeAccepted {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 || peak.Load() > 2 {
		t.Errorf("%d not accepted, peak %d connections", bad.Load(), peak.Load())
	}
}
